import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { matrixToIrc } from "./html-to-irc.js";
import { ircToMatrix } from "./irc-to-html.js";
import { rendered, randomString, seededRandom } from "./test-helpers.js";

function irc(html: string, options: Parameters<typeof matrixToIrc>[1] = {}): string {
  return matrixToIrc({ text: "fallback", html }, options);
}

describe("matrixToIrc: inline formatting", () => {
  it("maps each tag to its code", () => {
    assert.equal(irc("<b>b</b><strong>s</strong>"), "\x02bs");
    assert.equal(irc("a <i>i</i> <em>e</em>"), "a \x1di e");
    assert.equal(irc("<u>u</u>x"), "\x1fu\x1fx");
    assert.equal(irc("<del>d</del> <s>s</s> <strike>k</strike>"), "\x1ed\x1e \x1es\x1e \x1ek");
    assert.equal(irc("run <code>ls -l</code> now"), "run \x11ls -l\x11 now");
  });

  it("does not toggle twice for nested tags and restores the outer style", () => {
    assert.equal(irc("<b>a<strong>b</strong>c</b>d"), "\x02abc\x02d");
    assert.equal(irc("<b>a<i>b</i>c</b>"), "\x02a\x1db\x1dc");
  });

  it("writes nothing for empty elements", () => {
    assert.equal(irc("a<b></b><i> </i>b"), "a b");
  });

  it("keeps spaces outside formatting that would show on them", () => {
    assert.equal(irc("<u>a</u> b"), "\x1fa\x1f b");
    assert.equal(irc("<u>a </u>b"), "\x1fa \x1fb");
  });

  it("collapses HTML whitespace", () => {
    assert.equal(irc("  a \n\t b  <b> c </b> "), "a b \x02c");
  });

  it("strips mIRC codes hidden in the HTML text", () => {
    assert.equal(irc("a\x02b\x0304c"), "abc");
  });
});

describe("matrixToIrc: colours", () => {
  it("uses the nearest classic colour with two digits", () => {
    assert.equal(irc('<font data-mx-color="#ff0000">red</font>'), "\x0304red");
    assert.equal(irc('<font data-mx-color="#fe0202">red</font>'), "\x0304red");
    assert.equal(irc('<font color="navy">n</font>'), "\x0302n");
    assert.equal(irc('<span data-mx-color="#00ff00" data-mx-bg-color="#000000">g</span>'), "\x0309,01g");
    assert.equal(irc('<font data-mx-bg-color="#ffff00">bg</font>'), "\x0399,08bg");
  });

  it("ignores colours it cannot parse", () => {
    assert.equal(irc('<font color="rebeccapurple">x</font>'), "x");
  });

  it("never lets following text extend a colour code", () => {
    assert.equal(irc('<font data-mx-color="#ff0000">1</font>23'), "\x03041\x03\x02\x0223");
    assert.equal(irc('<font data-mx-color="#ff0000">a</font>,5'), "\x0304a\x03\x02\x02,5");
    const html = '<font data-mx-color="#ff0000">a</font>,12 <font data-mx-color="#00ff00">b</font>99';
    assert.equal(ircToMatrix(irc(html)).body, "a,12 b99");
  });

  it("restores the outer colour after an inner one", () => {
    const out = irc('<font data-mx-color="#ff0000">r<font data-mx-color="#0000ff">b</font>r</font>');
    assert.deepEqual(rendered(out), rendered("\x0304r\x0312b\x0304r"));
  });

  it("shows spoilers black on black", () => {
    assert.equal(irc("a <span data-mx-spoiler>secret</span>"), "a \x0301,01secret");
  });
});

describe("matrixToIrc: blocks", () => {
  it("puts paragraphs and <br> on their own lines", () => {
    assert.equal(irc("<p>one</p><p>two<br>three</p>"), "one\ntwo\nthree");
    assert.equal(irc("a<br><br>b"), "a\n\nb");
  });

  it("renders lists, nested lists and numbered lists", () => {
    assert.equal(irc("<ul><li>one</li><li>two<ul><li>deep</li></ul></li></ul>"), "- one\n- two\n  - deep");
    assert.equal(irc('<ol start="3"><li>c</li><li>d</li></ol>'), "3. c\n4. d");
    assert.equal(
      irc("<p>before</p><ul><li><b>bold</b> item</li></ul>after"),
      "before\n- \x02bold\x02 item\nafter",
    );
  });

  it("quotes blockquotes line by line", () => {
    assert.equal(
      irc("<blockquote><p>q1</p><p>q2<br>q3</p></blockquote><p>answer</p>"),
      "> q1\n> q2\n> q3\nanswer",
    );
    assert.equal(irc("<blockquote>outer<blockquote>inner</blockquote></blockquote>"), "> outer\n> > inner");
  });

  it("makes headings bold lines", () => {
    assert.equal(irc("<h1>Title</h1><p>text</p>"), "\x02Title\ntext");
  });

  it("keeps code blocks line by line, indentation included", () => {
    assert.equal(
      irc('<pre><code class="language-js">if (x) {\n  y();\n}\n</code></pre>'),
      "\x11if (x) {\n\x11  y();\n\x11}",
    );
    assert.equal(irc("<pre>a\n\nb</pre>", { formatting: false }), "a\n\nb");
  });

  it("renders rules and tables", () => {
    assert.equal(irc("a<hr>b"), "a\n---\nb");
    assert.equal(
      irc("<table><tr><th>k</th><th>v</th></tr><tr><td>1</td><td>2</td></tr></table>"),
      "k | v\n1 | 2",
    );
  });

  it("drops reply fallbacks and non-text content", () => {
    const reply = "<mx-reply><blockquote><a>In reply to</a> <b>old</b></blockquote></mx-reply>new";
    assert.equal(irc(reply), "new");
    assert.equal(irc("<script>alert(1)</script><style>p{}</style>ok"), "ok");
  });
});

describe("matrixToIrc: links and mentions", () => {
  it("writes 'text <url>', or the URL once when the text is the URL", () => {
    assert.equal(
      irc('see <a href="https://example.org/x">the docs</a>'),
      "see the docs <https://example.org/x>",
    );
    assert.equal(irc('<a href="https://example.org/">example.org</a>'), "https://example.org/");
    assert.equal(irc('<a href="https://example.org">https://example.org</a>'), "https://example.org");
    assert.equal(irc('<a href="mailto:a@b.c">a@b.c</a>'), "a@b.c");
    assert.equal(irc('<a href="https://example.org"></a>'), "https://example.org");
    assert.equal(irc('<a href="javascript:alert(1)">click</a>'), "click");
  });

  it("writes pills as their link text by default, or via mentionText", () => {
    const html = '<a href="https://matrix.to/#/@bob:example.org">Bob</a>: hi';
    assert.equal(irc(html), "Bob: hi");
    const seen: Array<[string, string]> = [];
    const out = irc(html, {
      mentionText: (userId, text) => {
        seen.push([userId, text]);
        return "bob_irc";
      },
    });
    assert.equal(out, "bob_irc: hi");
    assert.deepEqual(seen, [["@bob:example.org", "Bob"]]);
    assert.equal(irc('<a href="matrix:u/carol:example.org">Carol</a>'), "Carol");
  });

  it("writes room links as their text", () => {
    assert.equal(
      irc('<a href="https://matrix.to/#/#room:example.org">#room:example.org</a>'),
      "#room:example.org",
    );
  });

  it("uses image alt text", () => {
    assert.equal(irc('<img src="mxc://a/b" alt=":party:"> yay'), ":party: yay");
  });
});

describe("matrixToIrc: plain text and formatting: false", () => {
  it("uses the body when there is no HTML or it renders to nothing", () => {
    assert.equal(matrixToIrc({ text: "plain\nlines" }), "plain\nlines");
    assert.equal(matrixToIrc({ text: "body", html: "<b></b>" }), "body");
    assert.equal(matrixToIrc({ text: "\x02typed codes" }), "\x02typed codes");
  });

  it("writes no control characters at all with formatting: false", () => {
    const html =
      '<h2>T</h2><b>b</b> <i>i</i> <u>u</u> <del>d</del> <code>c</code> <font data-mx-color="#ff0000">r</font>' +
      "<pre><code>x</code></pre><span data-mx-spoiler>s</span>";
    const out = irc(html, { formatting: false });
    assert.equal(out, "T\nb i u d c r\nx\ns");
    assert.equal(matrixToIrc({ text: "\x02typed\x0304 codes" }, { formatting: false }), "typed codes");
  });
});

describe("round trips", () => {
  it("IRC → Matrix → IRC looks the same", () => {
    const lines = [
      "\x02bold\x02 \x1ditalic\x1d \x1funder\x1f \x1estrike\x1e",
      "\x0304red\x03 \x0312,01blue on black\x03 plain",
      "\x02\x0304bold red\x02 red\x03 none",
      "\x02a\x1db\x02c\x1d",
      "\x0309,02a\x0304b",
      "1 \x02< & >\x02 2",
    ];
    for (const line of lines) {
      const matrix = ircToMatrix(line);
      const back = matrixToIrc({
        text: matrix.body,
        ...(matrix.html === undefined ? {} : { html: matrix.html }),
      });
      assert.deepEqual(rendered(back), rendered(line), JSON.stringify(line));
    }
  });

  it("Matrix → IRC → Matrix → IRC is stable", () => {
    const htmls = [
      "<b>bold</b> <i>it</i> <u>u</u> <del>d</del>",
      '<font data-mx-color="#ff0000">red <b>bold</b></font> <font data-mx-color="#00ff00" data-mx-bg-color="#0000ff">x</font>',
      "<strong>a <em>b</em></strong> c",
    ];
    for (const html of htmls) {
      const first = irc(html);
      const matrix = ircToMatrix(first);
      assert.ok(matrix.html !== undefined);
      assert.deepEqual(rendered(irc(matrix.html)), rendered(first), html);
    }
  });

  it("random formatted IRC lines survive the round trip", () => {
    const random = seededRandom(2812);
    const alphabet = [..."\x02\x1d\x1f\x1e\x0f", "\x0304", "\x0312,01", "\x03", "\x0399,08", ..."ab1,<&"];
    for (let i = 0; i < 300; i++) {
      const line = `x${randomString(random, alphabet, 20)}x`;
      const matrix = ircToMatrix(line);
      const back = matrixToIrc({
        text: matrix.body,
        ...(matrix.html === undefined ? {} : { html: matrix.html }),
      });
      assert.deepEqual(rendered(back), rendered(line), JSON.stringify(line));
    }
  });
});
