/**
 * How the MongoDB store keeps records in documents, checked without a server: every document goes
 * through BSON (the driver's own serializer) and back, as it would on its way to MongoDB and back.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { BSON, MongoCompatibilityError, MongoServerError } from "mongodb";
import { DumpDigest, STORE_COLLECTIONS, canonicalJson } from "./dump.js";
import { snapshotError } from "./mongodb-dump.js";
import { TABLES } from "./postgres-dump.js";
import {
  DOCUMENTS,
  documentOf,
  dumpRecordOf,
  fromJsonText,
  fromKeyText,
  ghostDocument,
  journalDocument,
  journalEntryDocument,
  kvDocument,
  mediaDocument,
  messageDocument,
  prefixRange,
  reactionDocument,
  storedKeyPrefix,
  toGhost,
  toJournal,
  toJsonText,
  toKeyText,
  toMediaLink,
  toMessage,
  toReaction,
} from "./mongodb-documents.js";
import type { StoreDocumentTypes } from "./mongodb-documents.js";
import type {
  DumpRecord,
  GhostRecord,
  MediaLink,
  MessageMapping,
  ReactionRecord,
  StoreCollection,
} from "./types.js";

/** A document as it comes back from MongoDB: serialized and parsed by BSON, with the driver's defaults. */
function viaBson<T extends object>(doc: T): T {
  return BSON.deserialize(BSON.serialize(doc)) as T;
}

/** Keys a free-form value may hold that BSON field names cannot, or that MongoDB treats specially. */
const TRICKY = {
  "m.relates_to": { rel_type: "m.replace", "a.b.c": 1 },
  $set: { $inc: 1 },
  _id: "not-yours",
  "\u0000key": ["\u0000", "\uE000", "\uE000\uF000", "\\u0000", "\\\u0000"],
  "\ud800": ["x\udc00y", "\ud83d", "😀", "\ud83d\ude00\ud83d", "\\ud800", "\uF7FF"],
  numbers: [0, -1, 1.5, 2 ** 31, 2 ** 53, -(2 ** 40), 1e300, 5e-324],
  nested: [{ "": null }, true, false, [], {}],
};

/** Compares strings as MongoDB does without a collation: by their UTF-8 bytes. */
function utf8Compare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

function inRange(value: string, range: { $gte: string; $lt?: string }): boolean {
  return (
    utf8Compare(value, range.$gte) >= 0 && (range.$lt === undefined || utf8Compare(value, range.$lt) < 0)
  );
}

/** True when UTF-8 (BSON's string encoding) keeps the string exactly. */
const wellFormed = (s: string): boolean => Buffer.from(s, "utf8").toString("utf8") === s;

/** A deterministic generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    // xorshift32
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 2 ** 32;
  };
}

describe("MongoDB documents: free-form values", () => {
  test("BSON itself cannot keep them: it refuses a U+0000 field name and turns a lone surrogate into U+FFFD", () => {
    assert.throws(() => BSON.serialize({ "a\u0000b": 1 }), /null bytes/);
    assert.equal(viaBson({ s: "x\ud800y" }).s, "x\ufffdy");
  });

  test("as JSON text they come back through BSON exactly, whatever their keys and strings", () => {
    for (const value of [TRICKY, [TRICKY], "\u0000", "\ud800", 0, null, true, "plain"]) {
      const text = toJsonText(value);
      assert.ok(wellFormed(text), `JSON text of ${text} is well-formed`);
      assert.deepEqual(fromJsonText(viaBson({ text }).text), value);
    }
    assert.equal(toJsonText(undefined), "null", "undefined is stored as null, as JSON has no undefined");
  });
});

describe("MongoDB documents: kv keys", () => {
  const keys = [
    "",
    "plain",
    "a\u0000b",
    "\ud800",
    "k\udc00",
    "\ud83d\ude00",
    "\ud83d\ud83d\ude00",
    "\ude00\ud83d",
    "\uE000",
    "\uE000\uE000",
    "\uE000\uF000",
    "\uF000",
    "\uF7FF",
    "\uFFFF",
  ];

  test("round-trip, are well-formed when stored, and plain text is stored as it is", () => {
    for (const key of keys) {
      const stored = toKeyText(key);
      assert.ok(wellFormed(stored), `stored form of ${JSON.stringify(key)} is well-formed`);
      assert.equal(fromKeyText(viaBson({ stored }).stored), key);
    }
    assert.equal(toKeyText("login:U1/ä😀"), "login:U1/ä😀");
    assert.equal(toKeyText("a\u0000b"), "a\u0000b", "U+0000 is a valid BSON string character");
  });

  test("distinct keys stay distinct when stored", () => {
    const stored = new Set(keys.map(toKeyText));
    assert.equal(stored.size, keys.length);
  });

  test("a prefix range over the stored keys, checked after decoding, finds exactly the keys with the prefix", () => {
    const alphabet = [
      "a",
      "b",
      "\u0000",
      "\uE000",
      "\uF000",
      "\uFFFF",
      "\ud83d",
      "\ude00",
      "😀",
      "\u{10FFFF}",
    ];
    const next = random(16);
    const pick = (): string => alphabet[Math.floor(next() * alphabet.length)] ?? "a";
    const word = (max: number): string => Array.from({ length: Math.floor(next() * max) }, pick).join("");
    for (let round = 0; round < 300; round++) {
      const stored = Array.from({ length: 30 }, () => word(5)).map(toKeyText);
      const prefix = word(3);
      const range = prefixRange(storedKeyPrefix(prefix));
      const found = stored
        .filter((s) => inRange(s, range))
        .map(fromKeyText)
        .filter((k) => k.startsWith(prefix))
        .sort();
      const expected = stored
        .map(fromKeyText)
        .filter((k) => k.startsWith(prefix))
        .sort();
      assert.deepEqual(found, expected, `prefix ${JSON.stringify(prefix)}`);
    }
  });
});

describe("MongoDB documents: prefix ranges", () => {
  test("the upper bound is the prefix with its last code point raised by one", () => {
    assert.deepEqual(prefixRange(""), { $gte: "" });
    assert.deepEqual(prefixRange("reaction:"), { $gte: "reaction:", $lt: "reaction;" });
    assert.deepEqual(prefixRange("a\uD7FF"), { $gte: "a\uD7FF", $lt: "a\uE000" }, "surrogates are skipped");
    assert.deepEqual(prefixRange("😀"), { $gte: "😀", $lt: "😁" }, "a pair is one code point");
    assert.deepEqual(prefixRange("a\u{10FFFF}"), { $gte: "a\u{10FFFF}", $lt: "b" });
    assert.deepEqual(prefixRange("\u{10FFFF}\u{10FFFF}"), { $gte: "\u{10FFFF}\u{10FFFF}" });
  });

  test("in MongoDB's string order, it holds exactly the strings starting with the prefix", () => {
    const strings = [
      "",
      "a",
      "a.b",
      "axb",
      "a\u0000",
      "a\uFFFF",
      "a😀",
      "a\u{10FFFF}",
      "b",
      "ab",
      "a\uE000z",
    ];
    for (const prefix of ["", "a", "a.", "a\uFFFF", "a😀", "a\u{10FFFF}", "b"]) {
      const range = prefixRange(prefix);
      assert.deepEqual(
        strings.filter((s) => inRange(s, range)),
        strings.filter((s) => s.startsWith(prefix)),
        `prefix ${JSON.stringify(prefix)}`,
      );
    }
  });
});

describe("MongoDB documents: records", () => {
  /** No `_id` and nothing undefined (BSON would store it as null) in what a record becomes. */
  function assertClean(record: object, doc: object): void {
    assert.ok(!("_id" in record), "no _id in a record");
    for (const [field, value] of Object.entries(doc)) assert.notEqual(value, undefined, field);
  }

  test("a journal entry keeps its seq as _id and its payload exactly", () => {
    const doc = journalDocument(42, "matrix", "txn1", toJsonText(TRICKY), 1700000000123);
    const entry = toJournal(viaBson(doc));
    assertClean(entry, doc);
    assert.deepEqual(entry, {
      stream: "matrix",
      key: "txn1",
      seq: 42,
      payload: TRICKY,
      done: false,
      createdAt: 1700000000123,
    });
  });

  test("absent optional fields stay absent; a ghost without avatarKey reads as null", () => {
    const message: MessageMapping = {
      network: "irc",
      channelId: "#c",
      receiver: "",
      remoteId: "m",
      part: 0,
      roomId: "!r:x",
      eventId: "$e",
      sender: "@s:x",
      timestamp: 1,
    };
    assert.ok(!("meta" in messageDocument(message)));
    assert.deepEqual(toMessage(viaBson(messageDocument(message))), message);

    const reaction: ReactionRecord = {
      network: "slack",
      channelId: "C1",
      receiver: "",
      messageId: "1.2",
      sender: "U2",
      key: "👍",
      roomId: "!r:x",
      eventId: "$r",
      timestamp: 3,
    };
    assert.deepEqual(
      Object.keys(toReaction(viaBson(reactionDocument(reaction)))).sort(),
      Object.keys(reaction).sort(),
    );

    const media: MediaLink = {
      token: "t",
      mxc: "mxc://x/y",
      name: "n",
      mimetype: "text/plain",
      createdAt: 1,
    };
    const mediaDoc = mediaDocument(media);
    assert.ok(!("expiresAt" in mediaDoc), "no expiresAt field, so expiry pruning never matches it");
    assert.deepEqual(toMediaLink(viaBson(mediaDoc)), media);

    const ghost: GhostRecord = {
      userId: "@g:x",
      network: "irc",
      remoteId: "g",
      displayname: "G",
      avatarUrl: null,
      registered: false,
    };
    assert.deepEqual(toGhost(viaBson(ghostDocument(ghost))), { ...ghost, avatarKey: null });
  });

  test("kv documents hold the stored forms of namespace and key, and the value as JSON text", () => {
    const doc = viaBson(kvDocument("n\ud800s", "k\u0000", TRICKY));
    assert.equal(fromKeyText(doc.namespace), "n\ud800s");
    assert.equal(fromKeyText(doc.key), "k\u0000");
    assert.deepEqual(fromJsonText(doc.value), TRICKY);
  });
});

describe("MongoDB documents: dump records", () => {
  /** Strings each backend must keep exactly where it keeps free-form text. */
  const AWKWARD = "a\u0000b\uE000\uE000\uF000\ud800\udc00x\ud83d\ude00.$";

  /**
   * Dump records of every collection in the shape every backend's getters give them (PostgreSQL's
   * rows and NeDB's documents map to these): optional fields present and absent, a ghost's missing
   * avatar key as null, awkward text where records hold free-form strings.
   */
  const SAMPLES: DumpRecord[] = [
    {
      collection: "journal",
      record: { stream: "matrix", key: "txn\u0000abc", seq: 7, payload: TRICKY, done: false, createdAt: 1.5 },
    },
    {
      collection: "journal",
      record: {
        stream: "remote",
        key: AWKWARD,
        seq: 2 ** 40,
        payload: "v1:sealed",
        done: true,
        createdAt: 9,
      },
    },
    {
      collection: "journal",
      record: { stream: "remote", key: "n", seq: 3, payload: null, done: false, createdAt: 0 },
    },
    {
      collection: "links",
      record: {
        roomId: "!r:x",
        network: "irc",
        channelId: "#c",
        receiver: "",
        kind: "plumbed",
        state: "paused",
        createdBy: "@a:x",
        createdAt: 2 ** 41 + 0.5,
        meta: TRICKY,
      },
    },
    {
      collection: "ghosts",
      record: {
        userId: "@irc_a:x",
        network: "irc",
        remoteId: "a",
        displayname: "A",
        avatarUrl: "mxc://x/y",
        avatarKey: "k",
        registered: true,
      },
    },
    {
      collection: "ghosts",
      record: {
        userId: "@irc_b:x",
        network: "irc",
        remoteId: "b",
        displayname: null,
        avatarUrl: null,
        avatarKey: null,
        registered: false,
      },
    },
    { collection: "users", record: { userId: "@a:x", managementRoom: "!dm:x", meta: TRICKY } },
    { collection: "users", record: { userId: "@b:x", managementRoom: null, meta: {} } },
    {
      collection: "logins",
      record: {
        network: "slack",
        matrixUserId: "@a:x",
        loginId: "U1",
        credentials: "v1:sealed",
        state: "active",
        remoteName: "a",
        createdAt: 1,
        meta: TRICKY,
      },
    },
    {
      collection: "messages",
      record: {
        network: "irc",
        channelId: "#c",
        receiver: "",
        remoteId: "m",
        part: 2,
        roomId: "!r:x",
        eventId: "$e",
        sender: "@s:x",
        timestamp: 3,
        meta: TRICKY,
      },
    },
    {
      collection: "messages",
      record: {
        network: "irc",
        channelId: "#c",
        receiver: "U1",
        remoteId: "m2",
        part: 0,
        roomId: "!r:x",
        eventId: "$e2",
        sender: "@s:x",
        timestamp: -1,
      },
    },
    {
      collection: "reactions",
      record: {
        network: "slack",
        channelId: "C1",
        receiver: "",
        messageId: "1.2",
        sender: "U2",
        key: "👍",
        roomId: "!r:x",
        eventId: "$r",
        remoteId: "rx",
        meta: TRICKY,
        timestamp: 4,
      },
    },
    {
      collection: "reactions",
      record: {
        network: "slack",
        channelId: "C1",
        receiver: "",
        messageId: "1.2",
        sender: "U3",
        key: ":x:",
        roomId: "!r:x",
        eventId: "$r2",
        timestamp: 5,
      },
    },
    {
      collection: "members",
      record: {
        network: "slack",
        channelId: "C1",
        receiver: "",
        loginId: "U1",
        matrixUserId: "@a:x",
        since: 6,
      },
    },
    {
      collection: "media",
      record: {
        token: "t1",
        mxc: "mxc://x/y",
        name: "a b.png",
        mimetype: "image/png",
        eventId: "$e",
        createdAt: 7,
        expiresAt: 8,
      },
    },
    {
      collection: "media",
      record: { token: "t2", mxc: "mxc://x/z", name: "n", mimetype: "text/plain", createdAt: 9 },
    },
    { collection: "kv", record: { namespace: "state", key: "k\u0000ey", value: TRICKY } },
    { collection: "kv", record: { namespace: AWKWARD, key: AWKWARD, value: AWKWARD } },
    { collection: "kv", record: { namespace: "n", key: "", value: null } },
  ];

  /** A record through its document, BSON (as to the server and back) and back to a record. */
  const viaMongo = (item: DumpRecord): DumpRecord =>
    dumpRecordOf(item.collection, viaBson(documentOf(item.collection, item.record)));

  /** The same through PostgreSQL's mapping: the row a load inserts, read back as a snapshot reads it. */
  function viaPostgres(item: DumpRecord): DumpRecord {
    const table = TABLES[item.collection] as unknown as {
      columns: string;
      toRow(record: object): unknown[];
      fromRow(row: Record<string, unknown>): object;
    };
    const values = table.toRow(item.record);
    const row = Object.fromEntries(table.columns.split(", ").map((column, i) => [column, values[i]]));
    return { collection: item.collection, record: table.fromRow(row) } as DumpRecord;
  }

  const summaryOf = (items: DumpRecord[]) => {
    const digest = new DumpDigest();
    items.forEach((item) => digest.add(item));
    return digest.summary();
  };

  test("the samples cover every collection", () => {
    assert.deepEqual(new Set(SAMPLES.map((s) => s.collection)), new Set(STORE_COLLECTIONS));
    assert.deepEqual(Object.keys(DOCUMENTS).sort(), [...STORE_COLLECTIONS].sort());
  });

  test("every collection's record comes back from its document identically, field for field", () => {
    for (const item of SAMPLES) {
      const back = viaMongo(item);
      assert.deepEqual(back, item, `${item.collection} ${canonicalJson(item.record)}`);
      assert.deepEqual(Object.keys(back.record).sort(), Object.keys(item.record).sort(), item.collection);
      assert.equal(canonicalJson(back.record), canonicalJson(item.record));
    }
  });

  test("documents are what BSON keeps: well-formed strings, no field undefined, no U+0000 in a name", () => {
    for (const item of SAMPLES) {
      const doc = documentOf(item.collection, item.record) as unknown as Record<string, unknown>;
      for (const [field, value] of Object.entries(doc)) {
        assert.notEqual(value, undefined, `${item.collection}.${field}`);
        if (typeof value === "string")
          assert.ok(wellFormed(value), `${item.collection}.${field} is well-formed`);
      }
    }
  });

  test("a NeDB or PostgreSQL dump copied to MongoDB and on to PostgreSQL keeps its counts and checksums", () => {
    const inMongo = SAMPLES.map(viaMongo);
    const onToPostgres = inMongo.map(viaPostgres);
    assert.deepEqual(summaryOf(inMongo), summaryOf(SAMPLES));
    assert.deepEqual(summaryOf(onToPostgres), summaryOf(SAMPLES));
    // And each backend, given one record, hands back the very same one.
    SAMPLES.forEach((item, i) => assert.deepEqual(viaPostgres(item), inMongo[i], item.collection));
  });

  test("a journal entry's document keeps seq, done and an encoded key; appends' documents match it", () => {
    const entry = {
      stream: "remote" as const,
      key: "k\ud800",
      seq: 5,
      payload: TRICKY,
      done: true,
      createdAt: 2,
    };
    const doc = journalEntryDocument(entry);
    assert.equal(doc._id, 5);
    assert.equal(doc.done, true);
    assert.equal(doc.key, toKeyText("k\ud800"));
    assert.deepEqual(
      journalDocument(5, "remote", "k\ud800", toJsonText(TRICKY), 2),
      { ...doc, done: false },
      "journalAppend stores what a load of the same entry would",
    );
  });

  test("the store's natural _ids are the records' keys", () => {
    const ids: Partial<Record<StoreCollection, unknown>> = {};
    for (const item of SAMPLES) {
      const doc = documentOf(item.collection, item.record) as Partial<StoreDocumentTypes[StoreCollection]>;
      ids[item.collection] ??= "_id" in doc ? doc._id : undefined;
    }
    assert.deepEqual(ids, {
      journal: 7,
      links: "!r:x",
      ghosts: "@irc_a:x",
      users: "@a:x",
      logins: undefined,
      messages: undefined,
      reactions: undefined,
      members: undefined,
      media: "t1",
      kv: undefined,
    });
  });
});

describe("MongoDB snapshots: errors", () => {
  test("a server that cannot read a snapshot is named, with the remedy", () => {
    const old = snapshotError(new MongoCompatibilityError("Snapshot reads require MongoDB 5.0 or later"));
    assert.match(old.message, /Snapshot reads require MongoDB 5\.0 or later/);
    assert.match(old.message, /replica set.*--replSet rs0.*rs\.initiate\(\)/);
    const standalone = snapshotError(
      new MongoServerError({
        ok: 0,
        errmsg: "node needs to be a replica set member to use readConcern: snapshot",
        code: 123,
        codeName: "NotAReplicaSet",
      }),
    );
    assert.match(
      standalone.message,
      /replica set member.*\(a consistent snapshot .* needs MongoDB 5\.0 or later running as a replica set/,
    );
    assert.equal((standalone as { code?: unknown }).code, 123);
    const tooOld = snapshotError(new MongoServerError({ ok: 0, errmsg: "too old", code: 239 }));
    assert.match(tooOld.message, /minSnapshotHistoryWindowInSeconds/);
  });

  test("other errors pass through as they are", () => {
    const other = new MongoServerError({ ok: 0, errmsg: "unauthorized", code: 13 });
    assert.equal(snapshotError(other), other);
    assert.equal(snapshotError("text").message, "text");
  });
});
