/**
 * Slack message text (mrkdwn, the `text` of message events) → Matrix `body` / `formatted_body`.
 *
 * Hand-written rather than a library: the maintained Slack parsers on npm either render their
 * own HTML (which would still need re-escaping and mapping onto the Matrix tag set) or return
 * an AST that needs a renderer just as long as this one, and none of them knows how to turn
 * `<@U123>` into a Matrix pill. Slack's own rules are small: a handful of inline markers that
 * only count at word boundaries, `<…>` tokens for links and mentions, and line-based quotes,
 * lists and ``` blocks.
 *
 * The `text` returned keeps Slack's markers as typed (`*bold*`, `` `code` ``, `> quote`) with
 * entities decoded, emoji as Unicode, mentions as `@Name`, channels as `#name` and links as
 * `label (url)`: it is what a Slack user sees, minus the styling.
 */
import { format } from "@switchboard/framework";
import { replaceShortcodes, shortcodeAt } from "./emoji.js";

export interface SlackRefs {
  /** Display name of a Slack user id (for pills and plain text); undefined when unknown. */
  userName(userId: string): string | undefined;
  /** Name of a Slack channel id (for #channel links). */
  channelName(channelId: string): string | undefined;
  /** HTML for a pill to a Slack user's Matrix ghost (the framework provides this; just call it). */
  mentionHtml(userId: string, displayname: string): string;
}

export interface MatrixText {
  text: string;
  /** Only present when there is something the plain text cannot show: formatting, a pill, a link. */
  html?: string;
}

const { escapeHtml, escapeHtmlAttribute } = format;

/** A piece of output in both forms: the readable text and its HTML. */
interface Rendered {
  text: string;
  html: string;
}

const EMPTY: Rendered = { text: "", html: "" };

function plain(text: string): Rendered {
  return { text, html: escapeHtml(text) };
}

function concat(parts: readonly Rendered[], textSeparator = "", htmlSeparator = textSeparator): Rendered {
  return {
    text: parts.map((p) => p.text).join(textSeparator),
    html: parts.map((p) => p.html).join(htmlSeparator),
  };
}

/** Slack escapes exactly these three, in all text including code and link labels. */
function unescapeSlack(text: string): string {
  return text.replace(/&(amp|lt|gt);/g, (_match, name: string) =>
    name === "amp" ? "&" : name === "lt" ? "<" : ">",
  );
}

// ---------------------------------------------------------------- <…> tokens

/** `@here` and friends: they notify on Slack, but they are only text on Matrix. */
const BROADCASTS: Record<string, string> = {
  here: "@here",
  channel: "@channel",
  everyone: "@everyone",
  group: "@channel",
};

const LINK_SCHEMES = new Set(format.MATRIX_LINK_SCHEMES);

function linkScheme(url: string): string | undefined {
  return /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
}

/**
 * What a `<…>` token shows as text, and as HTML when it is more than text (a pill or a link).
 * Inside code a link is only what the user typed (its label, else the URL), without emoji.
 */
function renderToken(inner: string, refs: SlackRefs, inCode: boolean): Rendered {
  const bar = inner.indexOf("|");
  const target = bar === -1 ? inner : inner.slice(0, bar);
  const rawLabel = bar === -1 ? undefined : unescapeSlack(inner.slice(bar + 1));
  const label = rawLabel === "" ? undefined : rawLabel;
  switch (target[0]) {
    case "@": {
      const userId = target.slice(1);
      const name = refs.userName(userId) ?? label?.replace(/^@/, "") ?? userId;
      return { text: `@${name}`, html: refs.mentionHtml(userId, name) };
    }
    case "#": {
      const channelId = target.slice(1);
      return plain(`#${refs.channelName(channelId) ?? label?.replace(/^#/, "") ?? channelId}`);
    }
    case "!": {
      const [command = "", id] = target.slice(1).split("^");
      const broadcast = BROADCASTS[command];
      if (broadcast !== undefined) return plain(broadcast);
      if (label !== undefined) return plain(label);
      if (command === "subteam") return plain(`@${id ?? "team"}`);
      if (command === "date") {
        const seconds = Number(id);
        return plain(Number.isFinite(seconds) ? new Date(seconds * 1000).toISOString() : "");
      }
      return plain(`@${command}`);
    }
  }
  const url = unescapeSlack(target);
  const scheme = linkScheme(url);
  if (scheme === undefined) return plain(unescapeSlack(`<${inner}>`));
  const shown = label ?? url;
  if (inCode) return plain(shown);
  const text = replaceShortcodes(shown);
  if (!LINK_SCHEMES.has(scheme)) return plain(text);
  return {
    text: label === undefined || format.sameLink(label, url) ? text : `${text} (${url})`,
    html: `<a href="${escapeHtmlAttribute(url)}">${escapeHtml(text)}</a>`,
  };
}

/** Inside code the tokens are what they read as, never links or pills. */
function resolveTokensAsText(code: string, refs: SlackRefs): string {
  let out = "";
  let position = 0;
  for (const match of code.matchAll(/<([^<>\n]+)>/g)) {
    out += unescapeSlack(code.slice(position, match.index));
    out += renderToken(match[1] ?? "", refs, true).text;
    position = match.index + match[0].length;
  }
  return out + unescapeSlack(code.slice(position));
}

// ---------------------------------------------------------------- inline

const EMPHASIS: Record<string, string> = { "*": "strong", _: "em", "~": "del" };
const WORD = /[\p{L}\p{N}]/u;
const BARE_URL = /https?:\/\/[^\s<]+/iy;
/** Punctuation that ends a sentence or closes emphasis rather than belonging to a bare URL. */
const URL_TRAILER = /[*_~.,;:!?)'"]+$/;

function isWord(char: string | undefined): boolean {
  return char !== undefined && WORD.test(char);
}

function isSpace(char: string | undefined): boolean {
  return char === undefined || /\s/.test(char);
}

/**
 * One line of Slack text (Slack's inline formatting never spans lines). Keeps what it has
 * learnt about the line so that a 40,000-character message full of unmatched markers or `<`
 * costs linear time, not quadratic.
 */
class InlineParser {
  /** Per character: the position searched from and the first occurrence found there. */
  private readonly found = new Map<string, { from: number; at: number }>();
  /** Per marker: a position from which it is known to have no closing marker. */
  private readonly unclosed = new Map<string, number>();

  constructor(
    private readonly line: string,
    private readonly refs: SlackRefs,
  ) {}

  private indexOf(char: string, from: number): number {
    const known = this.found.get(char);
    if (known !== undefined && known.from <= from && (known.at === -1 || known.at >= from)) return known.at;
    const at = this.line.indexOf(char, from);
    this.found.set(char, { from, at });
    return at;
  }

  /** End of the `<…>` token or `` `code` `` span starting at `index`, or -1. */
  private atomEnd(index: number): number {
    const char = this.line[index];
    if (char === "<") {
      const close = this.indexOf(">", index + 1);
      const reopen = this.indexOf("<", index + 1);
      return close > index + 1 && (reopen === -1 || reopen > close) ? close + 1 : -1;
    }
    if (char === "`") {
      const close = this.indexOf("`", index + 1);
      return close > index + 1 ? close + 1 : -1;
    }
    return -1;
  }

  /**
   * Slack's emphasis rules: a marker opens after the line start or a non-word character and
   * before a non-space; it closes after a non-space and before the line end or a non-word
   * character. Doubled markers (`**`, `__init__`) are text. So `snake_case_name` and `2*3*4`
   * stay as typed.
   */
  private canOpen(index: number): boolean {
    const { line } = this;
    const marker = line[index];
    return (
      !isWord(line[index - 1]) &&
      line[index - 1] !== marker &&
      !isSpace(line[index + 1]) &&
      line[index + 1] !== marker
    );
  }

  private findClose(open: number): number {
    const { line } = this;
    const marker = line[open] ?? "";
    if (open >= (this.unclosed.get(marker) ?? Infinity)) return -1;
    for (let index = open + 1; index < line.length; index++) {
      const end = this.atomEnd(index);
      if (end !== -1) {
        index = end - 1;
        continue;
      }
      if (
        index > open + 1 &&
        line[index] === marker &&
        !isSpace(line[index - 1]) &&
        !isWord(line[index + 1]) &&
        line[index + 1] !== marker
      ) {
        return index;
      }
    }
    // Closing markers do not depend on the opener: none after this one, none after a later one.
    this.unclosed.set(marker, open);
    return -1;
  }

  /** The bare URL starting at `index` (bots may post them unwrapped), or undefined. */
  private bareUrl(index: number): string | undefined {
    if (isWord(this.line[index - 1])) return undefined;
    BARE_URL.lastIndex = index;
    const url = BARE_URL.exec(this.line)?.[0].replace(URL_TRAILER, "");
    return url !== undefined && /^https?:\/\/./i.test(url) ? url : undefined;
  }

  /** The piece starting at `index` that is not plain text, and where it ends. */
  private special(index: number): { part: Rendered; end: number } | undefined {
    const char = this.line[index] ?? "";
    if (char === "<" || char === "`") {
      const end = this.atomEnd(index);
      if (end === -1) return undefined;
      const inner = this.line.slice(index + 1, end - 1);
      if (char === "<") return { part: renderToken(inner, this.refs, false), end };
      const code = resolveTokensAsText(inner, this.refs);
      return { part: { text: `\`${code}\``, html: `<code>${escapeHtml(code)}</code>` }, end };
    }
    if (char === ":") {
      const found = shortcodeAt(this.line, index);
      return found === undefined ? undefined : { part: plain(found.emoji), end: index + found.length };
    }
    const tag = EMPHASIS[char];
    if (tag !== undefined && this.canOpen(index)) {
      const close = this.findClose(index);
      if (close === -1) return undefined;
      const inner = new InlineParser(this.line.slice(index + 1, close), this.refs).render();
      return {
        part: { text: `${char}${inner.text}${char}`, html: `<${tag}>${inner.html}</${tag}>` },
        end: close + 1,
      };
    }
    return undefined;
  }

  render(): Rendered {
    const to = this.line.length;
    const parts: Rendered[] = [];
    let textStart = 0;
    let index = 0;
    while (index < to) {
      const char = this.line[index];
      if (char === "h" || char === "H") {
        // A URL is literal: `_` in it is not emphasis.
        const url = this.bareUrl(index);
        if (url !== undefined) {
          index += url.length;
          continue;
        }
      }
      const special = this.special(index);
      if (special === undefined) {
        index++;
        continue;
      }
      if (index > textStart) parts.push(plain(unescapeSlack(this.line.slice(textStart, index))));
      parts.push(special.part);
      index = textStart = special.end;
    }
    if (to > textStart) parts.push(plain(unescapeSlack(this.line.slice(textStart, to))));
    return concat(parts);
  }
}

function renderInline(line: string, refs: SlackRefs): Rendered {
  return new InlineParser(line, refs).render();
}

// ---------------------------------------------------------------- blocks

const FENCE = "```";
/** `>` as Slack sends it (`&gt;`, escaped like any other) or as a bot may write it. */
const QUOTE_LINE = /^(?:&gt;|>) ?/;
const QUOTE_REST = /^(?:&gt;|>){3} ?/;
/** Slack's composer writes `•`, then `◦` and `▪` for nested levels, four spaces per level. */
const LIST_ITEM = /^([ \t]*)(?:([•◦▪▫‣-])|(\d{1,9})[.)])[ \t]+(\S.*)$/;

interface ListItem {
  indent: number;
  ordered: boolean;
  number: number;
  text: string;
  children: ListItem[];
}

function parseListItem(line: string): ListItem | undefined {
  const match = LIST_ITEM.exec(line);
  if (!match) return undefined;
  const indent = (match[1] ?? "").replace(/\t/g, "    ").length;
  const ordered = match[3] !== undefined;
  return { indent, ordered, number: ordered ? Number(match[3]) : 0, text: match[4] ?? "", children: [] };
}

/** Items at deeper indentation belong to the item above them. */
function nestItems(items: readonly ListItem[]): ListItem[] {
  const roots: ListItem[] = [];
  const stack: ListItem[] = [];
  for (const item of items) {
    while (stack.length > 0 && (stack[stack.length - 1]?.indent ?? 0) >= item.indent) stack.pop();
    const parent = stack[stack.length - 1];
    (parent === undefined ? roots : parent.children).push(item);
    stack.push(item);
  }
  return roots;
}

const BULLETS = ["•", "◦", "▪"];

function renderList(items: readonly ListItem[], refs: SlackRefs, depth: number): Rendered {
  const lists: Rendered[] = [];
  let start = 0;
  while (start < items.length) {
    // A run of items of one kind is one list; a switch between bullets and numbers starts another.
    const ordered = items[start]?.ordered ?? false;
    let end = start;
    while (end < items.length && items[end]?.ordered === ordered) end++;
    const run = items.slice(start, end);
    const first = run[0]?.number ?? 1;
    const indent = "    ".repeat(depth);
    const rendered = run.map((item, offset) => {
      const marker = ordered ? `${first + offset}.` : (BULLETS[depth % BULLETS.length] ?? "•");
      const content = renderInline(item.text, refs);
      const nested = item.children.length > 0 ? renderList(item.children, refs, depth + 1) : EMPTY;
      return {
        text: `${indent}${marker} ${content.text}${nested.text === "" ? "" : `\n${nested.text}`}`,
        html: `<li>${content.html}${nested.html}</li>`,
      };
    });
    const open = ordered ? (first === 1 ? "<ol>" : `<ol start="${first}">`) : "<ul>";
    const body = concat(rendered, "\n", "");
    lists.push({ text: body.text, html: `${open}${body.html}${ordered ? "</ol>" : "</ul>"}` });
    start = end;
  }
  return concat(lists, "\n", "");
}

function renderPre(code: string, refs: SlackRefs): Rendered {
  // Slack's composer puts the code on lines of its own; those breaks are not part of it.
  const text = resolveTokensAsText(code.replace(/^\n/, "").replace(/\n$/, ""), refs);
  return { text: `${FENCE}\n${text}\n${FENCE}`, html: `<pre><code>${escapeHtml(text)}</code></pre>` };
}

function renderParagraph(lines: readonly string[], refs: SlackRefs): Rendered {
  return concat(
    lines.map((line) => renderInline(line, refs)),
    "\n",
    "<br />",
  );
}

function prefixLines(text: string, prefix: string): string {
  return text
    .split("\n")
    .map((line) => (line === "" ? prefix.trimEnd() : prefix + line))
    .join("\n");
}

function renderQuote(lines: readonly string[], refs: SlackRefs): Rendered {
  const inner = renderBlocks(lines, refs, true);
  if (inner.text.trim() === "") return plain(">");
  return { text: prefixLines(inner.text, "> "), html: `<blockquote>${inner.html}</blockquote>` };
}

/** Where the ``` opened on line `start` at `column` closes: its content, and the position after it. */
function findFenceClose(
  lines: readonly string[],
  start: number,
  column: number,
): { code: string; line: number; column: number } | undefined {
  const parts: string[] = [];
  for (let index = start; index < lines.length; index++) {
    const line = lines[index] ?? "";
    const from = index === start ? column : 0;
    const close = line.indexOf(FENCE, from);
    if (close === -1) {
      parts.push(line.slice(from));
      continue;
    }
    parts.push(line.slice(from, close));
    const code = parts.join("\n");
    // "``````" is not an empty code block on Slack, only backticks.
    return code.trim() === "" ? undefined : { code, line: index, column: close + FENCE.length };
  }
  return undefined;
}

/**
 * Lines → blocks: `>>>` (the rest is quoted), `>` quotes (their content parsed again, so a
 * quote can hold a list or code, but not another quote: Slack has no nested quotes), ``` code
 * (which may start and end mid-line and hold any line), list items, and paragraphs of
 * everything else, lines joined by `<br />`.
 */
function renderBlocks(input: readonly string[], refs: SlackRefs, quoted = false): Rendered {
  const lines = [...input];
  const blocks: Rendered[] = [];
  let paragraph: string[] = [];
  const flushParagraph = (): void => {
    // Blank lines next to a quote, list or code block are the block's own spacing.
    while (paragraph.length > 0 && paragraph[0]?.trim() === "") paragraph.shift();
    while (paragraph.length > 0 && paragraph[paragraph.length - 1]?.trim() === "") paragraph.pop();
    if (paragraph.length > 0) blocks.push(renderParagraph(paragraph, refs));
    paragraph = [];
  };
  let index = 0;
  while (index < lines.length) {
    const line = lines[index] ?? "";
    const rest = quoted ? null : QUOTE_REST.exec(line);
    if (rest) {
      flushParagraph();
      blocks.push(renderQuote([line.slice(rest[0].length), ...lines.slice(index + 1)], refs));
      break;
    }
    if (!quoted && QUOTE_LINE.test(line)) {
      flushParagraph();
      const run: string[] = [];
      for (; index < lines.length && QUOTE_LINE.test(lines[index] ?? ""); index++) {
        run.push((lines[index] ?? "").replace(QUOTE_LINE, ""));
      }
      blocks.push(renderQuote(run, refs));
      continue;
    }
    const fence = line.indexOf(FENCE);
    const closing = fence === -1 ? undefined : findFenceClose(lines, index, fence + FENCE.length);
    if (closing !== undefined) {
      paragraph.push(line.slice(0, fence).trimEnd());
      flushParagraph();
      blocks.push(renderPre(closing.code, refs));
      // Text after the closing fence is a line of its own.
      const after = lines[closing.line]?.slice(closing.column) ?? "";
      index = closing.line;
      if (after.trim() === "") index++;
      else lines[index] = after.trimStart();
      continue;
    }
    const item = parseListItem(line);
    if (item !== undefined) {
      flushParagraph();
      const items: ListItem[] = [];
      for (
        let next: ListItem | undefined = item;
        next !== undefined;
        next = parseListItem(lines[index] ?? "")
      ) {
        items.push(next);
        index++;
      }
      blocks.push(renderList(nestItems(items), refs, 0));
      continue;
    }
    paragraph.push(line);
    index++;
  }
  flushParagraph();
  return concat(blocks, "\n", "");
}

/**
 * Converts Slack message text to Matrix content. `html` is set only when the message has
 * formatting, a mention pill or a link; it is sanitized (`format.sanitizeMatrixHtml`), so user
 * text can never become markup. In `text`, a user mention is `@Display Name` and a channel
 * `#name`; `@here`, `@channel` and `@everyone` are text on both sides (the caller decides
 * whether they notify the room).
 */
export function slackToMatrix(text: string, refs: SlackRefs): MatrixText {
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  const rendered = renderBlocks(lines, refs);
  const html = format.sanitizeMatrixHtml(rendered.html);
  return html === format.plainToHtml(rendered.text) ? { text: rendered.text } : { text: rendered.text, html };
}
