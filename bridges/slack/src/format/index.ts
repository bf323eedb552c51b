/**
 * Message translation for the Slack bridge. Pure functions only: no I/O, no state beyond the
 * emoji tables built on first use.
 *
 * Incoming (Slack → Matrix): `slackToMatrix` renders a message's mrkdwn `text`, resolving
 * mentions and channels through `SlackRefs`. Outgoing (Matrix → Slack): `matrixToSlack`
 * renders the content as mrkdwn with every user-typed `& < >` escaped. Emoji names are
 * iamcal's, the set Slack uses, in both directions.
 */
export { emojiToUnicode, replaceShortcodes, unicodeToEmoji } from "./emoji.js";
export { escapeSlack, matrixToSlack, type SlackMention } from "./html-to-mrkdwn.js";
export { slackToMatrix, type MatrixText, type SlackRefs } from "./mrkdwn-to-html.js";
