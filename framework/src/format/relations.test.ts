import { test } from "node:test";
import assert from "node:assert/strict";
import type { MatrixMessageContent } from "./content.js";
import { editContent, reactionContent, readRelation, replyContent, threadContent } from "./relations.js";

const text = (body: string): MatrixMessageContent => ({ msgtype: "m.text", body });

test("reads a reply", () => {
  const content = { ...text("yes"), "m.relates_to": { "m.in_reply_to": { event_id: "$orig" } } };
  assert.deepEqual(readRelation(content), { kind: "reply", eventId: "$orig" });
  // m.in_reply_to next to a rel_type we do not handle is still a reply.
  const reference = {
    "m.relates_to": { rel_type: "m.reference", event_id: "$x", "m.in_reply_to": { event_id: "$r" } },
  };
  assert.deepEqual(readRelation(reference), { kind: "reply", eventId: "$r" });
  assert.equal(readRelation({ "m.relates_to": { rel_type: "m.reference", event_id: "$x" } }), null);
});

test("reads an edit with its new content", () => {
  const content = {
    msgtype: "m.text",
    body: "* fixed",
    "m.new_content": { msgtype: "m.text", body: "fixed" },
    "m.relates_to": { rel_type: "m.replace", event_id: "$orig" },
  };
  assert.deepEqual(readRelation(content), {
    kind: "edit",
    eventId: "$orig",
    newContent: { msgtype: "m.text", body: "fixed" },
  });
});

test("reads threads, falling back or not", () => {
  const fallback = {
    "m.relates_to": {
      rel_type: "m.thread",
      event_id: "$root",
      is_falling_back: true,
      "m.in_reply_to": { event_id: "$latest" },
    },
  };
  assert.deepEqual(readRelation(fallback), {
    kind: "thread",
    rootId: "$root",
    replyToId: "$latest",
    isFallingBack: true,
  });
  const real = {
    "m.relates_to": { rel_type: "m.thread", event_id: "$root", "m.in_reply_to": { event_id: "$msg" } },
  };
  assert.deepEqual(readRelation(real), {
    kind: "thread",
    rootId: "$root",
    replyToId: "$msg",
    isFallingBack: false,
  });
  assert.deepEqual(readRelation({ "m.relates_to": { rel_type: "m.thread", event_id: "$root" } }), {
    kind: "thread",
    rootId: "$root",
    isFallingBack: false,
  });
});

test("reads a reaction (spec example)", () => {
  const example = { "m.relates_to": { rel_type: "m.annotation", event_id: "$some_event_id", key: "👍" } };
  assert.deepEqual(readRelation(example), { kind: "annotation", eventId: "$some_event_id", key: "👍" });
});

test("an image reaction (MSC4027) carries its shortcode both ways; a plain one ignores a stray shortcode", () => {
  const content = reactionContent("$c", ":partyblob:", "mxc://hs/emoji1");
  assert.deepEqual(content, {
    "m.relates_to": { rel_type: "m.annotation", event_id: "$c", key: "mxc://hs/emoji1" },
    "com.beeper.reaction.shortcode": ":partyblob:",
  });
  assert.deepEqual(readRelation(content), {
    kind: "annotation",
    eventId: "$c",
    key: "mxc://hs/emoji1",
    shortcode: ":partyblob:",
  });
  assert.deepEqual(
    readRelation({ ...reactionContent("$c", "👍"), "com.beeper.reaction.shortcode": ":thumbsup:" }),
    { kind: "annotation", eventId: "$c", key: "👍" },
  );
});

test("builders round-trip through readRelation", () => {
  assert.deepEqual(readRelation({ ...text("r"), ...replyContent("$a") }), { kind: "reply", eventId: "$a" });
  assert.deepEqual(readRelation(editContent("$b", text("new"))), {
    kind: "edit",
    eventId: "$b",
    newContent: text("new"),
  });
  assert.deepEqual(readRelation({ ...text("t"), ...threadContent("$root", "$latest") }), {
    kind: "thread",
    rootId: "$root",
    replyToId: "$latest",
    isFallingBack: true,
  });
  assert.deepEqual(
    readRelation({ ...text("t"), ...threadContent("$root", "$latest", { replyToId: "$msg" }) }),
    {
      kind: "thread",
      rootId: "$root",
      replyToId: "$msg",
      isFallingBack: false,
    },
  );
  assert.deepEqual(readRelation(reactionContent("$c", "🎉")), {
    kind: "annotation",
    eventId: "$c",
    key: "🎉",
  });
});

test("builders produce the spec shapes", () => {
  assert.deepEqual(replyContent("$a"), { "m.relates_to": { "m.in_reply_to": { event_id: "$a" } } });
  assert.deepEqual(threadContent("$root", "$latest"), {
    "m.relates_to": {
      rel_type: "m.thread",
      event_id: "$root",
      is_falling_back: true,
      "m.in_reply_to": { event_id: "$latest" },
    },
  });
  assert.deepEqual(reactionContent("$c", "👍"), {
    "m.relates_to": { rel_type: "m.annotation", event_id: "$c", key: "👍" },
  });
});

test("editContent: * fallback, clean m.new_content, mentions only for new users", () => {
  const newContent: MatrixMessageContent = {
    msgtype: "m.text",
    body: "hi Bob",
    format: "org.matrix.custom.html",
    formatted_body: "hi <b>Bob</b>",
    "m.mentions": { user_ids: ["@alice:x", "@bob:x"] },
    "m.relates_to": { "m.in_reply_to": { event_id: "$stale" } },
  };
  const edit = editContent("$orig", newContent, { previousMentions: { user_ids: ["@alice:x"] } });
  assert.deepEqual(edit, {
    msgtype: "m.text",
    body: "* hi Bob",
    format: "org.matrix.custom.html",
    formatted_body: "* hi <b>Bob</b>",
    "m.mentions": { user_ids: ["@bob:x"] },
    "m.new_content": {
      msgtype: "m.text",
      body: "hi Bob",
      format: "org.matrix.custom.html",
      formatted_body: "hi <b>Bob</b>",
      "m.mentions": { user_ids: ["@alice:x", "@bob:x"] },
    },
    "m.relates_to": { rel_type: "m.replace", event_id: "$orig" },
  });
  assert.equal(newContent.body, "hi Bob", "the input is not modified");
  assert.deepEqual(editContent("$o", { ...text("x"), "m.mentions": { room: true } })["m.mentions"], {
    user_ids: [],
    room: true,
  });
  assert.equal(editContent("$o", text("x"))["m.mentions"], undefined);
});

test("malformed content gives null, never an exception", () => {
  const malformed: unknown[] = [
    undefined,
    null,
    42,
    "m.relates_to",
    [],
    [{ "m.relates_to": { "m.in_reply_to": { event_id: "$a" } } }],
    {},
    { "m.relates_to": null },
    { "m.relates_to": 7 },
    { "m.relates_to": "$a" },
    { "m.relates_to": [] },
    { "m.relates_to": { "m.in_reply_to": "$a" } },
    { "m.relates_to": { "m.in_reply_to": { event_id: 5 } } },
    { "m.relates_to": { "m.in_reply_to": { event_id: "" } } },
    { "m.relates_to": { "m.in_reply_to": null } },
    { "m.relates_to": { rel_type: 5, event_id: "$a" } },
    { "m.relates_to": { rel_type: "m.replace", event_id: "$a" } },
    { "m.relates_to": { rel_type: "m.replace", event_id: "$a" }, "m.new_content": "text" },
    {
      "m.relates_to": { rel_type: "m.replace", event_id: "$a" },
      "m.new_content": { msgtype: "m.text", body: 1 },
    },
    {
      "m.relates_to": { rel_type: "m.replace", event_id: "$a" },
      "m.new_content": { msgtype: "m.text", body: "x", formatted_body: {} },
    },
    {
      "m.relates_to": { rel_type: "m.replace", event_id: ["$a"] },
      "m.new_content": { msgtype: "m.text", body: "x" },
    },
    { "m.relates_to": { rel_type: "m.thread" } },
    { "m.relates_to": { rel_type: "m.thread", event_id: { id: "$a" } } },
    { "m.relates_to": { rel_type: "m.annotation", event_id: "$a" } },
    { "m.relates_to": { rel_type: "m.annotation", event_id: "$a", key: 1 } },
    { "m.relates_to": { rel_type: "m.annotation", key: "👍" } },
  ];
  for (const content of malformed) {
    assert.doesNotThrow(() => readRelation(content));
    assert.equal(readRelation(content), null, JSON.stringify(content));
  }
  // A malformed optional part degrades instead of failing the whole relation.
  const thread = {
    "m.relates_to": { rel_type: "m.thread", event_id: "$r", is_falling_back: "yes", "m.in_reply_to": 3 },
  };
  assert.deepEqual(readRelation(thread), { kind: "thread", rootId: "$r", isFallingBack: false });
});
