import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { format } from "@switchboard/framework";
import { matrixToSlack, type SlackMention } from "./html-to-mrkdwn.js";
import { refs, toMatrix } from "./test-helpers.js";

/** What the framework hands the connector for a Matrix message: pills resolved to remote ids. */
function mentionsOf(html: string): SlackMention[] {
  return format.parsePills(html).map((p) => ({
    remoteUserId: `T1/${p.userId.slice(1, p.userId.indexOf(":")).split("_").pop()?.toUpperCase() ?? ""}`,
    displayname: p.text,
  }));
}

function slackToSlack(text: string): string {
  const matrix = toMatrix(text);
  return matrixToSlack(matrix, mentionsOf(matrix.html ?? ""));
}

function matrixToMatrix(html: string): string | undefined {
  return toMatrix(matrixToSlack({ text: "", html }, mentionsOf(html))).html;
}

describe("round trips", () => {
  it("Slack → Matrix → Slack gives back what Slack sent", () => {
    const messages = [
      "*bold* _italic_ ~strike~ `code`",
      "*_both_* and snake_case_name and 2*3*4",
      "hi <@U1>, see <https://example.com/a_b|the docs> or <https://example.com>",
      "a &amp; b &lt;c&gt; &lt;!channel&gt;",
      "• one\n• two\n    ◦ nested\n1. first\n2. second",
      "```const a = 1;\nconst b = a &lt; 2;```",
      "<mailto:bob@example.com|bob@example.com>",
      "line one\nline two",
    ];
    for (const message of messages) assert.equal(slackToSlack(message), message);
  });

  it("keeps quotes as quotes, written with a plain >", () => {
    assert.equal(slackToSlack("&gt; quoted *b*\n&gt; more\nafter"), "> quoted *b*\n> more\nafter");
    assert.equal(slackToSlack("&gt;&gt;&gt; all\nof it"), "> all\n> of it");
  });

  it("writes Slack-only mentions as the text they showed", () => {
    assert.equal(slackToSlack("<#C1> <!here> :tada:"), "#general @here 🎉");
  });

  it("Matrix → Slack → Matrix keeps the formatting", () => {
    const pill = refs.mentionHtml("U1", "Alice");
    const messages = [
      "<strong>bold</strong> <em>italic</em> <del>strike</del> <code>a &lt; b</code>",
      `${pill}: <strong><em>both</em></strong>`,
      '<a href="https://example.com/x_y">label &amp; more</a>',
      "<blockquote>quoted<br />two</blockquote>after",
      "<ul><li>a</li><li>b<ul><li>c</li></ul></li></ul>",
      '<ol start="3"><li>three</li><li>four</li></ol>',
      "<pre><code>if (a &lt; b) *x*;\nnext</code></pre>",
    ];
    for (const html of messages) assert.equal(matrixToMatrix(html), html);
  });

  it("keeps a Matrix user's <!channel> literal on Slack and back", () => {
    const plain = matrixToSlack({ text: "<!channel> & <@U1>" }, []);
    assert.deepEqual(toMatrix(plain), { text: "<!channel> & <@U1>" });
    const html = matrixToSlack({ text: "", html: "&lt;!channel&gt; &lt;script&gt;" }, []);
    assert.deepEqual(toMatrix(html), { text: "<!channel> <script>" });
  });
});
