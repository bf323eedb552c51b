/**
 * What the stores on a database server (PostgreSQL, MongoDB) test alike beside the conformance suite:
 * a harness over one fresh database, and the cases about keeping text a server's types cannot hold,
 * replacing a message's part under races, and closing with operations in flight.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { StoreHarness } from "../conformance.js";
import type { Store } from "../types.js";

/**
 * A harness over one fresh database: `makeStore` gives a new, unopened store on it, `drop` removes the
 * database once the last store handed out is closed.
 */
export async function databaseHarness(
  makeStore: () => Store,
  drop: () => Promise<void>,
): Promise<Required<StoreHarness>> {
  let current = makeStore();
  await current.open();
  return {
    store: current,
    reopen: async () => {
      await current.close();
      current = makeStore();
      await current.open();
      return current;
    },
    cleanup: async () => {
      await current.close();
      await drop();
    },
  };
}

/** Free-form values whose keys and strings a server's own types refuse or change. */
const TRICKY = {
  "\u0000key": [
    "\u0000",
    "\uE000",
    "\uE000\uE001",
    "\uE000\u0000\uE000",
    "\uE000\uF000",
    "\\u0000",
    "\\\u0000",
  ],
  "\uE000": { nested: "a\u0000b", "m.relates_to": { $set: 1, "a.b": 2 } },
  "\ud800": ["x\udc00y", "\ud83d", "😀", "\ud83d\ude00\ud83d", "\\ud800", "\uE000\uF000", "\uF7FF"],
};

/** Registers the shared cases; `onFreshDatabase` opens a store on an empty database of its own. */
export function serverStoreCases(onFreshDatabase: () => Promise<Required<StoreHarness>>): void {
  test("free-form values and kv keys keep U+0000, lone surrogates, U+E000, dots, dollars and look-alike text", async () => {
    const h = await onFreshDatabase();
    try {
      await h.store.kvSet("n\u0000s", "k\ud800", 1);
      assert.deepEqual(await h.store.kvList("n\u0000s", "k"), [{ key: "k\ud800", value: 1 }]);
      await h.store.kvSet("n\u0000s", "k\uE000\u0000", TRICKY);
      await h.store.journalAppend("remote", "t", TRICKY);
      await h.store.messagePut({
        network: "irc",
        channelId: "#c",
        receiver: "",
        remoteId: "m",
        part: 0,
        roomId: "!r:x",
        eventId: "$e",
        sender: "@s:x",
        timestamp: 1.5,
        meta: TRICKY,
      });
      const s = await h.reopen();
      assert.deepEqual(await s.kvGet("n\u0000s", "k\uE000\u0000"), TRICKY);
      assert.deepEqual(await s.kvList("n\u0000s", "k\uE000"), [{ key: "k\uE000\u0000", value: TRICKY }]);
      assert.deepEqual(await s.kvList("n\u0000s", "k\uE000\uE000"), []);
      assert.deepEqual(await s.kvGet("n\u0000s", "k\ud800"), 1);
      assert.deepEqual((await s.journalGet("remote", "t"))?.payload, TRICKY);
      const mapping = await s.messageByEvent("$e");
      assert.deepEqual(mapping?.meta, TRICKY);
      assert.equal(mapping?.timestamp, 1.5, "times are JS numbers, fractions included");
    } finally {
      await h.cleanup();
    }
  });

  test("a remote part mapped by a newer event is replaced, not duplicated; an event moving part moves", async () => {
    const h = await onFreshDatabase();
    try {
      const base = {
        network: "irc",
        channelId: "#c",
        receiver: "",
        remoteId: "m",
        part: 0,
        roomId: "!r:x",
        sender: "@s:x",
        timestamp: 1,
      };
      await h.store.messagePut({ ...base, eventId: "$old" });
      await h.store.messagePut({ ...base, eventId: "$new" });
      assert.deepEqual(
        (await h.store.messageByRemote("irc", "#c", "", "m")).map((m) => m.eventId),
        ["$new"],
      );
      assert.equal(await h.store.messageByEvent("$old"), null);
      await h.store.messagePut({ ...base, eventId: "$new", part: 1 });
      assert.deepEqual(
        (await h.store.messageByRemote("irc", "#c", "", "m")).map((m) => [m.part, m.eventId]),
        [[1, "$new"]],
      );
      const concurrent = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) => h.store.messagePut({ ...base, part: 5, eventId: `$k${i}` })),
      );
      assert.deepEqual(
        concurrent.map((c) => c.status),
        concurrent.map(() => "fulfilled"),
      );
      assert.equal(
        (await h.store.messageByRemote("irc", "#c", "", "m")).filter((m) => m.part === 5).length,
        1,
      );
    } finally {
      await h.cleanup();
    }
  });

  test("close waits for appends and reads in flight; a closed store refuses calls; close is idempotent", async () => {
    const h = await onFreshDatabase();
    try {
      const appends = Array.from({ length: 50 }, (_, i) => h.store.journalAppend("matrix", `k${i}`, i));
      const reads = Array.from({ length: 10 }, () => h.store.linkCount());
      await h.store.close();
      assert.deepEqual(
        await Promise.all(appends),
        appends.map(() => true),
      );
      assert.deepEqual(
        await Promise.all(reads),
        reads.map(() => 0),
      );
      await h.store.close();
      await assert.rejects(h.store.kvGet("ns", "k"), /not open/);
      await assert.rejects(h.store.journalAppend("matrix", "late", null), /not open/);
      const s = await h.reopen();
      assert.equal((await s.journalPending("matrix")).length, 50);
    } finally {
      await h.cleanup();
    }
  });
}
