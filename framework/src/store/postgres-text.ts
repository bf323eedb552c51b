/**
 * What PostgreSQL cannot hold, made holdable. Neither `text` nor `jsonb` accepts U+0000, jsonb
 * refuses a lone surrogate ("\ud800") and text would turn one into U+FFFD; yet a JS string, and so a
 * kv key or a connector's meta and state, may contain either. A write that failed on one would be
 * retried forever; one that changed it would hand back something else.
 *
 * So each is stored as U+E000 followed by one code unit: U+0000 as U+E001, a lone surrogate
 * U+D800 + n as U+F000 + n, and U+E000 itself (a private-use character, rare but legal) as U+E000.
 * The substitution is per code unit and prefix-free, so a key starts with a prefix exactly when its
 * stored form starts with the prefix's (except a prefix that ends in half of a pair the key has
 * whole), and text without any of these characters (nearly all of it) is stored as it is.
 */

const MARK = 0xe000;
const NUL_CODE = 0xe001;
const SURROGATE_CODES = 0xf000;
const SURROGATES = 0xd800;

/** The code unit stored after MARK for `unit`, one of the characters that need it. */
function codeOf(unit: number): string {
  if (unit === MARK) return String.fromCharCode(MARK);
  return String.fromCharCode(unit === 0 ? NUL_CODE : SURROGATE_CODES + (unit - SURROGATES));
}

/** The code unit that MARK + `code` stands for. */
function unitOf(code: number): number {
  if (code === MARK) return MARK;
  return code === NUL_CODE ? 0 : SURROGATES + (code - SURROGATE_CODES);
}

/** U+0000, U+E000, and surrogates that are not half of a pair. */
// eslint-disable-next-line no-control-regex -- U+0000 is one of the characters this module exists for
const RAW = /[\u0000\uE000]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const STORED = /\uE000([\uE000\uE001\uF000-\uF7FF])/g;

/** A string as stored in a text column. */
export function toDbText(text: string): string {
  return text.replace(RAW, (c) => String.fromCharCode(MARK) + codeOf(c.charCodeAt(0)));
}

export function fromDbText(stored: string): string {
  return stored.replace(STORED, (_, code: string) => String.fromCharCode(unitOf(code.charCodeAt(0))));
}

/**
 * JSON text for a jsonb parameter. JSON.stringify writes U+0000 and lone surrogates as `\uXXXX`
 * escapes (a whole pair as the character itself) and U+E000 as itself. Escaped backslashes are
 * matched as pairs so that the text `\u0000` inside a string (stringified as `\\u0000`) is left alone.
 */
export function toDbJson(value: unknown): string {
  const text = JSON.stringify(value === undefined ? null : value);
  return text.replace(/\\\\|\\u0000|\\ud[89a-f][0-9a-f]{2}|\uE000/g, (m) => {
    if (m === "\\\\") return m;
    const unit = m.length === 1 ? MARK : parseInt(m.slice(2), 16);
    return String.fromCharCode(MARK) + codeOf(unit);
  });
}

/** The value of jsonb text as PostgreSQL writes it (private-use characters unescaped). */
export function fromDbJson<T>(stored: string): T {
  const text = stored.replace(STORED, (_, code: string) => {
    const unit = unitOf(code.charCodeAt(0));
    return unit === MARK ? String.fromCharCode(MARK) : `\\u${unit.toString(16).padStart(4, "0")}`;
  });
  return JSON.parse(text) as T;
}

/** A LIKE pattern matching every text that starts with `storedPrefix` (default escape: backslash). */
export function likePrefix(storedPrefix: string): string {
  return `${storedPrefix.replace(/[\\%_]/g, "\\$&")}%`;
}
