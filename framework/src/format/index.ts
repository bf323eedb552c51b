/**
 * Message translation between Matrix formatted bodies and network text, shared by every
 * bridge. Pure functions only: no I/O, no state.
 */
export {
  HTML_FORMAT,
  htmlBodyOf,
  isMatrixMessageContent,
  type MatrixInReplyTo,
  type MatrixMediaInfo,
  type MatrixMentions,
  type MatrixMessageContent,
  type MatrixMsgtype,
  type MatrixReactionContent,
  type MatrixRelatesTo,
} from "./content.js";
export { escapeHtml, escapeHtmlAttribute } from "./escape.js";
export { escapeMarkdown, htmlToMarkdown, htmlToPlain, type HtmlToTextOptions } from "./html-to-text.js";
export {
  type Around,
  type InlineFormat,
  type InlineWriter,
  type MarkersDialect,
  type MarkKind,
  type MarkupDialect,
  type StylesDialect,
} from "./markup-dialect.js";
export { sameLink } from "./markup-links.js";
export { renderHtml } from "./markup-writer.js";
export { parsePills, pill, userMentionsContent, type Pill } from "./mentions.js";
export { parseMatrixLink, roomPermalink, userPermalink, type MatrixLink } from "./permalinks.js";
export {
  editContent,
  reactionContent,
  readRelation,
  replyContent,
  threadContent,
  type EditOptions,
  type Relation,
  type ThreadOptions,
} from "./relations.js";
export { quoteForRemote, stripReplyFallback } from "./reply.js";
export {
  MATRIX_ALLOWED_TAGS,
  MATRIX_LINK_SCHEMES,
  sanitizeMatrixHtml,
  type SanitizeOptions,
} from "./sanitize.js";
export {
  markdownToHtml,
  plainToHtml,
  type MarkdownMentions,
  type MarkdownToHtmlOptions,
  type ResolvedMention,
} from "./text-to-html.js";
export { parseHtml, textContent, type HtmlElement, type HtmlNode, type HtmlText } from "./html-tree.js";
