import { test } from "node:test";
import assert from "node:assert/strict";
import { quoteForRemote, stripReplyFallback } from "./reply.js";

// Shaped like the fallbacks Element and the spec (rich replies, up to v1.12) produce.
const FALLBACK_BODY =
  "> <@alice:example.org> This is the original body\n> with a second line\n\nThis is where the reply goes";
const FALLBACK_HTML =
  "<mx-reply><blockquote>" +
  '<a href="https://matrix.to/#/!somewhere:example.org/$event:example.org">In reply to</a> ' +
  '<a href="https://matrix.to/#/@alice:example.org">@alice:example.org</a><br />' +
  "This is the <b>original</b> body<br />with a second line" +
  "</blockquote></mx-reply>" +
  "This is where the <i>reply</i> goes";

test("strips a real-shaped reply fallback from body and HTML", () => {
  assert.deepEqual(stripReplyFallback(FALLBACK_BODY, FALLBACK_HTML), {
    body: "This is where the reply goes",
    html: "This is where the <i>reply</i> goes",
  });
  assert.deepEqual(stripReplyFallback(FALLBACK_BODY), { body: "This is where the reply goes" });
});

test("emote fallbacks, empty quoted lines and multi-line replies", () => {
  assert.equal(stripReplyFallback("> * <@bob:x> waves\n\nhi back").body, "hi back");
  assert.equal(
    stripReplyFallback("> <@bob:x> para 1\n>\n> para 2\n\nline 1\n\nline 3").body,
    "line 1\n\nline 3",
  );
  assert.equal(stripReplyFallback("> <@bob:x> only a quote").body, "");
});

test("a body that merely starts with a quote is left alone", () => {
  const body = "> to be or not to be\n\nthat is the question";
  assert.equal(stripReplyFallback(body).body, body);
  assert.equal(stripReplyFallback("no fallback\n> here").body, "no fallback\n> here");
});

test("HTML stripping keeps the rest byte for byte and handles odd markup", () => {
  assert.equal(
    stripReplyFallback("", "<p>no fallback &amp; <b>bold</b></p>").html,
    "<p>no fallback &amp; <b>bold</b></p>",
  );
  assert.equal(
    stripReplyFallback("", "<MX-REPLY><blockquote>q</blockquote></MX-REPLY><p>a</p>").html,
    "<p>a</p>",
  );
  assert.equal(stripReplyFallback("", "<mx-reply>a<mx-reply>b</mx-reply>c</mx-reply>rest").html, "rest");
  assert.equal(stripReplyFallback("", "before<mx-reply>never closed <b>x").html, "before");
  assert.equal(stripReplyFallback("", "<div><mx-reply>q</div>after").html, "<div></div>after");
  assert.equal(stripReplyFallback("", "<mx-reply>1</mx-reply>a<mx-reply>2</mx-reply>b").html, "ab");
});

test("quoteForRemote gives one short line", () => {
  assert.equal(quoteForRemote("alice", "hello there"), "> <alice> hello there");
  assert.equal(quoteForRemote("alice", "  multi\nline\n\n  text "), "> <alice> multi line text");
  assert.equal(quoteForRemote("alice", ""), "> <alice>");
  assert.equal(quoteForRemote("bob", FALLBACK_BODY), "> <bob> This is where the reply goes");
});

test("quoteForRemote truncates at maxChars with an ellipsis, on grapheme and word boundaries", () => {
  const long = "The quick brown fox jumps over the lazy dog ".repeat(5);
  const quote = quoteForRemote("alice", long);
  const text = quote.slice("> <alice> ".length);
  assert.ok(text.endsWith("…"));
  assert.ok([...text].length <= 80, `${[...text].length} chars`);
  assert.ok(!/ …$/.test(text));
  assert.equal(quoteForRemote("a", "abcdefghij", 5), "> <a> abcd…");
  assert.equal(quoteForRemote("a", "abcdefghij", 10), "> <a> abcdefghij");
  assert.equal(quoteForRemote("a", "hello wonderful world", 16), "> <a> hello wonderful…");
  // A family emoji (one grapheme, several code points) is never cut in half.
  const family = "👨‍👩‍👧‍👦";
  assert.equal(quoteForRemote("a", family.repeat(5), 3), `> <a> ${family.repeat(2)}…`);
  assert.equal(quoteForRemote("a", "abc", 0), "> <a> …");
});
