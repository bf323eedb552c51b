/** Shared by the tests of this directory only (not exported from index.ts). */
import { applyCode, colourHex, PLAIN_STYLE, tokenize, type IrcStyle } from "./mirc.js";

/** mulberry32: a tiny deterministic PRNG, so property-style tests fail the same way every run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function pick<T>(random: () => number, items: readonly T[]): T {
  const item = items[Math.floor(random() * items.length)];
  if (item === undefined) throw new Error("pick from an empty list");
  return item;
}

/** `count` pieces drawn from `alphabet`, concatenated. */
export function randomString(random: () => number, alphabet: readonly string[], count: number): string {
  let out = "";
  for (let i = 0; i < count; i++) out += pick(random, alphabet);
  return out;
}

function styleKey(style: IrcStyle, char: string): string {
  const space = char.trim() === "";
  // Bold, italics and the text colour cannot be seen on a space (unless it is underlined or
  // struck through: the line has the text colour).
  const lined = style.underline || style.strikethrough;
  const flags = [
    !space && style.bold ? "b" : "",
    !space && style.italic ? "i" : "",
    style.monospace ? "m" : "",
    style.underline ? "u" : "",
    style.strikethrough ? "s" : "",
  ].join("");
  const fg = space && !lined ? "" : (colourHex(style.fg) ?? "");
  return `${flags}/${fg}/${colourHex(style.bg) ?? ""}`;
}

/**
 * What an IRC client shows: each visible character with its formatting, line by line.
 * Two strings that render the same give the same result, whatever codes they use.
 */
export function rendered(irc: string): string[] {
  return irc.split("\n").map((line) => {
    let style: IrcStyle = { ...PLAIN_STYLE };
    const out: string[] = [];
    for (const token of tokenize(line)) {
      if (token.type === "code") style = applyCode(style, token.code);
      else for (const char of token.text) out.push(`${char}:${styleKey(style, char)}`);
    }
    return out.join(" ");
  });
}
