/** The slack bridge's connector lands here; see README.md. */
export const network = "slack";
