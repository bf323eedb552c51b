/**
 * Matrix message content (`body` / `formatted_body`) → IRC text with mIRC formatting codes.
 *
 * The result may span several lines: `splitMessage` cuts it into IRC lines afterwards (and
 * sanitizes them), so nothing here has to know about line lengths.
 */
import { format } from "@switchboard/framework";
import { nearestMircColour, parseCssColour } from "./colours.js";
import {
  joinCodes,
  PLAIN_STYLE,
  sameColour,
  sameStyle,
  stripIrcFormatting,
  transitionCodes,
  type IrcStyle,
} from "./mirc.js";

export interface MatrixToIrcOptions {
  /**
   * How a user pill is written, e.g. the ghost's IRC nick for a bridged IRC user.
   * Default: the link text (usually the display name).
   */
  mentionText?: (matrixUserId: string, linkText: string) => string;
  /** false: plain text without any formatting codes. Default true. */
  formatting?: boolean;
}

type Element = format.HtmlElement;
type Node = format.HtmlNode;
const { parseHtml, textContent } = format;

const HTML_WHITESPACE = /[ \t\n\r\f]+/;

/** Bold, italics and the text colour do not show on a plain space; the rest does. */
function looksSameOnSpace(a: IrcStyle, b: IrcStyle): boolean {
  return (
    a.underline === b.underline &&
    a.strikethrough === b.strikethrough &&
    a.monospace === b.monospace &&
    a.reverse === b.reverse &&
    sameColour(a.bg, b.bg) &&
    (sameColour(a.fg, b.fg) || (!a.underline && !a.strikethrough))
  );
}

interface LinePrefix {
  first: string;
  rest: string;
  used: boolean;
}

/**
 * Builds the output with HTML whitespace rules (runs collapse, none at line starts or ends)
 * and lazy formatting: codes are written just before the text they apply to, so empty
 * elements leave nothing behind, and every line re-opens what it needs because each IRC
 * message starts unformatted.
 */
class IrcWriter {
  private out = "";
  private pendingSpace = false;
  private spaceStyle: IrcStyle = { ...PLAIN_STYLE };
  /** What the codes written so far on this line amount to. */
  private written: IrcStyle = { ...PLAIN_STYLE };
  /** What the text being written now should look like. */
  style: IrcStyle = { ...PLAIN_STYLE };
  private readonly prefixes: LinePrefix[] = [];

  constructor(private readonly formatting: boolean) {}

  private atLineStart(): boolean {
    return this.out === "" || this.out.endsWith("\n");
  }

  private append(text: string): void {
    if (this.atLineStart()) {
      for (const prefix of this.prefixes) {
        this.out += prefix.used ? prefix.rest : prefix.first;
        prefix.used = true;
      }
    } else if (this.pendingSpace) {
      // The space keeps the style of the whitespace it came from ("<u>a</u> b" does not
      // underline it). Extra codes are only spent when the difference shows on a space.
      const free = sameStyle(this.spaceStyle, this.style);
      if (free || !looksSameOnSpace(this.written, this.spaceStyle)) this.switchTo(this.spaceStyle);
      this.out = joinCodes(this.out, " ");
    }
    this.pendingSpace = false;
    this.switchTo(this.style);
    this.out = joinCodes(this.out, text);
  }

  private switchTo(style: IrcStyle): void {
    if (!this.formatting || sameStyle(this.written, style)) return;
    this.out += transitionCodes(this.written, style);
    this.written = style;
  }

  private space(): void {
    // Collapsed whitespace keeps the style of its first character, as in HTML.
    if (this.atLineStart() || this.pendingSpace) return;
    this.pendingSpace = true;
    this.spaceStyle = this.style;
  }

  /** Text from a text node: whitespace collapses. */
  text(text: string): void {
    stripIrcFormatting(text)
      .split(HTML_WHITESPACE)
      .forEach((word, index) => {
        if (index > 0) this.space();
        if (word !== "") this.append(word);
      });
  }

  /** Preformatted text: written as is, line breaks kept. */
  verbatim(text: string): void {
    stripIrcFormatting(text)
      .split("\n")
      .forEach((line, index) => {
        if (index > 0) this.newline();
        if (line !== "") this.append(line);
      });
  }

  newline(): void {
    this.pendingSpace = false;
    this.out += "\n";
    this.written = { ...PLAIN_STYLE };
  }

  breakLine(): void {
    if (!this.atLineStart()) this.newline();
  }

  withStyle(patch: Partial<IrcStyle>, render: () => void): void {
    const saved = this.style;
    this.style = { ...saved, ...patch };
    render();
    this.style = saved;
  }

  withPrefix(first: string, rest: string, render: () => void): void {
    this.breakLine();
    this.prefixes.push({ first, rest, used: false });
    render();
    this.breakLine();
    this.prefixes.pop();
  }

  finish(): string {
    return this.out.replace(/^\n+|\n+$/g, "");
  }
}

/** "example.com" and "https://example.com/" are the same link; so are "a@b.c" and "mailto:a@b.c". */
function sameLink(text: string, href: string): boolean {
  const normalise = (value: string): string =>
    value
      .trim()
      .replace(/^(?:https?:\/\/|mailto:)/i, "")
      .replace(/\/$/, "")
      .toLowerCase();
  return normalise(text) === normalise(href);
}

const BLOCKS = new Set([
  "p",
  "div",
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
  "h1",
  "h2",
  "h3",
  "h4",
  "h5",
  "h6",
]);

/** Black on black: the IRC convention for spoilers (select the text to read it). */
const SPOILER: Partial<IrcStyle> = { fg: { kind: "index", index: 1 }, bg: { kind: "index", index: 1 } };

function colourOf(value: string | undefined): IrcStyle["fg"] | undefined {
  if (value === undefined) return undefined;
  const hex = parseCssColour(value);
  return hex === null ? undefined : { kind: "index", index: nearestMircColour(hex) };
}

class Renderer {
  constructor(
    private readonly writer: IrcWriter,
    private readonly mentionText: (matrixUserId: string, linkText: string) => string,
  ) {}

  children(node: Element): void {
    for (const child of node.children) this.node(child);
  }

  node(node: Node): void {
    if (node.type === "text") return this.writer.text(node.text);
    const w = this.writer;
    if (BLOCKS.has(node.name)) w.breakLine();
    switch (node.name) {
      case "br":
        return w.newline();
      case "b":
      case "strong":
        return w.withStyle({ bold: true }, () => this.children(node));
      case "h1":
      case "h2":
      case "h3":
      case "h4":
      case "h5":
      case "h6":
        w.withStyle({ bold: true }, () => this.children(node));
        return w.breakLine();
      case "i":
      case "em":
        return w.withStyle({ italic: true }, () => this.children(node));
      case "u":
        return w.withStyle({ underline: true }, () => this.children(node));
      case "del":
      case "strike":
        return w.withStyle({ strikethrough: true }, () => this.children(node));
      case "code":
        return w.withStyle({ monospace: true }, () => this.children(node));
      case "pre":
        w.withStyle({ monospace: true }, () =>
          w.verbatim(textContent(node).replace(/^\n/, "").replace(/\n$/, "")),
        );
        return w.breakLine();
      case "font":
      case "span":
        return this.styled(node);
      case "a":
        return this.link(node);
      case "img":
        return w.text(node.attribs.alt || node.attribs.title || "[image]");
      case "blockquote":
        return w.withPrefix("> ", "> ", () => this.children(node));
      case "ul":
      case "ol":
        return this.list(node);
      case "li":
        return w.withPrefix("- ", "  ", () => this.children(node));
      case "hr":
        w.text("---");
        return w.breakLine();
      case "tr":
        this.row(node);
        return w.breakLine();
    }
    this.children(node);
    if (BLOCKS.has(node.name)) w.breakLine();
  }

  private styled(node: Element): void {
    const patch: Partial<IrcStyle> = {};
    const fg = colourOf(node.attribs["data-mx-color"] ?? node.attribs.color);
    const bg = colourOf(node.attribs["data-mx-bg-color"]);
    if (fg !== undefined) patch.fg = fg;
    if (bg !== undefined) patch.bg = bg;
    if (node.name === "span" && node.attribs["data-mx-spoiler"] !== undefined) Object.assign(patch, SPOILER);
    this.writer.withStyle(patch, () => this.children(node));
  }

  private link(node: Element): void {
    const href = (node.attribs.href ?? "").trim();
    const linkText = textContent(node).replace(/\s+/g, " ").trim();
    const target = href === "" ? null : format.parseMatrixLink(href);
    if (target?.kind === "user")
      return this.writer.text(this.mentionText(target.userId, linkText || target.userId));
    if (target?.kind === "room") return this.writer.text(linkText || target.roomIdOrAlias);
    if (href === "") return this.children(node);
    if (linkText === "") return this.writer.text(href);
    if (sameLink(linkText, href)) {
      // One copy is enough: the address for e-mail, else the full URL (clients linkify it).
      return /^mailto:/i.test(href) ? this.children(node) : this.writer.text(href);
    }
    this.children(node);
    this.writer.text(` <${href}>`);
  }

  private list(node: Element): void {
    const ordered = node.name === "ol";
    const start = Number.parseInt(node.attribs.start ?? "1", 10);
    let number = Number.isFinite(start) ? start : 1;
    for (const child of node.children) {
      if (child.type === "text") {
        // Whitespace between items; stray text is an item of its own.
        if (child.text.trim() === "") continue;
      } else if (child.name !== "li") {
        this.node(child);
        continue;
      }
      const marker = ordered ? `${number++}. ` : "- ";
      const content = child.type === "text" ? [child] : child.children;
      this.writer.withPrefix(marker, " ".repeat(marker.length), () => {
        for (const grandchild of content) this.node(grandchild);
      });
    }
  }

  private row(node: Element): void {
    let first = true;
    for (const cell of node.children) {
      if (cell.type !== "element" || (cell.name !== "td" && cell.name !== "th")) continue;
      if (!first) this.writer.text(" | ");
      first = false;
      this.children(cell);
    }
  }
}

function renderHtml(html: string, options: MatrixToIrcOptions): string {
  // The spec's allow-list has <del> and <strike> but not <s>, which the sanitizer would unwrap.
  const withStrike = html.replace(/<(\/?)s(?=[\s/>])/gi, "<$1strike");
  const tree = parseHtml(format.sanitizeMatrixHtml(withStrike, { stripReplyFallback: true }));
  const writer = new IrcWriter(options.formatting ?? true);
  const mentionText = options.mentionText ?? ((_userId: string, linkText: string) => linkText);
  new Renderer(writer, mentionText).children(tree);
  return writer.finish();
}

/**
 * IRC text for a Matrix message: `<b>`/`<strong>` → \x02, `<i>`/`<em>` → \x1D, `<u>` → \x1F,
 * `<del>`/`<s>`/`<strike>` → \x1E, `<code>` → \x11, colours → the nearest classic mIRC colour,
 * spoilers black on black, headings bold, links "text <url>", lists "- item" / "1. item",
 * quotes "> line", code blocks line by line, one line per paragraph or `<br>`. Rich-reply
 * fallbacks (`<mx-reply>`) are dropped; a plain body's "> <@user> …" fallback is left to the
 * caller, who knows whether the event is a reply. Without HTML (or when it renders to nothing)
 * the plain body is used as is: IRC users read it fine, and a Matrix user typing mIRC codes
 * meant them. `formatting: false` removes every code.
 */
export function matrixToIrc(
  content: { text: string; html?: string },
  options: MatrixToIrcOptions = {},
): string {
  const fromHtml = content.html === undefined ? "" : renderHtml(content.html, options);
  if (stripIrcFormatting(fromHtml).trim() !== "") return fromHtml;
  return options.formatting === false ? stripIrcFormatting(content.text) : content.text;
}
