import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, test } from "node:test";
import { storeConformanceSuite } from "./conformance.js";
import type { StoreHarness } from "./conformance.js";
import { NedbStore } from "./nedb.js";
import type { RoomLink } from "./types.js";

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
  test("open creates the directory and one datafile per collection", async () => {
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
        "messages.db",
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
