/**
 * The MongoDB store against a real server: the conformance suite and the backend's own cases.
 *
 * No MongoDB server can run on the machines these tests were written on, so they run only when
 * SWITCHBOARD_TEST_MONGO_URL names one (e.g. mongodb://localhost:27017/?replicaSet=rs0; the user needs to
 * create and drop databases). The conformance suite's snapshot cases need MongoDB 5.0+ as a replica set
 * (a single-node one: `mongod --replSet rs0`, then `rs.initiate()` once; see mongodb-dump.ts); on a
 * standalone they fail, naming that. Every case gets a database of its own, `switchboard_test_*`,
 * dropped afterwards. Without the variable, one skipped test says so. What needs no server is tested in
 * mongodb-*.test.ts.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, describe, test } from "node:test";
import { MongoClient } from "mongodb";
import type { Db } from "mongodb";
import { storeConformanceSuite } from "./conformance.js";
import type { StoreHarness } from "./conformance.js";
import { MongoStore } from "./mongodb.js";
import { withDatabase } from "./mongodb-connection.js";
import { COLLECTIONS, INDEXES, META, SCHEMA_VERSION, upgradeSchema } from "./mongodb-schema.js";
import { databaseHarness, serverStoreCases } from "./testing/server-store-cases.js";

const serverUrl = process.env.SWITCHBOARD_TEST_MONGO_URL;

const metaOf = (db: Db) => db.collection<{ _id: string; value: number }>(COLLECTIONS.meta);

if (!serverUrl) {
  test("MongoStore conformance and MongoDB specifics", {
    skip: "SWITCHBOARD_TEST_MONGO_URL is not set: no MongoDB server can run here; the MongoDB store was not tested",
  });
} else {
  mongoSuites(serverUrl);
}

function mongoSuites(url: string): void {
  /** One client for the tests' own look at the databases (not the stores'). */
  let admin: MongoClient | undefined;
  const adminClient = async (): Promise<MongoClient> => {
    admin ??= await new MongoClient(url, { serverSelectionTimeoutMS: 10_000 }).connect();
    return admin;
  };
  after(async () => {
    await admin?.close();
  });

  /** A new, empty database's URL, and a way to look into it and drop it. */
  async function freshDatabase(): Promise<{ url: string; db: Db; drop: () => Promise<void> }> {
    const name = `switchboard_test_${process.pid}_${randomBytes(6).toString("hex")}`;
    const db = (await adminClient()).db(name);
    return { url: withDatabase(url, name), db, drop: () => db.dropDatabase().then(() => undefined) };
  }

  async function inFreshDatabase(body: (url: string, db: Db) => Promise<void>): Promise<void> {
    const fresh = await freshDatabase();
    try {
      await body(fresh.url, fresh.db);
    } finally {
      await fresh.drop();
    }
  }

  async function onFreshDatabase(): Promise<Required<StoreHarness> & { db: Db }> {
    const fresh = await freshDatabase();
    const harness = await databaseHarness(() => new MongoStore({ url: fresh.url }), fresh.drop);
    return { ...harness, db: fresh.db };
  }

  storeConformanceSuite("MongoStore", onFreshDatabase);

  describe("MongoStore specifics", () => {
    test("stores opened at once on an empty database all work; every index exists as declared", async () => {
      await inFreshDatabase(async (dbUrl, db) => {
        const stores = Array.from({ length: 4 }, () => new MongoStore({ url: dbUrl }));
        try {
          const opened = await Promise.allSettled(stores.map((s) => s.open()));
          assert.deepEqual(
            opened.map((o) => (o.status === "rejected" ? String(o.reason) : o.status)),
            stores.map(() => "fulfilled"),
          );
          const marker = await metaOf(db).findOne({ _id: META.schema });
          assert.equal(marker?.value, SCHEMA_VERSION);
          for (const [collection, declared] of Object.entries(INDEXES)) {
            if (declared.length === 0) continue;
            const found = await db.collection(collection).listIndexes().toArray();
            for (const index of declared) {
              const match = found.find((f) => f.name === index.name);
              assert.ok(match, `${collection}.${String(index.name)} exists`);
              assert.deepEqual(match.key, index.key);
              assert.equal(match.unique === true, index.unique === true, `${String(index.name)} uniqueness`);
            }
          }
          await stores[0]?.kvSet("ns", "k", 1);
          assert.equal(await stores[3]?.kvGet("ns", "k"), 1);
        } finally {
          await Promise.all(stores.map((s) => s.close()));
        }
      });
    });

    test("the unique indexes are enforced by the server", async () => {
      const h = await onFreshDatabase();
      try {
        await h.store.ghostPut({
          userId: "@irc_a:x",
          network: "irc",
          remoteId: "a",
          displayname: null,
          avatarUrl: null,
          registered: false,
        });
        await assert.rejects(
          h.store.ghostPut({
            userId: "@irc_other:x",
            network: "irc",
            remoteId: "a",
            displayname: null,
            avatarUrl: null,
            registered: false,
          }),
          (error: { code?: unknown }) => error.code === 11000,
          "a second ghost for one remote id",
        );
        await h.store.kvSet("ns", "k", 1);
        await assert.rejects(
          h.db.collection(COLLECTIONS.kv).insertOne({ namespace: "ns", key: "k", value: "2" }),
          (error: { code?: unknown }) => error.code === 11000,
        );
      } finally {
        await h.cleanup();
      }
    });

    test("creating the indexes again is harmless; reopening an up-to-date database writes nothing", async () => {
      await inFreshDatabase(async (dbUrl, db) => {
        const first = new MongoStore({ url: dbUrl });
        await first.open();
        await first.close();
        assert.deepEqual(await upgradeSchema(db), { from: SCHEMA_VERSION, to: SCHEMA_VERSION });
        // Steps run again (a start interrupted before its marker rose) find everything in place.
        await metaOf(db).updateOne({ _id: META.schema }, { $set: { value: 0 } });
        assert.deepEqual(await upgradeSchema(db), { from: 0, to: SCHEMA_VERSION });
        const before = await metaOf(db).find().sort({ _id: 1 }).toArray();
        const second = new MongoStore({ url: dbUrl });
        await second.open();
        await second.close();
        assert.deepEqual(await metaOf(db).find().sort({ _id: 1 }).toArray(), before);
      });
    });

    test("a database newer than this code is refused, naming both versions", async () => {
      await inFreshDatabase(async (dbUrl, db) => {
        const store = new MongoStore({ url: dbUrl });
        await store.open();
        await store.setSchemaVersion(1);
        await store.close();
        const newer = SCHEMA_VERSION + 1;
        await metaOf(db).updateOne({ _id: META.schema }, { $set: { value: newer } });
        const again = new MongoStore({ url: dbUrl });
        await assert.rejects(again.open(), (error: Error) => {
          assert.match(error.message, new RegExp(`schema version ${newer}\\b`));
          assert.match(error.message, new RegExp(`up to ${SCHEMA_VERSION}\\)`));
          return true;
        });
        await assert.rejects(again.kvGet("ns", "k"), /not open/);
      });
    });

    test("a database holding someone else's data is refused and left untouched", async () => {
      await inFreshDatabase(async (dbUrl, db) => {
        await db.collection<{ _id: string; json: string }>("events").insertOne({ _id: "$e", json: "{}" });
        await db.collection<{ _id: string; name: string }>("users").insertOne({ _id: "someone", name: "x" });
        const store = new MongoStore({ url: dbUrl });
        await assert.rejects(store.open(), (error: Error) => {
          assert.match(error.message, /not Switchboard's \(events, users\)/);
          assert.match(error.message, /empty database of its own/);
          return true;
        });
        const names = (await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name).sort();
        assert.deepEqual(names, ["events", "users"]);
        assert.deepEqual(
          await db
            .collection("users")
            .listIndexes()
            .toArray()
            .then((l) => l.length),
          1,
        );
      });
    });

    test("two stores appending to one database get distinct seqs, each in its own call order", async () => {
      const h = await onFreshDatabase();
      const other = new MongoStore({ url: withDatabase(url, h.db.databaseName) });
      await other.open();
      try {
        const keys = Array.from({ length: 40 }, (_, i) => i);
        const results = await Promise.all([
          ...keys.map((i) => h.store.journalAppend("matrix", `a${i}`, i)),
          ...keys.map((i) => other.journalAppend("matrix", `b${i}`, i)),
          ...keys.map((i) => other.journalAppend("matrix", `a${i}`, "duplicate")),
        ]);
        assert.equal(results.filter((r) => r).length, 80, "the a-keys win once, whoever wrote them");
        const pending = await h.store.journalPending("matrix");
        assert.equal(new Set(pending.map((e) => e.seq)).size, pending.length, "seqs are distinct");
        const order = (prefix: string) => pending.filter((e) => e.key.startsWith(prefix)).map((e) => e.key);
        assert.deepEqual(
          order("b"),
          keys.map((i) => `b${i}`),
        );
      } finally {
        await other.close();
        await h.cleanup();
      }
    });

    test("a kv prefix ending in half of a surrogate pair finds the keys that hold the pair whole", async () => {
      const h = await onFreshDatabase();
      try {
        await h.store.kvSet("n\u0000s", "\ud83d\ude00", "pair");
        await h.store.kvSet("n\u0000s", "\ud83d", "lone");
        assert.deepEqual(await h.store.kvList("n\u0000s", "\ud83d"), [
          { key: "\ud83d", value: "lone" },
          { key: "\ud83d\ude00", value: "pair" },
        ]);
      } finally {
        await h.cleanup();
      }
    });

    test("journal keys keep U+0000 and lone surrogates, stored in the kv keys' form", async () => {
      const h = await onFreshDatabase();
      try {
        assert.equal(await h.store.journalAppend("remote", "a\u0000\ud800", 1), true);
        assert.equal(await h.store.journalAppend("remote", "a\u0000\ufffd", 2), true, "not the same key");
        assert.equal((await h.store.journalGet("remote", "a\u0000\ud800"))?.payload, 1);
        const doc = await h.db
          .collection<{ _id: number; key: string }>(COLLECTIONS.journal)
          .findOne({ _id: 1 });
        assert.equal(doc?.key, "a\u0000\uE000\uF000");
      } finally {
        await h.cleanup();
      }
    });

    serverStoreCases(onFreshDatabase);

    test("documents hold records as described: natural _ids, JSON text, nothing undefined", async () => {
      const h = await onFreshDatabase();
      try {
        await h.store.linkPut({
          roomId: "!r:x",
          network: "irc",
          channelId: "#c",
          receiver: "",
          kind: "portal",
          state: "active",
          createdBy: "@a:x",
          createdAt: 1,
          meta: { "a.b": 1 },
        });
        await h.store.mediaLinkPut({
          token: "t",
          mxc: "mxc://x/y",
          name: "n",
          mimetype: "text/plain",
          createdAt: 1,
        });
        const link = await h.db.collection<{ _id: string; meta: unknown }>(COLLECTIONS.links).findOne({});
        assert.equal(link?._id, "!r:x");
        assert.equal(link?.meta, '{"a.b":1}');
        const media = await h.db.collection(COLLECTIONS.media).findOne({});
        assert.deepEqual(Object.keys(media ?? {}).sort(), ["_id", "createdAt", "mimetype", "mxc", "name"]);
      } finally {
        await h.cleanup();
      }
    });
  });
}
