/** The irc bridge's connector lands here; see README.md. */
export const network = "irc";
