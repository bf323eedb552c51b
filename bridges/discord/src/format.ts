import { format, type BridgeContent } from "@switchboard/framework";

/**
 * Discord markdown ↔ Matrix HTML. Discord's markdown is CommonMark-ish plus `||spoilers||`,
 * `__underline__` and its mention tokens (`<@id>`, `<#id>`, `<@&role>`, `<:name:id>`); the
 * framework's markdown reader and writer do the structure, this file the Discord parts.
 * Mentions only become pings from ids the bridge knows to be ghosts, so Matrix text cannot
 * forge `@everyone` or a `<@id>` (allowed_mentions is the second guard, see outbound).
 */

/** A Matrix user's pill, as the framework builds it for a Discord user. */
export type PillFor = (discordUserId: string, displayname: string) => string;

/** Discord message text → content. `names` gives the display names of the users it mentions. */
export function discordToContent(
  text: string,
  names: ReadonlyMap<string, string>,
  pillFor: PillFor,
): Pick<BridgeContent, "text" | "html"> {
  // Spoilers first: the markdown reader has no notion of them.
  const spoilered = text.replace(/\|\|([^|\n](?:[^|]|\|(?!\|))*?)\|\|/g, "\uE000$1\uE001");
  let html = format.markdownToHtml(spoilered, {
    mentions: {
      pattern: /<@!?(\d{17,20})>/,
      resolve: (m) => {
        const id = m[1]!;
        const name = names.get(id) ?? id;
        const userId = format.parsePills(pillFor(id, name))[0]?.userId;
        return userId ? { userId, displayName: name } : null;
      },
    },
  });
  html = html.replace(/\uE000/g, "<span data-mx-spoiler>").replace(/\uE001/g, "</span>");
  const plain = text
    .replace(/<@!?(\d{17,20})>/g, (_m, id: string) => names.get(id) ?? `@${id}`)
    .replace(/\|\|/g, "");
  const isRich = html !== format.plainToHtml(text);
  return isRich ? { text: plain, html } : { text: plain };
}

/** The Discord user behind a pill, when it is one of our ghosts (`@<prefix><id>:hs`). */
export function ghostDiscordId(matrixUserId: string, prefix: string): string | null {
  const localpart = /^@([^:]+):/.exec(matrixUserId)?.[1];
  if (!localpart?.startsWith(prefix)) return null;
  const id = localpart.slice(prefix.length);
  return /^\d{17,20}$/.test(id) ? id : null;
}

/** Content → Discord markdown; pills to ghosts become `<@id>` (returned so they may ping). */
export function contentToDiscord(
  content: Pick<BridgeContent, "text" | "html">,
  prefix: string,
): { text: string; userMentions: string[] } {
  const userMentions: string[] = [];
  if (!content.html) return { text: escapeDiscord(content.text), userMentions };
  const text = format.htmlToMarkdown(content.html, {
    mentionToText: (mxid, linkText) => {
      const id = ghostDiscordId(mxid, prefix);
      if (!id) return format.escapeMarkdown(linkText);
      if (!userMentions.includes(id)) userMentions.push(id);
      return `<@${id}>`;
    },
    spoilerToText: (inner) => `||${inner}||`,
  });
  return { text: neutraliseBroadcasts(text), userMentions };
}

/** Plain Matrix text as Discord shows it literally: markdown and mention syntax escaped. */
export function escapeDiscord(text: string): string {
  return neutraliseBroadcasts(format.escapeMarkdown(text));
}

/** `@everyone`/`@here` written in Matrix stay text even if allowed_mentions were ever lax. */
function neutraliseBroadcasts(text: string): string {
  return text.replace(/@(everyone|here)\b/g, "@\u200b$1");
}
