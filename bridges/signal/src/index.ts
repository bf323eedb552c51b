/** The signal bridge's connector lands here; see README.md. */
export const network = "signal";
