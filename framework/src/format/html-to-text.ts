/**
 * Matrix HTML (`formatted_body`) → network text. The HTML is sanitized first (so script and
 * style content never leaks into the text, and `<mx-reply>` fallbacks are dropped), then
 * rendered either as readable plain text or as CommonMark-ish markdown.
 */
import { parseHtml, textContent, type HtmlElement, type HtmlNode } from "./html-tree.js";
import { parseMatrixLink } from "./permalinks.js";
import { sanitizeMatrixHtml } from "./sanitize.js";

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
}

type Mode = "plain" | "markdown";

interface Context {
  mode: Mode;
  mention: (userId: string, linkText: string) => string;
  roomMention: (roomIdOrAlias: string, linkText: string) => string;
  spoiler: ((text: string, reason: string | undefined) => string) | undefined;
  /** Markdown markers already open around this point (no `**` inside `**`). */
  marks: ReadonlySet<string>;
  /** Inside a list item: nested lists hug the item text instead of a blank line. */
  inList: boolean;
}

/** Characters that mean something inline in CommonMark (or Discord) and are escaped in text. */
const MARKDOWN_SPECIAL = /[\\`*_~[\]|<]/g;
/** Bare URLs in text are left unescaped so networks still auto-link them. */
const BARE_URL = /((?:https?|ftp):\/\/[^\s<>]+)/;
const HTML_WHITESPACE = /[ \t\n\r\f]+/;

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

interface InlineResult {
  text: string;
  leadingSpace: boolean;
  trailingSpace: boolean;
}

/**
 * Accumulates inline content with HTML whitespace semantics: runs of whitespace collapse to
 * one space, spaces at line starts/ends disappear, `<br>` is a hard line break.
 */
class InlineBuffer {
  private out = "";
  private pendingSpace = false;
  private leadingSpace = false;

  constructor(private readonly mode: Mode) {}

  private atLineStart(): boolean {
    return this.out === "" || this.out.endsWith("\n");
  }

  space(): void {
    if (this.out === "") this.leadingSpace = true;
    else if (!this.out.endsWith("\n")) this.pendingSpace = true;
  }

  /** Appends already-rendered text (no collapsing, no escaping). */
  raw(text: string): void {
    if (text === "") return;
    if (this.pendingSpace) this.out += " ";
    this.pendingSpace = false;
    this.out += text;
  }

  /** Appends text from a text node: whitespace collapses, markdown is escaped. */
  text(text: string): void {
    const words = text.split(HTML_WHITESPACE);
    words.forEach((word, index) => {
      if (index > 0) this.space();
      if (word === "") return;
      if (this.mode === "plain") return this.raw(word);
      const escaped = escapeMarkdown(word);
      this.raw(this.atLineStart() && !this.pendingSpace ? escapeLineStart(escaped) : escaped);
    });
  }

  newline(): void {
    this.pendingSpace = false;
    this.out += "\n";
  }

  /** Starts a new line unless already at one (block content inside inline content). */
  breakLine(): void {
    if (!this.atLineStart()) this.newline();
  }

  finish(): InlineResult {
    return { text: this.out, leadingSpace: this.leadingSpace, trailingSpace: this.pendingSpace };
  }
}

const BLOCK_TAGS = new Set([
  "p",
  "div",
  "h1",
  "h2",
  "h3",
  "h4",
  "h5",
  "h6",
  "blockquote",
  "ul",
  "ol",
  "li",
  "pre",
  "hr",
  "table",
  "thead",
  "tbody",
  "tfoot",
  "tr",
  "caption",
  "details",
  "summary",
  "mx-reply",
]);

function isBlock(el: HtmlElement): boolean {
  return BLOCK_TAGS.has(el.name);
}

interface Block {
  text: string;
  /** Blank line around this block (paragraph-like) rather than a plain line break. */
  spaced: boolean;
}

/** Renders a mixed sequence of block and inline nodes. */
function renderFlow(nodes: readonly HtmlNode[], ctx: Context): string {
  const blocks: Block[] = [];
  let inline = new InlineBuffer(ctx.mode);
  const flush = (): void => {
    // A trailing <br> ends the line but does not add an empty one.
    const text = inline.finish().text.replace(/\n$/, "");
    if (text.trim() !== "") blocks.push({ text, spaced: false });
    inline = new InlineBuffer(ctx.mode);
  };
  for (const node of nodes) {
    if (node.type === "element" && isBlock(node)) {
      flush();
      const block = renderBlock(node, ctx);
      if (block !== null) blocks.push(block);
    } else {
      renderInline(node, inline, ctx);
    }
  }
  flush();
  let out = "";
  blocks.forEach((block, index) => {
    const previous = blocks[index - 1];
    if (previous !== undefined) out += previous.spaced || block.spaced ? "\n\n" : "\n";
    out += block.text;
  });
  return out;
}

function prefixLines(text: string, first: string, rest: string): string {
  return text
    .split("\n")
    .map((line, index) => {
      const prefix = index === 0 ? first : rest;
      return line === "" ? prefix.trimEnd() : prefix + line;
    })
    .join("\n");
}

function renderBlock(el: HtmlElement, ctx: Context): Block | null {
  switch (el.name) {
    case "p":
      return { text: renderFlow(el.children, ctx), spaced: true };
    case "h1":
    case "h2":
    case "h3":
    case "h4":
    case "h5":
    case "h6": {
      const text = renderFlow(el.children, ctx).replace(/\n+/g, " ");
      const level = Number(el.name.slice(1));
      return { text: ctx.mode === "markdown" ? `${"#".repeat(level)} ${text}` : text, spaced: true };
    }
    case "blockquote": {
      const inner = renderFlow(el.children, ctx);
      return { text: prefixLines(inner, "> ", "> "), spaced: true };
    }
    case "ul":
    case "ol":
      return { text: renderList(el, ctx), spaced: !ctx.inList };
    case "li":
      // A stray item outside a list.
      return { text: renderListItem(el.children, "- ", ctx), spaced: false };
    case "pre":
      return { text: renderPre(el, ctx), spaced: true };
    case "hr":
      return { text: "---", spaced: true };
    case "table":
      return { text: renderTable(el, ctx), spaced: true };
    case "tr":
      return { text: renderRow(el, ctx), spaced: false };
    case "details":
      return { text: renderFlow(el.children, ctx), spaced: true };
    case "mx-reply":
      return null;
    default:
      // div, summary, caption, thead/tbody/tfoot outside a table.
      return { text: renderFlow(el.children, ctx), spaced: false };
  }
}

function renderListItem(children: readonly HtmlNode[], marker: string, ctx: Context): string {
  const body = renderFlow(children, { ...ctx, inList: true });
  return prefixLines(body, marker, " ".repeat(marker.length)) || marker.trimEnd();
}

function renderList(el: HtmlElement, ctx: Context): string {
  const ordered = el.name === "ol";
  const start = Number.parseInt(el.attribs.start ?? "1", 10);
  let number = Number.isFinite(start) ? start : 1;
  const items: string[] = [];
  let stray: HtmlNode[] = [];
  const marker = (): string => (ordered ? `${number++}. ` : "- ");
  const flushStray = (): void => {
    // Content directly inside <ul>/<ol> (invalid but common): an item of its own.
    if (stray.some((node) => node.type === "element" || node.text.trim() !== "")) {
      items.push(renderListItem(stray, marker(), ctx));
    }
    stray = [];
  };
  for (const child of el.children) {
    if (child.type === "element" && child.name === "li") {
      flushStray();
      items.push(renderListItem(child.children, marker(), ctx));
    } else {
      stray.push(child);
    }
  }
  flushStray();
  return items.join("\n");
}

function codeLanguage(pre: HtmlElement): string {
  const code = pre.children.find((c): c is HtmlElement => c.type === "element" && c.name === "code");
  const match = /(?:^|\s)language-([\w+#.-]+)/.exec(code?.attribs.class ?? "");
  return match?.[1] ?? "";
}

function renderPre(el: HtmlElement, ctx: Context): string {
  // The parser keeps the newline right after <pre> that HTML ignores; markdown renderers
  // also end code with a newline. Both are formatting, not content.
  const code = textContent(el).replace(/^\n/, "").replace(/\n$/, "");
  if (ctx.mode === "plain") return code;
  const longestRun = Math.max(2, ...(code.match(/`+/g) ?? []).map((run) => run.length));
  const fence = "`".repeat(longestRun + 1);
  return `${fence}${codeLanguage(el)}\n${code}\n${fence}`;
}

function rowsOf(el: HtmlElement): HtmlElement[] {
  const rows: HtmlElement[] = [];
  for (const child of el.children) {
    if (child.type !== "element") continue;
    if (child.name === "tr") rows.push(child);
    else if (child.name === "thead" || child.name === "tbody" || child.name === "tfoot") {
      rows.push(...rowsOf(child));
    }
  }
  return rows;
}

function renderRow(row: HtmlElement, ctx: Context): string {
  return row.children
    .filter((c): c is HtmlElement => c.type === "element" && (c.name === "td" || c.name === "th"))
    .map((cell) => renderFlow(cell.children, ctx).replace(/\n+/g, " "))
    .join(" | ");
}

/** Tables have no markdown form every network understands: one "a | b" line per row. */
function renderTable(el: HtmlElement, ctx: Context): string {
  const lines: string[] = [];
  for (const child of el.children) {
    if (child.type === "element" && child.name === "caption") lines.push(renderFlow(child.children, ctx));
  }
  for (const row of rowsOf(el)) lines.push(renderRow(row, ctx));
  return lines.filter((line) => line.trim() !== "").join("\n");
}

function renderChildrenInline(children: readonly HtmlNode[], ctx: Context): InlineResult {
  const buffer = new InlineBuffer(ctx.mode);
  for (const child of children) renderInline(child, buffer, ctx);
  return buffer.finish();
}

/**
 * Writes `open + content + close`, keeping surrounding whitespace and line breaks outside the
 * markers (`** bold **` is not bold in CommonMark).
 */
function emitWrapped(buffer: InlineBuffer, inner: InlineResult, open: string, close: string): void {
  if (inner.leadingSpace) buffer.space();
  const match = /^(\n*)([\s\S]*?)(\n*)$/.exec(inner.text);
  const before = match?.[1] ?? "";
  const content = match?.[2] ?? inner.text;
  const after = match?.[3] ?? "";
  for (let i = 0; i < before.length; i++) buffer.newline();
  if (content !== "") buffer.raw(open + content + close);
  for (let i = 0; i < after.length; i++) buffer.newline();
  if (inner.trailingSpace) buffer.space();
}

const MARKDOWN_MARKS: Record<string, string> = {
  b: "**",
  strong: "**",
  i: "*",
  em: "*",
  del: "~~",
  strike: "~~",
  s: "~~",
};

function renderInline(node: HtmlNode, buffer: InlineBuffer, ctx: Context): void {
  if (node.type === "text") return buffer.text(node.text);
  if (isBlock(node)) {
    // Block content inside inline content (e.g. <b><p>…</p></b>): keep it on its own lines.
    const block = renderBlock(node, ctx);
    if (block === null || block.text === "") return;
    buffer.breakLine();
    buffer.raw(block.text);
    buffer.newline();
    return;
  }
  switch (node.name) {
    case "br":
      return buffer.newline();
    case "img": {
      const text = node.attribs.alt || node.attribs.title || "[image]";
      return ctx.mode === "markdown" ? buffer.raw(escapeMarkdown(text)) : buffer.raw(text);
    }
    case "code":
      return renderInlineCode(node, buffer, ctx);
    case "a":
      return renderLink(node, buffer, ctx);
    case "span":
      if (node.attribs["data-mx-spoiler"] !== undefined && ctx.spoiler !== undefined) {
        const inner = renderChildrenInline(node.children, ctx);
        const reason = node.attribs["data-mx-spoiler"] || undefined;
        return emitWrapped(buffer, { ...inner, text: ctx.spoiler(inner.text, reason) }, "", "");
      }
      break;
    default: {
      const mark = MARKDOWN_MARKS[node.name];
      if (ctx.mode === "markdown" && mark !== undefined && !ctx.marks.has(mark)) {
        const inner = renderChildrenInline(node.children, { ...ctx, marks: new Set([...ctx.marks, mark]) });
        return emitWrapped(buffer, inner, mark, mark);
      }
    }
  }
  for (const child of node.children) renderInline(child, buffer, ctx);
}

function renderInlineCode(node: HtmlElement, buffer: InlineBuffer, ctx: Context): void {
  const code = textContent(node);
  if (code === "") return;
  if (ctx.mode === "plain") return buffer.raw(code);
  const flat = code.replace(/\n/g, " ");
  const longestRun = Math.max(0, ...(flat.match(/`+/g) ?? []).map((run) => run.length));
  const fence = "`".repeat(longestRun + 1);
  const pad = flat.startsWith("`") || flat.endsWith("`") || /^ .*[^ ].* $/.test(flat) ? " " : "";
  buffer.raw(`${fence}${pad}${flat}${pad}${fence}`);
}

/** "example.com" and "https://example.com/" name the same link; so do "a@b.c" and "mailto:a@b.c". */
function sameLink(text: string, href: string): boolean {
  const normalise = (value: string): string =>
    value
      .trim()
      .replace(/^(?:https?:\/\/|mailto:)/i, "")
      .replace(/\/$/, "")
      .toLowerCase();
  return normalise(text) === normalise(href);
}

function renderLink(node: HtmlElement, buffer: InlineBuffer, ctx: Context): void {
  const href = (node.attribs.href ?? "").trim();
  const inner = renderChildrenInline(node.children, ctx);
  const linkText = textContent(node).replace(/\s+/g, " ").trim();
  const target = href === "" ? null : parseMatrixLink(href);
  const emit = (text: string): void => emitWrapped(buffer, { ...inner, text }, "", "");
  if (target?.kind === "user") return emit(ctx.mention(target.userId, linkText || target.userId));
  if (target?.kind === "room") {
    return emit(ctx.roomMention(target.roomIdOrAlias, linkText || target.roomIdOrAlias));
  }
  if (href === "") return emit(inner.text);
  if (inner.text.trim() === "") return emit(href);
  // Same target as the text: one copy is enough (the text for e-mail, the clickable URL else).
  if (sameLink(linkText, href)) return emit(/^mailto:/i.test(href) ? inner.text : href);
  if (ctx.mode === "plain") return emit(`${inner.text} (${href})`);
  // Characters that would end the link destination early.
  const url = href.replace(/[ ()<>]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  emit(`[${inner.text}](${url})`);
}

function render(html: string, mode: Mode, options: HtmlToTextOptions): string {
  const escape = mode === "markdown" ? escapeMarkdown : (text: string): string => text;
  const ctx: Context = {
    mode,
    mention: options.mentionToText ?? ((_userId, linkText) => escape(linkText)),
    roomMention: options.roomMentionToText ?? ((_room, linkText) => escape(linkText)),
    spoiler: options.spoilerToText,
    marks: new Set(),
    inList: false,
  };
  const tree = parseHtml(sanitizeMatrixHtml(html, { stripReplyFallback: true }));
  return renderFlow(tree.children, ctx).replace(/^\n+|\n+$/g, "");
}

/**
 * Readable plain text: paragraphs and `<br>` become line breaks, lists "- " / "1. ",
 * quotes "> ", code verbatim, links "text (url)", images their alt text, pills via
 * `mentionToText`. Entities are decoded. Reply fallbacks (`<mx-reply>`) are dropped.
 */
export function htmlToPlain(html: string, options: HtmlToTextOptions = {}): string {
  return render(html, "plain", options);
}

/**
 * CommonMark-ish markdown: **bold**, *italic*, ~~strike~~, `code`, fenced code blocks,
 * "> " quotes, lists, [text](url). Text is escaped so it cannot turn into markup.
 */
export function htmlToMarkdown(html: string, options: HtmlToTextOptions = {}): string {
  return render(html, "markdown", options);
}
