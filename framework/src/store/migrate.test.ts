import assert from "node:assert/strict";
import { cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { Type } from "@sinclair/typebox";
import pino from "pino";
import type { Connector } from "../connector.js";
import { CredentialBox } from "../credentials.js";
import { migrateStore, STORE_SCHEMA_VERSION } from "./migrate.js";
import { NedbStore } from "./nedb.js";
import type { ReactionRecord, RoomLink, Store } from "./types.js";

const FIXTURE = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures", "v0");
/** The key fixtures/make-v0.ts sealed the login's credentials with. */
const FIXTURE_CREDENTIAL_KEY = "switchboard-v0-fixture-test-key";
const ALICE = "@alice:example.org";
const PORTAL = "!portal:example.org";
const DM_SLACK = "!dm-slack:example.org";
const DM_IRC = "!dm-irc:example.org";

function stubConnector(id: string, extra: object = {}): Connector {
  const connector: Connector = {
    id,
    displayName: id,
    configSchema: Type.Object({}),
    start: async () => undefined,
    stop: async () => undefined,
    getUser: async () => null,
    chatFromAlias: () => null,
    aliasFor: () => null,
  };
  return Object.assign(connector, extra);
}

/** Slack DMs belong to the user's login in the DM's workspace ("T1/D1" → a "T1/..." login). */
const slack = stubConnector("slack", {
  upgradeDmReceiver: (channelId: string, _matrixUserId: string, loginIds: string[]) =>
    loginIds.find((id) => id.startsWith(`${channelId.split("/")[0]}/`)) ?? null,
});
/** IRC logins are implicit, one per Matrix user and network: "libera/@alice:example.org". */
const irc = stubConnector("irc", {
  upgradeDmReceiver: (channelId: string, matrixUserId: string) =>
    `${channelId.split("/")[0]}/${matrixUserId}`,
});
const connectors = (): Map<string, Connector> =>
  new Map([
    ["slack", slack],
    ["irc", irc],
  ]);

interface LogLine {
  level: number;
  msg: string;
  count?: number;
}

function capturingLog(): { log: pino.Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = pino({ level: "info" }, { write: (line: string) => lines.push(JSON.parse(line) as LogLine) });
  return { log, lines };
}

interface FixtureCopy {
  directory: string;
  store: NedbStore;
  reopen(): Promise<NedbStore>;
  cleanup(): Promise<void>;
}

async function fixtureCopy(): Promise<FixtureCopy> {
  const directory = await mkdtemp(path.join(tmpdir(), "switchboard-migrate-"));
  await cp(FIXTURE, directory, { recursive: true });
  const copy: FixtureCopy = {
    directory,
    store: new NedbStore({ directory, compactionIntervalMs: 0 }),
    reopen: async () => {
      await copy.store.close();
      copy.store = new NedbStore({ directory, compactionIntervalMs: 0 });
      await copy.store.open();
      return copy.store;
    },
    cleanup: async () => {
      await copy.store.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
  await copy.store.open();
  return copy;
}

function withFixture(body: (copy: FixtureCopy) => Promise<void>): () => Promise<void> {
  return async () => {
    const copy = await fixtureCopy();
    try {
      await body(copy);
    } finally {
      await copy.cleanup();
    }
  };
}

const FIXTURE_GHOSTS = [
  "@slack_t1_u2:example.org",
  "@slack_t1_u3:example.org",
  "@irc_libera_bob:example.org",
];
const FIXTURE_REACTIONS = [
  "$react-remote",
  "$react-port",
  "$react-shortcode",
  "$react-puppet",
  "$react-dm",
  "$react-orphan",
];

/** Everything the store holds that the fixture put there, in a comparable form. */
async function snapshot(store: Store): Promise<unknown> {
  return {
    version: await store.schemaVersion(),
    links: await store.linkList(),
    ghosts: await Promise.all(FIXTURE_GHOSTS.map((id) => store.ghostGet(id))),
    user: await store.userGet(ALICE),
    logins: await store.loginsOfNetwork("slack"),
    messages: {
      slack: await store.messagesWithRemotePrefix("slack", ""),
      irc: await store.messagesWithRemotePrefix("irc", ""),
    },
    reactions: await Promise.all(FIXTURE_REACTIONS.map((id) => store.reactionByEvent(id))),
    journal: [await store.journalRecent("matrix", 0), await store.journalRecent("remote", 0)],
    kv: [await store.kvList("connector:irc", ""), await store.kvList("spaces", "")],
  };
}

const link = (over: Partial<RoomLink>): RoomLink => ({
  roomId: PORTAL,
  network: "slack",
  channelId: "T1/C1",
  receiver: "",
  kind: "portal",
  state: "active",
  createdBy: "@admin:example.org",
  createdAt: 1_700_000_000_000,
  meta: {},
  ...over,
});

const reaction = (over: Partial<ReactionRecord>): Omit<ReactionRecord, "timestamp"> => ({
  network: "slack",
  channelId: "T1/C1",
  receiver: "",
  messageId: "1700000001.000100",
  sender: "T1/U2",
  key: "👍",
  roomId: PORTAL,
  eventId: "$react-remote",
  ...over,
});

async function assertReaction(store: Store, expected: Omit<ReactionRecord, "timestamp">): Promise<void> {
  const got = await store.reactionByEvent(expected.eventId);
  assert.ok(got, `${expected.eventId} became a reaction record`);
  const { timestamp, ...rest } = got;
  assert.deepEqual(rest, expected);
  assert.equal(typeof timestamp, "number");
  const { network, channelId, receiver, messageId, sender, key } = expected;
  const byTarget = await store.reactionGet(network, channelId, receiver, messageId, sender, key);
  assert.equal(byTarget?.eventId, expected.eventId, `${expected.eventId} is found by what it reacts to`);
  assert.equal(await store.messageByEvent(expected.eventId), null, "the old mapping is gone");
}

test(
  "a v0 data directory migrates to v1 and keeps everything",
  withFixture(async (copy) => {
    const { store } = copy;
    assert.equal(await store.schemaVersion(), 0);
    const { log, lines } = capturingLog();
    assert.deepEqual(await migrateStore(store, { log, connectors: connectors() }), { from: 0, to: 1 });
    assert.equal(await store.schemaVersion(), STORE_SCHEMA_VERSION);

    // Links: portal and plumb untouched, DMs owned by login ids now.
    assert.deepEqual(await store.linkByRoom(PORTAL), link({ meta: { mode: "lazy" } }));
    assert.deepEqual(
      await store.linkByRoom("!plumbed:example.org"),
      link({ roomId: "!plumbed:example.org", network: "irc", channelId: "libera/#rust", kind: "plumbed" }),
    );
    const dm = { kind: "dm", createdBy: ALICE } as const;
    assert.deepEqual(
      await store.linkByRoom(DM_SLACK),
      link({ ...dm, roomId: DM_SLACK, channelId: "T1/D1", receiver: "T1/U1" }),
    );
    assert.deepEqual(
      await store.linkByRoom(DM_IRC),
      link({ ...dm, roomId: DM_IRC, network: "irc", channelId: "libera/bob", receiver: `libera/${ALICE}` }),
    );
    assert.equal(await store.linkCount(), 4);
    assert.deepEqual(
      (await store.linksByChannel("slack", "T1/D1", "T1/U1")).map((l) => l.roomId),
      [DM_SLACK],
    );

    // Ghosts, users, logins.
    assert.equal(await store.ghostCount(), 3);
    assert.equal((await store.ghostByRemote("slack", "T1/U2"))?.userId, "@slack_t1_u2:example.org");
    assert.equal((await store.ghostByRemote("irc", "libera/bob"))?.displayname, "bob");
    assert.equal((await store.userByManagementRoom("!mgmt-alice:example.org"))?.userId, ALICE);
    const login = await store.loginGet("slack", "T1/U1");
    assert.equal(login?.matrixUserId, ALICE);
    assert.deepEqual(new CredentialBox(FIXTURE_CREDENTIAL_KEY).open(login?.credentials ?? ""), {
      token: "xoxp-fixture-token",
      teamId: "T1",
    });

    // Message mappings, the DMs' under their new receivers.
    assert.deepEqual(
      (await store.messageByRemote("slack", "T1/C1", "", "1700000001.000100")).map((m) => [
        m.part,
        m.eventId,
      ]),
      [
        [0, "$portal-msg-text"],
        [1, "$portal-msg-file"],
      ],
    );
    assert.equal((await store.messageByEvent("$portal-msg-alice"))?.sender, ALICE);
    assert.equal((await store.messageByEvent("$plumbed-msg"))?.channelId, "libera/#rust");
    assert.deepEqual(
      (await store.messageByRemote("slack", "T1/D1", "T1/U1", "1700000004.000400")).map((m) => m.eventId),
      ["$dm-slack-msg-bob"],
    );
    assert.equal((await store.messageByEvent("$dm-slack-msg-alice"))?.receiver, "T1/U1");
    assert.deepEqual(await store.messageByRemote("slack", "T1/D1", ALICE, "1700000004.000400"), []);
    assert.deepEqual(
      (await store.messageByRemote("irc", "libera/bob", `libera/${ALICE}`, "libera/bob/1700000006000")).map(
        (m) => m.eventId,
      ),
      ["$dm-irc-msg"],
    );

    // Reactions are records of their own now.
    await assertReaction(store, reaction({}));
    await assertReaction(
      store,
      reaction({ eventId: "$react-port", sender: "@a:hs.example:8448", key: "🎉" }),
    );
    await assertReaction(
      store,
      reaction({ eventId: "$react-shortcode", messageId: "1700000002.000200", sender: ALICE, key: ":tada:" }),
    );
    await assertReaction(store, reaction({ eventId: "$react-puppet", sender: "T1/U1", key: "❤️" }));
    await assertReaction(
      store,
      reaction({
        eventId: "$react-dm",
        channelId: "T1/D1",
        receiver: "T1/U1",
        messageId: "1700000004.000400",
        roomId: DM_SLACK,
      }),
    );
    assert.equal(await store.reactionByEvent("$react-orphan"), null, "unparseable: dropped");
    assert.equal(await store.messageByEvent("$react-orphan"), null);
    assert.deepEqual(await store.messagesWithRemotePrefix("slack", "reaction:"), []);

    // Journal and kv as they were.
    assert.deepEqual(
      (await store.journalRecent("matrix", 0)).map((e) => [e.key, e.done]),
      [
        ["txn-1", true],
        ["txn-2", true],
      ],
    );
    assert.deepEqual(await store.journalPending("remote"), []);
    assert.equal(await store.journalAppend("remote", "slack:T1:Ev0001", null), false, "dedup window kept");
    const passwordKey = await store.kvGet<string>("connector:irc", "password-key");
    const passwords = await store.kvList<string>("connector:irc", "password:");
    assert.deepEqual(
      passwords.map((p) => p.key),
      [`password:libera:${ALICE}`],
    );
    assert.equal(new CredentialBox(passwordKey ?? "").open(passwords[0]?.value ?? ""), "hunter2");

    // What happened is said once, and the drop with its count.
    const info = lines.filter((l) => l.level === 30);
    assert.equal(info.length, 1);
    assert.match(
      info[0]?.msg ?? "",
      /v0 to v1: 2 DM link\(s\) moved .*5 reaction mapping\(s\) converted, 1 dropped/,
    );
    assert.deepEqual(
      lines.filter((l) => l.level === 40).map((l) => l.count),
      [1],
    );

    // And it is on disk.
    const reopened = await copy.reopen();
    assert.equal(await reopened.schemaVersion(), 1);
    assert.equal((await reopened.linkByRoom(DM_SLACK))?.receiver, "T1/U1");
    assert.equal((await reopened.reactionByEvent("$react-port"))?.sender, "@a:hs.example:8448");
  }),
);

test(
  "migrating again changes nothing, even when the version was not recorded",
  withFixture(async ({ store }) => {
    await migrateStore(store, { log: pino({ level: "silent" }), connectors: connectors() });
    const migrated = await snapshot(store);

    const { log, lines } = capturingLog();
    assert.deepEqual(await migrateStore(store, { log, connectors: connectors() }), { from: 1, to: 1 });
    assert.deepEqual(await snapshot(store), migrated);
    assert.deepEqual(lines, [], "nothing to report");

    // As if the process died just before setSchemaVersion: the whole step runs again, harmlessly.
    await store.setSchemaVersion(0);
    assert.deepEqual(await migrateStore(store, { log, connectors: connectors() }), { from: 0, to: 1 });
    assert.deepEqual(await snapshot(store), migrated);
  }),
);

test(
  "a run interrupted halfway through a DM or a reaction finishes on the next run",
  withFixture(async ({ store }) => {
    // The DM's mappings had moved but the link was not saved yet; a reaction record was written
    // but its old mapping not deleted yet.
    await store.messageMoveReceiver("slack", "T1/D1", ALICE, "T1/U1");
    const old = await store.messageByEvent("$react-remote");
    assert.ok(old);
    await store.reactionPut({ ...reaction({}), timestamp: old.timestamp });

    await migrateStore(store, { log: pino({ level: "silent" }), connectors: connectors() });
    assert.equal((await store.linkByRoom(DM_SLACK))?.receiver, "T1/U1");
    assert.equal((await store.messageByEvent("$dm-slack-msg-alice"))?.receiver, "T1/U1");
    await assertReaction(store, reaction({}));
    await assertReaction(
      store,
      reaction({
        eventId: "$react-dm",
        channelId: "T1/D1",
        receiver: "T1/U1",
        messageId: "1700000004.000400",
        roomId: DM_SLACK,
      }),
    );
  }),
);

test("a store written by a newer Switchboard is refused, and left alone", async () => {
  const store = new NedbStore({ inMemory: true });
  await store.open();
  try {
    await store.setSchemaVersion(STORE_SCHEMA_VERSION + 1);
    await store.linkPut(link({ roomId: DM_SLACK, kind: "dm", channelId: "T1/D1", receiver: ALICE }));
    await assert.rejects(
      migrateStore(store, { log: pino({ level: "silent" }), connectors: connectors() }),
      (error: Error) => {
        assert.match(error.message, /written by a newer Switchboard/);
        assert.match(error.message, /version 2\b.*up to 1\b/);
        assert.match(error.message, /run that newer Switchboard, or restore a backup/i);
        return true;
      },
    );
    assert.equal(await store.schemaVersion(), 2);
    assert.equal((await store.linkByRoom(DM_SLACK))?.receiver, ALICE);
  } finally {
    await store.close();
  }
});

test("without a connector's help a DM moves only to an unambiguous login", async () => {
  const store = new NedbStore({ inMemory: true });
  await store.open();
  try {
    const dm = (roomId: string, network: string, receiver: string): RoomLink =>
      link({ roomId, network, kind: "dm", channelId: `${network}-dm`, receiver });
    const login = (network: string, loginId: string, matrixUserId: string) =>
      store.loginPut({
        network,
        matrixUserId,
        loginId,
        credentials: "",
        state: "active",
        remoteName: loginId,
        createdAt: 1,
        meta: {},
      });
    await store.linkPut(dm("!one:x", "discord", "@one:x"));
    await login("discord", "D-one", "@one:x");
    await login("signal", "S-one", "@one:x");
    await store.linkPut(dm("!two:x", "discord", "@two:x"));
    await login("discord", "D-two-a", "@two:x");
    await login("discord", "D-two-b", "@two:x");
    await store.linkPut(dm("!none:x", "discord", "@none:x"));
    // The connector declines: the single login is not second-guessed.
    await store.linkPut(dm("!declined:x", "slack", "@one:x"));
    await login("slack", "T9/U1", "@one:x");
    const declining = stubConnector("slack", { upgradeDmReceiver: () => null });
    const { log, lines } = capturingLog();

    await migrateStore(store, { log, connectors: new Map([["slack", declining]]) });
    assert.equal((await store.linkByRoom("!one:x"))?.receiver, "D-one");
    assert.equal((await store.linkByRoom("!two:x"))?.receiver, "@two:x");
    assert.equal((await store.linkByRoom("!none:x"))?.receiver, "@none:x");
    assert.equal((await store.linkByRoom("!declined:x"))?.receiver, "@one:x");
    assert.equal(lines.filter((l) => l.level === 40).length, 3, "one warning per DM left as it was");
    assert.match(lines.find((l) => l.level === 30)?.msg ?? "", /1 DM link\(s\) moved .*3 left/);
  } finally {
    await store.close();
  }
});

test("old reaction keys split around the sender even where the message id or the key holds it", async () => {
  const store = new NedbStore({ inMemory: true });
  await store.open();
  try {
    await store.linkPut(link({ network: "chat", channelId: "c" }));
    const old = (eventId: string, remoteId: string, sender: string) =>
      store.messagePut({
        network: "chat",
        channelId: "c",
        receiver: "",
        remoteId,
        part: 0,
        roomId: PORTAL,
        eventId,
        sender,
        timestamp: 5,
      });
    // A message id that embeds its author (chat, author, timestamp), reacted to by that author.
    await old("$own", "reaction:g1:@a:x:1700:@a:x:👍", "@a:x");
    // A shortcode key that names the sender again.
    await old("$key", "reaction:m1:@a:x::@a:x:", "@a:x");
    // An empty message id is no reaction the old code could have written.
    await old("$empty", "reaction::@a:x:👍", "@a:x");

    await migrateStore(store, { log: pino({ level: "silent" }), connectors: new Map() });
    const split = async (eventId: string) => {
      const r = await store.reactionByEvent(eventId);
      return r && [r.messageId, r.sender, r.key];
    };
    assert.deepEqual(await split("$own"), ["g1:@a:x:1700", "@a:x", "👍"]);
    assert.deepEqual(await split("$key"), ["m1", "@a:x", ":@a:x:"]);
    assert.equal(await split("$empty"), null);
    assert.equal(await store.messageByEvent("$empty"), null);
  } finally {
    await store.close();
  }
});
