/**
 * The inline writer of the IRC dialect: the formats open around each piece of text become
 * mIRC codes, written lazily and re-opened on every line.
 */
import type { format } from "@switchboard/framework";
import { nearestMircColour, parseCssColour } from "./colours.js";
import {
  joinCodes,
  PLAIN_STYLE,
  sameColour,
  sameStyle,
  stripIrcFormatting,
  styleCodes,
  transitionCodes,
  type IrcStyle,
} from "./mirc.js";

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

/** Black on black: the IRC convention for spoilers (select the text to read it). */
const SPOILER: Partial<IrcStyle> = { fg: { kind: "index", index: 1 }, bg: { kind: "index", index: 1 } };

function colourOf(value: string | undefined): IrcStyle["fg"] | undefined {
  if (value === undefined) return undefined;
  const hex = parseCssColour(value);
  return hex === null ? undefined : { kind: "index", index: nearestMircColour(hex) };
}

function styleOf(formats: readonly format.InlineFormat[]): IrcStyle {
  const style: IrcStyle = { ...PLAIN_STYLE };
  for (const f of formats) {
    switch (f.kind) {
      case "bold":
      case "italic":
      case "underline":
      case "strikethrough":
        style[f.kind] = true;
        break;
      case "code":
        style.monospace = true;
        break;
      case "colour":
        style.fg = colourOf(f.fg) ?? style.fg;
        style.bg = colourOf(f.bg) ?? style.bg;
        break;
      case "spoiler":
        Object.assign(style, SPOILER);
    }
  }
  return style;
}

/**
 * Builds lines with lazy formatting: codes are written just before the text they apply to,
 * so empty elements leave nothing behind, and every line re-opens what it needs because each
 * IRC message starts unformatted.
 */
export class IrcWriter implements format.InlineWriter {
  private out = "";
  private pendingSpace = false;
  private spaceStyle: IrcStyle = { ...PLAIN_STYLE };
  /** What the codes written so far on this line amount to. */
  private written: IrcStyle = { ...PLAIN_STYLE };

  constructor(private readonly formatting: boolean) {}

  private atLineStart(): boolean {
    return this.out === "" || this.out.endsWith("\n");
  }

  private append(text: string, style: IrcStyle): void {
    if (this.pendingSpace && !this.atLineStart()) {
      // The space keeps the style of the whitespace it came from ("<u>a</u> b" does not
      // underline it). Extra codes are only spent when the difference shows on a space.
      const free = sameStyle(this.spaceStyle, style);
      if (free || !looksSameOnSpace(this.written, this.spaceStyle)) this.switchTo(this.spaceStyle);
      this.out = joinCodes(this.out, " ");
    }
    this.pendingSpace = false;
    this.switchTo(style);
    this.out = joinCodes(this.out, text);
  }

  private switchTo(style: IrcStyle): void {
    if (!this.formatting || sameStyle(this.written, style)) return;
    this.out += transitionCodes(this.written, style);
    this.written = style;
  }

  space(formats: readonly format.InlineFormat[]): void {
    // Collapsed whitespace keeps the style of its first character, as in HTML.
    if (this.atLineStart() || this.pendingSpace) return;
    this.pendingSpace = true;
    this.spaceStyle = styleOf(formats);
  }

  text(text: string, formats: readonly format.InlineFormat[]): void {
    const style = styleOf(formats);
    stripIrcFormatting(text)
      .split(HTML_WHITESPACE)
      .forEach((word, index) => {
        if (index > 0) this.space(formats);
        if (word !== "") this.append(word, style);
      });
  }

  /** IRC has nothing to escape: markup is text like any other. */
  markup(markup: string, formats: readonly format.InlineFormat[]): void {
    this.text(markup, formats);
  }

  block(text: string): void {
    this.out += text;
  }

  newline(): void {
    this.pendingSpace = false;
    this.out += "\n";
    this.written = { ...PLAIN_STYLE };
  }

  breakLine(): void {
    if (!this.atLineStart()) this.newline();
  }

  finish(): string {
    return this.out;
  }
}

/** Preformatted text: written as is, line by line, each line opening its own codes. */
export function ircCodeBlock(
  code: string,
  formats: readonly format.InlineFormat[],
  formatting: boolean,
): string {
  const codes = formatting ? styleCodes(styleOf([...formats, { kind: "code" }])) : "";
  return stripIrcFormatting(code)
    .split("\n")
    .map((line) => (line === "" ? line : joinCodes(codes, line)))
    .join("\n");
}
