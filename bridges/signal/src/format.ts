/**
 * Message text translation between Signal and Matrix. Signal messages are a plain `body` plus
 * `bodyRanges` (styles and mentions), with offsets and lengths in UTF-16 code units, the same
 * unit JavaScript strings index by. Pure functions only: no I/O, no state.
 *
 * Signal → Matrix cuts the body into segments at every range edge and writes nested HTML.
 * Matrix → Signal is a "styles" dialect of the framework's `renderHtml`: the walker owns the
 * structure (blocks, lists, quotes, links, whitespace), and our writer marks style changes
 * and mentions in-band with Unicode noncharacters, which `decodeMarked` turns into ranges.
 */
import { format } from "@switchboard/framework";

export type SignalStyle = "BOLD" | "ITALIC" | "SPOILER" | "STRIKETHROUGH" | "MONOSPACE";

export interface BodyRange {
  /** UTF-16 code units from the start of the body. */
  start: number;
  /** UTF-16 code units. */
  length: number;
  style?: SignalStyle;
  /** A mention of this account; the range covers the U+FFFC placeholder in the body. */
  mentionAci?: string;
}

/** What Signal puts in the body where a mention goes. */
export const MENTION_PLACEHOLDER = "\uFFFC";

/** Outermost first when several open at the same place and end together. */
const STYLES: readonly SignalStyle[] = ["SPOILER", "BOLD", "ITALIC", "STRIKETHROUGH", "MONOSPACE"];

const OPEN_TAG: Readonly<Record<SignalStyle, string>> = {
  SPOILER: "<span data-mx-spoiler>",
  BOLD: "<strong>",
  ITALIC: "<em>",
  STRIKETHROUGH: "<del>",
  MONOSPACE: "<code>",
};

const CLOSE_TAG: Readonly<Record<SignalStyle, string>> = {
  SPOILER: "</span>",
  BOLD: "</strong>",
  ITALIC: "</em>",
  STRIKETHROUGH: "</del>",
  MONOSPACE: "</code>",
};

function isSignalStyle(value: unknown): value is SignalStyle {
  return typeof value === "string" && (STYLES as readonly string[]).includes(value);
}

// ---------------------------------------------------------------------------------------------
// Signal → Matrix
// ---------------------------------------------------------------------------------------------

interface Interval {
  start: number;
  end: number;
}

interface StyleInterval extends Interval {
  style: SignalStyle;
}

interface MentionSpan extends Interval {
  html: string;
  text: string;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

/** Whether `index` falls between the two halves of a surrogate pair. */
function splitsPair(body: string, index: number): boolean {
  return (
    index > 0 &&
    index < body.length &&
    isHighSurrogate(body.charCodeAt(index - 1)) &&
    isLowSurrogate(body.charCodeAt(index))
  );
}

/**
 * A range as offsets inside the body, or null when it covers nothing. Ranges come from
 * remote clients, so anything may arrive: non-numbers, negative or huge values, lengths past
 * the end. Edges inside an emoji move outwards, so no half of a surrogate pair is cut off.
 */
function clampRange(range: BodyRange, body: string): Interval | null {
  const { start, length } = range as { start: unknown; length: unknown };
  if (typeof start !== "number" || typeof length !== "number") return null;
  if (!Number.isFinite(start) || !Number.isFinite(length) || length <= 0) return null;
  let from = Math.max(0, Math.min(body.length, Math.trunc(start)));
  let to = Math.max(from, Math.min(body.length, Math.trunc(start + length)));
  if (splitsPair(body, from)) from--;
  if (splitsPair(body, to)) to++;
  return to > from ? { start: from, end: to } : null;
}

/** Overlapping or touching intervals of one style become one. */
function mergeIntervals(intervals: Interval[]): Interval[] {
  const sorted = [...intervals].sort((a, b) => a.start - b.start);
  const merged: Interval[] = [];
  for (const next of sorted) {
    const last = merged[merged.length - 1];
    if (last !== undefined && next.start <= last.end) last.end = Math.max(last.end, next.end);
    else merged.push({ ...next });
  }
  return merged;
}

function validRanges(
  body: string,
  ranges: readonly BodyRange[],
  mention: (aci: string) => { html: string; text: string },
): { styles: StyleInterval[]; mentions: MentionSpan[] } {
  const byStyle = new Map<SignalStyle, Interval[]>();
  const mentions: MentionSpan[] = [];
  const candidates = Array.isArray(ranges) ? ranges : [];
  for (const range of candidates) {
    if (typeof range !== "object" || range === null) continue;
    const span = clampRange(range, body);
    if (span === null) continue;
    if (typeof range.mentionAci === "string" && range.mentionAci !== "") {
      mentions.push({ ...span, ...mention(range.mentionAci) });
    } else if (isSignalStyle(range.style)) {
      byStyle.set(range.style, [...(byStyle.get(range.style) ?? []), span]);
    }
  }
  // A mention replaces what it covers, so two cannot share any of it: the first one wins.
  mentions.sort((a, b) => a.start - b.start);
  const kept: MentionSpan[] = [];
  for (const m of mentions) {
    const last = kept[kept.length - 1];
    if (last === undefined || m.start >= last.end) kept.push(m);
  }
  const styles: StyleInterval[] = [];
  for (const style of STYLES) {
    for (const span of mergeIntervals(byStyle.get(style) ?? [])) styles.push({ ...span, style });
  }
  return { styles, mentions: kept };
}

function isLineStart(body: string, index: number): boolean {
  return index === 0 || body[index - 1] === "\n";
}

function isLineEnd(body: string, index: number): boolean {
  return index === body.length || body[index] === "\n" || body.startsWith("\r\n", index);
}

/**
 * Monospace over whole lines, several of them, is a code block: Signal has no other way to
 * say so, and Matrix clients show `<pre>` with its line breaks and spacing kept.
 */
function codeBlocksOf(body: string, styles: readonly StyleInterval[]): Interval[] {
  return styles.filter(
    (s) =>
      s.style === "MONOSPACE" &&
      body.slice(s.start, s.end).includes("\n") &&
      isLineStart(body, s.start) &&
      isLineEnd(body, s.end),
  );
}

/** The body with mentions replaced by their text: what a client without HTML shows. */
function textWithMentions(body: string, mentions: readonly MentionSpan[], from: number, to: number): string {
  let out = "";
  let at = from;
  for (const m of mentions) {
    if (m.end <= from || m.start >= to) continue;
    out += body.slice(at, Math.max(at, m.start)) + m.text;
    at = Math.max(at, m.end);
  }
  return out + body.slice(at, Math.max(at, to));
}

function escapeLines(text: string): string {
  return format.escapeHtml(text).replace(/\r?\n/g, "<br />");
}

/**
 * Inline HTML for `[from, to)`. Tags are kept on a stack: where a style ends, the tags opened
 * inside it close and re-open after it, so arbitrarily overlapping ranges still nest.
 */
function inlineHtml(
  body: string,
  styles: readonly StyleInterval[],
  mentions: readonly MentionSpan[],
  from: number,
  to: number,
): string {
  const clipped = styles
    .map((s) => ({ ...s, start: Math.max(s.start, from), end: Math.min(s.end, to) }))
    .filter((s) => s.end > s.start);
  const inside = mentions.filter((m) => m.start >= from && m.end <= to);
  const edges = new Set<number>([from, to]);
  for (const s of clipped) edges.add(s.start).add(s.end);
  for (const m of inside) edges.add(m.start).add(m.end);
  const points = [...edges].sort((a, b) => a - b);

  let html = "";
  const stack: StyleInterval[] = [];
  for (let i = 0; i + 1 < points.length; i++) {
    const at = points[i] ?? from;
    const next = points[i + 1] ?? to;
    // Close down to the outermost tag that ends here; re-open those above it still running.
    const firstEnding = stack.findIndex((s) => s.end <= at);
    const reopen: StyleInterval[] = [];
    if (firstEnding >= 0) {
      for (const s of stack.splice(firstEnding).reverse()) {
        html += CLOSE_TAG[s.style];
        if (s.end > at) reopen.push(s);
      }
    }
    const opening = [...reopen, ...clipped.filter((s) => s.start === at)];
    // The longest-running outermost, so it need not close and re-open for the others.
    opening.sort((a, b) => b.end - a.end || STYLES.indexOf(a.style) - STYLES.indexOf(b.style));
    for (const s of opening) {
      html += OPEN_TAG[s.style];
      stack.push(s);
    }
    // A style edge may fall inside a (garbage, longer than one unit) mention: the pill is
    // written once, where the mention starts.
    const pill = inside.find((m) => m.start <= at && at < m.end);
    if (pill === undefined) html += escapeLines(body.slice(at, next));
    else if (pill.start === at) html += pill.html;
  }
  for (const s of stack.reverse()) html += CLOSE_TAG[s.style];
  return html;
}

/**
 * Matrix `body` / `formatted_body` for a Signal message. Styles become `<strong>`, `<em>`,
 * `<del>`, `<code>` and `<span data-mx-spoiler>`; monospace over several whole lines becomes
 * `<pre><code>`; mentions become the pill `mention` returns (and its text in the plain body);
 * line breaks `<br />`; all text is escaped. `html` is left out when no range applies. Ranges
 * are clamped to the body, and those that make no sense are ignored.
 */
export function signalToMatrix(
  body: string,
  ranges: BodyRange[],
  mention: (aci: string) => { html: string; text: string },
): { text: string; html?: string } {
  const { styles, mentions } = validRanges(body, ranges, mention);
  const text = textWithMentions(body, mentions, 0, body.length);
  if (styles.length === 0 && mentions.length === 0) return { text };

  let html = "";
  let at = 0;
  for (const block of codeBlocksOf(body, styles)) {
    // A line break next to a block would show as an empty line: the block breaks the line.
    const before = body.slice(0, block.start).endsWith("\r\n") ? 2 : body[block.start - 1] === "\n" ? 1 : 0;
    html += inlineHtml(body, styles, mentions, at, Math.max(at, block.start - before));
    const code = textWithMentions(body, mentions, block.start, block.end);
    html += `<pre><code>${format.escapeHtml(code)}</code></pre>`;
    at = block.end + (body.startsWith("\r\n", block.end) ? 2 : body[block.end] === "\n" ? 1 : 0);
  }
  html += inlineHtml(body, styles, mentions, at, body.length);
  return { text, html };
}

// ---------------------------------------------------------------------------------------------
// Matrix → Signal
// ---------------------------------------------------------------------------------------------

/**
 * In-band marks in the rendered text. Noncharacters are reserved for exactly this kind of
 * internal use; any that arrive in a message are removed first, so they cannot forge ranges.
 * U+FDD0 + n switches to style set n (a bit per entry of STYLES: 32 sets, U+FDD0–U+FDEF);
 * U+FFFE <index> U+FFFF is the mention at that index. Every line starts unstyled, so the
 * quote and list prefixes the walker adds in front of lines stay unstyled too.
 */
const STYLE_MARK_BASE = 0xfdd0;
const MENTION_OPEN = "\uFFFE";
const MENTION_CLOSE = "\uFFFF";
const MARKS = /[\uFDD0-\uFDEF\uFFFE\uFFFF]/g;
const HTML_WHITESPACE = /[ \t\n\r\f]+/;

function stripMarks(text: string): string {
  return text.replace(MARKS, "");
}

/** The style set of the formats open around a piece of text; underline and colour have none. */
function styleBits(formats: readonly format.InlineFormat[]): number {
  let bits = 0;
  for (const f of formats) {
    const style: SignalStyle | undefined =
      f.kind === "bold"
        ? "BOLD"
        : f.kind === "italic"
          ? "ITALIC"
          : f.kind === "strikethrough"
            ? "STRIKETHROUGH"
            : f.kind === "code"
              ? "MONOSPACE"
              : f.kind === "spoiler"
                ? "SPOILER"
                : undefined;
    if (style !== undefined) bits |= 1 << STYLES.indexOf(style);
  }
  return bits;
}

function styleMark(bits: number): string {
  return String.fromCharCode(STYLE_MARK_BASE + bits);
}

/**
 * Writes text with style marks, lazily: a mark goes just before the text it applies to, so
 * empty elements leave nothing behind. A collapsed space takes only the styles on both sides
 * of it, so ranges do not start or end on a space.
 */
class SignalWriter implements format.InlineWriter {
  private out = "";
  private pendingSpace: number | null = null;
  /** The style set the marks written so far on this line amount to; null: unknown. */
  private written: number | null = 0;
  private lastBits = 0;

  private atLineStart(): boolean {
    return this.out === "" || this.out.endsWith("\n");
  }

  private switchTo(bits: number): void {
    if (this.written === bits) return;
    this.out += styleMark(bits);
    this.written = bits;
  }

  private append(word: string, bits: number): void {
    if (this.pendingSpace !== null && !this.atLineStart()) {
      this.switchTo(this.pendingSpace & this.lastBits & bits);
      this.out += " ";
    }
    this.pendingSpace = null;
    this.switchTo(bits);
    this.out += word;
    this.lastBits = bits;
  }

  space(formats: readonly format.InlineFormat[]): void {
    if (this.atLineStart() || this.pendingSpace !== null) return;
    this.pendingSpace = styleBits(formats);
  }

  text(text: string, formats: readonly format.InlineFormat[]): void {
    this.write(stripMarks(text), formats);
  }

  /** Markup comes from our dialect hooks, which strip marks from what they take from HTML. */
  markup(markup: string, formats: readonly format.InlineFormat[]): void {
    this.write(markup, formats);
  }

  private write(text: string, formats: readonly format.InlineFormat[]): void {
    const bits = styleBits(formats);
    text.split(HTML_WHITESPACE).forEach((word, index) => {
      if (index > 0) this.space(formats);
      if (word !== "") this.append(word, bits);
    });
  }

  block(text: string): void {
    this.out += text;
    // The block's own marks leave the line in a state this writer did not track.
    this.written = text.endsWith("\n") ? 0 : null;
  }

  newline(): void {
    this.pendingSpace = null;
    this.out += "\n";
    this.written = 0;
  }

  breakLine(): void {
    if (!this.atLineStart()) this.newline();
  }

  finish(): string {
    return this.out;
  }
}

/**
 * Blocks with a blank line around them, as in the plain-text rendering of other bridges.
 * Not `<pre>`: Signal shows a code block as monospace lines, which need no gap, and a block
 * that came from Signal goes back without one.
 */
function isParagraph(tag: string, inList: boolean): boolean {
  return (
    ["p", "blockquote", "hr", "table", "details"].includes(tag) ||
    /^h[1-6]$/.test(tag) ||
    ((tag === "ul" || tag === "ol") && !inList)
  );
}

function signalDialect(
  mentionOf: (matrixUserId: string) => string | null,
  mentions: string[],
): format.StylesDialect {
  return {
    formatting: "styles",
    writer: () => new SignalWriter(),
    blankLineBetween: (above, below, inList) => isParagraph(above, inList) || isParagraph(below, inList),
    quotePrefix: "> ",
    rule: "---",
    bullet: () => "• ",
    // Signal has no headings; bold on a line of its own reads as one.
    boldHeadings: true,
    heading: (text) => text,
    codeBlock: (code, _language, formats) => {
      const mark = styleMark(styleBits([...formats, { kind: "code" }]));
      return stripMarks(code)
        .split("\n")
        .map((line) => (line === "" ? line : mark + line))
        .join("\n");
    },
    mention: (userId, text) => {
      const aci = mentionOf(userId);
      if (aci === null || aci === "") return stripMarks(text);
      mentions.push(aci);
      return `${MENTION_OPEN}${mentions.length - 1}${MENTION_CLOSE}`;
    },
    roomMention: (_room, text) => stripMarks(text),
    url: (href) => stripMarks(href),
    link: (href) => ({ before: "", after: ` (${stripMarks(href)})` }),
  };
}

/**
 * Rendered text with marks → body and ranges. A style that stops at line breaks and goes on
 * right after them is one range over the breaks (a bold or monospace block stays one range).
 */
function decodeMarked(marked: string, mentions: readonly string[]): { body: string; ranges: BodyRange[] } {
  let body = "";
  const styleRanges: Array<{ style: SignalStyle; start: number; end: number }> = [];
  const mentionRanges: BodyRange[] = [];
  const openSince = new Map<SignalStyle, number>();
  let bits = 0;
  const setBits = (next: number): void => {
    STYLES.forEach((style, index) => {
      const was = (bits >> index) & 1;
      const now = (next >> index) & 1;
      if (was && !now) {
        const start = openSince.get(style) ?? body.length;
        openSince.delete(style);
        const last = styleRanges.findLast((r) => r.style === style);
        if (last !== undefined && /^\n+$/.test(body.slice(last.end, start))) last.end = body.length;
        else if (body.length > start) styleRanges.push({ style, start, end: body.length });
      } else if (!was && now) {
        openSince.set(style, body.length);
      }
    });
    bits = next;
  };
  for (let i = 0; i < marked.length; i++) {
    const code = marked.charCodeAt(i);
    if (code >= STYLE_MARK_BASE && code < STYLE_MARK_BASE + 32) {
      setBits(code - STYLE_MARK_BASE);
    } else if (marked[i] === MENTION_OPEN) {
      const close = marked.indexOf(MENTION_CLOSE, i);
      const aci = mentions[Number(marked.slice(i + 1, close))];
      if (close < 0 || aci === undefined) continue;
      mentionRanges.push({ start: body.length, length: MENTION_PLACEHOLDER.length, mentionAci: aci });
      body += MENTION_PLACEHOLDER;
      i = close;
    } else if (marked[i] === "\n") {
      setBits(0);
      body += "\n";
    } else {
      body += marked[i];
    }
  }
  setBits(0);
  const ranges: BodyRange[] = [
    ...styleRanges.map((r) => ({ start: r.start, length: r.end - r.start, style: r.style })),
    ...mentionRanges,
  ];
  // In document order; at one place, a mention before the styles around it.
  const rank = (r: BodyRange): number => (r.style === undefined ? -1 : STYLES.indexOf(r.style));
  ranges.sort((a, b) => a.start - b.start || a.length - b.length || rank(a) - rank(b));
  return { body, ranges };
}

/**
 * A Signal body and ranges for a Matrix message. Bold, italics, strike-through, code and
 * spoilers become style ranges; a pill to a user `mentionOf` knows on Signal becomes U+FFFC
 * with a mention range, other pills their text; links "text (url)" unless the text is the
 * URL; paragraphs and `<br>` line breaks, quotes "> ", lists "• " / "1. ". Rich-reply
 * fallbacks (`<mx-reply>`) are dropped. Without HTML, or when it renders to nothing, the
 * plain `text` is sent as is.
 */
export function matrixToSignal(
  html: string | undefined,
  text: string,
  mentionOf: (matrixUserId: string) => string | null,
): { body: string; ranges: BodyRange[] } {
  if (html === undefined) return { body: text, ranges: [] };
  // The sanitizer's allow-list has <del> and <strike> but not <s>, which it would unwrap.
  const withStrike = html.replace(/<(\/?)s(?=[\s/>])/gi, "<$1strike");
  const mentions: string[] = [];
  const marked = format.renderHtml(withStrike, signalDialect(mentionOf, mentions));
  const result = decodeMarked(marked, mentions);
  return result.body.trim() === "" ? { body: text, ranges: [] } : result;
}
