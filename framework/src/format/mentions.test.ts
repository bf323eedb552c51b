import { test } from "node:test";
import assert from "node:assert/strict";
import { htmlToPlain } from "./html-to-text.js";
import { parsePills, pill, userMentionsContent } from "./mentions.js";
import { sanitizeMatrixHtml } from "./sanitize.js";

test("pill builds an escaped matrix.to link", () => {
  assert.equal(
    pill("@alice:example.org", "Alice"),
    '<a href="https://matrix.to/#/@alice:example.org">Alice</a>',
  );
  assert.equal(
    pill("@bob:example.org", '<b>Bob</b> & "co"'),
    '<a href="https://matrix.to/#/@bob:example.org">&lt;b&gt;Bob&lt;/b&gt; &amp; "co"</a>',
  );
  assert.equal(
    pill("@x/y?z:example.org", ""),
    '<a href="https://matrix.to/#/@x%2Fy%3Fz:example.org">@x/y?z:example.org</a>',
  );
  const html = pill('@weird"id:example.org', "W");
  assert.equal(sanitizeMatrixHtml(html), html, "a pill survives sanitizing unchanged");
});

test("pills round-trip through parsePills and htmlToPlain", () => {
  const users: Array<[string, string]> = [
    ["@alice:example.org", "Alice"],
    ["@x/y?z#w:example.org", "Odd <one> & co"],
    ["@ipv6:[::1]:8448", "Six"],
  ];
  const html = users.map(([id, name]) => pill(id, name)).join(" and ");
  assert.deepEqual(
    parsePills(html),
    users.map(([userId, text]) => ({ userId, text })),
  );
  assert.equal(htmlToPlain(html, { mentionToText: (id) => id }), users.map(([id]) => id).join(" and "));
});

test("parsePills reads matrix.to and matrix: URIs, ignoring other links and reply fallbacks", () => {
  const html =
    '<mx-reply><blockquote><a href="https://matrix.to/#/!r:x/$e">In reply to</a> <a href="https://matrix.to/#/@quoted:x">@quoted:x</a></blockquote></mx-reply>' +
    'hi <a href="matrix:u/bob:example.org?action=chat">Bob</a>, <a href="https://matrix.to/#/%40carol%3Aexample.org"> <b>Carol</b>  C </a>, ' +
    '<a href="https://matrix.to/#/#room:x">#room</a> <a href="https://example.org">site</a> <a href="javascript:x">@evil:x</a>';
  assert.deepEqual(parsePills(html), [
    { userId: "@bob:example.org", text: "Bob" },
    { userId: "@carol:example.org", text: "Carol C" },
  ]);
  assert.deepEqual(parsePills("no pills <b>here</b>"), []);
  assert.deepEqual(parsePills('<a href="https://matrix.to/#/@unclosed:x">x'), [
    { userId: "@unclosed:x", text: "x" },
  ]);
});

test("userMentionsContent builds the m.mentions fragment", () => {
  assert.deepEqual(userMentionsContent(["@a:x", "@b:x", "@a:x"]), {
    "m.mentions": { user_ids: ["@a:x", "@b:x"] },
  });
  assert.deepEqual(userMentionsContent([]), { "m.mentions": { user_ids: [] } });
  assert.deepEqual(userMentionsContent(["@a:x"], { room: true }), {
    "m.mentions": { user_ids: ["@a:x"], room: true },
  });
});
