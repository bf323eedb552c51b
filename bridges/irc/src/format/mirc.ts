/**
 * mIRC formatting codes (https://modern.ircdocs.horse/formatting): a tokenizer that knows where
 * each code ends (a colour code swallows up to two digits, a comma and up to two more), the
 * formatting state a sequence of codes leaves behind, and the codes that re-create a state.
 */
import { mircColourToHex, nearestMircColour } from "./colours.js";

export const BOLD = "\x02";
export const COLOUR = "\x03";
export const HEX_COLOUR = "\x04";
export const RESET = "\x0f";
export const MONOSPACE = "\x11";
export const REVERSE = "\x16";
export const ITALIC = "\x1d";
export const STRIKETHROUGH = "\x1e";
export const UNDERLINE = "\x1f";

export type IrcColour = { kind: "index"; index: number } | { kind: "hex"; hex: string };

export interface IrcStyle {
  bold: boolean;
  italic: boolean;
  underline: boolean;
  strikethrough: boolean;
  monospace: boolean;
  reverse: boolean;
  /** null: the client's default colour. */
  fg: IrcColour | null;
  bg: IrcColour | null;
}

export const PLAIN_STYLE: Readonly<IrcStyle> = Object.freeze({
  bold: false,
  italic: false,
  underline: false,
  strikethrough: false,
  monospace: false,
  reverse: false,
  fg: null,
  bg: null,
});

export type IrcToken = { type: "text"; text: string } | { type: "code"; code: string };

/**
 * A background needs a foreground (`\x03,05` is a reset followed by the text ",05"), and the
 * comma only belongs to the code when a digit follows it. Hex colours work the same way.
 */
const CODE_SOURCE =
  "[\\x02\\x0f\\x11\\x16\\x1d\\x1e\\x1f]|\\x03(?:\\d{1,2}(?:,\\d{1,2})?)?|\\x04(?:[0-9a-fA-F]{6}(?:,[0-9a-fA-F]{6})?)?";
const CODES = new RegExp(CODE_SOURCE, "g");
const CODE_AT_START = new RegExp(`^(?:${CODE_SOURCE})`);
// eslint-disable-next-line no-control-regex
const COLOUR_PARTS = /^\x03(?:(\d{1,2})(?:,(\d{1,2}))?)?$/;
// eslint-disable-next-line no-control-regex
const HEX_PARTS = /^\x04(?:([0-9a-fA-F]{6})(?:,([0-9a-fA-F]{6}))?)?$/;

/** Splits text into runs of text and single formatting codes (with their parameters). */
export function tokenize(text: string): IrcToken[] {
  const tokens: IrcToken[] = [];
  let position = 0;
  for (const match of text.matchAll(CODES)) {
    if (match.index > position) tokens.push({ type: "text", text: text.slice(position, match.index) });
    tokens.push({ type: "code", code: match[0] });
    position = match.index + match[0].length;
  }
  if (position < text.length) tokens.push({ type: "text", text: text.slice(position) });
  return tokens;
}

/** The text with every formatting code (and colour parameters) removed. */
export function stripIrcFormatting(text: string): string {
  return text.replace(CODES, "");
}

function indexColour(digits: string | undefined): IrcColour | null {
  const index = Number(digits);
  // 99 is "default"; so is anything the palette does not cover.
  return mircColourToHex(index) === null ? null : { kind: "index", index };
}

/** The style after applying one code token (as produced by `tokenize`). */
export function applyCode(style: IrcStyle, code: string): IrcStyle {
  switch (code) {
    case BOLD:
      return { ...style, bold: !style.bold };
    case ITALIC:
      return { ...style, italic: !style.italic };
    case UNDERLINE:
      return { ...style, underline: !style.underline };
    case STRIKETHROUGH:
      return { ...style, strikethrough: !style.strikethrough };
    case MONOSPACE:
      return { ...style, monospace: !style.monospace };
    case REVERSE:
      return { ...style, reverse: !style.reverse };
    case RESET:
      return { ...PLAIN_STYLE };
  }
  const colour = COLOUR_PARTS.exec(code);
  if (colour) {
    if (colour[1] === undefined) return { ...style, fg: null, bg: null };
    const fg = indexColour(colour[1]);
    return { ...style, fg, bg: colour[2] === undefined ? style.bg : indexColour(colour[2]) };
  }
  const hex = HEX_PARTS.exec(code);
  if (hex) {
    if (hex[1] === undefined) return { ...style, fg: null, bg: null };
    const fg: IrcColour = { kind: "hex", hex: `#${hex[1].toLowerCase()}` };
    const bg: IrcColour | null =
      hex[2] === undefined ? style.bg : { kind: "hex", hex: `#${hex[2].toLowerCase()}` };
    return { ...style, fg, bg };
  }
  return style;
}

/** `#rrggbb` of a colour (null for the default colour). */
export function colourHex(colour: IrcColour | null): string | null {
  if (colour === null) return null;
  return colour.kind === "hex" ? colour.hex : mircColourToHex(colour.index);
}

export function sameColour(a: IrcColour | null, b: IrcColour | null): boolean {
  return colourHex(a) === colourHex(b);
}

export function sameStyle(a: IrcStyle, b: IrcStyle): boolean {
  return (
    a.bold === b.bold &&
    a.italic === b.italic &&
    a.underline === b.underline &&
    a.strikethrough === b.strikethrough &&
    a.monospace === b.monospace &&
    a.reverse === b.reverse &&
    sameColour(a.fg, b.fg) &&
    sameColour(a.bg, b.bg)
  );
}

function twoDigits(index: number): string {
  return String(index).padStart(2, "0");
}

/**
 * The colour code that sets exactly these colours. Indices are always written with two digits
 * so text starting with a digit cannot extend them.
 */
export function colourCode(fg: IrcColour | null, bg: IrcColour | null): string {
  if (fg === null && bg === null) return COLOUR;
  if (fg?.kind !== "hex" && bg?.kind !== "hex") {
    const background = bg === null ? "" : `,${twoDigits(bg.index)}`;
    return `${COLOUR}${twoDigits(fg?.index ?? 99)}${background}`;
  }
  const fgHex = colourHex(fg);
  const bgHex = colourHex(bg);
  // \x04 cannot say "default foreground": fall back to the palette for that rare mix.
  if (fgHex === null) return `${COLOUR}99,${twoDigits(nearestMircColour(bgHex ?? "#000000"))}`;
  return `${HEX_COLOUR}${fgHex.slice(1)}${bgHex === null ? "" : `,${bgHex.slice(1)}`}`;
}

/** Codes that turn `from` into `to` (empty when they are the same). */
export function transitionCodes(from: IrcStyle, to: IrcStyle): string {
  let codes = "";
  if (!sameColour(from.fg, to.fg) || !sameColour(from.bg, to.bg)) {
    // Dropping a background needs a reset first: `\x03FG` alone keeps the old one.
    const dropsBackground = from.bg !== null && to.bg === null;
    if (dropsBackground && to.fg !== null) codes += COLOUR;
    codes += colourCode(to.fg, to.bg);
  }
  if (from.bold !== to.bold) codes += BOLD;
  if (from.italic !== to.italic) codes += ITALIC;
  if (from.underline !== to.underline) codes += UNDERLINE;
  if (from.strikethrough !== to.strikethrough) codes += STRIKETHROUGH;
  if (from.monospace !== to.monospace) codes += MONOSPACE;
  if (from.reverse !== to.reverse) codes += REVERSE;
  return codes;
}

/** Codes that re-create `style` at the start of a fresh line. */
export function styleCodes(style: IrcStyle): string {
  return transitionCodes(PLAIN_STYLE, style);
}

/** Two bolds cancel out: the usual way to end a colour code's parameters early. */
const SEPARATOR = BOLD + BOLD;

/** Whether a colour code at the very end of `before` would swallow the start of `after`. */
function absorbs(before: string, after: string): boolean {
  // The longest code is 14 characters: looking further back would only cost time.
  const recent = before.slice(-16);
  const start = Math.max(recent.lastIndexOf(COLOUR), recent.lastIndexOf(HEX_COLOUR));
  if (start === -1 || after === "") return false;
  const tail = recent.slice(start);
  const alone = CODE_AT_START.exec(tail)?.[0].length ?? 0;
  if (alone !== tail.length) return false;
  // Formally "\x03,5" is a reset and the text ",5", but some clients read a background there.
  if (tail.length === 1 && /^,\d/.test(after)) return true;
  const joined = CODE_AT_START.exec(tail + after.slice(0, 16))?.[0].length ?? 0;
  return joined > tail.length;
}

/**
 * `before + after`, unless `before` ends in a colour code that would swallow the start of
 * `after` (`"\x03" + "5 apples"` is colour 5, `"\x0304" + ",12"` sets a background): then an
 * empty bold toggle goes in between.
 */
export function joinCodes(before: string, after: string): string {
  return absorbs(before, after) ? before + SEPARATOR + after : before + after;
}

/**
 * `codes`, followed by an empty bold toggle when whatever text comes next could be swallowed by
 * a trailing colour code. For prefixes written before the text is known.
 */
export function sealCodes(codes: string): string {
  const risky = ["0", ",0", ",000000"].some((after) => absorbs(codes, after));
  return risky ? codes + SEPARATOR : codes;
}
