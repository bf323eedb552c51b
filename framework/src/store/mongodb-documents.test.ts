/**
 * How the MongoDB store keeps records in documents, checked without a server: every document goes
 * through BSON (the driver's own serializer) and back, as it would on its way to MongoDB and back.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { BSON } from "mongodb";
import {
  fromJsonText,
  fromKeyText,
  ghostDocument,
  journalDocument,
  kvDocument,
  linkDocument,
  loginDocument,
  mediaDocument,
  memberDocument,
  messageDocument,
  prefixRange,
  reactionDocument,
  storedKeyPrefix,
  toGhost,
  toJournal,
  toJsonText,
  toKeyText,
  toLink,
  toLogin,
  toMediaLink,
  toMember,
  toMessage,
  toReaction,
  toUser,
  userDocument,
} from "./mongodb-documents.js";
import type {
  ChatMember,
  GhostRecord,
  LoginRecord,
  MatrixUserRecord,
  MediaLink,
  MessageMapping,
  ReactionRecord,
  RoomLink,
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

  test("every kind of record comes back from its document as it went in, optional fields included", () => {
    const link: RoomLink = {
      roomId: "!r:x",
      network: "irc",
      channelId: "#c",
      receiver: "",
      kind: "portal",
      state: "active",
      createdBy: "@a:x",
      createdAt: 1.5,
      meta: TRICKY,
    };
    const ghost: GhostRecord = {
      userId: "@irc_a:x",
      network: "irc",
      remoteId: "a",
      displayname: null,
      avatarUrl: "mxc://x/y",
      avatarKey: "k",
      registered: true,
    };
    const user: MatrixUserRecord = { userId: "@a:x", managementRoom: null, meta: TRICKY };
    const login: LoginRecord = {
      network: "slack",
      matrixUserId: "@a:x",
      loginId: "U1",
      credentials: "sealed",
      state: "logged-out",
      remoteName: "a",
      createdAt: 1,
      meta: {},
    };
    const message: MessageMapping = {
      network: "irc",
      channelId: "#c",
      receiver: "",
      remoteId: "m",
      part: 2,
      roomId: "!r:x",
      eventId: "$e",
      sender: "@s:x",
      timestamp: 2 ** 41 + 0.25,
      meta: TRICKY,
    };
    const reaction: ReactionRecord = {
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
      timestamp: 3,
    };
    const member: ChatMember = {
      network: "slack",
      channelId: "C1",
      receiver: "",
      loginId: "U1",
      matrixUserId: "@a:x",
      since: 4,
    };
    const media: MediaLink = {
      token: "t",
      mxc: "mxc://x/y",
      name: "a b.txt",
      mimetype: "text/plain",
      eventId: "$e",
      createdAt: 5,
      expiresAt: 6,
    };
    const cases: Array<[object, object, object]> = [
      [link, linkDocument(link), toLink(viaBson(linkDocument(link)))],
      [ghost, ghostDocument(ghost), toGhost(viaBson(ghostDocument(ghost)))],
      [user, userDocument(user), toUser(viaBson(userDocument(user)))],
      [login, loginDocument(login), toLogin(viaBson(loginDocument(login)))],
      [message, messageDocument(message), toMessage(viaBson(messageDocument(message)))],
      [reaction, reactionDocument(reaction), toReaction(viaBson(reactionDocument(reaction)))],
      [member, memberDocument(member), toMember(viaBson(memberDocument(member)))],
      [media, mediaDocument(media), toMediaLink(viaBson(mediaDocument(media)))],
    ];
    for (const [record, doc, back] of cases) {
      assertClean(back, doc);
      assert.deepEqual(back, record);
    }
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
