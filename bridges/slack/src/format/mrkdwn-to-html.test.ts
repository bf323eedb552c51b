import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { format } from "@switchboard/framework";
import { slackToMatrix } from "./mrkdwn-to-html.js";
import { ghostId, randomString, refs, seededRandom, toMatrix } from "./test-helpers.js";

function html(text: string): string | undefined {
  return toMatrix(text).html;
}

function pill(slackUserId: string, name: string): string {
  return format.pill(ghostId(slackUserId), name);
}

describe("slackToMatrix: plain text", () => {
  it("has no html without formatting", () => {
    assert.deepEqual(toMatrix("hello world"), { text: "hello world" });
    assert.deepEqual(toMatrix(""), { text: "" });
    assert.deepEqual(toMatrix("two\nlines\n\nand a gap"), { text: "two\nlines\n\nand a gap" });
  });

  it("decodes Slack's three entities once, and nothing else", () => {
    assert.deepEqual(toMatrix("a &amp; b &lt;c&gt;"), { text: "a & b <c>" });
    assert.deepEqual(toMatrix("&amp;lt; &quot; &#60;"), { text: "&lt; &quot; &#60;" });
  });

  it("escapes decoded text again in the html", () => {
    assert.deepEqual(toMatrix("*&lt;b&gt; &amp;amp;*"), {
      text: "*<b> &amp;*",
      html: "<strong>&lt;b&gt; &amp;amp;</strong>",
    });
  });

  it("never lets Slack text become markup", () => {
    // What Slack sends for a typed "<script>": escaped, like every < > &.
    assert.deepEqual(toMatrix("&lt;script&gt;alert(1)&lt;/script&gt;"), {
      text: "<script>alert(1)</script>",
    });
    assert.equal(
      html("*&lt;img src=x onerror=alert(1)&gt;*"),
      "<strong>&lt;img src=x onerror=alert(1)&gt;</strong>",
    );
    // A bot can post raw angle brackets: not a Slack token, so text.
    const raw = toMatrix("_hi_ <script>alert(1)</script> <img src=x onerror=alert(1)>");
    assert.equal(
      raw.html,
      "<em>hi</em> &lt;script&gt;alert(1)&lt;/script&gt; &lt;img src=x onerror=alert(1)&gt;",
    );
    assert.equal(raw.text, "_hi_ <script>alert(1)</script> <img src=x onerror=alert(1)>");
  });

  it("normalises Windows line endings", () => {
    assert.equal(html("*a*\r\nb"), "<strong>a</strong><br />b");
  });
});

describe("slackToMatrix: inline formatting", () => {
  it("maps each marker to its tag and keeps the markers in the text", () => {
    assert.deepEqual(toMatrix("*bold*"), { text: "*bold*", html: "<strong>bold</strong>" });
    assert.deepEqual(toMatrix("_italic_"), { text: "_italic_", html: "<em>italic</em>" });
    assert.deepEqual(toMatrix("~strike~"), { text: "~strike~", html: "<del>strike</del>" });
    assert.deepEqual(toMatrix("`code`"), { text: "`code`", html: "<code>code</code>" });
    assert.equal(html("a *b c* d _e_ f"), "a <strong>b c</strong> d <em>e</em> f");
  });

  it("nests markers", () => {
    assert.equal(html("*_both_*"), "<strong><em>both</em></strong>");
    assert.equal(html("_a *b* c_"), "<em>a <strong>b</strong> c</em>");
    assert.equal(html("~*x*~"), "<del><strong>x</strong></del>");
  });

  it("only counts markers at word boundaries", () => {
    for (const text of ["snake_case_name", "2*3*4", "a*b*c", "x~y~z", "file_name_", "_x_y", "__init__"]) {
      assert.deepEqual(toMatrix(text), { text }, text);
    }
    assert.equal(html('(*paren*), "_quoted_".'), '(<strong>paren</strong>), "<em>quoted</em>".');
    assert.equal(html("my_var is *bold*"), "my_var is <strong>bold</strong>");
  });

  it("needs content hugging the markers", () => {
    for (const text of ["* not bold *", "*not closed", "_ x_", "**", "* *", "~~"]) {
      assert.deepEqual(toMatrix(text), { text }, text);
    }
  });

  it("treats doubled markers as text", () => {
    assert.deepEqual(toMatrix("**double**"), { text: "**double**" });
  });

  it("never spans lines", () => {
    assert.deepEqual(toMatrix("*a\nb*"), { text: "*a\nb*" });
    assert.equal(html("*a*\n*b*"), "<strong>a</strong><br /><strong>b</strong>");
  });

  it("keeps code spans literal", () => {
    assert.deepEqual(toMatrix("`*a* _b_ :tada: &lt;x&gt; &amp;`"), {
      text: "`*a* _b_ :tada: <x> &`",
      html: "<code>*a* _b_ :tada: &lt;x&gt; &amp;</code>",
    });
    assert.equal(html("*see `a*b`*"), "<strong>see <code>a*b</code></strong>");
  });

  it("shows tokens inside code as the text they stand for", () => {
    assert.equal(html("`<@U1> <#C1> <https://x.com|x>`"), "<code>@Alice #general x</code>");
  });

  it("does not italicise underscores in URLs", () => {
    assert.equal(
      html("<https://example.com/a_b_c_d>"),
      '<a href="https://example.com/a_b_c_d">https://example.com/a_b_c_d</a>',
    );
    assert.deepEqual(toMatrix("see https://example.com/a_b_c_d now"), {
      text: "see https://example.com/a_b_c_d now",
    });
    assert.deepEqual(toMatrix("https://example.com/_private_/page"), {
      text: "https://example.com/_private_/page",
    });
    assert.equal(html("_see https://x.com/a_b_"), "<em>see https://x.com/a_b</em>");
  });

  it("does not close emphasis inside a link or mention token", () => {
    assert.equal(
      html("*see <https://x.com|a*b> now*"),
      '<strong>see <a href="https://x.com">a*b</a> now</strong>',
    );
  });
});

describe("slackToMatrix: emoji", () => {
  it("turns shortcodes into Unicode in text and html", () => {
    assert.deepEqual(toMatrix(":tada: hi"), { text: "🎉 hi" });
    assert.deepEqual(toMatrix("*:tada: yay*"), { text: "*🎉 yay*", html: "<strong>🎉 yay</strong>" });
  });

  it("applies skin tones", () => {
    assert.deepEqual(toMatrix(":+1::skin-tone-2: :wave::skin-tone-5:"), { text: "👍🏻 👋🏾" });
  });

  it("keeps unknown and custom shortcodes", () => {
    assert.deepEqual(toMatrix(":party-parrot: :tada: at 10:30:00"), {
      text: ":party-parrot: 🎉 at 10:30:00",
    });
  });

  it("does not read underscores in a shortcode as emphasis", () => {
    assert.deepEqual(toMatrix("_:white_check_mark: done_"), {
      text: "_✅\uFE0F done_",
      html: "<em>✅\uFE0F done</em>",
    });
  });

  it("replaces shortcodes in link labels but not inside code", () => {
    assert.equal(html("<https://x.com|docs :book:>"), '<a href="https://x.com">docs 📖</a>');
    assert.equal(html("```:book:```"), "<pre><code>:book:</code></pre>");
  });
});

describe("slackToMatrix: mentions", () => {
  it("sanitizes the pill HTML it is given", () => {
    const hostile = {
      ...refs,
      mentionHtml: () => '<img src="x" onerror="alert(1)"><script>alert(1)</script>Eve',
    };
    assert.deepEqual(slackToMatrix("<@U1>", hostile), { text: "@Alice", html: "Eve" });
  });

  it("pills a user mention, with @name in the text", () => {
    assert.deepEqual(toMatrix("hi <@U1>"), { text: "hi @Alice", html: `hi ${pill("U1", "Alice")}` });
  });

  it("prefers the current name, then the token's label, then the id", () => {
    assert.equal(toMatrix("<@U1|old-name>").text, "@Alice");
    assert.deepEqual(toMatrix("<@U9|carol>"), { text: "@carol", html: pill("U9", "carol") });
    assert.deepEqual(toMatrix("<@W9>"), { text: "@W9", html: pill("W9", "W9") });
  });

  it("escapes a display name in the pill", () => {
    assert.deepEqual(toMatrix("<@U2>"), {
      text: "@Bob <script>",
      html: `<a href="https://matrix.to/#/${ghostId("U2")}">Bob &lt;script&gt;</a>`,
    });
  });

  it("writes channels as #name text", () => {
    assert.deepEqual(toMatrix("in <#C1>"), { text: "in #general" });
    assert.deepEqual(toMatrix("<#C1|old> <#C9|random> <#C8>"), { text: "#general #random #C8" });
  });

  it("writes @here, @channel and @everyone as text, whatever the label", () => {
    assert.deepEqual(toMatrix("<!here> <!channel> <!everyone>"), { text: "@here @channel @everyone" });
    assert.deepEqual(toMatrix("<!here|here> <!channel|@channel>"), { text: "@here @channel" });
  });

  it("writes user groups by their label", () => {
    assert.deepEqual(toMatrix("<!subteam^S123|@devs> and <!subteam^S456>"), { text: "@devs and @S456" });
  });

  it("writes dates by their fallback text", () => {
    assert.deepEqual(toMatrix("<!date^1392734382^{date_num} {time_secs}|2014-02-18 6:39:42 AM>"), {
      text: "2014-02-18 6:39:42 AM",
    });
    assert.deepEqual(toMatrix("<!date^1392734382^{date}>"), { text: "2014-02-18T14:39:42.000Z" });
  });
});

describe("slackToMatrix: links", () => {
  it("links a label", () => {
    assert.deepEqual(toMatrix("see <https://example.com/docs|the docs>"), {
      text: "see the docs (https://example.com/docs)",
      html: 'see <a href="https://example.com/docs">the docs</a>',
    });
  });

  it("shows a bare link as its URL", () => {
    assert.deepEqual(toMatrix("<https://example.com>"), {
      text: "https://example.com",
      html: '<a href="https://example.com">https://example.com</a>',
    });
  });

  it("writes a label that is the URL once", () => {
    assert.deepEqual(toMatrix("<http://example.com|example.com>"), {
      text: "example.com",
      html: '<a href="http://example.com">example.com</a>',
    });
  });

  it("links e-mail addresses", () => {
    assert.deepEqual(toMatrix("<mailto:bob@example.com|bob@example.com>"), {
      text: "bob@example.com",
      html: '<a href="mailto:bob@example.com">bob@example.com</a>',
    });
  });

  it("decodes entities in the URL and escapes it in the attribute", () => {
    assert.deepEqual(toMatrix('<https://x.com/?a=1&amp;b="2"|q &amp; a>'), {
      text: 'q & a (https://x.com/?a=1&b="2")',
      html: '<a href="https://x.com/?a=1&amp;b=&quot;2&quot;">q &amp; a</a>',
    });
  });

  it("does not link schemes Matrix clients must not follow", () => {
    assert.deepEqual(toMatrix("<javascript:alert(1)|click>"), { text: "click" });
    assert.deepEqual(toMatrix("<slack://open?team=T1|Open Slack>"), { text: "Open Slack" });
    assert.deepEqual(toMatrix("<data:text/html,x>"), { text: "data:text/html,x" });
  });

  it("keeps a token that is nothing Slack defines as text", () => {
    assert.deepEqual(toMatrix("<not a link>"), { text: "<not a link>" });
  });
});

describe("slackToMatrix: blocks", () => {
  it("renders ``` as a code block, literally", () => {
    assert.deepEqual(toMatrix("```\nconst a = *b*;\nif (a &lt; 1) :tada:\n```"), {
      text: "```\nconst a = *b*;\nif (a < 1) :tada:\n```",
      html: "<pre><code>const a = *b*;\nif (a &lt; 1) :tada:</code></pre>",
    });
    assert.equal(html("```one line```"), "<pre><code>one line</code></pre>");
  });

  it("splits text around a code block into lines of their own", () => {
    assert.deepEqual(toMatrix("before ```code``` after"), {
      text: "before\n```\ncode\n```\nafter",
      html: "before<pre><code>code</code></pre>after",
    });
  });

  it("keeps an unclosed fence as text", () => {
    assert.deepEqual(toMatrix("```not code"), { text: "```not code" });
    assert.deepEqual(toMatrix("``````"), { text: "``````" });
  });

  it("quotes lines starting with > (as Slack sends it, &gt;)", () => {
    assert.deepEqual(toMatrix("&gt; quoted *b*\n&gt; line 2\nnot quoted"), {
      text: "> quoted *b*\n> line 2\nnot quoted",
      html: "<blockquote>quoted <strong>b</strong><br />line 2</blockquote>not quoted",
    });
    assert.equal(html(">raw quote"), "<blockquote>raw quote</blockquote>");
    assert.equal(html("&gt;no space"), "<blockquote>no space</blockquote>");
  });

  it("quotes everything after >>>", () => {
    assert.deepEqual(toMatrix("intro\n&gt;&gt;&gt; all\nof this"), {
      text: "intro\n> all\n> of this",
      html: "intro<blockquote>all<br />of this</blockquote>",
    });
  });

  it("does not nest quotes", () => {
    assert.equal(html("&gt; &gt; x"), "<blockquote>&gt; x</blockquote>");
    assert.equal(html("&gt; &gt;&gt;&gt; x"), "<blockquote>&gt;&gt;&gt; x</blockquote>");
  });

  it("parses blocks inside a quote", () => {
    assert.equal(html("&gt; ```code```"), "<blockquote><pre><code>code</code></pre></blockquote>");
    assert.equal(html("&gt; • a\n&gt; • b"), "<blockquote><ul><li>a</li><li>b</li></ul></blockquote>");
  });

  it("renders bullet lists, nested by indentation", () => {
    assert.deepEqual(toMatrix("• one\n• *two*\n    ◦ nested\n        ▪ deeper\n• three"), {
      text: "• one\n• *two*\n    ◦ nested\n        ▪ deeper\n• three",
      html: "<ul><li>one</li><li><strong>two</strong><ul><li>nested<ul><li>deeper</li></ul></li></ul></li><li>three</li></ul>",
    });
    assert.equal(html("- dash\n- list"), "<ul><li>dash</li><li>list</li></ul>");
  });

  it("renders numbered lists with their start", () => {
    assert.equal(html("1. a\n2. b"), "<ol><li>a</li><li>b</li></ol>");
    assert.deepEqual(toMatrix("3. three\n4. four"), {
      text: "3. three\n4. four",
      html: '<ol start="3"><li>three</li><li>four</li></ol>',
    });
  });

  it("starts a new list when the kind changes, and ends it at other text", () => {
    assert.equal(html("• a\n1. b\nafter"), "<ul><li>a</li></ul><ol><li>b</li></ol>after");
  });

  it("does not take dashes and numbers in text for lists", () => {
    assert.deepEqual(toMatrix("-5 degrees\n2.5 kg\n•nope"), { text: "-5 degrees\n2.5 kg\n•nope" });
  });

  it("keeps blank lines inside paragraphs but not around blocks", () => {
    assert.equal(html("*a*\n\nb"), "<strong>a</strong><br /><br />b");
    assert.equal(html("a\n\n&gt; q\n\nb"), "a<blockquote>q</blockquote>b");
  });
});

describe("slackToMatrix: robustness", () => {
  it("stays linear on long lines of unmatched markers and brackets", () => {
    const started = performance.now();
    for (const piece of ["*a ", "_", "<", "`", "~x ", ":tada", "&lt;", "```\n"]) {
      toMatrix(piece.repeat(40_000 / piece.length));
    }
    assert.ok(performance.now() - started < 3000, `took ${performance.now() - started} ms`);
  });

  it("always returns sanitized html for random input", () => {
    const random = seededRandom(42);
    const alphabet = [
      "*",
      "_",
      "~",
      "`",
      "```",
      "<",
      ">",
      "|",
      "@U1",
      "#C1",
      "!here",
      "&gt;",
      "&lt;",
      "&amp;",
    ];
    const words = [...alphabet, " ", "\n", "a", "b", ":tada:", "https://x.com/a_b", "• ", "1. ", "<script>"];
    for (let i = 0; i < 2000; i++) {
      const text = randomString(random, words, 1 + Math.floor(random() * 20));
      const result = toMatrix(text);
      assert.ok(!/<script/i.test(result.html ?? ""), text);
    }
  });
});
