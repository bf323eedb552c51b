/**
 * Legacy rich-reply fallbacks and one-line quotes for networks without replies.
 *
 * A reply used to carry a quote of the original message for clients without reply support:
 *   body:           "> <@alice:example.org> original\n> second line\n\nthe reply"
 *   formatted_body: "<mx-reply><blockquote>…In reply to…</blockquote></mx-reply>the reply"
 * The spec now tells clients to strip these when present; bridges take the reply target from
 * `m.relates_to` instead (see relations.ts).
 */
import { Parser } from "htmlparser2";

/** First line of a fallback: `> <@sender:server> text`, or `> * <@sender:server> text` for emotes. */
const FALLBACK_FIRST_LINE = /^> (?:\* )?<[^>\s]+>/;
const QUOTE_LINE = /^>(?: |$)/;

function stripPlainFallback(body: string): string {
  const lines = body.split("\n");
  if (!FALLBACK_FIRST_LINE.test(lines[0] ?? "")) return body;
  let index = 0;
  while (index < lines.length && QUOTE_LINE.test(lines[index] ?? "")) index++;
  // The fallback is separated from the reply by one empty line.
  if (lines[index] === "") index++;
  return lines.slice(index).join("\n");
}

/** Removes every `<mx-reply>` element (with its content), keeping the rest of the HTML as written. */
function stripHtmlFallback(html: string): string {
  const cuts: Array<[number, number]> = [];
  let depth = 0;
  let start = 0;
  const parser = new Parser({
    onopentag(name) {
      if (name !== "mx-reply") return;
      if (depth === 0) start = parser.startIndex;
      depth++;
    },
    onclosetag(name, isImplied) {
      if (name !== "mx-reply" || depth === 0) return;
      depth--;
      // An implied close happens at the next tag (or the end): cut up to it, not through it.
      if (depth === 0) cuts.push([start, isImplied ? parser.startIndex : parser.endIndex + 1]);
    },
  });
  parser.write(html);
  parser.end();
  if (depth > 0) cuts.push([start, html.length]);
  let out = "";
  let position = 0;
  for (const [from, to] of cuts) {
    out += html.slice(position, from);
    position = Math.max(position, to);
  }
  return out + html.slice(position);
}

/**
 * Strips a reply fallback from a body and, when given, from its HTML. The plain body is only
 * touched when it starts with a fallback-shaped quote (`> <@user:server> …`), so calling this
 * on a message that merely begins with a "> " quote leaves it intact.
 */
export function stripReplyFallback(body: string, html?: string): { body: string; html?: string } {
  const stripped = stripPlainFallback(body);
  return html === undefined ? { body: stripped } : { body: stripped, html: stripHtmlFallback(html) };
}

const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/** Cuts at a grapheme boundary (never inside an emoji or a combining sequence). */
function truncate(text: string, maxChars: number): string {
  const graphemes = Array.from(segmenter.segment(text), (s) => s.segment);
  if (graphemes.length <= maxChars) return text;
  let cut = graphemes.slice(0, Math.max(0, maxChars - 1)).join("");
  // Prefer ending at a word boundary when one is reasonably close.
  const space = cut.lastIndexOf(" ");
  if (space > 0 && space >= cut.length * 0.7) cut = cut.slice(0, space);
  return `${cut.trimEnd()}…`;
}

/**
 * A one-line quote for networks without replies, e.g. `> <alice> original text…`.
 * Whitespace and line breaks collapse to single spaces, any reply fallback in the original is
 * dropped, and the quoted text is cut to `maxChars` characters (graphemes), ellipsis included.
 */
export function quoteForRemote(originalSender: string, originalText: string, maxChars = 80): string {
  const text = stripPlainFallback(originalText).replace(/\s+/g, " ").trim();
  const limit = Number.isNaN(maxChars) ? 80 : Math.max(1, Math.floor(maxChars));
  const quoted = truncate(text, limit);
  return quoted === "" ? `> <${originalSender}>` : `> <${originalSender}> ${quoted}`;
}
