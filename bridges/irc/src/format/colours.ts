/**
 * The mIRC colour palette and conversions between palette indices and `#rrggbb`.
 *
 * Indices 0–15 are the classic mIRC colours (https://www.mirc.com/colors.html); 16–98 are the
 * extended palette most modern clients share (mIRC 7.51+, WeeChat, irssi, The Lounge, IRCCloud);
 * 99 means "default colour" and has no RGB value.
 */

/** `#rrggbb` for indices 0–98, lower-case (what `sanitizeMatrixHtml` keeps byte for byte). */
export const MIRC_PALETTE: readonly string[] = [
  // 0–15: the classic colours.
  "ffffff 000000 00007f 009300 ff0000 7f0000 9c009c fc7f00 ffff00 00fc00 009393 00ffff 0000fc ff00ff",
  "7f7f7f d2d2d2",
  // 16–87: six rows of twelve hues, darkest row first.
  "470000 472100 474700 324700 004700 00472c 004747 002747 000047 2e0047 470047 47002a",
  "740000 743a00 747400 517400 007400 007449 007474 004074 000074 4b0074 740074 740045",
  "b50000 b56300 b5b500 7db500 00b500 00b571 00b5b5 0063b5 0000b5 7500b5 b500b5 b5006b",
  "ff0000 ff8c00 ffff00 b2ff00 00ff00 00ffa0 00ffff 008cff 0000ff a500ff ff00ff ff0098",
  "ff5959 ffb459 ffff71 cfff60 6fff6f 65ffc9 6dffff 59b4ff 5959ff c459ff ff66ff ff59bc",
  "ff9c9c ffd39c ffff9c e2ff9c 9cff9c 9cffdb 9cffff 9cd3ff 9c9cff dc9cff ff9cff ff94d3",
  // 88–98: greys.
  "000000 131313 282828 363636 4d4d4d 656565 818181 9f9f9f bcbcbc e2e2e2 ffffff",
]
  .join(" ")
  .split(" ")
  .map((hex) => `#${hex}`);

/** `#rrggbb` for a palette index, or null for 99 ("default") and anything out of range. */
export function mircColourToHex(index: number): string | null {
  return MIRC_PALETTE[index] ?? null;
}

/**
 * The CSS colour names people actually put in `<font color>`; anything rarer falls back to
 * "no colour", which loses nothing but a tint.
 */
const CSS_NAMES: Readonly<Record<string, string>> = {
  black: "#000000",
  white: "#ffffff",
  red: "#ff0000",
  green: "#008000",
  lime: "#00ff00",
  blue: "#0000ff",
  navy: "#000080",
  yellow: "#ffff00",
  orange: "#ffa500",
  purple: "#800080",
  magenta: "#ff00ff",
  fuchsia: "#ff00ff",
  pink: "#ffc0cb",
  cyan: "#00ffff",
  aqua: "#00ffff",
  teal: "#008080",
  maroon: "#800000",
  brown: "#a52a2a",
  olive: "#808000",
  gray: "#808080",
  grey: "#808080",
  silver: "#c0c0c0",
  darkgray: "#a9a9a9",
  darkgrey: "#a9a9a9",
  lightgray: "#d3d3d3",
  lightgrey: "#d3d3d3",
  gold: "#ffd700",
  violet: "#ee82ee",
  indigo: "#4b0082",
};

/** `#rrggbb` (lower-case) from `#rrggbb`, `#rgb` or a common CSS colour name; null otherwise. */
export function parseCssColour(value: string): string | null {
  const trimmed = value.trim().toLowerCase();
  if (/^#[0-9a-f]{6}$/.test(trimmed)) return trimmed;
  const short = /^#([0-9a-f])([0-9a-f])([0-9a-f])$/.exec(trimmed);
  if (short) return `#${short[1]}${short[1]}${short[2]}${short[2]}${short[3]}${short[3]}`;
  return CSS_NAMES[trimmed] ?? null;
}

function rgb(hex: string): [number, number, number] {
  const n = Number.parseInt(hex.slice(1), 16);
  return [(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
}

/**
 * The closest of the 16 classic colours. The extended palette is deliberately not used: clients
 * that predate it (HexChat, older mIRC, most bouncers' web views) render 16–98 as the default
 * colour or garbage, while 0–15 work everywhere. Distance is "redmean" weighted RGB, a cheap
 * approximation of perceived difference that keeps e.g. orange from snapping to red.
 */
export function nearestMircColour(hex: string): number {
  const [r, g, b] = rgb(hex);
  let best = 0;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (let index = 0; index < 16; index++) {
    const [pr, pg, pb] = rgb(MIRC_PALETTE[index] ?? "#000000");
    const mean = (r + pr) / 2;
    const dr = r - pr;
    const dg = g - pg;
    const db = b - pb;
    const distance = (2 + mean / 256) * dr * dr + 4 * dg * dg + (2 + (255 - mean) / 256) * db * db;
    if (distance < bestDistance) {
      bestDistance = distance;
      best = index;
    }
  }
  return best;
}
