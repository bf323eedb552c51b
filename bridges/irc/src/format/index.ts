/**
 * Message and name translation for the IRC bridge. Pure functions only: no I/O, no state.
 *
 * Outgoing (Matrix → IRC): `matrixToIrc` renders the content, `splitMessage` cuts the result
 * into lines of at most `maxPayloadBytes(…)` bytes and sanitizes each one; nothing else may be
 * put on the wire.
 */
export { mircColourToHex, nearestMircColour, MIRC_PALETTE } from "./colours.js";
export { matrixToIrc, type MatrixToIrcOptions } from "./html-to-irc.js";
export { ircToMatrix, type IrcToMatrixOptions, type MatrixText } from "./irc-to-html.js";
export { IRC_LINE_BYTES, MIN_SPLIT_BYTES, maxPayloadBytes, sanitizeIrcText, splitMessage } from "./lines.js";
export { stripIrcFormatting } from "./mirc.js";
export {
  ircEquals,
  ircLower,
  isValidChannel,
  isValidNick,
  nickCandidates,
  nickFromDisplayName,
  nickTemplateSuffix,
  type CaseMapping,
} from "./nicks.js";
