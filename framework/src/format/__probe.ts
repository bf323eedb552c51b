import { markdownToHtml } from "./text-to-html.js";
import { htmlToPlain, htmlToMarkdown } from "./html-to-text.js";
import { parsePills } from "./mentions.js";
import { stripReplyFallback } from "./reply.js";
const cases: Array<[string, () => unknown]> = [
  ["md *x100k", () => markdownToHtml("*".repeat(100000))],
  ["md **a x20k", () => markdownToHtml("**a ".repeat(20000))],
  ["md *a x20k", () => markdownToHtml("*a ".repeat(20000))],
  ["md _a_ x20k", () => markdownToHtml("_a ".repeat(20000))],
  ["md [ x50k", () => markdownToHtml("[".repeat(50000))],
  ["md [a]( x20k", () => markdownToHtml("[a](".repeat(20000))],
  ["md ` x50k", () => markdownToHtml("` a ".repeat(50000))],
  ["md > x10k", () => markdownToHtml(">".repeat(10000) + " x")],
  ["md nested lists 5k", () => markdownToHtml(Array.from({ length: 5000 }, (_, i) => " ".repeat(2 * i) + "- x").join("\n"))],
  ["md list items 20k", () => markdownToHtml("- x\n".repeat(20000))],
  ["md ~~ x50k", () => markdownToHtml("~~a ".repeat(50000))],
  ["md *** nested 3k", () => markdownToHtml("*a ".repeat(3000) + "b" + " a*".repeat(3000))],
  ["html deep 50k", () => htmlToPlain("<b>".repeat(50000) + "x")],
  ["html md deep 50k", () => htmlToMarkdown("<blockquote>".repeat(50000) + "x")],
  ["html big", () => htmlToMarkdown("<p>hello <b>world</b> <a href='https://x.org'>x</a></p>".repeat(20000))],
  ["pills deep", () => parsePills("<span>".repeat(100000) + "<a href='https://matrix.to/#/@a:b'>a</a>")],
  ["reply deep", () => stripReplyFallback("", "<mx-reply>".repeat(100000) + "x")],
];
for (const [name, fn] of cases) {
  const t = performance.now();
  try { const r = fn(); console.log(name, Math.round(performance.now() - t) + "ms", String(r).length); }
  catch (e) { console.log(name, "THREW", (e as Error).message.slice(0, 80), Math.round(performance.now() - t) + "ms"); }
}
