/**
 * Slack emoji names ↔ Unicode. Slack's standard emoji are iamcal/emoji-data's names (emojibase
 * ships them as its `iamcal` shortcode preset); the characters come from emojibase's compact
 * dataset, in its fully-qualified form (`❤️`, `👍️` with U+FE0F): Element's picker uses the same
 * data, so a reaction bridged from Slack lands on the same key as one made in Element.
 *
 * Skin tones are a second name, as Slack writes them: `+1::skin-tone-2` (tones 2–6, i.e. the
 * Fitzpatrick modifiers U+1F3FB–U+1F3FF), and `handshake::skin-tone-2-3` for emoji showing two
 * people with different tones.
 */
import type { CompactEmoji, ShortcodesDataset } from "emojibase";
import compact from "emojibase-data/en/compact.json" with { type: "json" };
import iamcal from "emojibase-data/en/shortcodes/iamcal.json" with { type: "json" };

const VARIATION_SELECTORS = /[\uFE0E\uFE0F]/g;
const FIRST_TONE = 0x1f3fb;
/**
 * `:name:` optionally followed by `:skin-tone-N:` (no space: Slack writes them together).
 * Sticky: only ever tried at one position, so an unknown `:30:` cannot hide the colon a
 * following `:tada:` starts with.
 */
const SHORTCODE = /:([a-z0-9_+-]+):(?::(skin-tone-[2-6](?:-[2-6])?):)?/y;

interface Skin {
  /** Slack's tone numbers (2–6) in the order they appear in the sequence. */
  tones: number[];
  unicode: string;
}

interface Tables {
  /** Every name and alias → the emoji's base hexcode. */
  hexcodeByName: Map<string, string>;
  unicodeByHexcode: Map<string, string>;
  skinsByHexcode: Map<string, Skin[]>;
  /** Unicode without variation selectors → Slack's name (with its skin-tone suffix). */
  nameByUnicode: Map<string, string>;
}

/** Comparing emoji ignores variation selectors: `❤` and `❤️` are the same emoji. */
function stripVariations(unicode: string): string {
  return unicode.replace(VARIATION_SELECTORS, "");
}

function tonesOf(unicode: string): number[] {
  const tones: number[] = [];
  for (const char of unicode) {
    const offset = (char.codePointAt(0) ?? 0) - FIRST_TONE;
    if (offset >= 0 && offset <= 4) tones.push(offset + 2);
  }
  return tones;
}

/** `skin-tone-3` when every person has tone 3, else `skin-tone-2-3`. */
function toneSuffix(tones: readonly number[]): string {
  return new Set(tones).size === 1 ? `skin-tone-${tones[0]}` : `skin-tone-${tones.join("-")}`;
}

function buildTables(): Tables {
  const tables: Tables = {
    hexcodeByName: new Map(),
    unicodeByHexcode: new Map(),
    skinsByHexcode: new Map(),
    nameByUnicode: new Map(),
  };
  const names = iamcal as ShortcodesDataset;
  for (const [hexcode, value] of Object.entries(names)) {
    for (const name of typeof value === "string" ? [value] : value) tables.hexcodeByName.set(name, hexcode);
  }
  for (const emoji of compact as CompactEmoji[]) {
    tables.unicodeByHexcode.set(emoji.hexcode, emoji.unicode);
    const value = names[emoji.hexcode];
    // The first of iamcal's names is its `short_name`, the one Slack reports reactions under.
    const name = typeof value === "string" ? value : value?.[0];
    if (name !== undefined) tables.nameByUnicode.set(stripVariations(emoji.unicode), name);
    const skins: Skin[] = [];
    for (const skin of emoji.skins ?? []) {
      const tones = tonesOf(skin.unicode);
      if (tones.length === 0) continue;
      skins.push({ tones, unicode: skin.unicode });
      if (name !== undefined) {
        tables.nameByUnicode.set(stripVariations(skin.unicode), `${name}::${toneSuffix(tones)}`);
      }
    }
    if (skins.length > 0) tables.skinsByHexcode.set(emoji.hexcode, skins);
  }
  return tables;
}

let cached: Tables | undefined;
/** Built on first use: importing the module stays cheap for code that never needs emoji. */
function tables(): Tables {
  cached ??= buildTables();
  return cached;
}

function parseTones(suffix: string): number[] | undefined {
  const match = /^skin-tone-([2-6])(?:-([2-6]))?$/.exec(suffix);
  if (!match) return undefined;
  return match[2] === undefined ? [Number(match[1])] : [Number(match[1]), Number(match[2])];
}

function withSkin(hexcode: string, base: string, tones: readonly number[]): string {
  const skins = tables().skinsByHexcode.get(hexcode) ?? [];
  const single = new Set(tones).size === 1 ? tones[0] : undefined;
  const skin =
    single === undefined
      ? skins.find((s) => s.tones.join("-") === tones.join("-"))
      : skins.find((s) => s.tones.every((tone) => tone === single));
  if (skin !== undefined) return skin.unicode;
  // Slack draws the emoji followed by the swatch for a tone the emoji does not take.
  return base + tones.map((tone) => String.fromCodePoint(FIRST_TONE + tone - 2)).join("");
}

/**
 * The Unicode emoji for a Slack name without colons: `thumbsup` and `+1` → `👍️`,
 * `+1::skin-tone-2` → `👍🏻`. Undefined for custom workspace emoji and unknown names.
 */
export function emojiToUnicode(shortcode: string): string | undefined {
  const [name = "", suffix, ...rest] = shortcode.replace(/^:|:$/g, "").split("::");
  if (rest.length > 0) return undefined;
  const hexcode = tables().hexcodeByName.get(name);
  const base = hexcode === undefined ? undefined : tables().unicodeByHexcode.get(hexcode);
  if (hexcode === undefined || base === undefined) return undefined;
  if (suffix === undefined) return base;
  const tones = parseTones(suffix);
  return tones === undefined ? undefined : withSkin(hexcode, base, tones);
}

/**
 * Slack's name for a Unicode emoji, as `reactions.add` wants it (no colons): `👍` → `+1`,
 * `👍🏽` → `+1::skin-tone-4`. Variation selectors are ignored. Undefined for anything Slack has no
 * standard emoji for (text, or an emoji newer than the dataset).
 */
export function unicodeToEmoji(unicode: string): string | undefined {
  return tables().nameByUnicode.get(stripVariations(unicode.trim()));
}

/**
 * The emoji written at `index` (which must hold a colon), with how many characters its
 * shortcode takes; undefined when there is no known shortcode there.
 */
export function shortcodeAt(text: string, index: number): { emoji: string; length: number } | undefined {
  SHORTCODE.lastIndex = index;
  const match = SHORTCODE.exec(text);
  if (match === null) return undefined;
  const [whole, name = "", skin] = match;
  if (skin !== undefined) {
    const emoji = emojiToUnicode(`${name}::${skin}`);
    if (emoji !== undefined) return { emoji, length: whole.length };
  }
  const emoji = emojiToUnicode(name);
  // Without its tone (unknown base or tone), the name alone; the tone is a shortcode of its own.
  return emoji === undefined ? undefined : { emoji, length: name.length + 2 };
}

/**
 * Replaces every known `:name:` (and `:name::skin-tone-N:`) with its emoji. Custom emoji and
 * anything else between colons stay as written, so `10:30:00` or `:party-parrot:` are safe.
 */
export function replaceShortcodes(text: string): string {
  let out = "";
  let position = 0;
  for (let colon = text.indexOf(":"); colon !== -1; colon = text.indexOf(":", colon + 1)) {
    if (colon < position) continue;
    const found = shortcodeAt(text, colon);
    if (found === undefined) continue;
    out += text.slice(position, colon) + found.emoji;
    position = colon + found.length;
  }
  return out + text.slice(position);
}
