/**
 * IRC nicknames and channel names: validity (RFC 2812 §2.3.1 plus what every modern server
 * accepts), nicks for Matrix users, collision resolution and case folding.
 */

/**
 * RFC 2812: a letter or one of the specials `[]\`_^{|}` first, then letters, digits, specials
 * and '-'. The underscore is not in the RFC grammar but every server accepts it.
 */
const NICK = /^[A-Za-z[\]\\`_^{|}][A-Za-z0-9[\]\\`_^{|}-]*$/;
const NICK_CHARACTERS = /[^A-Za-z0-9[\]\\`_^{|}-]/g;

export function isValidNick(nick: string, maxLength = 30): boolean {
  return nick.length <= maxLength && NICK.test(nick);
}

/**
 * RFC 2812 `channel`: a `#`, `&` or `+` prefix, or `!` with a five character channel id,
 * then at least one character other than NUL, BEL, CR, LF, space, comma and colon; a single
 * colon may separate a channel mask. The length limit counts bytes (IRC is byte oriented);
 * pass the server's CHANNELLEN when known.
 */
// eslint-disable-next-line no-control-regex
const CHANNEL = /^(?:[#&+]|![A-Z0-9]{5})[^\x00\x07\r\n ,:]+(?::[^\x00\x07\r\n ,:]+)?$/;

export function isValidChannel(name: string, maxLength = 50): boolean {
  return CHANNEL.test(name) && Buffer.byteLength(name) <= maxLength;
}

/**
 * Letters NFKD leaves alone because they are not a base letter plus an accent. Capitals map
 * to title case: they usually start a word ("Ærø" → "Aero").
 */
const TRANSLITERATIONS: Readonly<Record<string, string>> = {
  ß: "ss",
  ẞ: "Ss",
  æ: "ae",
  Æ: "Ae",
  œ: "oe",
  Œ: "Oe",
  ø: "o",
  Ø: "O",
  đ: "d",
  Đ: "D",
  ð: "d",
  Ð: "D",
  þ: "th",
  Þ: "Th",
  ł: "l",
  Ł: "L",
  ı: "i",
  ħ: "h",
  Ħ: "H",
};

function transliterate(text: string): string {
  return text
    .replace(/[ßẞæÆœŒøØđĐðÐþÞłŁıħĦ]/g, (c) => TRANSLITERATIONS[c] ?? "")
    .normalize("NFKD")
    .replace(/\p{M}/gu, "");
}

function nickCharacters(text: string): string {
  return text.replace(NICK_CHARACTERS, "");
}

const NAME_SLOT = "{name}";
const FALLBACK_NAME = "matrix";

/**
 * A valid nick for a Matrix user from their display name and a template such as `"{name}[m]"`
 * (a template without `{name}` is a suffix). Accents are folded (é → e, ß → ss), everything
 * else a nick cannot hold is dropped (spaces, punctuation, CJK, emoji, control characters),
 * and the name is truncated so the whole nick fits `maxLength` with the template's prefix and
 * suffix intact. An empty result becomes "matrix"; a leading digit or '-' gets a "_" in front.
 * Characters of the template itself that a nick cannot hold are dropped too, and when the
 * template leaves no room for even one character of the name it is ignored.
 */
export function nickFromDisplayName(displayName: string, template: string, maxLength = 30): string {
  const limit = Math.max(1, Math.floor(maxLength));
  const slot = template.indexOf(NAME_SLOT);
  const prefix = nickCharacters(slot === -1 ? "" : template.slice(0, slot));
  const suffix = nickTemplateSuffix(template);
  const name = nickCharacters(transliterate(displayName)) || FALLBACK_NAME;
  const assemble = (before: string, after: string): string => {
    const lead = /^[0-9-]/.test(before + name) ? "_" : "";
    const room = limit - lead.length - before.length - after.length;
    return room < 1 ? "" : lead + before + name.slice(0, room) + after;
  };
  return assemble(prefix, suffix) || assemble("", "") || FALLBACK_NAME.slice(0, limit);
}

/**
 * The part of a nick template after `{name}` as `nickFromDisplayName` writes it: the `suffix`
 * to pass to `nickCandidates`.
 */
export function nickTemplateSuffix(template: string): string {
  const slot = template.indexOf(NAME_SLOT);
  return nickCharacters(slot === -1 ? template : template.slice(slot + NAME_SLOT.length));
}

/**
 * Nicks to try, in order, when `base` is taken: `base`, then "_" before the suffix, then
 * 1, 2, 3… before the suffix. With `suffix = "[m]"` and base "alice[m]": alice[m], alice_[m],
 * alice1[m], alice2[m], … The name part is shortened as needed to stay within `maxLength`
 * (the suffix never is). Only valid nicks are produced, each once; the sequence ends when not
 * even one character of the name fits next to the number, so it is effectively endless for
 * real limits: take as many as needed.
 */
export function* nickCandidates(base: string, maxLength = 30, suffix = ""): Generator<string> {
  const hasSuffix = suffix !== "" && base.endsWith(suffix) && base.length > suffix.length;
  const name = hasSuffix ? base.slice(0, base.length - suffix.length) : base;
  const tail = hasSuffix ? suffix : "";
  const seen = new Set<string>();
  const make = (marker: string): string | null => {
    const room = maxLength - tail.length - marker.length;
    if (room < 1) return null;
    const nick = name.slice(0, room) + marker + tail;
    if (seen.has(nick) || !isValidNick(nick, maxLength)) return null;
    seen.add(nick);
    return nick;
  };
  for (const marker of ["", "_"]) {
    const nick = make(marker);
    if (nick !== null) yield nick;
  }
  for (let number = 1; maxLength - tail.length - String(number).length >= 1; number++) {
    const nick = make(String(number));
    if (nick !== null) yield nick;
  }
}

export type CaseMapping = "rfc1459" | "ascii" | "strict-rfc1459";

const RFC1459_LOWER: Readonly<Record<string, string>> = { "[": "{", "]": "}", "\\": "|", "~": "^" };

/**
 * IRC case folding for comparing nicks and channel names (the server's CASEMAPPING). "rfc1459"
 * treats `[]\~` as the upper case of `{}|^` (Scandinavian heritage), "strict-rfc1459" leaves
 * out `~`/`^`, "ascii" folds only A–Z. Non-ASCII characters are never folded: servers do not.
 */
export function ircLower(s: string, casemapping: CaseMapping = "rfc1459"): string {
  const specials =
    casemapping === "ascii" ? /[A-Z]/g : casemapping === "strict-rfc1459" ? /[A-Z[\]\\]/g : /[A-Z[\]\\~]/g;
  return s.replace(specials, (c) => RFC1459_LOWER[c] ?? c.toLowerCase());
}

/** Whether two nicks or channel names are the same to the server. */
export function ircEquals(a: string, b: string, casemapping: CaseMapping = "rfc1459"): boolean {
  return ircLower(a, casemapping) === ircLower(b, casemapping);
}
