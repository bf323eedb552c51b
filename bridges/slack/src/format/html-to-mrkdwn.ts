/**
 * Matrix message content (`body` / `formatted_body`) → Slack mrkdwn text for `chat.postMessage`.
 *
 * The framework's `renderHtml` does the walking (and sanitizes first, so script and style
 * content never leaks into the text and `<mx-reply>` fallbacks are dropped); this file is the
 * Slack dialect. Every piece of user text goes through `escapeSlack`, so `<`, `>` and `&` can
 * only reach Slack as entities: no text can forge a `<@U…>` mention, a `<!channel>` broadcast
 * or a `<https://…|label>` link. Slack has no escape for `*`, `_`, `~` and `` ` ``; they are
 * left as typed (a Matrix user writing `*this*` means the same thing a Slack user would).
 */
import { format } from "@switchboard/framework";

export interface SlackMention {
  /** The framework's remote id for the user: a Slack user id, optionally team-scoped (`T123/U456`). */
  remoteUserId: string;
  displayname: string;
}

const SLACK_ID = /^[A-Z0-9]+$/;

/** Slack's control characters as the entities it requires in message text. */
export function escapeSlack(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** A link target as Slack reads it inside `<…>`: `|` would start the label, `<`/`>` end the token. */
function slackUrl(href: string): string {
  return escapeSlack(href.replace(/[\s|<>]/g, (c) => encodeURIComponent(c)));
}

/** Paragraph-like blocks (and headings): a blank line between two of these, a line break otherwise. */
const PARAGRAPHS = new Set(["p", "hr", "table", "details"]);

function isParagraph(tag: string): boolean {
  return PARAGRAPHS.has(tag) || /^h[1-6]$/.test(tag);
}

/** The bullets Slack's composer uses for each nesting level. */
const BULLETS = ["•", "◦", "▪"];

function slackDialect(mentions: readonly SlackMention[]): format.MarkupDialect {
  return {
    formatting: "markers",
    escape: escapeSlack,
    marks: { bold: "*", italic: "_", strikethrough: "~" },
    // Slack's emphasis cannot span lines.
    marksPerLine: true,
    blankLineBetween: (above, below) => isParagraph(above) && isParagraph(below),
    quotePrefix: "> ",
    rule: "---",
    bullet: (depth) => `${BULLETS[depth % BULLETS.length] ?? "•"} `,
    // Nested items and continuation lines are indented by four spaces, as Slack's composer does.
    listIndent: "    ",
    // Slack has no headings: a bold line of its own reads the same.
    boldHeadings: true,
    heading: (text) => text.replace(/\s*\n\s*/g, " "),
    codeBlock: (code) => "```" + escapeSlack(code) + "```",
    inlineCode: (code) => {
      const flat = code.replace(/\s*\n\s*/g, " ");
      return flat.trim() === "" ? "" : "`" + escapeSlack(flat) + "`";
    },
    mention: mentionResolver(mentions),
    roomMention: (_room, text) => escapeSlack(text),
    // Slack shows a bare link as its URL.
    url: (href) => `<${slackUrl(href)}>`,
    link: (href, text) => `<${slackUrl(href)}|${escapeSlack(text)}>`,
    // `<mailto:a@b.c|a@b.c>`: the address stays a link.
    linkEmailAddresses: true,
  };
}

function localpartOf(matrixUserId: string): string {
  const colon = matrixUserId.indexOf(":");
  return matrixUserId.slice(1, colon === -1 ? undefined : colon).toLowerCase();
}

/** The Slack user id in a remote id (`U456` or team-scoped `T123/U456`), if it looks like one. */
function slackUserId(remoteUserId: string): string | undefined {
  const id = remoteUserId.slice(remoteUserId.lastIndexOf("/") + 1);
  return SLACK_ID.test(id) ? id : undefined;
}

/**
 * How much of a ghost's localpart names this remote user: ghosts are `<prefix><id>` with the
 * id lower-cased (`slack_t123_u456`, the Slack connector's scheme) or escaped the framework's
 * default way (`slack__t123=2f_u456`: capitals as `_x`, `/` as `=2f`). The match must start at
 * a separator so `U45` never claims `u456`'s pill. 0: no match.
 */
function localpartMatch(localpart: string, remoteUserId: string): number {
  const lower = remoteUserId.toLowerCase();
  const user = lower.slice(lower.lastIndexOf("/") + 1);
  const escaped = remoteUserId.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`).replace(/\//g, "=2f");
  const forms = [lower.replace(/\//g, "_"), escaped, user];
  let best = 0;
  for (const form of forms) {
    if (!localpart.endsWith(form)) continue;
    const before = localpart[localpart.length - form.length - 1];
    if (before === undefined || /[_=./-]/.test(before)) best = Math.max(best, form.length);
  }
  return best;
}

/**
 * `<@U…>` for a pill to one of the mentioned ghosts: matched by the ghost's localpart (the
 * longest match wins), else by the display name the pill shows. Any other pill is its text.
 */
function mentionResolver(
  mentions: readonly SlackMention[],
): (matrixUserId: string, linkText: string) => string {
  return (matrixUserId, linkText) => {
    const localpart = localpartOf(matrixUserId);
    let best: SlackMention | undefined;
    let bestLength = 0;
    for (const mention of mentions) {
      const length = localpartMatch(localpart, mention.remoteUserId);
      if (length > bestLength) [best, bestLength] = [mention, length];
    }
    best ??= mentions.find((m) => m.displayname === linkText);
    const id = best === undefined ? undefined : slackUserId(best.remoteUserId);
    return id === undefined ? escapeSlack(linkText || matrixUserId) : `<@${id}>`;
  };
}

function renderHtml(html: string, mentions: readonly SlackMention[]): string {
  // The spec's allow-list has <del> and <strike> but not <s>, which the sanitizer would unwrap.
  const withStrike = html.replace(/<(\/?)s(?=[\s/>])/gi, "<$1strike");
  return format.renderHtml(withStrike, slackDialect(mentions));
}

/**
 * Slack mrkdwn for a Matrix message: `<strong>`/`<b>` → `*x*`, `<em>`/`<i>` → `_x_`,
 * `<del>`/`<s>`/`<strike>` → `~x~`, `<code>` → `` `x` ``, `<pre>` → ```` ```x``` ````, quotes
 * `> `, lists `• ` (`◦`, `▪` nested) and `1. `, headings bold lines, links `<url|label>` (bare
 * `<url>` when the label is the URL), pills to mentioned ghosts `<@U…>`, other pills their text.
 * Rich-reply fallbacks are dropped. Without HTML (or when it renders to nothing) the plain
 * text is used, escaped the same way.
 */
export function matrixToSlack(
  content: { text: string; html?: string },
  mentions: ReadonlyArray<SlackMention>,
): string {
  const fromHtml = content.html === undefined ? "" : renderHtml(content.html, mentions);
  return fromHtml.trim() !== "" ? fromHtml : escapeSlack(content.text);
}
