import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { contentToDiscord, discordToContent, escapeDiscord, ghostDiscordId, type PillFor } from "./format.js";

const ALICE = "123456789012345678";
const BOB = "223456789012345678";
const STRANGER = "999999999999999999";
const ZWSP = "\u200b";

const pillFor: PillFor = (id, name) => `<a href="https://matrix.to/#/@discord_${id}:example.org">${name}</a>`;
const NAMES = new Map([
  [ALICE, "Alice"],
  [BOB, "Bob <b>&"],
]);

function fromDiscord(text: string): { text: string; html?: string } {
  return discordToContent(text, NAMES, pillFor);
}

function toDiscord(html: string): { text: string; userMentions: string[] } {
  return contentToDiscord({ text: "fallback", html }, "discord_");
}

function ghostPill(id: string, name: string, server = "example.org"): string {
  return `<a href="https://matrix.to/#/@discord_${id}:${server}">${name}</a>`;
}

describe("discordToContent: formatting", () => {
  it("maps inline markdown to HTML and keeps Discord's text as the plain body", () => {
    assert.deepEqual(fromDiscord("**b** *i* _i_ ~~s~~ `c`"), {
      text: "**b** *i* _i_ ~~s~~ `c`",
      html: "<strong>b</strong> <em>i</em> <em>i</em> <del>s</del> <code>c</code>",
    });
    assert.equal(fromDiscord("***bi***").html, "<strong><em>bi</em></strong>");
    assert.equal(fromDiscord("~~**x**~~").html, "<del><strong>x</strong></del>");
  });

  it("reads __underline__ as underline (Discord's markdown), not bold, and writes it back so", () => {
    assert.equal(fromDiscord("__u__ **b** ___ui___").html, "<u>u</u> <strong>b</strong> <u><em>ui</em></u>");
    assert.equal(toDiscord("<u>u</u> <strong>b</strong>").text, "__u__ **b**");
    assert.equal(toDiscord("snake_case <u>under_line</u>").text, "snake\\_case __under\\_line__");
  });

  it("renders fenced code blocks verbatim, escaped, with their language", () => {
    assert.deepEqual(fromDiscord("```js\nif (a < b && c) **x**\n```"), {
      text: "```js\nif (a < b && c) **x**\n```",
      html: '<pre><code class="language-js">if (a &lt; b &amp;&amp; c) **x**\n</code></pre>',
    });
  });

  it("renders quotes, lists and line breaks", () => {
    assert.equal(fromDiscord("> quoted\nreply").html, "<blockquote>quoted</blockquote><p>reply</p>");
    assert.equal(fromDiscord("- a\n- b").html, "<ul><li>a</li><li>b</li></ul>");
    assert.equal(fromDiscord("line\n**b**").html, "line<br /><strong>b</strong>");
  });

  it("renders links and autolinks, not javascript: ones", () => {
    assert.equal(
      fromDiscord("[docs](https://example.org/d) <https://example.org>").html,
      '<a href="https://example.org/d">docs</a> <a href="https://example.org">https://example.org</a>',
    );
    assert.deepEqual(fromDiscord("[x](javascript:alert(1))"), { text: "[x](javascript:alert(1))" });
  });

  it("gives no HTML for text without markup, line breaks included", () => {
    assert.deepEqual(fromDiscord("just words"), { text: "just words" });
    assert.deepEqual(fromDiscord("two\nlines"), { text: "two\nlines" });
    assert.deepEqual(fromDiscord("a || b"), { text: "a || b" });
  });
});

describe("discordToContent: spoilers", () => {
  it("turns ||spoilers|| into data-mx-spoiler spans, formatting inside kept", () => {
    assert.deepEqual(fromDiscord("||secret|| and ||a **b**||"), {
      text: "secret and a **b**",
      html: "<span data-mx-spoiler>secret</span> and <span data-mx-spoiler>a <strong>b</strong></span>",
    });
    assert.equal(
      fromDiscord("[||x||](https://example.org)").html,
      '<a href="https://example.org"><span data-mx-spoiler>x</span></a>',
    );
  });

  it("keeps the bars where no spoiler is: empty, unclosed, inside code or a URL", () => {
    assert.deepEqual(fromDiscord("||||"), { text: "||||" });
    assert.deepEqual(fromDiscord("true||false"), { text: "true||false" });
    assert.equal(fromDiscord("`a||b||c`").html, "<code>a||b||c</code>");
    assert.equal(fromDiscord("```\n||x||\n```").html, "<pre><code>||x||\n</code></pre>");
    assert.equal(
      fromDiscord("[x](https://example.org/||a||)").html,
      '<a href="https://example.org/||a||">x</a>',
    );
  });

  it("never emits mis-nested or stray spoiler tags", () => {
    assert.equal(fromDiscord("||**a||**").html, "||<strong>a||</strong>");
    assert.equal(fromDiscord("||a\n\n> b||").html, "<p>||a</p><blockquote>b||</blockquote>");
    assert.equal(fromDiscord("||a `b|| c`").html, "||a <code>b|| c</code>");
    // The private-use characters that stand in for the bars cannot be typed in.
    assert.deepEqual(fromDiscord("\uE001oops\uE000"), { text: "oops" });
  });
});

describe("discordToContent: mentions", () => {
  it("turns <@id> and <@!id> of known users into pills from pillFor", () => {
    assert.deepEqual(fromDiscord(`hi <@${ALICE}> and <@!${ALICE}>`), {
      text: "hi Alice and Alice",
      html: `hi ${ghostPill(ALICE, "Alice")} and ${ghostPill(ALICE, "Alice")}`,
    });
  });

  it("escapes the display name in the pill", () => {
    assert.deepEqual(fromDiscord(`<@${BOB}>`), {
      text: "Bob <b>&",
      html: ghostPill(BOB, "Bob &lt;b&gt;&amp;"),
    });
  });

  it("leaves unknown ids and malformed mentions as text", () => {
    assert.deepEqual(fromDiscord(`<@${STRANGER}>`), { text: `@${STRANGER}` });
    assert.equal(fromDiscord(`**<@${STRANGER}>**`).html, `<strong>&lt;@${STRANGER}&gt;</strong>`);
    assert.deepEqual(fromDiscord("<@123>"), { text: "<@123>" });
  });

  it("pills inside spoilers, not inside code", () => {
    assert.equal(
      fromDiscord(`||<@${ALICE}>||`).html,
      `<span data-mx-spoiler>${ghostPill(ALICE, "Alice")}</span>`,
    );
    assert.equal(fromDiscord(`\`<@${ALICE}>\` *x*`).html, `<code>&lt;@${ALICE}&gt;</code> <em>x</em>`);
  });
});

describe("discordToContent: no HTML injection", () => {
  it("escapes HTML typed in Discord", () => {
    assert.deepEqual(fromDiscord("<script>alert(1)</script>"), { text: "<script>alert(1)</script>" });
    assert.deepEqual(fromDiscord('<img src=x onerror="alert(1)">'), {
      text: '<img src=x onerror="alert(1)">',
    });
    assert.equal(
      fromDiscord("**<script>x</script>**").html,
      "<strong>&lt;script&gt;x&lt;/script&gt;</strong>",
    );
    assert.equal(
      fromDiscord("*<img src=x onerror=alert(1)>*").html,
      "<em>&lt;img src=x onerror=alert(1)&gt;</em>",
    );
    assert.equal(fromDiscord("||<b>x</b>||").html, "<span data-mx-spoiler>&lt;b&gt;x&lt;/b&gt;</span>");
  });
});

describe("contentToDiscord", () => {
  it("maps formatting to Discord markdown", () => {
    assert.deepEqual(toDiscord("<b>b</b> <i>i</i> <del>s</del> <code>c</code>"), {
      text: "**b** *i* ~~s~~ `c`",
      userMentions: [],
    });
    assert.equal(toDiscord('<pre><code class="language-ts">a &lt; 2</code></pre>').text, "```ts\na < 2\n```");
    assert.equal(toDiscord("<blockquote><p>a</p><p>b</p></blockquote>").text, "> a\n>\n> b");
    assert.equal(toDiscord('<a href="https://example.org">link</a>').text, "[link](https://example.org)");
  });

  it("turns pills to ghosts into <@id>, each listed once in userMentions", () => {
    assert.deepEqual(
      toDiscord(`${ghostPill(ALICE, "Alice")}, ${ghostPill(ALICE, "Al")} and ${ghostPill(BOB, "B", "hs")}`),
      { text: `<@${ALICE}>, <@${ALICE}> and <@${BOB}>`, userMentions: [ALICE, BOB] },
    );
    assert.deepEqual(toDiscord(`<a href="matrix:u/discord_${ALICE}:example.org">X</a>`), {
      text: `<@${ALICE}>`,
      userMentions: [ALICE],
    });
  });

  it("writes pills to other Matrix users as their escaped name", () => {
    assert.deepEqual(toDiscord('<a href="https://matrix.to/#/@bob:example.org">*Bob*_x</a>: hi'), {
      text: "\\*Bob\\*\\_x: hi",
      userMentions: [],
    });
    assert.deepEqual(
      toDiscord(
        `<a href="https://matrix.to/#/@discord_123:example.org">short</a> <a href="https://matrix.to/#/@telegram_${ALICE}:example.org">T</a>`,
      ),
      { text: "short T", userMentions: [] },
    );
  });

  it("turns spoilers into ||…||", () => {
    assert.equal(toDiscord("<span data-mx-spoiler>s <b>x</b></span>").text, "||s **x**||");
    assert.equal(
      toDiscord('ending: <span data-mx-spoiler="plot">he dies</span>.').text,
      "ending: ||he dies||.",
    );
  });

  it("neutralises @everyone and @here, in text, formatting, code and pill names", () => {
    assert.equal(
      toDiscord("@everyone @here @everyones @hereafter").text,
      `@${ZWSP}everyone @${ZWSP}here @${ZWSP}everyones @${ZWSP}hereafter`,
    );
    assert.equal(toDiscord("<b>@everyone</b>").text, `**@${ZWSP}everyone**`);
    assert.equal(toDiscord("<pre><code>@here</code></pre>").text, `\`\`\`\n@${ZWSP}here\n\`\`\``);
    assert.equal(
      toDiscord('<a href="https://matrix.to/#/@bob:example.org">@everyone</a>').text,
      `@${ZWSP}everyone`,
    );
  });

  it("escapes markdown in HTML text so it shows literally", () => {
    assert.equal(
      toDiscord(`x * y _z_ ||s|| <@${ALICE}>`).text,
      `x \\* y \\_z\\_ \\|\\|s\\|\\| \\<@${ALICE}>`,
    );
  });

  it("escapes plain text (no HTML) the same way, broadcasts neutralised", () => {
    assert.deepEqual(
      contentToDiscord({ text: `*b* _i_ \`c\` ~~s~~ ||x|| <@${ALICE}> @everyone` }, "discord_"),
      {
        text: `\\*b\\* \\_i\\_ \\\`c\\\` \\~\\~s\\~\\~ \\|\\|x\\|\\| \\<@${ALICE}> @${ZWSP}everyone`,
        userMentions: [],
      },
    );
  });
});

describe("escapeDiscord", () => {
  it("escapes inline markdown and mention syntax", () => {
    assert.equal(escapeDiscord("2*3 a_b [x](y) \\"), "2\\*3 a\\_b \\[x\\](y) \\\\");
    assert.equal(escapeDiscord(`<@${ALICE}> <#1> <:e:1>`), `\\<@${ALICE}> \\<#1> \\<:e:1>`);
  });

  it("escapes what would start a block at the start of any line", () => {
    assert.equal(
      escapeDiscord("# h\n> q\n- l\n  -# sub\n1. n\n10) m"),
      "\\# h\n\\> q\n\\- l\n  \\-# sub\n1\\. n\n10\\) m",
    );
    assert.equal(escapeDiscord("a - b > c # d 1. e"), "a - b > c # d 1. e");
  });

  it("leaves bare URLs alone so Discord still links them", () => {
    assert.equal(
      escapeDiscord("see https://example.org/a_b_c for snake_case"),
      "see https://example.org/a_b_c for snake\\_case",
    );
  });

  it("neutralises broadcasts", () => {
    assert.equal(escapeDiscord("@here and @everyone!"), `@${ZWSP}here and @${ZWSP}everyone!`);
  });

  it("leaves plain words unchanged", () => {
    assert.equal(escapeDiscord("hello there, 3 > 2"), "hello there, 3 > 2");
  });
});

describe("ghostDiscordId", () => {
  it("gives the snowflake of a ghost with the prefix", () => {
    assert.equal(ghostDiscordId(`@discord_${ALICE}:example.org`, "discord_"), ALICE);
    assert.equal(ghostDiscordId("@discord_12345678901234567:hs", "discord_"), "12345678901234567");
    assert.equal(ghostDiscordId("@discord_12345678901234567890:hs", "discord_"), "12345678901234567890");
    assert.equal(ghostDiscordId(`@discord_${ALICE}:example.org:8448`, "discord_"), ALICE);
    assert.equal(ghostDiscordId(`@d_${ALICE}:hs`, "d_"), ALICE);
  });

  it("is null for other users and ids that are not snowflakes", () => {
    for (const mxid of [
      "@discord_123:hs",
      "@discord_1234567890123456:hs",
      "@discord_123456789012345678901:hs",
      `@discord_${ALICE}x:hs`,
      `@discord_x${ALICE}:hs`,
      `@other_${ALICE}:hs`,
      `@discord_${ALICE}`,
      `discord_${ALICE}:hs`,
      "@discord_:hs",
    ]) {
      assert.equal(ghostDiscordId(mxid, "discord_"), null, mxid);
    }
  });
});

it("channel and role mentions and custom emoji read as names; unknown ids stay as written", () => {
  const out = discordToContent(
    "see <#11111111111111111> with <@&22222222222222222>, not <#99999999999999999> <:party:33333333333333333>",
    NAMES,
    pillFor,
    {
      channels: new Map([["11111111111111111", "general"]]),
      roles: new Map([["22222222222222222", "mods"]]),
    },
  );
  assert.equal(out.text, "see #general with @mods, not <#99999999999999999> :party:");
});
