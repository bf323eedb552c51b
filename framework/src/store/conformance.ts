/**
 * The behaviour every Store backend must show, as node:test cases. A backend's test file calls
 * `storeConformanceSuite` once per configuration; the framework relies on exactly these properties.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { TestContext } from "node:test";
import type { GhostRecord, LoginRecord, MatrixUserRecord, MessageMapping, RoomLink, Store } from "./types.js";

export interface StoreHarness {
  /** An opened store over empty storage. */
  store: Store;
  /**
   * Closes the store last handed out (the initial one or the previous reopen's) and returns a newly
   * opened store over the same storage. Omit it for backends that cannot outlive their process
   * (in-memory): the persistence cases are then skipped, not failed.
   */
  reopen?: () => Promise<Store>;
  /** Closes the store last handed out and removes its storage. */
  cleanup: () => Promise<void>;
}

type Body = (h: StoreHarness, t: TestContext) => Promise<void>;

/** Field sets of the interface's records: backends must not add (`_id`, lookup keys) or drop any. */
const FIELDS = {
  journal: ["createdAt", "cursor", "done", "key", "payload", "seq", "stream"],
  link: ["channelId", "createdAt", "createdBy", "kind", "meta", "network", "receiver", "roomId", "state"],
  ghost: ["avatarKey", "avatarUrl", "displayname", "network", "registered", "remoteId", "userId"],
  user: ["managementRoom", "meta", "userId"],
  login: ["createdAt", "credentials", "loginId", "matrixUserId", "meta", "network", "remoteName", "state"],
  message: [
    "channelId",
    "eventId",
    "network",
    "part",
    "receiver",
    "remoteId",
    "roomId",
    "sender",
    "timestamp",
  ],
} as const;

function assertFields(record: object | null, kind: keyof typeof FIELDS): void {
  assert.ok(record, `expected a ${kind} record`);
  assert.deepEqual(Object.keys(record).sort(), [...FIELDS[kind]], `${kind} record has exactly its fields`);
}

/**
 * Keys Matrix content really has ("m.relates_to") and keys some stores reserve ("$set", "_id"): free-form
 * values must survive them untouched.
 */
const AWKWARD_JSON = {
  "m.relates_to": { rel_type: "m.replace", event_id: "$abc:example.org" },
  $set: 1,
  _id: "not-yours",
  nested: [{ "a.b": null }, 1.5, "two", true, []],
  unicode: "héllo \u0000 \n world",
};

function link(over: Partial<RoomLink> = {}): RoomLink {
  return {
    roomId: "!room:example.org",
    network: "irc",
    channelId: "#chan",
    receiver: "",
    kind: "portal",
    state: "active",
    createdBy: "@admin:example.org",
    createdAt: 1000,
    meta: {},
    ...over,
  };
}

function ghost(over: Partial<GhostRecord> = {}): GhostRecord {
  return {
    userId: "@irc_alice:example.org",
    network: "irc",
    remoteId: "alice",
    displayname: "Alice",
    avatarUrl: null,
    avatarKey: null,
    registered: false,
    ...over,
  };
}

function user(over: Partial<MatrixUserRecord> = {}): MatrixUserRecord {
  return { userId: "@bob:example.org", managementRoom: null, meta: {}, ...over };
}

function login(over: Partial<LoginRecord> = {}): LoginRecord {
  return {
    network: "slack",
    matrixUserId: "@bob:example.org",
    loginId: "U1",
    credentials: "ciphertext",
    state: "active",
    remoteName: "bob",
    createdAt: 1000,
    meta: {},
    ...over,
  };
}

function message(over: Partial<MessageMapping> = {}): MessageMapping {
  return {
    network: "irc",
    channelId: "#chan",
    receiver: "",
    remoteId: "m1",
    part: 0,
    roomId: "!room:example.org",
    eventId: "$e1",
    sender: "@irc_alice:example.org",
    timestamp: 1000,
    ...over,
  };
}

const rooms = (links: RoomLink[]): string[] => links.map((l) => l.roomId).sort();
const loginIds = (logins: LoginRecord[]): string[] => logins.map((l) => l.loginId).sort();

export function storeConformanceSuite(name: string, makeStore: () => Promise<StoreHarness>): void {
  const run = (body: Body) => async (t: TestContext) => {
    const h = await makeStore();
    try {
      await body(h, t);
    } finally {
      await h.cleanup();
    }
  };
  /** Cases that need a second life of the same storage. */
  const runPersistent = (body: (h: StoreHarness, reopen: () => Promise<Store>) => Promise<void>) =>
    run(async (h, t) => {
      if (!h.reopen) {
        t.skip("backend has no persistent storage to reopen");
        return;
      }
      await body(h, h.reopen);
    });

  describe(`Store conformance: ${name}`, () => {
    describe("journal", () => {
      test(
        "append stores a fresh entry; get finds it per stream",
        run(async ({ store }) => {
          const before = Date.now();
          assert.equal(await store.journalAppend("matrix", "txn1", { events: [AWKWARD_JSON] }), true);
          const entry = await store.journalGet("matrix", "txn1");
          assertFields(entry, "journal");
          assert.equal(entry?.stream, "matrix");
          assert.equal(entry?.key, "txn1");
          assert.deepEqual(entry?.payload, { events: [AWKWARD_JSON] });
          assert.equal(entry?.cursor, 0);
          assert.equal(entry?.done, false);
          assert.equal(typeof entry?.seq, "number");
          assert.ok((entry?.createdAt ?? 0) >= before && (entry?.createdAt ?? 0) <= Date.now());
          assert.equal(await store.journalGet("remote", "txn1"), null, "streams are separate");
          assert.equal(await store.journalGet("matrix", "nope"), null);
        }),
      );

      test(
        "a duplicate stream+key returns false and changes nothing",
        run(async ({ store }) => {
          assert.equal(await store.journalAppend("matrix", "k", { v: 1 }), true);
          await store.journalAdvance("matrix", "k", 2);
          const first = await store.journalGet("matrix", "k");
          assert.equal(await store.journalAppend("matrix", "k", { v: 2 }), false);
          assert.deepEqual(await store.journalGet("matrix", "k"), first);
          assert.equal((await store.journalPending("matrix")).length, 1);
          assert.equal(await store.journalAppend("remote", "k", { v: 3 }), true, "same key, other stream");
        }),
      );

      test(
        "concurrent appends of one key: exactly one wins",
        run(async ({ store }) => {
          const results = await Promise.all(
            Array.from({ length: 20 }, (_, i) => store.journalAppend("remote", "same", { i })),
          );
          assert.equal(results.filter((r) => r).length, 1);
          assert.equal((await store.journalPending("remote")).length, 1);
        }),
      );

      test(
        "seq strictly increases; pending is oldest first and per stream",
        run(async ({ store }) => {
          for (const key of ["a", "b", "c"]) await store.journalAppend("matrix", key, key);
          await store.journalAppend("remote", "x", "x");
          const concurrent = await Promise.all(
            ["d", "e", "f", "g"].map((key) => store.journalAppend("matrix", key, key)),
          );
          assert.deepEqual(concurrent, [true, true, true, true]);
          const pending = await store.journalPending("matrix");
          assert.deepEqual(
            pending.map((e) => e.key),
            ["a", "b", "c", "d", "e", "f", "g"],
          );
          for (let i = 1; i < pending.length; i++) {
            assert.ok((pending[i]?.seq ?? 0) > (pending[i - 1]?.seq ?? 0), "seq strictly increasing");
          }
          pending.forEach((e) => assertFields(e, "journal"));
          assert.deepEqual(
            (await store.journalPending("remote")).map((e) => e.key),
            ["x"],
          );
        }),
      );

      test(
        "advance moves the cursor; markDone removes from pending but keeps the entry",
        run(async ({ store }) => {
          await store.journalAppend("matrix", "a", [1, 2, 3]);
          await store.journalAppend("matrix", "b", [1]);
          await store.journalAdvance("matrix", "a", 2);
          assert.equal((await store.journalGet("matrix", "a"))?.cursor, 2);
          await store.journalMarkDone("matrix", "a");
          const done = await store.journalGet("matrix", "a");
          assert.equal(done?.done, true);
          assert.equal(done?.cursor, 2);
          assert.deepEqual(done?.payload, [1, 2, 3]);
          assert.deepEqual(
            (await store.journalPending("matrix")).map((e) => e.key),
            ["b"],
          );
          // Unknown keys are a no-op, not an error.
          await store.journalAdvance("matrix", "zzz", 1);
          await store.journalMarkDone("remote", "zzz");
          assert.equal(await store.journalGet("matrix", "zzz"), null);
        }),
      );

      test(
        "recent lists done and open entries of one stream created since the cutoff, oldest first",
        run(async ({ store }) => {
          await store.journalAppend("matrix", "old", 1);
          const cutoff = ((await store.journalGet("matrix", "old"))?.createdAt ?? 0) + 1;
          while (Date.now() < cutoff) await new Promise((r) => setTimeout(r, 1));
          await store.journalAppend("matrix", "a", { v: AWKWARD_JSON });
          await store.journalAppend("remote", "other-stream", 2);
          await store.journalAppend("matrix", "b", 3);
          await store.journalMarkDone("matrix", "a");
          const recent = await store.journalRecent("matrix", cutoff);
          assert.deepEqual(
            recent.map((e) => [e.key, e.done]),
            [
              ["a", true],
              ["b", false],
            ],
          );
          recent.forEach((e) => assertFields(e, "journal"));
          assert.deepEqual(recent[0]?.payload, { v: AWKWARD_JSON });
          assert.deepEqual(await store.journalRecent("matrix", Date.now() + 1000), []);
        }),
      );

      test(
        "prune deletes only done entries created before the cutoff",
        run(async ({ store }) => {
          await store.journalAppend("matrix", "done", 1);
          await store.journalAppend("matrix", "open", 2);
          await store.journalAppend("remote", "done2", 3);
          await store.journalMarkDone("matrix", "done");
          await store.journalMarkDone("remote", "done2");
          const createdAt = (await store.journalGet("matrix", "done"))?.createdAt ?? 0;
          assert.equal(await store.journalPrune(createdAt), 0, "cutoff is exclusive");
          assert.equal(await store.journalPrune(Date.now() + 1000), 2);
          assert.equal(await store.journalGet("matrix", "done"), null);
          assert.equal(await store.journalGet("remote", "done2"), null);
          assert.ok(await store.journalGet("matrix", "open"), "entries not done are never pruned");
          assert.equal(await store.journalPrune(Date.now() + 1000), 0);
          // Pruned keys may be appended again (the journal is only a dedup window).
          assert.equal(await store.journalAppend("matrix", "done", 4), true);
        }),
      );

      test(
        "seq keeps increasing across reopen, even after everything was pruned",
        runPersistent(async (h, reopen) => {
          await h.store.journalAppend("matrix", "a", 1);
          await h.store.journalAppend("remote", "b", 2);
          const b = (await h.store.journalGet("remote", "b"))?.seq ?? Infinity;

          let store = await reopen();
          await store.journalAppend("matrix", "c", 3);
          const c = (await store.journalGet("matrix", "c"))?.seq ?? -Infinity;
          assert.ok(c > b, `seq after reopen (${c}) > before (${b})`);

          for (const [stream, key] of [
            ["matrix", "a"],
            ["remote", "b"],
            ["matrix", "c"],
          ] as const) {
            await store.journalMarkDone(stream, key);
          }
          assert.equal(await store.journalPrune(Date.now() + 1000), 3);
          store = await reopen();
          await store.journalAppend("matrix", "d", 4);
          const d = (await store.journalGet("matrix", "d"))?.seq ?? -Infinity;
          assert.ok(d > c, `seq after pruning everything and reopening (${d}) > ${c}`);
        }),
      );
    });

    describe("links", () => {
      test(
        "put, byRoom, update in place",
        run(async ({ store }) => {
          await store.linkPut(link({ meta: AWKWARD_JSON }));
          const got = await store.linkByRoom("!room:example.org");
          assertFields(got, "link");
          assert.deepEqual(got, link({ meta: AWKWARD_JSON }));
          await store.linkPut(link({ state: "paused", meta: { why: "guard" } }));
          assert.deepEqual(
            await store.linkByRoom("!room:example.org"),
            link({ state: "paused", meta: { why: "guard" } }),
          );
          assert.equal(await store.linkCount(), 1, "put with the same roomId replaces");
          assert.equal(await store.linkByRoom("!other:example.org"), null);
        }),
      );

      test(
        "an update that moves a link to another channel moves its channel lookup too",
        run(async ({ store }) => {
          await store.linkPut(link());
          await store.linkPut(link({ channelId: "#moved" }));
          assert.deepEqual(await store.linksByChannel("irc", "#chan"), []);
          assert.deepEqual(rooms(await store.linksByChannel("irc", "#moved")), ["!room:example.org"]);
        }),
      );

      test(
        "linksByChannel with and without receiver",
        run(async ({ store }) => {
          await store.linkPut(link({ roomId: "!portal:x" }));
          await store.linkPut(link({ roomId: "!plumb:x", kind: "plumbed" }));
          await store.linkPut(link({ roomId: "!dm-a:x", channelId: "dm", kind: "dm", receiver: "@a:x" }));
          await store.linkPut(link({ roomId: "!dm-b:x", channelId: "dm", kind: "dm", receiver: "@b:x" }));
          await store.linkPut(link({ roomId: "!slack:x", network: "slack" }));

          assert.deepEqual(rooms(await store.linksByChannel("irc", "#chan")), ["!plumb:x", "!portal:x"]);
          assert.deepEqual(rooms(await store.linksByChannel("irc", "#chan", "")), ["!plumb:x", "!portal:x"]);
          assert.deepEqual(rooms(await store.linksByChannel("irc", "dm")), ["!dm-a:x", "!dm-b:x"]);
          assert.deepEqual(rooms(await store.linksByChannel("irc", "dm", "@b:x")), ["!dm-b:x"]);
          assert.deepEqual(await store.linksByChannel("irc", "dm", ""), []);
          assert.deepEqual(rooms(await store.linksByChannel("slack", "#chan")), ["!slack:x"]);
          assert.deepEqual(await store.linksByChannel("discord", "#chan"), []);
          (await store.linksByChannel("irc", "dm")).forEach((l) => assertFields(l, "link"));
        }),
      );

      test(
        "list filters, count and delete",
        run(async ({ store }) => {
          await store.linkPut(link({ roomId: "!1:x", createdBy: "@a:x" }));
          await store.linkPut(link({ roomId: "!2:x", createdBy: "@b:x", state: "pending" }));
          await store.linkPut(
            link({ roomId: "!3:x", network: "slack", createdBy: "@a:x", state: "pending" }),
          );
          await store.linkPut(link({ roomId: "!4:x", network: "slack", createdBy: "@b:x", state: "denied" }));

          assert.deepEqual(rooms(await store.linkList()), ["!1:x", "!2:x", "!3:x", "!4:x"]);
          assert.deepEqual(rooms(await store.linkList({})), ["!1:x", "!2:x", "!3:x", "!4:x"]);
          assert.deepEqual(rooms(await store.linkList({ network: "slack" })), ["!3:x", "!4:x"]);
          assert.deepEqual(rooms(await store.linkList({ createdBy: "@a:x" })), ["!1:x", "!3:x"]);
          assert.deepEqual(rooms(await store.linkList({ state: "pending" })), ["!2:x", "!3:x"]);
          assert.deepEqual(rooms(await store.linkList({ network: "irc", state: "pending" })), ["!2:x"]);
          assert.deepEqual(rooms(await store.linkList({ network: "slack", createdBy: "@b:x" })), ["!4:x"]);
          assert.deepEqual(
            rooms(await store.linkList({ network: "slack", createdBy: "@a:x", state: "pending" })),
            ["!3:x"],
          );
          assert.deepEqual(await store.linkList({ network: "discord" }), []);
          (await store.linkList()).forEach((l) => assertFields(l, "link"));

          assert.equal(await store.linkCount(), 4);
          assert.equal(await store.linkCount("irc"), 2);
          assert.equal(await store.linkCount("slack"), 2);
          assert.equal(await store.linkCount("discord"), 0);

          await store.linkDelete("!1:x");
          await store.linkDelete("!missing:x");
          assert.equal(await store.linkByRoom("!1:x"), null);
          assert.equal(await store.linkCount(), 3);
          assert.equal(await store.linkCount("irc"), 1);
          assert.deepEqual(rooms(await store.linksByChannel("irc", "#chan")), ["!2:x"]);
        }),
      );
    });

    describe("ghosts", () => {
      test(
        "put, get, byRemote, update",
        run(async ({ store }) => {
          await store.ghostPut(ghost());
          assertFields(await store.ghostGet("@irc_alice:example.org"), "ghost");
          assert.deepEqual(await store.ghostGet("@irc_alice:example.org"), ghost());
          assert.deepEqual(await store.ghostByRemote("irc", "alice"), ghost());
          assert.equal(await store.ghostByRemote("slack", "alice"), null, "remote ids are per network");
          assert.equal(await store.ghostByRemote("irc", "bob"), null);
          assert.equal(await store.ghostGet("@nobody:example.org"), null);

          const updated = ghost({
            displayname: null,
            avatarUrl: "mxc://x/y",
            avatarKey: "https://remote/avatar.png",
            registered: true,
          });
          await store.ghostPut(updated);
          assert.deepEqual(await store.ghostGet("@irc_alice:example.org"), updated);
          assert.deepEqual(await store.ghostByRemote("irc", "alice"), updated);
          assert.equal(await store.ghostCount(), 1);
        }),
      );

      test(
        "the same remote id on two networks is two ghosts",
        run(async ({ store }) => {
          await store.ghostPut(ghost());
          await store.ghostPut(ghost({ userId: "@slack_alice:example.org", network: "slack" }));
          assert.equal((await store.ghostByRemote("irc", "alice"))?.userId, "@irc_alice:example.org");
          assert.equal((await store.ghostByRemote("slack", "alice"))?.userId, "@slack_alice:example.org");
        }),
      );

      test(
        "count per network",
        run(async ({ store }) => {
          for (let i = 0; i < 5; i++)
            await store.ghostPut(ghost({ userId: `@irc_${i}:x`, remoteId: `${i}` }));
          for (let i = 0; i < 3; i++) {
            await store.ghostPut(ghost({ userId: `@slack_${i}:x`, network: "slack", remoteId: `${i}` }));
          }
          assert.equal(await store.ghostCount(), 8);
          assert.equal(await store.ghostCount("irc"), 5);
          assert.equal(await store.ghostCount("slack"), 3);
          assert.equal(await store.ghostCount("discord"), 0);
        }),
      );
    });

    describe("users", () => {
      test(
        "put, get, update, byManagementRoom",
        run(async ({ store }) => {
          await store.userPut(user({ meta: AWKWARD_JSON }));
          const got = await store.userGet("@bob:example.org");
          assertFields(got, "user");
          assert.deepEqual(got, user({ meta: AWKWARD_JSON }));
          assert.equal(await store.userGet("@nobody:example.org"), null);
          assert.equal(await store.userByManagementRoom("!mgmt:x"), null);

          await store.userPut(user({ managementRoom: "!mgmt:x", meta: { admin: true } }));
          await store.userPut(user({ userId: "@carol:x", managementRoom: "!mgmt2:x" }));
          await store.userPut(user({ userId: "@dave:x" }));
          const byRoom = await store.userByManagementRoom("!mgmt:x");
          assertFields(byRoom, "user");
          assert.deepEqual(byRoom, user({ managementRoom: "!mgmt:x", meta: { admin: true } }));
          assert.equal((await store.userByManagementRoom("!mgmt2:x"))?.userId, "@carol:x");
          assert.deepEqual(await store.userGet("@dave:x"), user({ userId: "@dave:x" }));

          // Losing the management room must also drop the reverse lookup.
          await store.userPut(user({ managementRoom: null }));
          assert.equal(await store.userByManagementRoom("!mgmt:x"), null);
          assert.equal((await store.userGet("@bob:example.org"))?.managementRoom, null);
        }),
      );
    });

    describe("logins", () => {
      test(
        "put, get, update, loginsOf, loginsOfNetwork, delete",
        run(async ({ store }) => {
          await store.loginPut(login({ meta: AWKWARD_JSON }));
          await store.loginPut(login({ loginId: "U2", createdAt: 2000 }));
          await store.loginPut(login({ network: "discord", loginId: "D1" }));
          await store.loginPut(login({ network: "slack", loginId: "U3", matrixUserId: "@carol:x" }));
          await store.loginPut(login({ network: "discord", loginId: "U1", matrixUserId: "@carol:x" }));

          const got = await store.loginGet("slack", "U1");
          assertFields(got, "login");
          assert.deepEqual(got, login({ meta: AWKWARD_JSON }));
          assert.equal(
            (await store.loginGet("discord", "U1"))?.matrixUserId,
            "@carol:x",
            "ids are per network",
          );
          assert.equal(await store.loginGet("slack", "nope"), null);

          assert.deepEqual(loginIds(await store.loginsOf("@bob:example.org")), ["D1", "U1", "U2"]);
          assert.deepEqual(loginIds(await store.loginsOf("@bob:example.org", "slack")), ["U1", "U2"]);
          assert.deepEqual(loginIds(await store.loginsOf("@bob:example.org", "discord")), ["D1"]);
          assert.deepEqual(await store.loginsOf("@bob:example.org", "signal"), []);
          assert.deepEqual(await store.loginsOf("@nobody:x"), []);
          assert.deepEqual(loginIds(await store.loginsOfNetwork("slack")), ["U1", "U2", "U3"]);
          assert.deepEqual(loginIds(await store.loginsOfNetwork("discord")), ["D1", "U1"]);
          (await store.loginsOfNetwork("slack")).forEach((l) => assertFields(l, "login"));

          await store.loginPut(login({ state: "logged-out", credentials: "" }));
          assert.equal((await store.loginGet("slack", "U1"))?.state, "logged-out");
          assert.equal((await store.loginsOfNetwork("slack")).length, 3, "put with the same key replaces");

          await store.loginDelete("slack", "U1");
          await store.loginDelete("slack", "missing");
          assert.equal(await store.loginGet("slack", "U1"), null);
          assert.ok(await store.loginGet("discord", "U1"), "delete is per network");
          assert.deepEqual(loginIds(await store.loginsOf("@bob:example.org")), ["D1", "U2"]);
        }),
      );
    });

    describe("messages", () => {
      test(
        "parts come back in ascending order; byEvent",
        run(async ({ store }) => {
          await store.messagePut(message({ part: 2, eventId: "$p2" }));
          await store.messagePut(message({ part: 0, eventId: "$p0" }));
          await store.messagePut(message({ part: 1, eventId: "$p1" }));
          await store.messagePut(message({ remoteId: "m2", eventId: "$other" }));
          await store.messagePut(message({ receiver: "@a:x", eventId: "$dm" }));

          const parts = await store.messageByRemote("irc", "#chan", "", "m1");
          assert.deepEqual(
            parts.map((m) => [m.part, m.eventId]),
            [
              [0, "$p0"],
              [1, "$p1"],
              [2, "$p2"],
            ],
          );
          parts.forEach((m) => assertFields(m, "message"));
          assert.deepEqual(
            (await store.messageByRemote("irc", "#chan", "@a:x", "m1")).map((m) => m.eventId),
            ["$dm"],
            "the receiver is part of the key",
          );
          assert.deepEqual(await store.messageByRemote("irc", "#chan", "", "unknown"), []);
          assert.deepEqual(await store.messageByRemote("slack", "#chan", "", "m1"), []);

          assertFields(await store.messageByEvent("$p1"), "message");
          assert.deepEqual(await store.messageByEvent("$p1"), message({ part: 1, eventId: "$p1" }));
          assert.equal(await store.messageByEvent("$unknown"), null);

          await store.messagePut(message({ part: 1, eventId: "$p1", sender: "@bot:x" }));
          assert.equal(
            (await store.messageByEvent("$p1"))?.sender,
            "@bot:x",
            "put with the same event replaces",
          );
          assert.equal((await store.messageByRemote("irc", "#chan", "", "m1")).length, 3);
        }),
      );

      test(
        "latestBefore picks the newest at or before the timestamp, in the right room",
        run(async ({ store }) => {
          const a = "!a:x";
          await store.messagePut(message({ roomId: a, eventId: "$a300", remoteId: "3", timestamp: 300 }));
          await store.messagePut(message({ roomId: a, eventId: "$a100", remoteId: "1", timestamp: 100 }));
          await store.messagePut(message({ roomId: a, eventId: "$a200", remoteId: "2", timestamp: 200 }));
          await store.messagePut(
            message({ roomId: "!b:x", eventId: "$b250", remoteId: "9", timestamp: 250 }),
          );

          assert.equal((await store.messageLatestBefore(a, 250))?.eventId, "$a200");
          assert.equal((await store.messageLatestBefore(a, 200))?.eventId, "$a200", "inclusive");
          assert.equal((await store.messageLatestBefore(a, 199))?.eventId, "$a100");
          assert.equal((await store.messageLatestBefore(a, 10_000))?.eventId, "$a300");
          assert.equal(await store.messageLatestBefore(a, 99), null);
          assert.equal((await store.messageLatestBefore("!b:x", 10_000))?.eventId, "$b250");
          assert.equal(await store.messageLatestBefore("!b:x", 249), null);
          assert.equal(await store.messageLatestBefore("!c:x", 10_000), null);
          assertFields(await store.messageLatestBefore(a, 250), "message");
        }),
      );

      test(
        "prune deletes mappings older than the cutoff",
        run(async ({ store }) => {
          await store.messagePut(message({ eventId: "$1", remoteId: "1", timestamp: 100 }));
          await store.messagePut(message({ eventId: "$2", remoteId: "2", timestamp: 200 }));
          await store.messagePut(message({ eventId: "$3", remoteId: "3", timestamp: 300, roomId: "!b:x" }));
          assert.equal(await store.messagePrune(100), 0, "cutoff is exclusive");
          assert.equal(await store.messagePrune(250), 2);
          assert.equal(await store.messageByEvent("$1"), null);
          assert.deepEqual(await store.messageByRemote("irc", "#chan", "", "2"), []);
          assert.ok(await store.messageByEvent("$3"));
          assert.equal(await store.messageLatestBefore("!room:example.org", 10_000), null);
        }),
      );
    });

    describe("kv", () => {
      test(
        "set, get, overwrite, delete; namespaces are isolated; JSON values round-trip",
        run(async ({ store }) => {
          assert.equal(await store.kvGet("ns", "k"), null);
          await store.kvSet("ns", "k", AWKWARD_JSON);
          assert.deepEqual(await store.kvGet("ns", "k"), AWKWARD_JSON);
          await store.kvSet("other", "k", 42);
          await store.kvSet("ns", "k2", "text");
          await store.kvSet("ns", "list", [1, { a: [true, null] }]);
          await store.kvSet("ns", "flag", false);
          assert.equal(await store.kvGet<number>("other", "k"), 42);
          assert.equal(await store.kvGet("ns", "k2"), "text");
          assert.deepEqual(await store.kvGet("ns", "list"), [1, { a: [true, null] }]);
          assert.equal(await store.kvGet("ns", "flag"), false);

          await store.kvSet("ns", "k", { replaced: true });
          assert.deepEqual(await store.kvGet("ns", "k"), { replaced: true });
          await store.kvDelete("ns", "k");
          await store.kvDelete("ns", "missing");
          assert.equal(await store.kvGet("ns", "k"), null);
          assert.equal(await store.kvGet<number>("other", "k"), 42, "delete is per namespace");
          // A separator-based key would confuse these two.
          await store.kvSet("a:b", "c", 1);
          await store.kvSet("a", "b:c", 2);
          assert.equal(await store.kvGet("a:b", "c"), 1);
          assert.equal(await store.kvGet("a", "b:c"), 2);
        }),
      );
    });

    describe("records are copies", () => {
      test(
        "mutating a returned record or the argument of a put does not change the store",
        run(async ({ store }) => {
          const input = link({ meta: { list: [1] } });
          await store.linkPut(input);
          input.meta.list = "changed";
          input.state = "denied";
          const first = await store.linkByRoom(input.roomId);
          assert.ok(first);
          (first.meta.list as number[]).push(2);
          first.state = "paused";
          assert.deepEqual(await store.linkByRoom(input.roomId), link({ meta: { list: [1] } }));
          const listed = await store.linkList();
          listed[0]!.meta.x = 1;
          assert.deepEqual(await store.linkByRoom(input.roomId), link({ meta: { list: [1] } }));

          const payload = { items: [1, 2] };
          await store.journalAppend("matrix", "t", payload);
          payload.items.push(3);
          const entry = await store.journalGet("matrix", "t");
          (entry?.payload as { items: number[] }).items.push(4);
          (await store.journalPending("matrix"))[0]!.cursor = 99;
          const again = await store.journalGet("matrix", "t");
          assert.deepEqual(again?.payload, { items: [1, 2] });
          assert.equal(again?.cursor, 0);

          const value = { a: { b: 1 } };
          await store.kvSet("ns", "k", value);
          value.a.b = 2;
          const read = await store.kvGet<typeof value>("ns", "k");
          assert.ok(read);
          read.a.b = 3;
          assert.deepEqual(await store.kvGet("ns", "k"), { a: { b: 1 } });

          const u = user({ meta: { tags: ["x"] } });
          await store.userPut(u);
          (u.meta.tags as string[]).push("y");
          const gotUser = await store.userGet(u.userId);
          (gotUser?.meta.tags as string[]).push("z");
          assert.deepEqual((await store.userGet(u.userId))?.meta, { tags: ["x"] });

          const g = ghost();
          await store.ghostPut(g);
          g.displayname = "Mallory";
          const gotGhost = await store.ghostGet(g.userId);
          if (gotGhost) gotGhost.displayname = "Eve";
          assert.equal((await store.ghostGet(g.userId))?.displayname, "Alice");

          const l = login({ meta: { n: 1 } });
          await store.loginPut(l);
          l.meta.n = 2;
          const gotLogin = (await store.loginsOf(l.matrixUserId))[0];
          if (gotLogin) gotLogin.meta.n = 3;
          assert.deepEqual((await store.loginGet(l.network, l.loginId))?.meta, { n: 1 });

          const m = message();
          await store.messagePut(m);
          m.part = 7;
          const gotMessage = await store.messageByEvent(m.eventId);
          if (gotMessage) gotMessage.part = 8;
          assert.equal((await store.messageByEvent(m.eventId))?.part, 0);
        }),
      );
    });

    describe("persistence", () => {
      test(
        "everything written (and deleted) is there after close and reopen",
        runPersistent(async ({ store }, reopen) => {
          await store.journalAppend("matrix", "open", { events: [AWKWARD_JSON] });
          await store.journalAppend("remote", "done", "p");
          await store.journalAdvance("matrix", "open", 1);
          await store.journalMarkDone("remote", "done");
          await store.linkPut(link({ roomId: "!keep:x", meta: AWKWARD_JSON }));
          await store.linkPut(link({ roomId: "!gone:x" }));
          await store.linkPut(link({ roomId: "!keep:x", meta: AWKWARD_JSON, state: "paused" }));
          await store.linkDelete("!gone:x");
          await store.ghostPut(ghost());
          await store.ghostPut(ghost({ registered: true }));
          await store.userPut(user({ managementRoom: "!mgmt:x", meta: { a: 1 } }));
          await store.loginPut(login());
          await store.loginPut(login({ loginId: "U2" }));
          await store.loginDelete("slack", "U2");
          await store.messagePut(message());
          await store.messagePut(message({ part: 1, eventId: "$e2", timestamp: 1500 }));
          await store.messagePut(message({ eventId: "$old", remoteId: "old", timestamp: 1 }));
          await store.messagePrune(2);
          await store.kvSet("ns", "k", AWKWARD_JSON);
          await store.kvSet("ns", "gone", 1);
          await store.kvDelete("ns", "gone");

          const s = await reopen();
          const open = await s.journalGet("matrix", "open");
          assert.deepEqual(open?.payload, { events: [AWKWARD_JSON] });
          assert.equal(open?.cursor, 1);
          assert.equal(open?.done, false);
          assert.equal((await s.journalGet("remote", "done"))?.done, true);
          assert.deepEqual(
            (await s.journalPending("matrix")).map((e) => e.key),
            ["open"],
          );
          assert.deepEqual(await s.journalPending("remote"), []);
          assert.equal(await s.journalAppend("matrix", "open", null), false, "dedup survives reopen");

          assert.deepEqual(
            await s.linkByRoom("!keep:x"),
            link({ roomId: "!keep:x", meta: AWKWARD_JSON, state: "paused" }),
          );
          assert.equal(await s.linkByRoom("!gone:x"), null);
          assert.deepEqual(rooms(await s.linksByChannel("irc", "#chan")), ["!keep:x"]);
          assert.equal(await s.linkCount(), 1);

          assert.deepEqual(await s.ghostByRemote("irc", "alice"), ghost({ registered: true }));
          assert.equal(await s.ghostCount("irc"), 1);
          assert.deepEqual(
            await s.userByManagementRoom("!mgmt:x"),
            user({ managementRoom: "!mgmt:x", meta: { a: 1 } }),
          );
          assert.deepEqual(await s.loginsOf("@bob:example.org"), [login()]);
          assert.equal(await s.loginGet("slack", "U2"), null);
          assert.deepEqual(
            (await s.messageByRemote("irc", "#chan", "", "m1")).map((m) => m.eventId),
            ["$e1", "$e2"],
          );
          assert.equal(await s.messageByEvent("$old"), null);
          assert.equal((await s.messageLatestBefore("!room:example.org", 1200))?.eventId, "$e1");
          assert.deepEqual(await s.kvGet("ns", "k"), AWKWARD_JSON);
          assert.equal(await s.kvGet("ns", "gone"), null);

          // And the reopened store is fully usable, with lookups intact.
          await s.ghostPut(ghost({ userId: "@irc_b:x", remoteId: "b" }));
          assert.equal(await s.ghostCount(), 2);
        }),
      );
    });
  });
}
