import { test } from "node:test";
import assert from "node:assert/strict";
import { htmlToMarkdown, htmlToPlain } from "./html-to-text.js";
import { parsePills } from "./mentions.js";
import { sanitizeMatrixHtml } from "./sanitize.js";
import { markdownToHtml, plainToHtml, type MarkdownMentions } from "./text-to-html.js";

test("plainToHtml escapes markup and turns newlines into <br />", () => {
  assert.equal(
    plainToHtml('a < b & c > "d"\nline 2\r\nline 3'),
    'a &lt; b &amp; c &gt; "d"<br />line 2<br />line 3',
  );
  assert.equal(plainToHtml("<script>alert(1)</script>"), "&lt;script&gt;alert(1)&lt;/script&gt;");
  assert.equal(plainToHtml("&amp;"), "&amp;amp;");
  assert.equal(htmlToPlain(plainToHtml("x <y> & z\n\n  two")), "x <y> & z\n\ntwo");
});

test("markdown inline formatting", () => {
  assert.equal(
    markdownToHtml("**bold** __bold__ *it* _it_ ~~gone~~ `co*de*`"),
    "<strong>bold</strong> <strong>bold</strong> <em>it</em> <em>it</em> <del>gone</del> <code>co*de*</code>",
  );
  assert.equal(
    markdownToHtml("***both*** **a *b* c** *a **b** c*"),
    "<strong><em>both</em></strong> <strong>a <em>b</em> c</strong> <em>a <strong>b</strong> c</em>",
  );
  assert.equal(markdownToHtml("snake_case_name a * b * c 2 ** 3"), "snake_case_name a * b * c 2 ** 3");
  assert.equal(markdownToHtml("**unclosed *also"), "**unclosed *also");
  assert.equal(markdownToHtml("\\*literal\\* a\\_b"), "*literal* a_b");
  assert.equal(markdownToHtml("`` a`b ``"), "<code>a`b</code>");
});

test("markdown paragraphs and line breaks", () => {
  assert.equal(markdownToHtml("just text"), "just text");
  assert.equal(markdownToHtml("line 1\nline 2"), "line 1<br />line 2");
  assert.equal(markdownToHtml("para 1\n\npara 2"), "<p>para 1</p><p>para 2</p>");
  assert.equal(markdownToHtml(""), "");
});

test("markdown code blocks keep whitespace and escape content", () => {
  assert.equal(
    markdownToHtml("```js\nif (a < b) {\n    run();\n\n}\n```\nafter"),
    '<pre><code class="language-js">if (a &lt; b) {\n    run();\n\n}\n</code></pre><p>after</p>',
  );
  assert.equal(markdownToHtml("~~~\n**not bold**\n~~~"), "<pre><code>**not bold**\n</code></pre>");
  assert.equal(markdownToHtml("```\nunclosed"), "<pre><code>unclosed\n</code></pre>");
  assert.equal(markdownToHtml('```js" onclick="x\ncode\n```'), "<pre><code>code\n</code></pre>");
});

test("markdown quotes and lists", () => {
  assert.equal(
    markdownToHtml("> quoted **b**\n> more\n\nreply"),
    "<blockquote>quoted <strong>b</strong><br />more</blockquote><p>reply</p>",
  );
  assert.equal(
    markdownToHtml("- a\n- b\n  - nested\n    1. deep\n- c"),
    "<ul><li>a</li><li>b<ul><li>nested<ol><li>deep</li></ol></li></ul></li><li>c</li></ul>",
  );
  assert.equal(markdownToHtml("3. three\n4. four"), '<ol start="3"><li>three</li><li>four</li></ol>');
  assert.equal(markdownToHtml("intro\n- item"), "<p>intro</p><ul><li>item</li></ul>");
  assert.equal(markdownToHtml("* a\n\n* b"), "<ul><li><p>a</p></li><li><p>b</p></li></ul>");
  assert.equal(markdownToHtml("-not a list\n*not either*"), "-not a list<br /><em>not either</em>");
});

test("markdown links: safe schemes only", () => {
  assert.equal(
    markdownToHtml("[docs](https://example.org/a_b?x=1&y=2)"),
    '<a href="https://example.org/a_b?x=1&amp;y=2">docs</a>',
  );
  assert.equal(
    markdownToHtml("<https://example.org>"),
    '<a href="https://example.org">https://example.org</a>',
  );
  assert.equal(markdownToHtml("[x](javascript:alert(1))"), "[x](javascript:alert(1))");
  assert.equal(markdownToHtml("[x](data:text/html,hi)"), "[x](data:text/html,hi)");
  assert.equal(markdownToHtml('[x](https://a.example/" onclick="y)'), '[x](https://a.example/" onclick="y)');
  assert.equal(markdownToHtml("<javascript:alert(1)>"), "&lt;javascript:alert(1)&gt;");
});

test("markdown: raw HTML and unsupported syntax are escaped", () => {
  assert.equal(
    markdownToHtml("<b>x</b> <img src=x onerror=alert(1)>"),
    "&lt;b&gt;x&lt;/b&gt; &lt;img src=x onerror=alert(1)&gt;",
  );
  assert.equal(
    markdownToHtml("# not a heading\n![img](https://x/y.png) &amp;"),
    "# not a heading<br />![img](https://x/y.png) &amp;amp;",
  );
});

const discordMentions: MarkdownMentions = {
  pattern: /<@!?(\d+)>/g,
  resolve: (match) =>
    match[1] === "404"
      ? null
      : { userId: `@discord_${match[1]}:example.org`, displayName: `User <${match[1]}>` },
};

test("markdown mentions become pills (not inside code or links)", () => {
  const html = markdownToHtml("hi <@1> and <@!2>, not <@404>, `<@3>`", { mentions: discordMentions });
  assert.equal(
    html,
    'hi <a href="https://matrix.to/#/@discord_1:example.org">User &lt;1&gt;</a> and ' +
      '<a href="https://matrix.to/#/@discord_2:example.org">User &lt;2&gt;</a>, not &lt;@404&gt;, <code>&lt;@3&gt;</code>',
  );
  assert.deepEqual(
    parsePills(html).map((p) => p.userId),
    ["@discord_1:example.org", "@discord_2:example.org"],
  );
  assert.equal(
    markdownToHtml("[<@1>](https://x.example)", { mentions: discordMentions }),
    '<a href="https://x.example">&lt;@1&gt;</a>',
  );
});

const CORPUS = [
  "plain & simple <tags>",
  '**b** *i* ~~s~~ `c` [l](https://example.org/?a=1&b="2") <matrix:u/a:b>',
  "> q1\n> > nested\n\n- a\n  - b\n1. x\n\n```py\n<&>\n```",
  "* loose\n\n  para\n* two",
  "quote \" and ' and ` and \\ and nbsp\u00a0and emoji 😀",
];

test("markdownToHtml output passes the sanitizer unchanged", () => {
  for (const md of CORPUS) {
    const html = markdownToHtml(md, { mentions: discordMentions });
    assert.equal(sanitizeMatrixHtml(html), html, md);
  }
});

test("markdown round-trips through htmlToMarkdown", () => {
  for (const md of [
    "**bold** and *italic* and ~~gone~~ and `code`",
    "> quoted",
    "- a\n- b\n  - c",
    "[docs](https://example.org/x)",
    "```js\nlet x = 1;\n```",
  ]) {
    assert.equal(htmlToMarkdown(markdownToHtml(md)), md);
  }
});

test("pathological markdown stays fast and never overflows the stack", () => {
  const inputs = [
    "*".repeat(100_000),
    "**a ".repeat(20_000),
    "_a ".repeat(20_000),
    "[".repeat(50_000),
    "` a ".repeat(20_000),
    ">".repeat(10_000) + " deep",
    "**a *".repeat(1_000) + "x" + "* a**".repeat(1_000),
  ];
  for (const md of inputs) {
    const started = performance.now();
    const html = markdownToHtml(md);
    // Quadratic scanning took 20-40 s on these; linear work takes well under a second.
    assert.ok(performance.now() - started < 5_000, `too slow for ${md.slice(0, 12)}…`);
    assert.equal(sanitizeMatrixHtml(html), html);
  }
});
