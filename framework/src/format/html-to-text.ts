/**
 * Matrix HTML (`formatted_body`) → network text: readable plain text or CommonMark-ish
 * markdown, as two dialects of `renderHtml`.
 */
import type { MarkersDialect } from "./markup-dialect.js";
import { renderHtml } from "./markup-writer.js";

export interface HtmlToTextOptions {
  /**
   * How a user pill (`<a href="https://matrix.to/#/@user:server">Name</a>` or a
   * `matrix:u/…` link) is written. Default: the link text (escaped, for markdown).
   * The returned string is inserted as is (for markdown: as markdown).
   */
  mentionToText?: (matrixUserId: string, linkText: string) => string;
  /** Same for room and alias links (`#room:server`, `!id:server`). Default: the link text. */
  roomMentionToText?: (roomIdOrAlias: string, linkText: string) => string;
  /**
   * How a spoiler (`<span data-mx-spoiler>`) is written, given its rendered content.
   * Default: the content as is (e.g. a Discord bridge can return `||${text}||`).
   */
  spoilerToText?: (text: string, reason: string | undefined) => string;
  /** Markdown only: how underline (`<u>`) is marked; default none (CommonMark has no underline). */
  underlineMark?: string;
}

/** Characters that mean something inline in CommonMark (or Discord) and are escaped in text. */
const MARKDOWN_SPECIAL = /[\\`*_~[\]|<]/g;
/** Bare URLs in text are left unescaped so networks still auto-link them. */
const BARE_URL = /((?:https?|ftp):\/\/[^\s<>]+)/;

export function escapeMarkdown(text: string): string {
  return text
    .split(BARE_URL)
    .map((part, index) => (index % 2 === 1 ? part : part.replace(MARKDOWN_SPECIAL, "\\$&")))
    .join("");
}

/** Escapes what would start a block (heading, quote, list, thematic break) at a line start. */
function escapeLineStart(text: string): string {
  return text.replace(/^([#>+=-])/, "\\$1").replace(/^(\d+)([.)])/, "$1\\$2");
}

/** Blocks with a blank line around them (and headings); lists only when not nested in a list. */
const PARAGRAPHS = new Set(["p", "blockquote", "pre", "hr", "table", "details"]);

function isParagraph(tag: string, inList: boolean): boolean {
  return PARAGRAPHS.has(tag) || /^h[1-6]$/.test(tag) || ((tag === "ul" || tag === "ol") && !inList);
}

function oneLine(text: string): string {
  return text.replace(/\n+/g, " ");
}

/** Longer than any run of backticks inside, so the code cannot close it early. */
function fence(code: string, minimum: number): string {
  const longestRun = Math.max(minimum, ...(code.match(/`+/g) ?? []).map((run) => run.length));
  return "`".repeat(longestRun + 1);
}

function plainDialect(options: HtmlToTextOptions): MarkersDialect {
  const asIs = (text: string): string => text;
  return {
    formatting: "markers",
    escape: asIs,
    marks: {},
    blankLineBetween: (above, below, inList) => isParagraph(above, inList) || isParagraph(below, inList),
    // An empty paragraph (a spacer some editors send) still keeps its neighbours apart.
    keepEmptyBlocks: true,
    quotePrefix: "> ",
    rule: "---",
    bullet: () => "- ",
    heading: oneLine,
    codeBlock: asIs,
    inlineCode: asIs,
    image: asIs,
    mention: options.mentionToText ?? ((_userId, text) => text),
    roomMention: options.roomMentionToText ?? ((_room, text) => text),
    url: asIs,
    link: (href) => ({ before: "", after: ` (${href})` }),
    ...(options.spoilerToText === undefined ? {} : { spoiler: options.spoilerToText }),
  };
}

function markdownDialect(options: HtmlToTextOptions): MarkersDialect {
  return {
    ...plainDialect(options),
    escape: (word, lineStart) => (lineStart ? escapeLineStart(escapeMarkdown(word)) : escapeMarkdown(word)),
    marks: {
      bold: "**",
      italic: "*",
      strikethrough: "~~",
      ...(options.underlineMark ? { underline: options.underlineMark } : {}),
    },
    heading: (text, level) => `${"#".repeat(level)} ${oneLine(text)}`,
    // Fenced code blocks take three backticks at least.
    codeBlock: (code, language) => `${fence(code, 2)}${language}\n${code}\n${fence(code, 2)}`,
    inlineCode: (code) => {
      if (code === "") return "";
      const flat = code.replace(/\n/g, " ");
      const pad = flat.startsWith("`") || flat.endsWith("`") || /^ .*[^ ].* $/.test(flat) ? " " : "";
      return `${fence(flat, 0)}${pad}${flat}${pad}${fence(flat, 0)}`;
    },
    image: escapeMarkdown,
    mention: options.mentionToText ?? ((_userId, text) => escapeMarkdown(text)),
    roomMention: options.roomMentionToText ?? ((_room, text) => escapeMarkdown(text)),
    // Characters that would end the link destination early.
    link: (href) => ({
      before: "[",
      after: `](${href.replace(/[ ()<>]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)})`,
    }),
  };
}

/**
 * Readable plain text: paragraphs and `<br>` become line breaks, lists "- " / "1. ",
 * quotes "> ", code verbatim, links "text (url)", images their alt text, pills via
 * `mentionToText`. Entities are decoded. Reply fallbacks (`<mx-reply>`) are dropped.
 */
export function htmlToPlain(html: string, options: HtmlToTextOptions = {}): string {
  return renderHtml(html, plainDialect(options));
}

/**
 * CommonMark-ish markdown: **bold**, *italic*, ~~strike~~, `code`, fenced code blocks,
 * "> " quotes, lists, [text](url). Text is escaped so it cannot turn into markup.
 */
export function htmlToMarkdown(html: string, options: HtmlToTextOptions = {}): string {
  return renderHtml(html, markdownDialect(options));
}
