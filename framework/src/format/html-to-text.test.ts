import { test } from "node:test";
import assert from "node:assert/strict";
import { escapeMarkdown, htmlToMarkdown, htmlToPlain } from "./html-to-text.js";

test("paragraphs, line breaks and whitespace collapse like a browser", () => {
  assert.equal(
    htmlToPlain("<p>first   para\nstill first</p>\n<p>second</p>"),
    "first para still first\n\nsecond",
  );
  assert.equal(htmlToPlain("a<br>b<br /><br>c<br>"), "a\nb\n\nc");
  assert.equal(htmlToPlain("<div>one</div><div>two</div>"), "one\ntwo");
  assert.equal(htmlToPlain("  <b> spaced </b>  out  "), "spaced out");
  assert.equal(htmlToPlain("plain text"), "plain text");
});

test("entities are decoded in text", () => {
  assert.equal(
    htmlToPlain("Tom &amp; Jerry &lt;3 &quot;hi&quot; &#39;x&#39; &eacute; &#x1F600; a&nbsp;b"),
    `Tom & Jerry <3 "hi" 'x' é 😀 a\u00a0b`,
  );
});

test("nested lists get markers and indentation", () => {
  const html =
    '<ul>\n<li>one</li>\n<li>two\n<ul>\n<li>two.a</li>\n<li>two.b<ol start="3"><li>deep</li><li>deeper</li></ol></li>\n</ul>\n</li>\n<li>three</li>\n</ul>';
  const expected = "- one\n- two\n  - two.a\n  - two.b\n    3. deep\n    4. deeper\n- three";
  assert.equal(htmlToPlain(html), expected);
  assert.equal(htmlToMarkdown(html), expected);
  assert.equal(
    htmlToPlain("<p>intro</p><ol><li>a</li><li>b</li></ol><p>outro</p>"),
    "intro\n\n1. a\n2. b\n\noutro",
  );
  assert.equal(htmlToPlain("<ul><li><p>loose</p><p>item</p></li></ul>"), "- loose\n\n  item");
});

test("blockquotes are prefixed with > on every line", () => {
  assert.equal(
    htmlToPlain("<blockquote><p>a</p><p>b<br>c</p></blockquote><p>reply</p>"),
    "> a\n>\n> b\n> c\n\nreply",
  );
  assert.equal(
    htmlToPlain("<blockquote>outer<blockquote>inner</blockquote></blockquote>"),
    "> outer\n>\n> > inner",
  );
});

test("code blocks keep their whitespace verbatim", () => {
  const html =
    '<pre><code class="language-python">def f():\n    if  x:\n\n        return  "&lt;y&gt;"\n</code></pre>';
  assert.equal(htmlToPlain(html), 'def f():\n    if  x:\n\n        return  "<y>"');
  assert.equal(htmlToMarkdown(html), '```python\ndef f():\n    if  x:\n\n        return  "<y>"\n```');
  assert.equal(htmlToPlain("run <code>ls  -la *</code> now"), "run ls  -la * now");
  assert.equal(htmlToMarkdown("run <code>ls  -la *</code> now"), "run `ls  -la *` now");
  assert.equal(htmlToMarkdown("<code>a`b</code>"), "``a`b``");
  assert.equal(htmlToMarkdown("<pre><code>has ``` inside</code></pre>"), "````\nhas ``` inside\n````");
  assert.equal(htmlToPlain("<ul><li>x<pre><code>  a\n  b</code></pre></li></ul>"), "- x\n\n    a\n    b");
});

test("links show their URL unless the text already is the URL", () => {
  assert.equal(
    htmlToPlain('see <a href="https://example.org/docs">the docs</a>.'),
    "see the docs (https://example.org/docs).",
  );
  assert.equal(
    htmlToPlain('<a href="https://example.org/">https://example.org/</a>'),
    "https://example.org/",
  );
  assert.equal(htmlToPlain('<a href="https://example.org">example.org</a>'), "https://example.org");
  assert.equal(htmlToPlain('<a href="mailto:a@example.org">a@example.org</a>'), "a@example.org");
  assert.equal(htmlToPlain('<a href="javascript:alert(1)">click</a>'), "click");
  assert.equal(
    htmlToMarkdown('see <a href="https://example.org/a_(b)">the <b>docs</b></a>'),
    "see [the **docs**](https://example.org/a_%28b%29)",
  );
});

test("images become their alt text or [image]", () => {
  assert.equal(htmlToPlain('look: <img src="mxc://example.org/a" alt="a cat">!'), "look: a cat!");
  assert.equal(htmlToPlain('<img src="mxc://example.org/a">'), "[image]");
  assert.equal(htmlToPlain('<img src="https://tracker.example/p.png" alt="cat">'), "cat");
});

test("pills go through mentionToText (default: the link text), both URI forms", () => {
  const html =
    '<a href="https://matrix.to/#/@alice:example.org">Alice</a>, <a href="matrix:u/bob:example.org?action=chat">Bob</a> and ' +
    '<a href="https://matrix.to/#/%40carol%3Aexample.org">Carol</a>: see <a href="https://matrix.to/#/%23room%3Aexample.org">#room</a>';
  assert.equal(htmlToPlain(html), "Alice, Bob and Carol: see #room");
  const seen: string[] = [];
  const out = htmlToPlain(html, {
    mentionToText: (userId, text) => {
      seen.push(userId);
      return `@${text.toLowerCase()}`;
    },
    roomMentionToText: (room) => `<${room}>`,
  });
  assert.equal(out, "@alice, @bob and @carol: see <#room:example.org>");
  assert.deepEqual(seen, ["@alice:example.org", "@bob:example.org", "@carol:example.org"]);
  // Event permalinks are ordinary links.
  assert.equal(
    htmlToPlain('<a href="https://matrix.to/#/!r:example.org/$ev">this message</a>'),
    "this message (https://matrix.to/#/!r:example.org/$ev)",
  );
});

test("spoilers are kept, optionally marked", () => {
  const html = 'ending: <span data-mx-spoiler="plot">he <b>dies</b></span>.';
  assert.equal(htmlToPlain(html), "ending: he dies.");
  assert.equal(htmlToMarkdown(html, { spoilerToText: (text) => `||${text}||` }), "ending: ||he **dies**||.");
  assert.equal(
    htmlToPlain(html, { spoilerToText: (text, reason) => `[spoiler ${reason}: ${text}]` }),
    "ending: [spoiler plot: he dies].",
  );
});

test("reply fallbacks and unsafe content never reach the text", () => {
  const html =
    '<mx-reply><blockquote><a href="https://matrix.to/#/!r:x/$e">In reply to</a> <a href="https://matrix.to/#/@bob:x">@bob:x</a><br>original</blockquote></mx-reply>the reply';
  assert.equal(htmlToPlain(html), "the reply");
  assert.equal(htmlToPlain("<script>alert(1)</script><style>p{}</style>ok<iframe>x</iframe>"), "ok");
});

test("markdown: inline formatting with spacing kept outside the markers", () => {
  assert.equal(
    htmlToMarkdown(
      "<b> bold </b>and <i>it</i>, <em>em</em> <strong>s</strong> <del>gone</del> <strike>old</strike>",
    ),
    "**bold** and *it*, *em* **s** ~~gone~~ ~~old~~",
  );
  assert.equal(htmlToMarkdown("<b>a <strong>nested</strong> b</b>"), "**a nested b**");
  assert.equal(htmlToMarkdown("<b><i>both</i></b>"), "***both***");
  assert.equal(htmlToMarkdown("<b></b>empty"), "empty");
  assert.equal(htmlToMarkdown("<h2>Title</h2><p>text</p><hr><p>end</p>"), "## Title\n\ntext\n\n---\n\nend");
});

test("markdown: text that looks like markup is escaped, bare URLs are not", () => {
  assert.equal(
    htmlToMarkdown("*not* _em_ [x](y) <@123> a|b ~~s~~ `c`"),
    "\\*not\\* \\_em\\_ \\[x\\](y) \\<@123> a\\|b \\~\\~s\\~\\~ \\`c\\`",
  );
  assert.equal(
    htmlToMarkdown("<p># not a heading</p><p>- not a list</p><p>1. nor this</p><p>&gt; quote</p>"),
    "\\# not a heading\n\n\\- not a list\n\n1\\. nor this\n\n\\> quote",
  );
  assert.equal(
    htmlToMarkdown("see https://example.org/a_b_c for snake_case"),
    "see https://example.org/a_b_c for snake\\_case",
  );
  assert.equal(escapeMarkdown("2*3"), "2\\*3");
});

test("tables render one row per line", () => {
  assert.equal(
    htmlToPlain(
      "<table><caption>Scores</caption><thead><tr><th>name</th><th>pts</th></tr></thead><tbody><tr><td>a</td><td>1</td></tr></tbody></table>",
    ),
    "Scores\nname | pts\na | 1",
  );
});

test("details/summary and headings in plain text", () => {
  assert.equal(htmlToPlain("<details><summary>More</summary><p>hidden</p></details>"), "More\n\nhidden");
  assert.equal(htmlToPlain("<h1>Big</h1>small"), "Big\n\nsmall");
});

test("malformed HTML does not throw", () => {
  for (const html of [
    "<b>unclosed <i>tags",
    "</p></div>stray closers",
    "<ul><li>a<li>b</ul>",
    "<<>>",
    "<a href>x</a>",
    "",
  ]) {
    assert.equal(typeof htmlToPlain(html), "string");
    assert.equal(typeof htmlToMarkdown(html), "string");
  }
  assert.equal(htmlToPlain("<ul><li>a<li>b</ul>"), "- a\n- b");
});
