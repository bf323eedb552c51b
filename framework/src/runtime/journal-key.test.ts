import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Transaction } from "../matrix/appservice.js";
import { journalKey } from "./matrix-in.js";

const txn = (...ids: string[]): Transaction => ({
  events: ids.map((id) => ({
    event_id: id,
    type: "m.room.message",
    room_id: "!r:hs",
    sender: "@a:hs",
    content: {},
  })),
  ephemeral: [],
});

describe("journalKey: transactions deduplicated by what they carry", () => {
  test("a true retry has the same key", () => {
    assert.equal(journalKey("5", txn("$a", "$b")), journalKey("5", txn("$a", "$b")));
  });
  test("a reused id with other events (Synapse on SQLite after a restart) is a new transaction", () => {
    assert.notEqual(journalKey("1", txn("$a")), journalKey("1", txn("$b")));
    assert.notEqual(journalKey("1", txn("$a", "$b")), journalKey("1", txn("$ab")));
  });
  test("the same events under another id are another entry (events are deduplicated by id later)", () => {
    assert.notEqual(journalKey("1", txn("$a")), journalKey("2", txn("$a")));
  });
  test("ephemeral-only transactions differ by content", () => {
    const receipt = (id: string): Transaction => ({
      events: [],
      ephemeral: [{ type: "m.receipt", room_id: "!r:hs", content: { [id]: {} } }],
    });
    assert.notEqual(journalKey("1", receipt("$x")), journalKey("1", receipt("$y")));
  });
});
