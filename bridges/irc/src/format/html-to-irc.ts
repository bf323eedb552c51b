/**
 * Matrix message content (`body` / `formatted_body`) → IRC text with mIRC formatting codes.
 *
 * The result may span several lines: `splitMessage` cuts it into IRC lines afterwards (and
 * sanitizes them), so nothing here has to know about line lengths.
 */
import { format } from "@switchboard/framework";
import { ircCodeBlock, IrcWriter } from "./irc-writer.js";
import { stripIrcFormatting } from "./mirc.js";

export interface MatrixToIrcOptions {
  /**
   * How a user pill is written, e.g. the ghost's IRC nick for a bridged IRC user.
   * Default: the link text (usually the display name).
   */
  mentionText?: (matrixUserId: string, linkText: string) => string;
  /** false: plain text without any formatting codes. Default true. */
  formatting?: boolean;
}

function ircDialect(options: MatrixToIrcOptions): format.MarkupDialect {
  const formatting = options.formatting ?? true;
  const asIs = (text: string): string => text;
  return {
    formatting: "styles",
    writer: () => new IrcWriter(formatting),
    // Every line is a message of its own: blank lines are the sender's, and a lone ">" or
    // "-" would only be noise.
    lineBreaksAsWritten: true,
    prefixEmptyLines: false,
    quotePrefix: "> ",
    rule: "---",
    bullet: () => "- ",
    boldHeadings: true,
    heading: asIs,
    codeBlock: (code, _language, formats) => ircCodeBlock(code, formats, formatting),
    mention: options.mentionText ?? ((_userId, text) => text),
    roomMention: (_room, text) => text,
    url: asIs,
    link: (href) => ({ before: "", after: ` <${href}>` }),
  };
}

function renderHtml(html: string, options: MatrixToIrcOptions): string {
  // The spec's allow-list has <del> and <strike> but not <s>, which the sanitizer would unwrap.
  const withStrike = html.replace(/<(\/?)s(?=[\s/>])/gi, "<$1strike");
  return format.renderHtml(withStrike, ircDialect(options));
}

/**
 * IRC text for a Matrix message: `<b>`/`<strong>` → \x02, `<i>`/`<em>` → \x1D, `<u>` → \x1F,
 * `<del>`/`<s>`/`<strike>` → \x1E, `<code>` → \x11, colours → the nearest classic mIRC colour,
 * spoilers black on black, headings bold, links "text <url>", lists "- item" / "1. item",
 * quotes "> line", code blocks line by line, one line per paragraph or `<br>`. Rich-reply
 * fallbacks (`<mx-reply>`) are dropped; a plain body's "> <@user> …" fallback is left to the
 * caller, who knows whether the event is a reply. Without HTML (or when it renders to nothing)
 * the plain body is used as is: IRC users read it fine, and a Matrix user typing mIRC codes
 * meant them. `formatting: false` removes every code.
 */
export function matrixToIrc(
  content: { text: string; html?: string },
  options: MatrixToIrcOptions = {},
): string {
  const fromHtml = content.html === undefined ? "" : renderHtml(content.html, options);
  if (stripIrcFormatting(fromHtml).trim() !== "") return fromHtml;
  return options.formatting === false ? stripIrcFormatting(content.text) : content.text;
}
