/**
 * User mentions: "pills" (links to a user's permalink) in HTML, and the `m.mentions`
 * content fragment that makes a mention notify (intentional mentions, MSC3952).
 */
import type { MatrixMentions } from "./content.js";
import { escapeHtml, escapeHtmlAttribute } from "./escape.js";
import { elements, parseHtml, textContent } from "./html-tree.js";
import { parseMatrixLink, userPermalink } from "./permalinks.js";
import { sanitizeMatrixHtml } from "./sanitize.js";

export interface Pill {
  userId: string;
  /** The link text as displayed (usually the display name). */
  text: string;
}

/** `<a href="https://matrix.to/#/@alice:example.org">Alice</a>`; an empty name shows the id. */
export function pill(matrixUserId: string, displayName: string): string {
  const text = displayName === "" ? matrixUserId : displayName;
  return `<a href="${escapeHtmlAttribute(userPermalink(matrixUserId))}">${escapeHtml(text)}</a>`;
}

/**
 * User pills in document order, from matrix.to links and `matrix:u/…` URIs. Pills inside
 * an `<mx-reply>` fallback are ignored: they quote the replied-to sender, not a mention.
 */
export function parsePills(html: string): Pill[] {
  const tree = parseHtml(sanitizeMatrixHtml(html, { stripReplyFallback: true }));
  const pills: Pill[] = [];
  for (const el of elements(tree)) {
    if (el.name !== "a" || el.attribs.href === undefined) continue;
    const link = parseMatrixLink(el.attribs.href);
    if (link?.kind === "user") {
      pills.push({ userId: link.userId, text: textContent(el).replace(/\s+/g, " ").trim() });
    }
  }
  return pills;
}

/**
 * The `m.mentions` fragment to spread into message content. Ids are de-duplicated in order;
 * `room: true` mentions the whole room (@room).
 */
export function userMentionsContent(
  userIds: readonly string[],
  options: { room?: boolean } = {},
): { "m.mentions": MatrixMentions } {
  const mentions: MatrixMentions = { user_ids: [...new Set(userIds)] };
  if (options.room) mentions.room = true;
  return { "m.mentions": mentions };
}
