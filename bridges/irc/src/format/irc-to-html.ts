/**
 * IRC text with mIRC formatting codes → Matrix `body` / `formatted_body`.
 */
import { format } from "@switchboard/framework";
import { applyCode, colourHex, PLAIN_STYLE, tokenize, type IrcStyle } from "./mirc.js";

export interface IrcToMatrixOptions {
  /**
   * HTML for a nick addressed at the start of the line ("alice: hi"), usually a pill
   * (`format.pill(userId, displayName)`); null when the nick is nobody in particular.
   */
  mentionHtml?: (nick: string) => string | null;
}

export interface MatrixText {
  body: string;
  /** Only present when the line had visible formatting or a mention. */
  html?: string;
}

/**
 * `alice: hi` / `alice, hi`: the address must be followed by whitespace (or end the line) so
 * that "http://…" or "10:30" are not taken for nicks.
 */
const ADDRESSED_NICK = /^([A-Za-z[\]\\`_^{|}][A-Za-z0-9[\]\\`_^{|}-]*)[:,](?=\s|$)/;

/** Controls other than tab and newline have no meaning on Matrix and confuse some clients. */
// eslint-disable-next-line no-control-regex
const STRAY_CONTROLS = /[\x00-\x08\x0b-\x1f\x7f]/g;

interface Run {
  style: IrcStyle;
  /** Escaped HTML (text) or a caller-provided pill. */
  html: string;
}

/** One level of formatting as an HTML element; `key` identifies it for re-nesting. */
interface Tag {
  key: string;
  open: string;
  close: string;
}

function tagsFor(style: IrcStyle): Tag[] {
  const tags: Tag[] = [];
  const fg = colourHex(style.fg);
  const bg = colourHex(style.bg);
  if (fg !== null || bg !== null) {
    const attributes =
      (fg === null ? "" : ` data-mx-color="${fg}"`) + (bg === null ? "" : ` data-mx-bg-color="${bg}"`);
    tags.push({ key: `font${attributes}`, open: `<font${attributes}>`, close: "</font>" });
  }
  const simple = (name: string): Tag => ({ key: name, open: `<${name}>`, close: `</${name}>` });
  if (style.bold) tags.push(simple("b"));
  if (style.italic) tags.push(simple("i"));
  if (style.underline) tags.push(simple("u"));
  if (style.strikethrough) tags.push(simple("del"));
  if (style.monospace) tags.push(simple("code"));
  // Reverse video has no HTML equivalent worth guessing at (it depends on the client's theme).
  return tags;
}

/**
 * mIRC codes are toggles that need not nest (`\x02a\x1Db\x02c\x1D`); HTML must. Tags stay open
 * as long as they are still wanted and everything above the first unwanted one is closed and
 * re-opened, which keeps the output well-formed with few extra tags.
 */
function renderRuns(runs: readonly Run[]): string {
  let html = "";
  const open: Tag[] = [];
  for (const run of runs) {
    const wanted = tagsFor(run.style);
    let keep = 0;
    while (keep < open.length && wanted.some((tag) => tag.key === open[keep]?.key)) keep++;
    while (open.length > keep) html += open.pop()?.close ?? "";
    for (const tag of wanted) {
      if (open.some((o) => o.key === tag.key)) continue;
      open.push(tag);
      html += tag.open;
    }
    html += run.html;
  }
  while (open.length > 0) html += open.pop()?.close ?? "";
  return html;
}

interface PlainRun {
  style: IrcStyle;
  text: string;
}

function parse(text: string): PlainRun[] {
  const runs: PlainRun[] = [];
  let style: IrcStyle = { ...PLAIN_STYLE };
  for (const token of tokenize(text)) {
    if (token.type === "code") style = applyCode(style, token.code);
    else {
      const clean = token.text.replace(STRAY_CONTROLS, "");
      if (clean !== "") runs.push({ style, text: clean });
    }
  }
  return runs;
}

/** Drops the first `count` characters of text from the runs. */
function dropPrefix(runs: readonly PlainRun[], count: number): PlainRun[] {
  let remaining = count;
  const out: PlainRun[] = [];
  for (const run of runs) {
    if (remaining >= run.text.length) {
      remaining -= run.text.length;
      continue;
    }
    out.push({ style: run.style, text: run.text.slice(remaining) });
    remaining = 0;
  }
  return out;
}

/**
 * Converts one IRC line. `body` is the text without formatting codes; `html` is set when there
 * is something a plain body cannot show (formatting, colours, a mention pill). Garbage or
 * unbalanced codes are parsed the way mIRC does (toggles, colours until reset) and never throw.
 */
export function ircToMatrix(text: string, options: IrcToMatrixOptions = {}): MatrixText {
  let runs = parse(text);
  const body = runs.map((run) => run.text).join("");
  const htmlRuns: Run[] = [];

  const nick = ADDRESSED_NICK.exec(body)?.[1];
  const mention = nick === undefined ? null : (options.mentionHtml?.(nick) ?? null);
  if (nick !== undefined && mention !== null && mention !== "") {
    const style = runs[0]?.style ?? PLAIN_STYLE;
    // The caller's pill is sanitized so the whole result keeps passing `sanitizeMatrixHtml`.
    htmlRuns.push({ style, html: format.sanitizeMatrixHtml(mention) });
    runs = dropPrefix(runs, nick.length);
  }
  for (const run of runs) htmlRuns.push({ style: run.style, html: format.escapeHtml(run.text) });

  const html = renderRuns(htmlRuns);
  return html === format.escapeHtml(body) ? { body } : { body, html };
}
