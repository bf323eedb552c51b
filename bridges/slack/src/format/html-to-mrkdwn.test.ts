import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { matrixToSlack, type SlackMention } from "./html-to-mrkdwn.js";
import { ghostId, randomString, seededRandom } from "./test-helpers.js";

const ALICE: SlackMention = { remoteUserId: "T1/U1", displayname: "Alice" };

function slack(html: string, mentions: SlackMention[] = [ALICE]): string {
  return matrixToSlack({ text: "fallback", html }, mentions);
}

function pill(userId: string, name: string): string {
  return `<a href="https://matrix.to/#/${userId}">${name}</a>`;
}

describe("matrixToSlack: plain text", () => {
  it("escapes Slack's control characters and nothing else", () => {
    assert.equal(matrixToSlack({ text: "a & b < c > d *e* _f_" }, []), "a &amp; b &lt; c &gt; d *e* _f_");
  });

  it("cannot forge mentions, broadcasts or links", () => {
    assert.equal(
      matrixToSlack({ text: "<!channel> <!here> <@U1> <https://evil.example|click> <#C1>" }, [ALICE]),
      "&lt;!channel&gt; &lt;!here&gt; &lt;@U1&gt; &lt;https://evil.example|click&gt; &lt;#C1&gt;",
    );
  });

  it("escapes what looks like an entity already", () => {
    assert.equal(matrixToSlack({ text: "&lt;!channel&gt;" }, []), "&amp;lt;!channel&amp;gt;");
  });

  it("keeps line breaks", () => {
    assert.equal(matrixToSlack({ text: "a\nb" }, []), "a\nb");
  });
});

describe("matrixToSlack: inline formatting", () => {
  it("maps each tag to its marker", () => {
    assert.equal(slack("<strong>s</strong> <b>b</b>"), "*s* *b*");
    assert.equal(slack("<em>e</em> <i>i</i>"), "_e_ _i_");
    assert.equal(slack("<del>d</del> <s>s</s> <strike>k</strike>"), "~d~ ~s~ ~k~");
    assert.equal(slack("run <code>ls -l</code> now"), "run `ls -l` now");
  });

  it("drops formatting Slack does not have, keeping the text", () => {
    assert.equal(
      slack('<u>under</u> <font data-mx-color="#ff0000">red</font> x<sup>2</sup>'),
      "under red x2",
    );
    assert.equal(slack('<span data-mx-spoiler="">secret</span>'), "secret");
  });

  it("nests different markers but not the same one twice", () => {
    assert.equal(slack("<b><i>both</i></b>"), "*_both_*");
    assert.equal(slack("<b>a <strong>b</strong> c</b>"), "*a b c*");
  });

  it("keeps whitespace outside the markers", () => {
    assert.equal(slack("<b> bold </b>text"), "*bold* text");
    assert.equal(slack("a<em> b</em>"), "a _b_");
  });

  it("writes nothing for empty elements", () => {
    assert.equal(slack("a<b></b><i> </i>b"), "a b");
  });

  it("wraps each line of emphasis that spans a line break", () => {
    assert.equal(slack("<b>one<br>two</b>"), "*one*\n*two*");
  });

  it("escapes text inside code, and keeps code on one line", () => {
    assert.equal(
      slack("<code>a &lt; b &amp;&amp; &lt;!channel&gt;</code>"),
      "`a &lt; b &amp;&amp; &lt;!channel&gt;`",
    );
    assert.equal(slack("<code>a\nb</code>"), "`a b`");
  });

  it("collapses HTML whitespace", () => {
    assert.equal(slack("  a \n\t b  <b> c </b> "), "a b *c*");
  });
});

describe("matrixToSlack: blocks", () => {
  it("turns <br> and paragraphs into line breaks", () => {
    assert.equal(slack("a<br>b<br/>c"), "a\nb\nc");
    assert.equal(slack("<p>one</p><p>two</p>"), "one\n\ntwo");
  });

  it("writes headings as bold lines", () => {
    assert.equal(slack("<h1>Title</h1><p>text</p>"), "*Title*\n\ntext");
    assert.equal(slack("<h2>A <b>bold</b> title</h2>"), "*A bold title*");
  });

  it("writes code blocks between triple backticks, escaped and unformatted", () => {
    assert.equal(
      slack('<pre><code class="language-js">if (a &lt; b) {\n  *x* = 1;\n}\n</code></pre>'),
      "```if (a &lt; b) {\n  *x* = 1;\n}```",
    );
    assert.equal(slack("<p>see</p><pre><code>x</code></pre><p>then</p>"), "see\n```x```\nthen");
  });

  it("prefixes quote lines with >", () => {
    assert.equal(slack("<blockquote>quoted<br>two</blockquote>after"), "> quoted\n> two\nafter");
    assert.equal(slack("<blockquote><p>a</p><p>b</p></blockquote>"), "> a\n>\n> b");
  });

  it("writes lists with Slack's bullets, nested by four spaces", () => {
    assert.equal(slack("<ul><li>a</li><li>b</li></ul>"), "• a\n• b");
    assert.equal(
      slack("<ul><li>a<ul><li>b<ul><li>c</li></ul></li></ul></li><li>d</li></ul>"),
      "• a\n    ◦ b\n        ▪ c\n• d",
    );
    assert.equal(slack("<ol><li>one</li><li>two</li></ol>"), "1. one\n2. two");
    assert.equal(slack('<ol start="7"><li>seven</li></ol>'), "7. seven");
    assert.equal(slack("<ul><li><p>loose</p></li><li><b>item</b></li></ul>"), "• loose\n• *item*");
  });

  it("writes tables as one line per row", () => {
    assert.equal(
      slack("<table><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>2</td></tr></table>"),
      "a | b\n1 | 2",
    );
  });

  it("writes images as their alt text and a rule as ---", () => {
    assert.equal(slack('<img src="mxc://x/y" alt="cat">'), "cat");
    assert.equal(slack("a<hr>b"), "a\n---\nb");
  });

  it("drops rich-reply fallbacks", () => {
    assert.equal(
      slack("<mx-reply><blockquote><a>In reply to</a> old <b>text</b></blockquote></mx-reply>new"),
      "new",
    );
  });

  it("drops scripts and styles with their content", () => {
    assert.equal(slack("<script>alert(1)</script><style>b{}</style>ok"), "ok");
  });

  it("falls back to the escaped plain text when the html shows nothing", () => {
    assert.equal(matrixToSlack({ text: "a < b", html: "<p> </p>" }, []), "a &lt; b");
  });
});

describe("matrixToSlack: links", () => {
  it("writes <url|label>", () => {
    assert.equal(
      slack('see <a href="https://example.com/docs">the docs</a>'),
      "see <https://example.com/docs|the docs>",
    );
  });

  it("writes a bare <url> when the label is the URL", () => {
    assert.equal(slack('<a href="https://example.com">https://example.com</a>'), "<https://example.com>");
    assert.equal(slack('<a href="https://example.com/">example.com</a>'), "<https://example.com/>");
    assert.equal(slack('<a href="https://example.com"></a>'), "<https://example.com>");
  });

  it("keeps the address as the label of a mailto link", () => {
    assert.equal(
      slack('<a href="mailto:bob@example.com">bob@example.com</a>'),
      "<mailto:bob@example.com|bob@example.com>",
    );
  });

  it("escapes the URL and the label so neither can end the token", () => {
    assert.equal(
      slack('<a href="https://x.com/?a=1&amp;b=2">q &amp; a</a>'),
      "<https://x.com/?a=1&amp;b=2|q &amp; a>",
    );
    assert.equal(
      slack('<a href="https://x.com/a|b&gt;c">x|&lt;!channel&gt;</a>'),
      "<https://x.com/a%7Cb%3Ec|x|&lt;!channel&gt;>",
    );
  });

  it("drops links with schemes Matrix does not allow, keeping the text", () => {
    assert.equal(slack('<a href="javascript:alert(1)">click</a>'), "click");
  });

  it("writes room links as their text", () => {
    assert.equal(
      slack('<a href="https://matrix.to/#/#room:example.org">#room:example.org</a>'),
      "#room:example.org",
    );
  });
});

describe("matrixToSlack: mentions", () => {
  it("turns a pill to a mentioned ghost into <@U…>", () => {
    assert.equal(slack(`${pill(ghostId("U1"), "Alice")}: hi`), "<@U1>: hi");
  });

  it("matches by the ghost's localpart even when the pill shows another name", () => {
    assert.equal(slack(pill(ghostId("U1"), "Alice (Slack)")), "<@U1>");
  });

  it("matches localparts escaped by the framework and ids without a team", () => {
    assert.equal(slack(pill("@slack__t1=2f_u1:example.org", "A")), "<@U1>");
    assert.equal(
      slack(pill("@slack_u7:example.org", "x"), [{ remoteUserId: "U7", displayname: "Seven" }]),
      "<@U7>",
    );
  });

  it("never lets a shorter id claim a longer one's pill", () => {
    const mentions = [
      { remoteUserId: "T1/U56", displayname: "Short" },
      { remoteUserId: "T1/U456", displayname: "Long" },
    ];
    assert.equal(slack(pill(ghostId("U456"), "Long"), mentions), "<@U456>");
    assert.equal(slack(pill(ghostId("U56"), "Short"), mentions), "<@U56>");
    assert.equal(slack(pill(ghostId("U456"), "Long"), [mentions[0] as SlackMention]), "Long");
  });

  it("falls back to the display name when the localpart says nothing", () => {
    assert.equal(slack(pill("@someone:example.org", "Alice")), "<@U1>");
  });

  it("writes pills to anyone else as their escaped text", () => {
    assert.equal(slack(pill("@bob:example.org", "Bob &lt;!channel&gt;")), "Bob &lt;!channel&gt;");
    assert.equal(slack(pill("@bob:example.org", "Bob"), []), "Bob");
  });

  it("never writes a remote id that is not a Slack id", () => {
    const forged = [{ remoteUserId: "T1/U1> <!channel", displayname: "Alice" }];
    assert.equal(slack(pill("@x:example.org", "Alice"), forged), "Alice");
  });

  it("treats mention syntax typed as text as text", () => {
    assert.equal(
      slack("<p>&lt;@U1&gt; &lt;!channel&gt; &lt;!subteam^S1|@devs&gt;</p>"),
      "&lt;@U1&gt; &lt;!channel&gt; &lt;!subteam^S1|@devs&gt;",
    );
  });
});

describe("matrixToSlack: robustness", () => {
  it("never lets random text produce a Slack token", () => {
    const random = seededRandom(7);
    const alphabet = [
      "<",
      ">",
      "&",
      "!",
      "@",
      "#",
      "|",
      "channel",
      "U1",
      "lt;",
      "gt;",
      "amp;",
      " ",
      "\n",
      "*",
    ];
    for (let i = 0; i < 2000; i++) {
      const text = randomString(random, alphabet, 1 + Math.floor(random() * 16));
      const escapedHtml = text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
      for (const out of [matrixToSlack({ text }, [ALICE]), slack(`<b>${escapedHtml}</b>`)]) {
        assert.ok(!/[<>]/.test(out), `${JSON.stringify(text)} → ${JSON.stringify(out)}`);
        assert.ok(!/&(?!amp;|lt;|gt;)/.test(out), `${JSON.stringify(text)} → ${JSON.stringify(out)}`);
      }
    }
  });
});
