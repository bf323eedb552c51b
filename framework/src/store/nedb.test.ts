import assert from "node:assert/strict";
import { copyFile, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, test } from "node:test";
import Datastore from "nedb-promises";
import { storeConformanceSuite } from "./conformance.js";
import type { StoreHarness } from "./conformance.js";
import { NedbStore } from "./nedb.js";
import type { MessageMapping, RoomLink } from "./types.js";

async function onDisk(): Promise<StoreHarness & { directory: string }> {
  const directory = await mkdtemp(path.join(tmpdir(), "switchboard-nedb-"));
  let current = new NedbStore({ directory });
  await current.open();
  return {
    directory,
    store: current,
    reopen: async () => {
      await current.close();
      current = new NedbStore({ directory });
      await current.open();
      return current;
    },
    cleanup: async () => {
      await current.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

storeConformanceSuite("NedbStore on disk", onDisk);

storeConformanceSuite("NedbStore in memory", async () => {
  const store = new NedbStore({ inMemory: true });
  await store.open();
  return { store, cleanup: () => store.close() };
});

const link = (roomId: string, state: RoomLink["state"] = "active"): RoomLink => ({
  roomId,
  network: "irc",
  channelId: "#chan",
  receiver: "",
  kind: "portal",
  state,
  createdBy: "@admin:x",
  createdAt: 1,
  meta: {},
});

const lines = async (file: string): Promise<string[]> =>
  (await readFile(file, "utf8")).split("\n").filter((line) => line !== "");

describe("NedbStore specifics", () => {
  test("open creates the directory, one datafile per NeDB collection and the messages' LevelDB", async () => {
    const parent = await mkdtemp(path.join(tmpdir(), "switchboard-nedb-"));
    const directory = path.join(parent, "nested", "data");
    const store = new NedbStore({ directory });
    try {
      await store.open();
      assert.deepEqual((await readdir(directory)).sort(), [
        "ghosts.db",
        "journal.db",
        "kv.db",
        "links.db",
        "logins.db",
        "media.db",
        "members.db",
        "messages.level",
        "reactions.db",
        "users.db",
      ]);
    } finally {
      await store.close();
      await rm(parent, { recursive: true, force: true });
    }
  });

  test("a write has reached the datafile when its promise resolves", async () => {
    const h = await onDisk();
    try {
      await h.store.linkPut(link("!durable:x"));
      assert.ok((await readFile(path.join(h.directory, "links.db"), "utf8")).includes("!durable:x"));
      assert.equal(await h.store.journalAppend("matrix", "txn-on-disk", null), true);
      assert.ok((await readFile(path.join(h.directory, "journal.db"), "utf8")).includes("txn-on-disk"));
    } finally {
      await h.cleanup();
    }
  });

  test("reopening compacts the append-only datafiles", async () => {
    const h = await onDisk();
    try {
      for (const state of ["active", "paused", "pending", "denied", "active"] as const) {
        await h.store.linkPut(link("!a:x", state));
      }
      await h.store.linkPut(link("!b:x"));
      await h.store.linkDelete("!b:x");
      const file = path.join(h.directory, "links.db");
      const grown = (await lines(file)).length;
      await h.reopen?.();
      const compacted = await lines(file);
      const docs = compacted.filter((line) => !line.includes("$$indexCreated"));
      assert.equal(docs.length, 1, "one line per live document");
      assert.ok(compacted.length < grown);
    } finally {
      await h.cleanup();
    }
  });

  test("open leaves a datafile that ends cleanly as it is, and rewrites one whose last line was cut", async () => {
    const directory = await mkdtemp(path.join(tmpdir(), "switchboard-nedb-"));
    const file = path.join(directory, "links.db");
    let store = new NedbStore({ directory, compactionIntervalMs: 0 });
    try {
      await store.open();
      // Enough documents that one cut line stays under NeDB's 10% corruption threshold.
      for (let i = 0; i < 20; i++) await store.linkPut(link(`!${i}:x`));
      await store.linkPut(link("!a:x"));
      await store.close();
      // An older version of the document, as a crash before any compaction would leave it.
      const docLine = (await lines(file)).find((line) => line.includes("!a:x"))!;
      await writeFile(file, (await readFile(file, "utf8")) + docLine + "\n");
      const before = await readFile(file, "utf8");
      store = new NedbStore({ directory, compactionIntervalMs: 0 });
      await store.open();
      assert.equal(await readFile(file, "utf8"), before, "not rewritten: it ends with a newline");
      assert.equal((await store.linkByRoom("!a:x"))?.roomId, "!a:x");
      await store.close();

      // A machine crash cut the last append short: the next append must not join that line.
      await writeFile(file, (await readFile(file, "utf8")) + '{"_id":"!cut:x","net');
      store = new NedbStore({ directory, compactionIntervalMs: 0 });
      await store.open();
      await store.linkPut(link("!after:x"));
      const after = await lines(file);
      assert.ok(!after.some((line) => line.includes("!cut:x")), "the cut line is gone");
      assert.ok(
        after.some((line) => line.includes("!after:x") && JSON.parse(line)),
        "the write after it is a line of its own",
      );
    } finally {
      await store.close();
      await rm(directory, { recursive: true, force: true });
    }
  });

  test("index definitions follow the code, not whatever an older version left in the datafile", async () => {
    const directory = await mkdtemp(path.join(tmpdir(), "switchboard-nedb-"));
    const file = path.join(directory, "ghosts.db");
    const ghost = {
      _id: "@irc_a:x",
      network: "irc",
      remoteId: "a",
      displayname: null,
      avatarUrl: null,
      registered: false,
      _remoteKey: '["irc","a"]',
    };
    await writeFile(
      file,
      [
        JSON.stringify(ghost),
        '{"$$indexCreated":{"fieldName":"network","unique":false,"sparse":false}}',
        '{"$$indexCreated":{"fieldName":"_remoteKey","unique":false,"sparse":false}}',
        "",
      ].join("\n"),
    );
    const store = new NedbStore({ directory });
    try {
      await store.open();
      assert.equal((await store.ghostByRemote("irc", "a"))?.userId, "@irc_a:x");
      await store.close();
      const indexes = (await lines(file)).filter((l) => l.includes("$$indexCreated"));
      assert.deepEqual(indexes, [
        '{"$$indexCreated":{"fieldName":"_remoteKey","unique":true,"sparse":false}}',
      ]);
    } finally {
      await store.close();
      await rm(directory, { recursive: true, force: true });
    }
  });

  test("periodic compaction runs while open and stops on close", async () => {
    const directory = await mkdtemp(path.join(tmpdir(), "switchboard-nedb-"));
    const errors: unknown[] = [];
    const store = new NedbStore({
      directory,
      compactionIntervalMs: 20,
      onCompactionError: (_collection, error) => errors.push(error),
    });
    try {
      await store.open();
      for (let i = 0; i < 5; i++) await store.kvSet("ns", "k", i);
      const file = path.join(directory, "kv.db");
      const deadline = Date.now() + 2000;
      while ((await lines(file)).filter((l) => !l.includes("$$indexCreated")).length > 1) {
        assert.ok(Date.now() < deadline, "compaction did not run");
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.deepEqual(errors, []);
      await store.close();
      // After close, nothing may touch the files any more: an unstopped timer would rewrite them here.
      await rm(directory, { recursive: true, force: true });
      await new Promise((resolve) => setTimeout(resolve, 60));
      assert.deepEqual(errors, []);
    } finally {
      await store.close();
      await rm(directory, { recursive: true, force: true });
    }
  });

  test("a closed store refuses calls, and close is idempotent", async () => {
    const store = new NedbStore({ inMemory: true });
    await assert.rejects(store.linkByRoom("!x:x"), /not open/);
    await store.open();
    await store.close();
    await store.close();
    await assert.rejects(store.kvGet("ns", "k"), /not open/);
  });
});

const mapping = (over: Partial<MessageMapping> = {}): MessageMapping => ({
  network: "irc",
  channelId: "#chan",
  receiver: "",
  remoteId: "m1",
  part: 0,
  roomId: "!room:x",
  eventId: "$e1",
  sender: "@irc_alice:x",
  timestamp: 1000,
  ...over,
});

/** A mapping as versions before LevelDB stored it in messages.db (storedMessage of that version). */
function legacyDoc(m: MessageMapping): Record<string, unknown> {
  const doc: Record<string, unknown> = {
    _id: m.eventId,
    network: m.network,
    channelId: m.channelId,
    receiver: m.receiver,
    remoteId: m.remoteId,
    part: m.part,
    roomId: m.roomId,
    sender: m.sender,
    timestamp: m.timestamp,
    _remoteKey: JSON.stringify([m.network, m.channelId, m.receiver, m.remoteId]),
  };
  if (m.meta !== undefined) doc.meta = JSON.stringify(m.meta);
  return doc;
}

/**
 * Writes `directory/messages.db` through NeDB itself, as the old NedbStore did, and leaves it
 * uncompacted: updates and removals stay appended lines after the documents they change.
 */
async function writeLegacyMessages(
  directory: string,
  write: (db: Datastore<{ _id: string }>) => Promise<void>,
): Promise<string> {
  const file = path.join(directory, "messages.db");
  const db = Datastore.create({ filename: file });
  await db.load();
  for (const fieldName of ["_remoteKey", "roomId", "timestamp"]) await db.ensureIndex({ fieldName });
  await write(db);
  return file;
}

describe("NedbStore messages in LevelDB", () => {
  test("concurrent writes of one event and its remote message leave exactly the last state", async () => {
    const h = await onDisk();
    try {
      const puts = Array.from({ length: 20 }, (_, i) =>
        h.store.messagePut(mapping({ eventId: "$same", remoteId: `m${i % 3}`, part: i, timestamp: 100 + i })),
      );
      const others = Array.from({ length: 5 }, (_, i) =>
        h.store.messagePut(mapping({ eventId: `$other${i}`, remoteId: "m2", part: 100 + i })),
      );
      await Promise.all([...puts, ...others, h.store.messageDeleteByEvent("$other0")]);
      // The last put of $same had i = 19: remoteId m1, part 19, timestamp 119.
      const last = mapping({ eventId: "$same", remoteId: "m1", part: 19, timestamp: 119 });
      assert.deepEqual(await h.store.messageByEvent("$same"), last);
      assert.deepEqual(await h.store.messageByRemote("irc", "#chan", "", "m1"), [last]);
      assert.deepEqual(await h.store.messageByRemote("irc", "#chan", "", "m0"), []);
      assert.deepEqual(
        (await h.store.messageByRemote("irc", "#chan", "", "m2")).map((m) => m.eventId),
        ["$other1", "$other2", "$other3", "$other4"],
      );
      assert.equal((await h.store.messageLatestBefore("!room:x", 118))?.eventId, undefined);
      assert.equal(await h.store.messagePrune(2000), 5, "no stale entry of $same is pruned as a mapping");
      assert.deepEqual(await h.store.messageByRemote("irc", "#chan", "", "m1"), []);
    } finally {
      await h.cleanup();
    }
  });

  test("puts waiting to be written together keep their order with a delete between them", async () => {
    const h = await onDisk();
    try {
      const first = mapping({ eventId: "$e", remoteId: "m1", part: 0 });
      const again = mapping({ eventId: "$e", remoteId: "m2", part: 1 });
      await Promise.all([
        h.store.messagePut(mapping({ eventId: "$busy", remoteId: "m0" })),
        h.store.messagePut(first),
        h.store.messageDeleteByEvent("$e"),
        h.store.messagePut(again),
      ]);
      assert.deepEqual(await h.store.messageByEvent("$e"), again);
      assert.deepEqual(await h.store.messageByRemote("irc", "#chan", "", "m1"), []);
    } finally {
      await h.cleanup();
    }
  });

  test("a messages.db of an older version is imported on open, with the last line of each event winning", async () => {
    const directory = await mkdtemp(path.join(tmpdir(), "switchboard-nedb-"));
    const meta = { "m.relates_to": { event_id: "$x" }, $set: 1 };
    const file = await writeLegacyMessages(directory, async (db) => {
      await db.insert(legacyDoc(mapping({ eventId: "$p0" })));
      await db.insert(legacyDoc(mapping({ eventId: "$p1", part: 1, meta })));
      await db.insert(legacyDoc(mapping({ eventId: "$moved", remoteId: "m2", timestamp: 500 })));
      await db.insert(legacyDoc(mapping({ eventId: "$gone", remoteId: "m3", timestamp: 900 })));
      // An update rewrites the whole document as a new line: it moved to another room and time.
      await db.update(
        { _id: "$moved" },
        legacyDoc(mapping({ eventId: "$moved", remoteId: "m2", roomId: "!other:x", timestamp: 2000 })),
      );
      await db.remove({ _id: "$gone" }, { multi: false });
    });
    const text = await readFile(file, "utf8");
    assert.ok(text.includes('"$$deleted":true'), "the datafile holds a tombstone");
    assert.ok(text.includes("$$indexCreated"), "and index lines");
    assert.equal(text.match(/"_id":"\$moved"/g)?.length, 2, "and two lines for the updated event");

    let store = new NedbStore({ directory });
    try {
      await store.open();
      assert.deepEqual(
        (await store.messageByRemote("irc", "#chan", "", "m1")).map((m) => m.eventId),
        ["$p0", "$p1"],
      );
      assert.deepEqual(await store.messageByEvent("$p1"), mapping({ eventId: "$p1", part: 1, meta }));
      assert.deepEqual(await store.messageByEvent("$p0"), mapping({ eventId: "$p0" }));
      assert.equal(await store.messageByEvent("$gone"), null);
      assert.deepEqual(await store.messageByRemote("irc", "#chan", "", "m3"), []);
      assert.equal((await store.messageByEvent("$moved"))?.roomId, "!other:x");
      // The first line of $moved left no index entries behind: it is not in its old room at 500.
      assert.equal((await store.messageLatestBefore("!room:x", 600))?.eventId, undefined);
      assert.equal((await store.messageLatestBefore("!room:x", 1000))?.eventId, "$p1");
      assert.equal((await store.messageLatestBefore("!other:x", 5000))?.eventId, "$moved");
      assert.equal(await store.messagePrune(1500), 2);

      const files = await readdir(directory);
      assert.ok(!files.includes("messages.db"), "the datafile is gone once imported");
      assert.ok(files.includes("messages.db.migrated"), "renamed aside, not deleted");

      // Imported once: what changed since is what a reopen finds.
      await store.close();
      store = new NedbStore({ directory });
      await store.open();
      assert.equal(await store.messageByEvent("$p0"), null);
      assert.equal((await store.messageByEvent("$moved"))?.timestamp, 2000);
    } finally {
      await store.close();
      await rm(directory, { recursive: true, force: true });
    }
  });

  test("an import that died midway starts over on an emptied db", async () => {
    const directory = await mkdtemp(path.join(tmpdir(), "switchboard-nedb-"));
    // Mostly unreadable lines: the import writes what it read, then refuses the file, as NeDB would,
    // leaving the file and a half-imported db behind, as a crash midway does.
    const broken = [
      JSON.stringify(legacyDoc(mapping({ eventId: "$stale", remoteId: "s" }))),
      ...Array.from({ length: 5 }, () => '{"_id":"$torn", "netw'),
      "",
    ].join("\n");
    await writeFile(path.join(directory, "messages.db"), broken);
    let store = new NedbStore({ directory });
    try {
      await assert.rejects(store.open(), /not JSON/);
      assert.ok((await readdir(directory)).includes("messages.db"), "a refused file stays");

      // Whoever repairs the file decides what it holds: "$stale" is no longer in it.
      await rm(path.join(directory, "messages.db"));
      await writeLegacyMessages(directory, async (db) => {
        await db.insert(legacyDoc(mapping({ eventId: "$kept" })));
      });
      store = new NedbStore({ directory });
      await store.open();
      assert.equal((await store.messageByEvent("$kept"))?.eventId, "$kept");
      assert.equal(await store.messageByEvent("$stale"), null, "the first attempt's records are gone");
      assert.deepEqual(await store.messageByRemote("irc", "#chan", "", "s"), []);
    } finally {
      await store.close();
      await rm(directory, { recursive: true, force: true });
    }
  });

  test("a datafile still there after a finished import (the rename was lost) is replayed on top", async () => {
    const directory = await mkdtemp(path.join(tmpdir(), "switchboard-nedb-"));
    await writeLegacyMessages(directory, async (db) => {
      await db.insert(legacyDoc(mapping({ eventId: "$old" })));
    });
    let store = new NedbStore({ directory });
    try {
      await store.open();
      await store.messagePut(mapping({ eventId: "$new", remoteId: "n" }));
      await store.close();
      await copyFile(path.join(directory, "messages.db.migrated"), path.join(directory, "messages.db"));
      store = new NedbStore({ directory });
      await store.open();
      assert.equal((await store.messageByEvent("$old"))?.eventId, "$old");
      assert.equal((await store.messageByEvent("$new"))?.eventId, "$new", "nothing written since is lost");
      assert.ok(!(await readdir(directory)).includes("messages.db"));
    } finally {
      await store.close();
      await rm(directory, { recursive: true, force: true });
    }
  });
});
