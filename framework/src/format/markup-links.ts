/** How `renderHtml` decides what a link turns into; the dialect only spells the result. */
import { textContent, type HtmlElement } from "./html-tree.js";
import type { Around, MarkupDialect } from "./markup-dialect.js";
import { parseMatrixLink } from "./permalinks.js";

/** The link's rendered content, unchanged. */
export const CONTENT_AS_IS: Around = Object.freeze({ before: "", after: "" });

/** "example.com" and "https://example.com/" name the same link; so do "a@b.c" and "mailto:a@b.c". */
export function sameLink(text: string, href: string): boolean {
  const normalise = (value: string): string =>
    value
      .trim()
      .replace(/^(?:https?:\/\/|mailto:)/i, "")
      .replace(/\/$/, "")
      .toLowerCase();
  return normalise(text) === normalise(href);
}

/** Dialect markup that replaces the link, or markup around its rendered content. */
export function linkRendering(link: HtmlElement, dialect: MarkupDialect): string | Around {
  const href = (link.attribs.href ?? "").trim();
  const text = textContent(link).replace(/\s+/g, " ").trim();
  const target = href === "" ? null : parseMatrixLink(href);
  if (target?.kind === "user") return dialect.mention(target.userId, text || target.userId);
  if (target?.kind === "room") return dialect.roomMention(target.roomIdOrAlias, text || target.roomIdOrAlias);
  // No target left (the sanitizer drops unsafe ones): the text is all there is.
  if (href === "") return CONTENT_AS_IS;
  // Nothing to click on otherwise.
  if (text === "") return dialect.url(href);
  if (!sameLink(text, href)) return dialect.link(href, text);
  // The text repeats the target: one copy is enough (the address for e-mail, the URL else).
  if (!/^mailto:/i.test(href)) return dialect.url(href);
  return dialect.linkEmailAddresses ? dialect.link(href, text) : CONTENT_AS_IS;
}
