import { markdownToHtml } from "./text-to-html.js";
import { htmlToPlain, htmlToMarkdown } from "./html-to-text.js";
import { parsePills } from "./mentions.js";
import { stripReplyFallback } from "./reply.js";
import { sanitizeMatrixHtml } from "./sanitize.js";
const md = (s: string) => { const h = markdownToHtml(s); if (sanitizeMatrixHtml(h) !== h) throw new Error("not idempotent"); return h; };
const cases: Array<[string, () => unknown]> = [
  ["md *x100k", () => md("*".repeat(100000))],
  ["md **a x20k", () => md("**a ".repeat(20000))],
  ["md *a x20k", () => md("*a ".repeat(20000))],
  ["md _a x20k", () => md("_a ".repeat(20000))],
  ["md [ x50k", () => md("[".repeat(50000))],
  ["md ] x50k", () => md("[a]".repeat(50000))],
  ["md [a]( x20k", () => md("[a](".repeat(20000))],
  ["md ` x50k", () => md("` a ".repeat(50000))],
  ["md `` ` mix", () => md(Array.from({ length: 400 }, (_, i) => "`".repeat(i + 1)).join(" a "))],
  ["md > x10k", () => md(">".repeat(10000) + " x")],
  ["md nested lists 5k", () => md(Array.from({ length: 5000 }, (_, i) => " ".repeat(2 * i) + "- x").join("\n"))],
  ["md list items 20k", () => md("- x\n".repeat(20000))],
  ["md ~~ x50k", () => md("~~a ".repeat(50000))],
  ["md *** nested 3k", () => md("*a ".repeat(3000) + "b" + " a*".repeat(3000))],
  ["md nested emph 1k", () => md("**a *".repeat(1000) + "x" + "* a**".repeat(1000))],
  ["md nested links", () => md("[".repeat(1000) + "x" + "](https://x.org)".repeat(1000))],
  ["md lines 50k", () => md("hello *world*\n".repeat(50000))],
  ["html deep 50k", () => htmlToPlain("<b>".repeat(50000) + "x")],
  ["html md deep 50k", () => htmlToMarkdown("<blockquote>".repeat(50000) + "x")],
  ["html md deep lists", () => htmlToMarkdown("<ul><li>".repeat(50000) + "x")],
  ["html big", () => htmlToMarkdown("<p>hello <b>world</b> <a href='https://x.org'>x</a></p>".repeat(20000))],
  ["pills deep", () => parsePills("<span>".repeat(100000) + "<a href='https://matrix.to/#/@a:b'>a</a>")],
  ["reply deep", () => stripReplyFallback("> <@a:b> x\n".repeat(100000), "<mx-reply>".repeat(100000) + "x")],
];
for (const [name, fn] of cases) {
  const t = performance.now();
  try { const r = fn(); console.log(name, Math.round(performance.now() - t) + "ms", String(r).length); }
  catch (e) { console.log(name, "THREW", (e as Error).message.slice(0, 80), Math.round(performance.now() - t) + "ms"); }
}
