/**
 * Network text → Matrix HTML. `plainToHtml` only escapes; `markdownToHtml` understands a small,
 * safe markdown subset (the kind chat networks use) and escapes everything else. Output uses
 * only tags the spec allows, serialized the way `sanitizeMatrixHtml` does, so sanitizing it
 * again returns it unchanged.
 */
import { escapeHtml, escapeHtmlAttribute } from "./escape.js";
import { pill } from "./mentions.js";
import { MATRIX_LINK_SCHEMES } from "./sanitize.js";

const BR = "<br />";

function normaliseNewlines(text: string): string {
  return text.replace(/\r\n?/g, "\n");
}

/** Escapes text and turns line breaks into `<br />`. */
export function plainToHtml(text: string): string {
  return normaliseNewlines(text).split("\n").map(escapeHtml).join(BR);
}

/** A user the mention hook resolved a piece of text to. */
export interface ResolvedMention {
  userId: string;
  displayName: string;
}

export interface MarkdownMentions {
  /**
   * Matched against the text at every position outside code spans and links (it is used as
   * a sticky regex; the g/y flags are ignored). E.g. Discord: `/<@!?(\d+)>/`.
   */
  pattern: RegExp;
  /** The Matrix user for a match, or null to keep the matched text as written. */
  resolve: (match: RegExpExecArray) => ResolvedMention | null;
}

export interface MarkdownToHtmlOptions {
  /** Turns network mention syntax into pills; use `parsePills` on the result for `m.mentions`. */
  mentions?: MarkdownMentions;
  /** `__text__` is underline, not bold (Discord's markdown); `**text**` stays bold. */
  underscoreUnderline?: boolean;
}

// ---------------------------------------------------------------- blocks

type Block =
  | { type: "paragraph"; text: string }
  | { type: "code"; language: string; code: string }
  | { type: "quote"; blocks: Block[] }
  | { type: "list"; ordered: boolean; start: number; loose: boolean; items: Block[][] };

const FENCE_OPEN = /^( {0,3})(`{3,}|~{3,})[ \t]*([^`\s]*)[^`]*$/;
const QUOTE = /^ {0,3}> ?/;
const LIST_ITEM = /^( {0,3})([-*+]|(\d{1,9})([.)]))(?:([ \t]+)(.*))?$/;

function isBlank(line: string): boolean {
  return line.trim() === "";
}

/** Width of the leading whitespace, tabs advancing to the next multiple of 4. */
function indentOf(line: string): number {
  let width = 0;
  for (const c of line) {
    if (c === " ") width++;
    else if (c === "\t") width += 4 - (width % 4);
    else break;
  }
  return width;
}

/** Removes up to `columns` columns of indentation (a partly removed tab becomes spaces). */
function dedent(line: string, columns: number): string {
  let width = 0;
  let index = 0;
  while (index < line.length && width < columns) {
    const c = line[index];
    if (c === " ") width++;
    else if (c === "\t") width += 4 - (width % 4);
    else break;
    index++;
  }
  return " ".repeat(Math.max(0, width - columns)) + line.slice(index);
}

interface ListMarker {
  ordered: boolean;
  /** The bullet character, or the delimiter ("." / ")") of an ordered list. */
  kind: string;
  start: number;
  /** Column where the item's content starts. */
  contentIndent: number;
  content: string;
}

function listMarker(line: string): ListMarker | null {
  const match = LIST_ITEM.exec(line);
  if (!match) return null;
  const [, indent = "", marker = "", digits, delimiter, spacing, content = ""] = match;
  if (spacing === undefined && content === "" && marker.length === 0) return null;
  // CommonMark: 1-4 spaces after the marker; more means indented content, counted as one.
  const gap = spacing === undefined ? 1 : indentOf(spacing) > 4 ? 1 : indentOf(spacing);
  return {
    ordered: digits !== undefined,
    kind: delimiter ?? marker,
    start: digits === undefined ? 1 : Number(digits),
    contentIndent: indent.length + marker.length + gap,
    content: spacing !== undefined && indentOf(spacing) > 4 ? spacing.slice(1) + content : content,
  };
}

/** Whether a line starts a block that may interrupt a paragraph. */
function interruptsParagraph(line: string): boolean {
  if (FENCE_OPEN.test(line) || QUOTE.test(line)) return true;
  const marker = listMarker(line);
  // Like CommonMark: empty items and ordered lists not starting at 1 do not interrupt.
  return marker !== null && marker.content.trim() !== "" && (!marker.ordered || marker.start === 1);
}

/**
 * Quotes and lists nest at most this deep; deeper markers stay text. Keeps recursion bounded
 * and the HTML well inside the spec's recommended nesting limit of 100.
 */
const MAX_BLOCK_DEPTH = 24;

function parseBlocks(lines: readonly string[], depth = 0): Block[] {
  const nested = depth < MAX_BLOCK_DEPTH;
  const blocks: Block[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i] ?? "";
    if (isBlank(line)) {
      i++;
      continue;
    }
    const fence = FENCE_OPEN.exec(line);
    if (fence) {
      const [, indent = "", marks = "", language = ""] = fence;
      const closing = new RegExp(`^ {0,3}${marks[0] === "`" ? "`" : "~"}{${marks.length},}[ \\t]*$`);
      const code: string[] = [];
      i++;
      while (i < lines.length && !closing.test(lines[i] ?? ""))
        code.push(dedent(lines[i++] ?? "", indent.length));
      i++; // the closing fence (or past the end)
      blocks.push({ type: "code", language, code: code.join("\n") });
      continue;
    }
    if (nested && QUOTE.test(line)) {
      const quoted: string[] = [];
      while (i < lines.length && QUOTE.test(lines[i] ?? ""))
        quoted.push((lines[i++] ?? "").replace(QUOTE, ""));
      blocks.push({ type: "quote", blocks: parseBlocks(quoted, depth + 1) });
      continue;
    }
    const marker = nested ? listMarker(line) : null;
    if (marker) {
      i = parseList(lines, i, marker, blocks, depth);
      continue;
    }
    const paragraph: string[] = [line.trim()];
    i++;
    while (i < lines.length && !isBlank(lines[i] ?? "") && !interruptsParagraph(lines[i] ?? "")) {
      paragraph.push((lines[i++] ?? "").trim());
    }
    blocks.push({ type: "paragraph", text: paragraph.join("\n") });
  }
  return blocks;
}

/** Parses a list starting at `start`; returns the index of the first line after it. */
function parseList(
  lines: readonly string[],
  start: number,
  first: ListMarker,
  blocks: Block[],
  depth: number,
): number {
  const items: Block[][] = [];
  let loose = false;
  let marker: ListMarker | null = first;
  let i = start;
  while (marker !== null) {
    const itemLines = [marker.content];
    const contentIndent = marker.contentIndent;
    i++;
    while (i < lines.length) {
      const line = lines[i] ?? "";
      if (isBlank(line)) {
        // Blank lines belong to the item only if indented content follows.
        let next = i;
        while (next < lines.length && isBlank(lines[next] ?? "")) next++;
        if (next < lines.length && indentOf(lines[next] ?? "") >= contentIndent) {
          for (; i < next; i++) itemLines.push("");
          loose = true;
          continue;
        }
        break;
      }
      if (indentOf(line) >= contentIndent) {
        itemLines.push(dedent(line, contentIndent));
        i++;
        continue;
      }
      const previous = itemLines[itemLines.length - 1] ?? "";
      // Lazy continuation of the item's paragraph.
      if (previous !== "" && !listMarker(line) && !interruptsParagraph(line) && !FENCE_OPEN.test(previous)) {
        itemLines.push(line.trim());
        i++;
        continue;
      }
      break;
    }
    items.push(parseBlocks(itemLines, depth + 1));
    // The next sibling item: same list type, possibly after blank lines.
    let next = i;
    while (next < lines.length && isBlank(lines[next] ?? "")) next++;
    const sibling = next < lines.length ? listMarker(lines[next] ?? "") : null;
    if (sibling && sibling.ordered === first.ordered && sibling.kind === first.kind) {
      if (next > i) loose = true;
      i = next;
      marker = sibling;
    } else {
      marker = null;
    }
  }
  blocks.push({ type: "list", ordered: first.ordered, start: first.start, loose, items });
  return i;
}

// ---------------------------------------------------------------- inlines

const ASCII_PUNCTUATION = /^[!-/:-@[-`{-~]$/;
const SAFE_URL = new RegExp(`^(?:${MATRIX_LINK_SCHEMES.join("|")}):[^\\s<>]+$`, "i");
const AUTOLINK = new RegExp(`^<((?:${MATRIX_LINK_SCHEMES.join("|")}):[^\\s<>]+)>`, "i");
const ALPHANUMERIC = /^[\p{L}\p{N}]$/u;

interface InlineContext {
  mentions: { pattern: RegExp; resolve: MarkdownMentions["resolve"] } | undefined;
  inLink: boolean;
  underscoreUnderline: boolean;
  /** Emphasis/link nesting so far; beyond {@link MAX_INLINE_DEPTH} delimiters stay text. */
  depth: number;
}

const MAX_INLINE_DEPTH = 16;

function runLength(src: string, at: number, char: string): number {
  let end = at;
  while (src[end] === char) end++;
  return end - at;
}

function isSpace(char: string | undefined): boolean {
  return char === undefined || /\s/.test(char);
}

/**
 * One inline source string with memoised searches. Without them, input like `**a **a **a …`
 * or `[[[[…` makes every opener scan to the end of the text (quadratic time).
 */
class InlineSource {
  /** Backtick run length → earliest search start known to find no closing run. */
  private readonly codeSpanMisses = new Map<number, number>();
  /** Emphasis delimiter → earliest search start known to find no closer. */
  private readonly closerMisses = new Map<string, number>();
  /** "[" index → matching "]" index, computed on first use. */
  private brackets: Map<number, number> | undefined;

  constructor(readonly src: string) {}

  /** Index just past a code span starting at `at`, or -1 if its backticks are unmatched. */
  codeSpanEnd(at: number): number {
    const src = this.src;
    const length = runLength(src, at, "`");
    let search = at + length;
    const miss = this.codeSpanMisses.get(length);
    if (miss !== undefined && search >= miss) return -1;
    for (;;) {
      const found = src.indexOf("`", search);
      if (found === -1) {
        this.codeSpanMisses.set(length, Math.min(miss ?? Infinity, at + length));
        return -1;
      }
      const run = runLength(src, found, "`");
      if (run === length) return found + run;
      search = found + run;
    }
  }

  /**
   * Finds the closing delimiter for an emphasis whose content starts at `from`. Skips escapes
   * and code spans; with a one-character delimiter, longer runs (`**` inside `*…*`) are
   * skipped. Returns the index of the closer, or -1.
   */
  findCloser(from: number, delimiter: string): number {
    const src = this.src;
    const miss = this.closerMisses.get(delimiter);
    if (miss !== undefined && from >= miss) return -1;
    const char = delimiter[0] ?? "";
    let j = from;
    while (j < src.length) {
      const c = src[j];
      if (c === "\\") {
        j += 2;
        continue;
      }
      if (c === "`") {
        const end = this.codeSpanEnd(j);
        j = end === -1 ? j + runLength(src, j, "`") : end;
        continue;
      }
      if (c === char) {
        const run = runLength(src, j, char);
        const usable = delimiter.length === 1 ? run === 1 : run >= delimiter.length;
        // In a longer run the closer is its last characters ("***x***": ** closes after *x*).
        const at = j + run - delimiter.length;
        const flanked = !isSpace(src[at - 1]) && at > from;
        const wordSafe = char !== "_" || !ALPHANUMERIC.test(src[j + run] ?? "");
        if (usable && flanked && wordSafe) return at;
        j += run;
        continue;
      }
      j++;
    }
    this.closerMisses.set(delimiter, Math.min(miss ?? Infinity, from));
    return -1;
  }

  /** The "]" matching the "[" at `at` (nesting, escapes and code spans respected), or -1. */
  closingBracket(at: number): number {
    if (this.brackets === undefined) {
      const pairs = new Map<number, number>();
      const open: number[] = [];
      const src = this.src;
      for (let j = 0; j < src.length; j++) {
        const c = src[j];
        if (c === "\\") j++;
        else if (c === "`") {
          const end = this.codeSpanEnd(j);
          j = (end === -1 ? j + runLength(src, j, "`") : end) - 1;
        } else if (c === "[") open.push(j);
        else if (c === "]") {
          const opener = open.pop();
          if (opener !== undefined) pairs.set(opener, j);
        }
      }
      this.brackets = pairs;
    }
    return this.brackets.get(at) ?? -1;
  }

  /** `[text](url)` at `at`: the parts and the index after it, or null. */
  link(at: number): { text: string; url: string; end: number } | null {
    const src = this.src;
    const close = this.closingBracket(at);
    if (close === -1 || src[close + 1] !== "(") return null;
    const end = src.indexOf(")", close + 2);
    if (end === -1) return null;
    let url = src.slice(close + 2, end).trim();
    if (url.startsWith("<") && url.endsWith(">")) url = url.slice(1, -1);
    if (!SAFE_URL.test(url)) return null;
    return { text: src.slice(at + 1, close), url, end: end + 1 };
  }
}

function parseInline(src: string, ctx: InlineContext): string {
  const source = new InlineSource(src);
  const nested = ctx.depth < MAX_INLINE_DEPTH;
  let out = "";
  let i = 0;
  while (i < src.length) {
    const c = src[i] ?? "";
    const next = src[i + 1];
    if (c === "\\" && next !== undefined && (ASCII_PUNCTUATION.test(next) || next === "\n")) {
      out += next === "\n" ? BR : escapeHtml(next);
      i += 2;
      continue;
    }
    if (c === "\n") {
      out += BR;
      i++;
      continue;
    }
    if (c === "`") {
      const end = source.codeSpanEnd(i);
      const length = runLength(src, i, "`");
      if (end === -1) {
        out += "`".repeat(length);
        i += length;
        continue;
      }
      let code = src.slice(i + length, end - length).replace(/\n/g, " ");
      if (/^ .*[^ ].* $/.test(code)) code = code.slice(1, -1);
      out += `<code>${escapeHtml(code)}</code>`;
      i = end;
      continue;
    }
    if (ctx.mentions && !ctx.inLink) {
      ctx.mentions.pattern.lastIndex = i;
      const match = ctx.mentions.pattern.exec(src);
      const user = match && match[0] !== "" ? ctx.mentions.resolve(match) : null;
      if (match && user) {
        out += pill(user.userId, user.displayName);
        i += match[0].length;
        continue;
      }
    }
    if (c === "<" && !ctx.inLink) {
      const auto = AUTOLINK.exec(src.slice(i));
      if (auto?.[1] !== undefined) {
        out += `<a href="${escapeHtmlAttribute(auto[1])}">${escapeHtml(auto[1])}</a>`;
        i += auto[0].length;
        continue;
      }
    }
    if (c === "!" && next === "[" && nested) {
      // Image syntax is not supported: keep `![alt](url)` as typed rather than as a link.
      const image = source.link(i + 1);
      if (image) {
        out += escapeHtml(src.slice(i, image.end));
        i = image.end;
        continue;
      }
    }
    if (c === "[" && !ctx.inLink && nested) {
      const link = source.link(i);
      if (link && link.text.trim() !== "") {
        const text = parseInline(link.text, { ...ctx, inLink: true, depth: ctx.depth + 1 });
        out += `<a href="${escapeHtmlAttribute(link.url)}">${text}</a>`;
        i = link.end;
        continue;
      }
    }
    if (c === "*" || c === "_" || (c === "~" && next === "~")) {
      const emphasis = nested ? parseEmphasis(source, i, ctx) : null;
      if (emphasis) {
        out += emphasis.html;
        i = emphasis.end;
        continue;
      }
      // An unmatched run stays literal as a whole (so "**" is not retried as "*" + "*").
      const run = runLength(src, i, c);
      out += escapeHtml(c.repeat(run));
      i += run;
      continue;
    }
    out += escapeHtml(c);
    i++;
  }
  return out;
}

function parseEmphasis(
  source: InlineSource,
  at: number,
  ctx: InlineContext,
): { html: string; end: number } | null {
  const src = source.src;
  const char = src[at] ?? "";
  const run = runLength(src, at, char);
  if (char === "_" && ALPHANUMERIC.test(src[at - 1] ?? "")) return null;
  const candidates: Array<[string, string]> =
    char === "~"
      ? [["~~", "del"]]
      : [
          [char + char, char === "_" && ctx.underscoreUnderline ? "u" : "strong"],
          [char, "em"],
        ];
  for (const [delimiter, tag] of candidates) {
    if (run < delimiter.length || isSpace(src[at + delimiter.length])) continue;
    const start = at + delimiter.length;
    const closer = source.findCloser(start, delimiter);
    if (closer === -1) continue;
    const inner = parseInline(src.slice(start, closer), { ...ctx, depth: ctx.depth + 1 });
    return { html: `<${tag}>${inner}</${tag}>`, end: closer + delimiter.length };
  }
  return null;
}

// ---------------------------------------------------------------- output

function renderBlocks(blocks: readonly Block[], tight: boolean, ctx: InlineContext): string {
  return blocks
    .map((block) => {
      switch (block.type) {
        case "paragraph": {
          const html = parseInline(block.text, ctx);
          return tight ? html : `<p>${html}</p>`;
        }
        case "code": {
          const language = /^[\w+#.-]+$/.test(block.language) ? ` class="language-${block.language}"` : "";
          const code = block.code === "" ? "" : `${escapeHtml(block.code)}\n`;
          return `<pre><code${language}>${code}</code></pre>`;
        }
        case "quote":
          return `<blockquote>${renderBlocks(block.blocks, isSingleParagraph(block.blocks), ctx)}</blockquote>`;
        case "list": {
          const tag = block.ordered ? "ol" : "ul";
          const start = block.ordered && block.start !== 1 ? ` start="${block.start}"` : "";
          const items = block.items.map((item) => `<li>${renderBlocks(item, !block.loose, ctx)}</li>`);
          return `<${tag}${start}>${items.join("")}</${tag}>`;
        }
      }
    })
    .join("");
}

function isSingleParagraph(blocks: readonly Block[]): boolean {
  return blocks.length === 1 && blocks[0]?.type === "paragraph";
}

/**
 * Renders a small, safe markdown subset: **bold** / __bold__, *italic* / _italic_,
 * ~~strike~~, `code`, fenced code blocks, "> " quotes, "- " / "1. " lists (nested by
 * indentation), [text](url) and <url> links with the spec's URL schemes. Every line break is
 * kept (`<br />`), as chat users expect. A message that is a single paragraph is not wrapped
 * in `<p>`. Anything else (HTML, images, headings) is escaped and shown as typed.
 */
export function markdownToHtml(md: string, options: MarkdownToHtmlOptions = {}): string {
  const mentions = options.mentions;
  const ctx: InlineContext = {
    mentions:
      mentions === undefined
        ? undefined
        : {
            pattern: new RegExp(mentions.pattern.source, `${mentions.pattern.flags.replace(/[gy]/g, "")}y`),
            resolve: mentions.resolve,
          },
    inLink: false,
    underscoreUnderline: options.underscoreUnderline === true,
    depth: 0,
  };
  const blocks = parseBlocks(normaliseNewlines(md).split("\n"));
  return renderBlocks(blocks, isSingleParagraph(blocks), ctx);
}
