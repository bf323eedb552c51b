import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { format } from "@switchboard/framework";
import { ircToMatrix } from "./irc-to-html.js";
import { randomString, seededRandom } from "./test-helpers.js";

/** Converts and checks the invariant every result must hold: the HTML is already sanitized. */
function convert(
  text: string,
  options: Parameters<typeof ircToMatrix>[1] = {},
): ReturnType<typeof ircToMatrix> {
  const result = ircToMatrix(text, options);
  if (result.html !== undefined) assert.equal(format.sanitizeMatrixHtml(result.html), result.html);
  return result;
}

function html(text: string): string | undefined {
  return convert(text).html;
}

/** The text of HTML as a client shows it (tags dropped, entities decoded). */
function visibleText(markup: string): string {
  return format.htmlToPlain(`<pre>${markup}</pre>`);
}

describe("ircToMatrix: plain text", () => {
  it("has no html without formatting", () => {
    assert.deepEqual(convert("hello world"), { body: "hello world" });
    assert.deepEqual(convert(""), { body: "" });
  });

  it("escapes HTML and keeps the raw text in the body", () => {
    assert.deepEqual(convert("<script>alert(1)</script> & co"), { body: "<script>alert(1)</script> & co" });
    assert.equal(html("\x02<img src=x onerror=alert(1)>\x02"), "<b>&lt;img src=x onerror=alert(1)&gt;</b>");
    assert.equal(html("\x02\"quotes\" & 'apostrophes'"), "<b>\"quotes\" &amp; 'apostrophes'</b>");
  });

  it("drops formatting that shows nothing, and stray control characters", () => {
    assert.deepEqual(convert("\x02\x02a\x0f\x16b\x16"), { body: "ab" });
    assert.deepEqual(convert("a\x01b\x07c\x00d"), { body: "abcd" });
  });
});

describe("ircToMatrix: formatting codes", () => {
  it("converts each toggle", () => {
    assert.equal(html("\x02bold\x02 rest"), "<b>bold</b> rest");
    assert.equal(html("\x1ditalic\x1d"), "<i>italic</i>");
    assert.equal(html("\x1funder\x1f"), "<u>under</u>");
    assert.equal(html("\x1estrike\x1e"), "<del>strike</del>");
    assert.equal(html("\x11mono\x11"), "<code>mono</code>");
  });

  it("ignores reverse video but keeps other formatting", () => {
    assert.equal(html("\x16\x02x"), "<b>x</b>");
  });

  it("closes everything on \\x0F and at the end of the line", () => {
    assert.equal(html("\x02\x1dboth\x0fnone"), "<b><i>both</i></b>none");
    assert.equal(html("\x02\x1funclosed"), "<b><u>unclosed</u></b>");
  });

  it("nests overlapping toggles properly", () => {
    assert.equal(html("\x02a\x1db\x02c\x1d"), "<b>a<i>b</i></b><i>c</i>");
    assert.equal(html("\x02\x1d\x1fabc\x02d"), "<b><i><u>abc</u></i></b><i><u>d</u></i>");
  });

  it("converts colours 0–15, the extended palette and backgrounds", () => {
    assert.equal(html("\x0304red"), '<font data-mx-color="#ff0000">red</font>');
    assert.equal(html("\x034red"), '<font data-mx-color="#ff0000">red</font>');
    assert.equal(html("\x0312,01x"), '<font data-mx-color="#0000fc" data-mx-bg-color="#000000">x</font>');
    assert.equal(html("\x0316dark"), '<font data-mx-color="#470000">dark</font>');
    assert.equal(html("\x0398grey"), '<font data-mx-color="#ffffff">grey</font>');
    assert.equal(html("\x0399,04bg"), '<font data-mx-bg-color="#ff0000">bg</font>');
    assert.deepEqual(convert("\x0399nothing"), { body: "nothing" });
  });

  it("keeps the background when a later code only sets the foreground", () => {
    assert.equal(
      html("\x0304,02a\x0308b\x03c"),
      '<font data-mx-color="#ff0000" data-mx-bg-color="#00007f">a</font>' +
        '<font data-mx-color="#ffff00" data-mx-bg-color="#00007f">b</font>c',
    );
  });

  it("reads digits and commas after a colour code the way mIRC does", () => {
    assert.deepEqual(convert("\x03123 apples"), {
      body: "3 apples",
      html: '<font data-mx-color="#0000fc">3 apples</font>',
    });
    assert.deepEqual(convert("\x0304,x"), { body: ",x", html: '<font data-mx-color="#ff0000">,x</font>' });
    assert.deepEqual(convert("\x03,05text"), { body: ",05text" });
  });

  it("converts hex colours", () => {
    assert.equal(html("\x04FF8800orange"), '<font data-mx-color="#ff8800">orange</font>');
    assert.equal(
      html("\x04ff8800,001122x\x04y"),
      '<font data-mx-color="#ff8800" data-mx-bg-color="#001122">x</font>y',
    );
    assert.deepEqual(convert("\x04zzz"), { body: "zzz" });
  });

  it("combines colours and toggles", () => {
    assert.equal(
      html("\x02\x0304bold red\x02 red"),
      '<font data-mx-color="#ff0000"><b>bold red</b> red</font>',
    );
  });

  it("never throws and always produces sanitized HTML whose text is the body (garbage input)", () => {
    const random = seededRandom(1459);
    const alphabet = [
      ..."\x02\x03\x04\x0f\x11\x16\x1d\x1e\x1f",
      ..."0123456789,,",
      ..."abcdef ",
      "<",
      ">",
      "&",
      '"',
      "'",
      "é",
      "👍",
      "\u00a0",
      "&amp;",
      "\x00",
      "\x01",
    ];
    for (let i = 0; i < 2000; i++) {
      const input = randomString(random, alphabet, Math.floor(random() * 40));
      const result = convert(input);
      // eslint-disable-next-line no-control-regex
      assert.doesNotMatch(result.body, /[\x00-\x08\x0b-\x1f]/);
      if (result.html !== undefined)
        assert.equal(visibleText(result.html), visibleText(format.escapeHtml(result.body)));
    }
  });
});

describe("ircToMatrix: mentions", () => {
  const pills: Record<string, string> = { alice: "@alice:example.org", "[bob]": "@bob:example.org" };
  const mentionHtml = (nick: string): string | null => {
    const userId = pills[nick];
    return userId === undefined ? null : format.pill(userId, nick === "alice" ? "Alice" : nick);
  };

  it("replaces a leading 'nick:' or 'nick,' with the pill in the HTML only", () => {
    assert.deepEqual(convert("alice: hi there", { mentionHtml }), {
      body: "alice: hi there",
      html: '<a href="https://matrix.to/#/@alice:example.org">Alice</a>: hi there',
    });
    assert.equal(
      convert("[bob], <3", { mentionHtml }).html,
      '<a href="https://matrix.to/#/@bob:example.org">[bob]</a>, &lt;3',
    );
    assert.equal(
      convert("alice:", { mentionHtml }).html,
      '<a href="https://matrix.to/#/@alice:example.org">Alice</a>:',
    );
  });

  it("asks for the nick exactly and leaves unknown nicks alone", () => {
    const asked: string[] = [];
    const result = convert("carol: hi", {
      mentionHtml: (nick) => {
        asked.push(nick);
        return null;
      },
    });
    assert.deepEqual(asked, ["carol"]);
    assert.deepEqual(result, { body: "carol: hi" });
  });

  it("only takes an address at the start followed by a space", () => {
    let calls = 0;
    const counting = (nick: string): string | null => {
      calls++;
      return mentionHtml(nick);
    };
    assert.deepEqual(convert("hi alice: there", { mentionHtml: counting }), { body: "hi alice: there" });
    assert.deepEqual(convert("alice:hi", { mentionHtml: counting }), { body: "alice:hi" });
    assert.deepEqual(convert("https://example.org", { mentionHtml: counting }), {
      body: "https://example.org",
    });
    assert.deepEqual(convert("10: ten", { mentionHtml: counting }), { body: "10: ten" });
    assert.equal(calls, 0);
  });

  it("keeps the formatting around a formatted nick", () => {
    assert.equal(
      convert("\x02alice\x02: \x1dhi", { mentionHtml }).html,
      '<b><a href="https://matrix.to/#/@alice:example.org">Alice</a></b>: <i>hi</i>',
    );
    assert.equal(
      convert("\x02ali\x02ce: hi", { mentionHtml }).html,
      '<b><a href="https://matrix.to/#/@alice:example.org">Alice</a></b>: hi',
    );
  });

  it("sanitizes a hostile pill", () => {
    const result = convert("alice: x", {
      mentionHtml: () => '<a href="javascript:alert(1)" onclick="x">A</a><script>1</script>',
    });
    assert.equal(result.html, "<a>A</a>: x");
  });
});
