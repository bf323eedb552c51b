/**
 * Making text safe to put in an IRC line and cutting it into lines that fit.
 *
 * IRC is line based: a CR or LF inside a message ends the command and whatever follows is read
 * as a new command from us ("hi\r\nPRIVMSG #other :pwned"), and NUL ends the line on some
 * servers. Everything sent passes through `sanitizeIrcText`; `splitMessage` does it per line.
 */
import {
  applyCode,
  PLAIN_STYLE,
  sealCodes,
  stripIrcFormatting,
  styleCodes,
  tokenize,
  type IrcStyle,
} from "./mirc.js";

/** The protocol limit, tags excluded, "\r\n" included (RFC 1459 §2.3, RFC 2812 §2.3). */
export const IRC_LINE_BYTES = 512;

/**
 * C0 controls except the mIRC formatting codes (\x02 \x03 \x04 \x0F \x11 \x16 \x1D \x1E \x1F),
 * plus DEL. This includes \r, \n, \0 and \x01 (the CTCP delimiter, so a message cannot forge a
 * CTCP request). Tab is handled separately.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE_CONTROLS = /[\x00-\x01\x05-\x08\x0a-\x0e\x10\x12-\x15\x17-\x1c\x7f]/g;
/** Unpaired UTF-16 surrogates cannot be encoded as UTF-8. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * Removes everything that could end an IRC line or forge a command: CR, LF, NUL and the other
 * C0 controls (mIRC formatting codes are kept). Tabs become spaces (clients render them
 * inconsistently) and unpaired surrogates become U+FFFD, so the result always encodes to valid
 * UTF-8. Unicode line separators (U+2028/U+2029, NEL) are not IRC line breaks and are kept.
 */
export function sanitizeIrcText(s: string): string {
  return s.replace(/\t/g, " ").replace(UNSAFE_CONTROLS, "").replace(LONE_SURROGATE, "\ufffd");
}

/**
 * Payload bytes left for one PRIVMSG/NOTICE line as the recipients receive it:
 * `<prefix>PRIVMSG <target> :[\x01ACTION ]<payload>[\x01]\r\n` within 512 bytes. `prefixBytes`
 * is the length of the `:nick!user@host ` prefix the server adds when relaying (colon and
 * trailing space included); callers pass a conservative estimate since the host may be cloaked.
 * IRCv3 message tags have their own budget and do not count. Never negative.
 */
export function maxPayloadBytes(
  target: string,
  prefixBytes: number,
  command: "PRIVMSG" | "NOTICE",
  ctcpAction = false,
): number {
  const envelope = Buffer.byteLength(`${command} ${target} :`) + Buffer.byteLength("\r\n");
  const action = ctcpAction ? Buffer.byteLength("\x01ACTION \x01") : 0;
  return Math.max(0, IRC_LINE_BYTES - Math.max(0, prefixBytes) - envelope - action);
}

/**
 * The smallest limit `splitMessage` accepts: it must hold the longest formatting code
 * (`\x04RRGGBB,RRGGBB`, 14 bytes) and any single code point (4 bytes).
 */
export const MIN_SPLIT_BYTES = 16;

const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/**
 * V8's segmenter gets quadratically slower with the length of the string (a 64 KiB message
 * takes over a second), so long text is segmented in windows. Each window but the last gives
 * up its final cluster, which may continue past the window, and the next window starts there:
 * at a true boundary, where segmentation does not depend on what came before.
 */
const SEGMENT_WINDOW = 256;

export function* graphemes(text: string): Generator<string> {
  let start = 0;
  while (text.length - start > SEGMENT_WINDOW) {
    let end = start + SEGMENT_WINDOW;
    // A window must not end between the halves of a surrogate pair.
    const last = text.charCodeAt(end - 1);
    if (last >= 0xd800 && last <= 0xdbff) end--;
    const segments = Array.from(segmenter.segment(text.slice(start, end)), (s) => s.segment);
    if (segments.length === 1) {
      // A cluster longer than the window can never fit a line anyway: cut it.
      yield text.slice(start, end);
      start = end;
      continue;
    }
    segments.pop();
    for (const segment of segments) {
      yield segment;
      start += segment.length;
    }
  }
  for (const { segment } of segmenter.segment(text.slice(start))) yield segment;
}

interface Piece {
  text: string;
  bytes: number;
  /** A formatting code: no visible width, changes the style. */
  code: boolean;
  space: boolean;
}

function piecesOf(line: string): Piece[] {
  const pieces: Piece[] = [];
  for (const token of tokenize(line)) {
    if (token.type === "code") {
      pieces.push({ text: token.code, bytes: token.code.length, code: true, space: false });
      continue;
    }
    for (const segment of graphemes(token.text)) {
      pieces.push({ text: segment, bytes: Buffer.byteLength(segment), code: false, space: segment === " " });
    }
  }
  return pieces;
}

/** A grapheme cluster larger than a whole line (e.g. "zalgo" text) is cut between code points. */
function splitOversized(piece: Piece, maxBytes: number): Piece[] {
  const out: Piece[] = [];
  let text = "";
  for (const codePoint of piece.text) {
    if (Buffer.byteLength(text + codePoint) > maxBytes) {
      out.push({ text, bytes: Buffer.byteLength(text), code: false, space: false });
      text = "";
    }
    text += codePoint;
  }
  if (text !== "") out.push({ text, bytes: Buffer.byteLength(text), code: false, space: false });
  return out;
}

function isBlank(line: string): boolean {
  return stripIrcFormatting(line).trim() === "";
}

/**
 * Cuts one line (no line breaks, already sanitized) into chunks of at most `maxBytes`. A chunk
 * that continues a formatted stretch starts with the codes that restore the formatting, since
 * every IRC message starts unformatted.
 */
function splitLine(line: string, maxBytes: number): string[] {
  const pieces = piecesOf(line).flatMap((piece) =>
    piece.bytes > maxBytes ? splitOversized(piece, maxBytes) : [piece],
  );
  const chunks: string[] = [];
  let index = 0;
  let style: IrcStyle = { ...PLAIN_STYLE };
  while (index < pieces.length) {
    const restore = sealCodes(styleCodes(style));
    const first = pieces[index];
    if (first === undefined) break;
    // Restoring formatting is best effort: never at the price of not making progress.
    const prefix = restore.length + first.bytes <= maxBytes ? restore : "";
    let bytes = Buffer.byteLength(prefix);
    let end = index;
    let lastSpace = -1;
    let chunkStyle = style;
    let styleAtSpace = style;
    while (end < pieces.length) {
      const piece = pieces[end];
      if (piece === undefined || bytes + piece.bytes > maxBytes) break;
      // A space at the very start of a chunk would make an empty line: not a break candidate.
      if (piece.space && end > index) {
        lastSpace = end;
        styleAtSpace = chunkStyle;
      }
      if (piece.code) chunkStyle = applyCode(chunkStyle, piece.text);
      bytes += piece.bytes;
      end++;
    }
    let next = end;
    if (end < pieces.length && lastSpace > index) {
      // Break at the space and drop it: it would otherwise end or start a line.
      end = lastSpace;
      next = lastSpace + 1;
      chunkStyle = styleAtSpace;
    }
    const chunk = pieces
      .slice(index, end)
      .map((piece) => piece.text)
      .join("");
    if (!isBlank(chunk)) chunks.push(prefix + chunk);
    style = chunkStyle;
    index = next;
  }
  return chunks;
}

/**
 * Splits text into IRC-safe lines of at most `maxBytes` UTF-8 bytes each (see
 * `maxPayloadBytes`); every line is sanitized (`sanitizeIrcText`) and non-empty.
 *
 * - Line breaks (LF, CRLF or a lone CR) separate lines.
 * - Blank lines (nothing visible but spaces and formatting codes) at the start and end are
 *   dropped; inside the text, a run of blank lines becomes one line holding a single space.
 *   That keeps paragraphs and code blocks recognisable without letting "\n\n\n…" flood the
 *   channel, and servers reject empty messages.
 * - Long lines are cut at the last space that fits (the space is dropped), or else at the last
 *   grapheme cluster that fits, so no character, emoji or accent is ever torn apart. Only a
 *   single cluster longer than the whole limit is cut, between code points.
 * - Formatting that spans a cut is re-opened at the start of the continuation line.
 *
 * Throws a RangeError when `maxBytes` is below `MIN_SPLIT_BYTES`.
 */
export function splitMessage(text: string, maxBytes: number): string[] {
  const limit = Math.floor(maxBytes);
  if (!(limit >= MIN_SPLIT_BYTES)) {
    throw new RangeError(`splitMessage: maxBytes must be at least ${MIN_SPLIT_BYTES}, got ${maxBytes}`);
  }
  const out: string[] = [];
  let pendingBlank = false;
  for (const raw of text.split(/\r\n|\r|\n/)) {
    const line = sanitizeIrcText(raw);
    if (isBlank(line)) {
      pendingBlank = out.length > 0;
      continue;
    }
    if (pendingBlank) out.push(" ");
    pendingBlank = false;
    out.push(...splitLine(line, limit));
  }
  return out;
}
