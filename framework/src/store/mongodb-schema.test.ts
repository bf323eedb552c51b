/** The MongoDB store's schema decisions and index list, checked without a server. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { COLLECTIONS, INDEXES, SCHEMA_VERSION, decideSchema, isDuplicateKey } from "./mongodb-schema.js";

const ours = Object.values(COLLECTIONS);

describe("MongoDB schema: what open() does with a database", () => {
  test("an empty database is created from version 0", () => {
    assert.deepEqual(decideSchema({ marker: null, collections: [], withDocuments: [] }), {
      action: "upgrade",
      from: 0,
    });
  });

  test("empty collections of ours without a marker (a first start interrupted) are taken up again", () => {
    assert.deepEqual(
      decideSchema({ marker: null, collections: ["journal", "kv", "system.views"], withDocuments: [] }),
      { action: "upgrade", from: 0 },
    );
  });

  test("a marked database is upgraded from its version, or left as it is when up to date", () => {
    assert.deepEqual(decideSchema({ marker: 1, collections: ours, withDocuments: [] }, 3), {
      action: "upgrade",
      from: 1,
    });
    assert.deepEqual(decideSchema({ marker: SCHEMA_VERSION, collections: ours, withDocuments: [] }), {
      action: "upgrade",
      from: SCHEMA_VERSION,
    });
    assert.deepEqual(
      decideSchema({ marker: 0, collections: [COLLECTIONS.meta], withDocuments: [] }),
      { action: "upgrade", from: 0 },
      "marker 0: claimed, steps not yet applied",
    );
  });

  test("a marked database may hold other collections too (an admin's, added later): it is still ours", () => {
    assert.deepEqual(
      decideSchema({ marker: SCHEMA_VERSION, collections: [...ours, "notes"], withDocuments: [] }),
      { action: "upgrade", from: SCHEMA_VERSION },
    );
  });

  test("a database newer than this code is refused, naming both versions", () => {
    const decision = decideSchema({ marker: SCHEMA_VERSION + 1, collections: ours, withDocuments: [] });
    assert.equal(decision.action, "refuse");
    assert.match(
      decision.action === "refuse" ? decision.reason : "",
      new RegExp(`schema version ${SCHEMA_VERSION + 1}, newer .* \\(up to ${SCHEMA_VERSION}\\)`),
    );
  });

  test("a database with someone else's collections and no marker is refused, naming them", () => {
    const decision = decideSchema({ marker: null, collections: ["events", "journal"], withDocuments: [] });
    assert.equal(decision.action, "refuse");
    const reason = decision.action === "refuse" ? decision.reason : "";
    assert.match(reason, /not Switchboard's \(events\) and no switchboard_meta marker/);
    assert.match(reason, /empty database of its own/);
  });

  test("collections with our names but holding documents, and no marker, are someone else's", () => {
    const decision = decideSchema({
      marker: null,
      collections: ["users", "links"],
      withDocuments: ["users"],
    });
    assert.equal(decision.action, "refuse");
    assert.match(decision.action === "refuse" ? decision.reason : "", /\(users\)/);
  });

  test("a long list of foreign collections is cut short", () => {
    const collections = Array.from({ length: 8 }, (_, i) => `c${i}`);
    const decision = decideSchema({ marker: null, collections, withDocuments: [] });
    assert.match(
      decision.action === "refuse" ? decision.reason : "",
      /\(c0, c1, c2, c3, c4, … \(8 in all\)\)/,
    );
  });
});

describe("MongoDB schema: indexes", () => {
  const unique = (collection: keyof typeof INDEXES): string[] =>
    INDEXES[collection].filter((i) => i.unique).map((i) => Object.keys(i.key).join(","));

  test("every natural key of the Store contract that is not _id has a unique index", () => {
    assert.deepEqual(unique("journal"), ["stream,key"]);
    assert.deepEqual(unique("ghosts"), ["network,remoteId"]);
    assert.deepEqual(unique("logins"), ["network,loginId"]);
    assert.deepEqual(unique("messages"), ["eventId", "network,channelId,receiver,remoteId,part"]);
    assert.deepEqual(unique("reactions"), ["eventId", "network,channelId,receiver,messageId,sender,key"]);
    assert.deepEqual(unique("chat_members"), ["network,channelId,receiver,loginId"]);
    assert.deepEqual(unique("kv"), ["namespace,key"]);
    // links (room id), users (user id), media_links (token) and switchboard_meta key by _id.
    for (const byId of ["links", "users", "media_links", "switchboard_meta"] as const) {
      assert.deepEqual(unique(byId), [], byId);
    }
  });

  test("every collection has its entry, and index names are unique", () => {
    assert.deepEqual(Object.keys(INDEXES).sort(), [...ours].sort());
    const names = Object.values(INDEXES).flatMap((list) => list.map((i) => i.name));
    assert.ok(
      names.every((n) => typeof n === "string" && n !== ""),
      "every index is named",
    );
    assert.equal(new Set(names).size, names.length);
    assert.ok(SCHEMA_VERSION >= 1);
  });

  test("a duplicate key error is told by its code", () => {
    assert.equal(isDuplicateKey({ code: 11000 }), true);
    assert.equal(isDuplicateKey({ code: 11001 }), true);
    assert.equal(isDuplicateKey({ code: 13 }), false);
    assert.equal(isDuplicateKey(new Error("E11000 duplicate key")), false, "the code, not the message");
    assert.equal(isDuplicateKey(null), false);
  });
});
