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

/** `||spoiler||`: not empty, not starting with a line break, shortest match. */
const SPOILER = /\|\|([^|\n](?:[^|]|\|(?!\|))*?)\|\|/g;
/** Private-use stand-ins for a spoiler's bars while the markdown reader runs. */
const OPEN = "\uE000";
const CLOSE = "\uE001";
const MARKERS = /[\uE000\uE001]/g;

/** Discord message text → content. `names` gives the display names of the users it mentions. */
export function discordToContent(
  text: string,
  names: ReadonlyMap<string, string>,
  pillFor: PillFor,
  others: OtherMentions = {},
): Pick<BridgeContent, "text" | "html"> {
  // Spoilers first: the markdown reader has no notion of them. Marker characters the sender
  // typed are dropped, or they would turn into stray tags.
  const source = namedTokens(text.replace(MARKERS, ""), others);
  const spoilered = source.replace(SPOILER, `${OPEN}$1${CLOSE}`);
  const html = spoilerSpans(
    format.markdownToHtml(spoilered, {
      underscoreUnderline: true,
      mentions: {
        pattern: /<@!?(\d{17,20})>/,
        resolve: (m) => {
          const id = m[1]!;
          // Only users Discord resolved for this message; any other id stays text.
          const name = names.get(id);
          if (name === undefined) return null;
          const userId = format.parsePills(pillFor(id, name))[0]?.userId;
          return userId ? { userId, displayName: name } : null;
        },
      },
    }),
  );
  const plain = source
    .replace(SPOILER, "$1")
    .replace(/<@!?(\d{17,20})>/g, (_m, id: string) => names.get(id) ?? `@${id}`);
  const isRich = html !== format.plainToHtml(source);
  return isRich ? { text: plain, html } : { text: plain };
}

/**
 * Spoiler markers → `<span data-mx-spoiler>`, where the span nests properly in the HTML around
 * it; elsewhere (inside code or a tag, across a paragraph or a `**`) the bars stay as typed.
 */
function spoilerSpans(html: string): string {
  return html
    .replace(/<code\b[^>]*>[^<]*<\/code>|<[^>]*>/g, (raw) => raw.replace(MARKERS, "||"))
    .replace(/\uE000([^\uE000\uE001]*)\uE001/g, (_m, inner: string) =>
      isBalanced(inner) ? `<span data-mx-spoiler>${inner}</span>` : `||${inner}||`,
    )
    .replace(MARKERS, "||");
}

/** Whether every tag opened in the fragment is closed in it, in order. */
function isBalanced(html: string): boolean {
  const open: string[] = [];
  for (const [, closing, name = ""] of html.matchAll(/<(\/?)([a-z][a-z0-9]*)[^>]*>/g)) {
    if (name === "br") continue;
    if (closing === "") open.push(name);
    else if (open.pop() !== name) return false;
  }
  return open.length === 0;
}

/** Names for the message's channel and role mentions and custom emoji, as Discord resolved them. */
export interface OtherMentions {
  channels?: ReadonlyMap<string, string>;
  roles?: ReadonlyMap<string, string>;
}

/**
 * `<#channel>`, `<@&role>` and `<:emoji:id>` as people read them in Discord's client: `#name`,
 * `@name`, `:emoji:`. Unknown ids stay as written.
 */
function namedTokens(text: string, others: OtherMentions): string {
  return text
    .replace(/<#(\d{17,20})>/g, (raw, id: string) => {
      const name = others.channels?.get(id);
      return name ? `#${name}` : raw;
    })
    .replace(/<@&(\d{17,20})>/g, (raw, id: string) => {
      const name = others.roles?.get(id);
      return name ? `@${name}` : raw;
    })
    .replace(/<a?:(\w{2,32}):\d{17,20}>/g, ":$1:");
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
    underlineMark: "__",
  });
  return { text: neutraliseBroadcasts(text), userMentions };
}

/** Plain Matrix text as Discord shows it literally: markdown and mention syntax escaped. */
export function escapeDiscord(text: string): string {
  // Line by line, as the framework's markdown writer does: `#`, `>`, `-`, `1.` would start a block.
  const escaped = format
    .escapeMarkdown(text)
    .replace(/^([ \t]*)([#>+=-])/gm, "$1\\$2")
    .replace(/^([ \t]*\d+)([.)])/gm, "$1\\$2");
  return neutraliseBroadcasts(escaped);
}

/**
 * `@everyone`/`@here` written in Matrix stay text even if allowed_mentions were ever lax.
 * No word boundary: Discord finds the words anywhere (`@everyones` pings too).
 */
function neutraliseBroadcasts(text: string): string {
  return text.replace(/@(everyone|here)/g, "@\u200b$1");
}
