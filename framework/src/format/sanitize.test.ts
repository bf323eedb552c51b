import { test } from "node:test";
import assert from "node:assert/strict";
import { sanitizeMatrixHtml } from "./sanitize.js";

const DANGEROUS =
  /<script|<style|<iframe|<object|<embed|<svg|<math|\son\w+=|javascript:|vbscript:|data:|style=|srcdoc/i;

const XSS_ATTEMPTS: Array<[string, string]> = [
  ["img onerror", "<img src=x onerror=alert(1)>"],
  ["img onerror with mxc src", '<img src="mxc://a/b" onerror="alert(1)" onload="x()">'],
  ["javascript: link", '<a href="javascript:alert(1)">click</a>'],
  ["javascript: link, mixed case and spaces", '<a href="  JaVaScRiPt:alert(1)">click</a>'],
  ["javascript: link, entity-encoded tab", '<a href="jav&#x09;ascript:alert(1)">click</a>'],
  ["javascript: link, entity-encoded scheme", '<a href="&#106;avascript:alert(1)">click</a>'],
  ["vbscript: link", '<a href="vbscript:msgbox(1)">click</a>'],
  ["data: link", '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">click</a>'],
  ["data: image", '<img src="data:image/png;base64,iVBORw0KGgo=" alt="">'],
  ["script", "<script>alert(1)</script>text"],
  ["script, upper case", "<SCRIPT SRC=//evil.example/x.js></SCRIPT>text"],
  ["iframe", '<iframe src="https://evil.example" srcdoc="<script>alert(1)</script>">inner</iframe>'],
  ["style element", "<style>body{background:url(javascript:alert(1))}</style>text"],
  ["style attribute", '<span style="background:url(javascript:alert(1))" data-mx-color="#ff0000">x</span>'],
  ["event handler on allowed tag", '<b onclick="alert(1)" onmouseover="alert(2)">x</b>'],
  ["svg", '<svg onload="alert(1)"><script>alert(2)</script></svg>'],
  ["object/embed", '<object data="javascript:alert(1)"></object><embed src="javascript:alert(1)">'],
  [
    "form",
    '<form action="javascript:alert(1)"><input type="submit" formaction="javascript:alert(2)"></form>',
  ],
  ["unclosed attribute", '<a href="https://ok.example" onmouseover="alert(1)'],
  ["comment trick", '<!--<img src="--><img src=x onerror=alert(1)//">'],
  ["encoded markup stays text", "&lt;script&gt;alert(1)&lt;/script&gt;"],
];

for (const [name, html] of XSS_ATTEMPTS) {
  test(`XSS is removed: ${name}`, () => {
    const out = sanitizeMatrixHtml(html);
    assert.doesNotMatch(out, DANGEROUS, out);
    assert.equal(sanitizeMatrixHtml(out), out, "idempotent");
  });
}

test("script/style/iframe contents are dropped, not kept as text", () => {
  assert.equal(sanitizeMatrixHtml("a<script>alert(1)</script>b<style>p{}</style>c"), "abc");
  assert.equal(sanitizeMatrixHtml('<iframe src="https://x.example">inner</iframe>ok'), "ok");
  assert.equal(sanitizeMatrixHtml("&lt;script&gt;x"), "&lt;script&gt;x");
});

test("dangerous links keep their text but lose the href", () => {
  assert.equal(sanitizeMatrixHtml('<a href="javascript:alert(1)">click</a>'), "<a>click</a>");
  assert.equal(sanitizeMatrixHtml('<a href="//evil.example/x">rel</a>'), "<a>rel</a>");
});

test("every allowed tag and attribute survives unchanged", () => {
  const html = [
    '<font data-mx-bg-color="#00ff00" data-mx-color="#ff0000" color="red">f</font>',
    "<del>d</del><h1>1</h1><h2>2</h2><h3>3</h3><h4>4</h4><h5>5</h5><h6>6</h6>",
    "<blockquote><p>q</p></blockquote>",
    '<a name="n" target="_blank" href="https://example.org/a?b=1&amp;c=2">l</a>',
    '<a href="http://example.org">h</a><a href="ftp://example.org/f">f</a>',
    '<a href="mailto:a@example.org">m</a><a href="magnet:?xt=urn:btih:abc">g</a>',
    '<a href="matrix:u/alice:example.org">u</a><a href="https://matrix.to/#/@alice:example.org">p</a>',
    '<ul><li>a</li></ul><ol start="3"><li>b</li></ol>',
    "<sup>s</sup><sub>s</sub><b>b</b><i>i</i><u>u</u><strong>s</strong><em>e</em><strike>s</strike>",
    '<code>c</code><pre><code class="language-rust">fn main() {}\n</code></pre>',
    "<hr /><br /><div>d</div>",
    "<table><caption>c</caption><thead><tr><th>h</th></tr></thead><tbody><tr><td>d</td></tr></tbody></table>",
    '<span data-mx-bg-color="#000000" data-mx-color="#ffffff" data-mx-spoiler="reason">s</span>',
    "<span data-mx-spoiler>s</span>",
    '<img width="32" height="16" alt="cat" title="a cat" src="mxc://example.org/abc123" />',
    "<details><summary>more</summary>hidden</details>",
  ].join("");
  assert.equal(sanitizeMatrixHtml(html), html);
});

test("attribute values are validated", () => {
  assert.equal(
    sanitizeMatrixHtml('<span data-mx-color="red" data-mx-bg-color="#12345" data-mx-spoiler="">x</span>'),
    "<span data-mx-spoiler>x</span>",
  );
  assert.equal(sanitizeMatrixHtml('<font color="expression(alert(1))">x</font>'), "<font>x</font>");
  assert.equal(
    sanitizeMatrixHtml('<ol start="2; x" type="a" reversed><li>x</li></ol>'),
    "<ol><li>x</li></ol>",
  );
  assert.equal(
    sanitizeMatrixHtml('<code class="language-js hljs evil">x</code><code class="evil">y</code>'),
    '<code class="language-js">x</code><code>y</code>',
  );
  assert.equal(sanitizeMatrixHtml('<p class="x" id="y" title="z">p</p>'), "<p>p</p>");
  assert.equal(
    sanitizeMatrixHtml(
      '<img src="mxc://example.org/a" width="100%" height="1e9" srcset="https://x/1.png 1x">',
    ),
    '<img src="mxc://example.org/a" />',
  );
});

test("images must be mxc: others become their alt text or vanish", () => {
  assert.equal(
    sanitizeMatrixHtml('a<img src="https://example.org/cat.png" alt="a &lt;cat&gt;">b'),
    "a<span>a &lt;cat&gt;</span>b",
  );
  assert.equal(
    sanitizeMatrixHtml('a<img src="https://example.org/t.png">b<img src="mxc://x/y">c'),
    'ab<img src="mxc://x/y" />c',
  );
  assert.equal(sanitizeMatrixHtml('<img src="mxc://nomedia">'), "");
});

test("unknown tags are unwrapped, keeping their text", () => {
  assert.equal(sanitizeMatrixHtml("<article><marquee>hi</marquee> <s>x</s></article>"), "hi x");
});

test("reply fallbacks are kept by default and removed when asked", () => {
  const html =
    '<mx-reply><blockquote>In reply to <a href="https://matrix.to/#/@a:b">@a:b</a></blockquote></mx-reply>reply';
  assert.equal(sanitizeMatrixHtml(html), html);
  assert.equal(sanitizeMatrixHtml(html, { stripReplyFallback: true }), "reply");
  assert.equal(sanitizeMatrixHtml("<MX-REPLY>quote</MX-REPLY>reply", { stripReplyFallback: true }), "reply");
});

test("nesting is limited to 100 levels", () => {
  const deep = "<div>".repeat(150) + "x" + "</div>".repeat(150);
  const out = sanitizeMatrixHtml(deep);
  assert.equal(out.match(/<div>/g)?.length, 100);
  assert.ok(out.includes("x"));
});

test("text is escaped, entities and non-ASCII come out normalised", () => {
  assert.equal(
    sanitizeMatrixHtml("a &amp; b &lt; c &gt; d &quot;e&quot; &#x1F600; &eacute;"),
    'a &amp; b &lt; c &gt; d "e" 😀 é',
  );
  assert.equal(sanitizeMatrixHtml("1 < 2 & 3 > 2"), "1 &lt; 2 &amp; 3 &gt; 2");
});
