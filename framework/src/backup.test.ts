/**
 * The admin commands end to end: `switchboard backup`, `backup --verify`, `restore` and `store copy`
 * through `runCli` (and the real binary where it matters), on real NeDB directories and a real
 * PostgreSQL.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createServer, type Server } from "node:http";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { gunzipSync, gzipSync } from "node:zlib";
import { parseRegistration } from "@switchboard/registration";
import { runCli } from "./cli.js";
import { CredentialBox } from "./credentials.js";
import { STORE_COLLECTIONS, canDump, summarize } from "./store/dump.js";
import type { DumpSummary } from "./store/dump.js";
import { STORE_SCHEMA_VERSION } from "./store/migrate.js";
import { NedbStore } from "./store/nedb.js";
import { PostgresStore } from "./store/postgres.js";
import { SNAPSHOT_PATH, serveSnapshot } from "./store/snapshot-http.js";
import { startPostgres } from "./store/testing/pg-cluster.js";
import type { PgCluster } from "./store/testing/pg-cluster.js";
import type { DumpRecord, MessageMapping, Store } from "./store/types.js";

const run = promisify(execFile);
const REPO = path.resolve(import.meta.dirname, "../..");
const KEY = "a-key-of-at-least-thirty-two-characters!";

let cluster: PgCluster | undefined;
let root = "";
before(async () => {
  root = await mkdtemp(path.join(tmpdir(), "switchboard-backup-"));
  cluster = await startPostgres();
});
after(async () => {
  await cluster?.stop();
  await rm(root, { recursive: true, force: true });
});

function pg(): PgCluster {
  assert.ok(cluster, "the PostgreSQL test cluster did not start (see the before hook's error)");
  return cluster;
}

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  return typeof address === "object" && address ? address.port : 0;
}

interface Bridge {
  dir: string;
  config: string;
  data: string;
  registration: string;
  port: number;
}

let dirs = 0;
/** A bridge's directory: config.yaml (NeDB in ./data unless a PostgreSQL url), registration.yaml unless told. */
async function bridgeDir(
  opts: { pgUrl?: string; registration?: boolean; config?: boolean } = {},
): Promise<Bridge> {
  const dir = path.join(root, `bridge${++dirs}`);
  await mkdir(dir, { recursive: true });
  const port = await freePort();
  const bridge: Bridge = {
    dir,
    config: path.join(dir, "config.yaml"),
    data: path.join(dir, "data"),
    registration: path.join(dir, "registration.yaml"),
    port,
  };
  if (opts.config === false) return bridge;
  const store = opts.pgUrl ? `store:\n  type: postgres\n  url: ${opts.pgUrl}\n` : "store:\n  path: ./data\n";
  await writeFile(
    bridge.config,
    `# the test bridge\nhomeserver:\n  url: http://127.0.0.1:1\n  domain: example.org\n` +
      `appservice:\n  port: ${port}\n${store}metrics:\n  enabled: false\n`,
  );
  if (opts.registration !== false) {
    assert.equal((await cli(["registration", "-c", bridge.config, "-o", bridge.registration])).code, 0);
  }
  return bridge;
}

/** runCli with its console output captured. */
async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = console.log;
  const error = console.error;
  console.log = (...parts: unknown[]) => void out.push(parts.join(" "));
  console.error = (...parts: unknown[]) => void err.push(parts.join(" "));
  try {
    const code = await runCli(args, {});
    return { code, out: out.join("\n"), err: err.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
  }
}

/** The real binary, as an admin runs it. */
async function binary(args: string[]): Promise<{ code: number; out: string; err: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [path.join(REPO, "bin/switchboard.js"), ...args], {
      cwd: REPO,
    });
    return { code: 0, out: stdout, err: stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, out: e.stdout ?? "", err: e.stderr ?? "" };
  }
}

/** A store as a bridge leaves it: every kind of record, sealed credentials, state and journal entries. */
async function fill(store: Store, messages = 300): Promise<void> {
  const box = new CredentialBox(KEY);
  await store.journalAppend("matrix", "txn1", box.seal({ events: [{ type: "m.room.message" }] }));
  await store.journalAppend("remote", "r1", box.seal({ event: { kind: "message" } }));
  await store.journalAppend("remote", "r2", box.seal({ event: { kind: "edit" } }));
  await store.journalMarkDone("remote", "r1");
  await store.linkPut({
    roomId: "!room:example.org",
    network: "slack",
    channelId: "C1",
    receiver: "",
    kind: "portal",
    state: "active",
    createdBy: "@admin:example.org",
    createdAt: 1,
    meta: { "m.relates_to": { $set: 1 } },
  });
  await store.ghostPut({
    userId: "@slack_u2:example.org",
    network: "slack",
    remoteId: "U2",
    displayname: "Two",
    avatarUrl: null,
    avatarKey: null,
    registered: true,
  });
  await store.userPut({ userId: "@bob:example.org", managementRoom: "!dm:example.org", meta: {} });
  await store.loginPut({
    network: "slack",
    matrixUserId: "@bob:example.org",
    loginId: "U1",
    credentials: box.seal({ token: "xoxp-secret" }),
    state: "active",
    remoteName: "bob",
    createdAt: 2,
    meta: {},
  });
  for (let i = 0; i < messages; i++) {
    await store.messagePut({
      network: "slack",
      channelId: "C1",
      receiver: "",
      remoteId: `17000000${i}.0001`,
      part: 0,
      roomId: "!room:example.org",
      eventId: `$ev${i}`,
      sender: "@slack_u2:example.org",
      timestamp: 1_700_000_000_000 + i,
      ...(i % 3 === 0 ? { meta: { ts: `${i}` } } : {}),
    });
  }
  await store.reactionPut({
    network: "slack",
    channelId: "C1",
    receiver: "",
    messageId: "170000001.0001",
    sender: "U2",
    key: "👍",
    roomId: "!room:example.org",
    eventId: "$re1",
    timestamp: 3,
  });
  await store.chatMemberPut({
    network: "slack",
    channelId: "C1",
    receiver: "",
    loginId: "U1",
    matrixUserId: "@bob:example.org",
    since: 4,
  });
  await store.mediaLinkPut({
    token: "tok",
    mxc: "mxc://x/y",
    name: "a.png",
    mimetype: "image/png",
    createdAt: 5,
  });
  await store.kvSet("login:slack:U1", "session", box.seal("protocol state"));
  await store.setSchemaVersion(STORE_SCHEMA_VERSION);
}

/** A NeDB bridge with a filled store and a key file. */
async function nedbBridge(messages?: number): Promise<Bridge> {
  const bridge = await bridgeDir();
  const store = new NedbStore({ directory: bridge.data });
  await store.open();
  await fill(store, messages);
  await store.close();
  await writeFile(path.join(bridge.data, "credentials.key"), `${KEY}\n`, { mode: 0o600 });
  return bridge;
}

async function summaryOf(store: Store): Promise<DumpSummary> {
  assert.ok(canDump(store));
  await store.open();
  try {
    const snapshot = await store.snapshot();
    try {
      return await summarize(snapshot.records);
    } finally {
      await snapshot.close();
    }
  } finally {
    await store.close();
  }
}

async function recordsOf(store: Store): Promise<DumpRecord[]> {
  assert.ok(canDump(store));
  await store.open();
  try {
    const snapshot = await store.snapshot();
    const out: DumpRecord[] = [];
    for await (const item of snapshot.records) out.push(item);
    return out;
  } finally {
    await store.close();
  }
}

const nedbAt = (bridge: Bridge) => new NedbStore({ directory: bridge.data, compactionIntervalMs: 0 });

const LIMIT = { timeout: 180_000 };

describe("switchboard store copy", LIMIT, () => {
  test("copies every record from NeDB to an empty PostgreSQL database and verifies it", async () => {
    const source = await nedbBridge();
    const url = await pg().createDatabase();
    const result = await cli(["store", "copy", "-c", source.config, "--to", url]);
    assert.equal(result.code, 0, result.err);
    assert.match(result.out, /counts and checksums of all 10 collections verified/);
    assert.match(result.out, /set store\.type: postgres and store\.url/);
    assert.doesNotMatch(result.out, /password|postgres:\/\/postgres@/i);

    const copied = new PostgresStore({ url });
    assert.deepEqual(await summaryOf(copied), await summaryOf(nedbAt(source)));
    await copied.open();
    try {
      // Sealed values travel sealed: the same ciphertext, which the same key opens.
      const login = await copied.loginGet("slack", "U1");
      assert.deepEqual(new CredentialBox(KEY).open(login?.credentials ?? ""), { token: "xoxp-secret" });
      assert.equal((await copied.journalPending("remote")).length, 1);
      assert.equal((await copied.messageByRemote("slack", "C1", "", "170000003.0001"))[0]?.eventId, "$ev3");
      assert.equal(await copied.schemaVersion(), STORE_SCHEMA_VERSION);
    } finally {
      await copied.close();
    }

    // The target now holds records: a second copy refuses and says how to go on.
    const again = await cli(["store", "copy", "-c", source.config, "--to", url]);
    assert.equal(again.code, 1);
    assert.match(again.err, /is not empty \(journal 3, links 1, .*messages 300.*\).*--force/s);
    assert.equal((await cli(["store", "copy", "-c", source.config, "--to", url, "--force"])).code, 0);
  });

  test("200k message mappings copy from NeDB to PostgreSQL in seconds", async (t) => {
    const source = await bridgeDir();
    const n = 200_000;
    const store = nedbAt(source);
    await store.open();
    const messages = (async function* (): AsyncIterable<DumpRecord> {
      for (let i = 0; i < n; i++) {
        const record: MessageMapping = {
          network: "irc",
          channelId: `#chan${i % 50}`,
          receiver: "",
          remoteId: `msg-${i}`,
          part: 0,
          roomId: `!room${i % 50}:example.org`,
          eventId: `$event-${i}:example.org`,
          sender: `@irc_user${i % 500}:example.org`,
          timestamp: 1_700_000_000_000 + i,
          meta: { i },
        };
        yield { collection: "messages", record };
      }
    })();
    await store.load({ schemaVersion: STORE_SCHEMA_VERSION, journalSeq: 0, records: messages });
    await store.close();
    const url = await pg().createDatabase();
    const started = Date.now();
    const result = await cli(["store", "copy", "-c", source.config, "--to", url]);
    const seconds = (Date.now() - started) / 1000;
    assert.equal(result.code, 0, result.err);
    // The whole command: opening (loading) the NeDB files, the copy, verifying both sides, closing.
    t.diagnostic(`store copy of ${n} mappings: ${seconds.toFixed(1)} s in all; ${result.out.split("\n")[0]}`);
    assert.match(result.out, /messages 200000/);
    assert.ok(seconds < 60, `took ${seconds} s`);
  });

  test("refuses a running bridge, an unknown URL and the configured store itself", async () => {
    const source = await nedbBridge(3);
    assert.match(
      (await cli(["store", "copy", "-c", source.config, "--to", "mysql://x"])).err,
      /--to takes postgres:\/\//,
    );
    const self = await cli(["store", "copy", "-c", source.config, "--to", `nedb:${source.data}`]);
    assert.match(self.err, /names the configured store itself/);
    const server = await fakeBridge(source.port, null);
    try {
      const running = await cli(["store", "copy", "-c", source.config, "--to", await pg().createDatabase()]);
      assert.equal(running.code, 1);
      assert.match(running.err, /is running .*stop it first/);
    } finally {
      server.close();
    }
  });
});

describe("switchboard backup and restore", LIMIT, () => {
  test("backup → restore NeDB → NeDB into a fresh directory: records and files equal", async () => {
    const source = await nedbBridge();
    const file = path.join(root, "nedb.sbk");
    const made = await binary(["backup", "-c", source.config, "-o", file]);
    assert.equal(made.code, 0, made.err);
    assert.match(made.out, /Wrote .*nedb\.sbk: nedb store .*config, registration, key/);

    const target = await bridgeDir({ config: false });
    const restored = await cli(["restore", file, "-c", target.config]);
    assert.equal(restored.code, 0, restored.err);
    assert.match(restored.out, /Start the bridge: nothing else to do\. It finishes the 2 journal entries/);
    assert.deepEqual(await recordsOf(nedbAt(target)), await recordsOf(nedbAt(source)));
    assert.equal(await readFile(target.config, "utf8"), await readFile(source.config, "utf8"));
    assert.equal(await readFile(target.registration, "utf8"), await readFile(source.registration, "utf8"));
    assert.equal(await readFile(path.join(target.data, "credentials.key"), "utf8"), `${KEY}\n`);
  });

  test("backup → restore NeDB → PostgreSQL: records equal, the journal goes on above", async () => {
    const source = await nedbBridge();
    const file = path.join(root, "to-pg.sbk");
    assert.equal((await cli(["backup", "-c", source.config, "-o", file])).code, 0);
    const url = await pg().createDatabase();
    const target = await bridgeDir({ pgUrl: url, registration: false });
    const restored = await cli(["restore", file, "-c", target.config]);
    assert.equal(restored.code, 0, restored.err);
    assert.match(restored.out, /into the postgres store at postgres:/);
    const records = async (store: Store) => (await recordsOf(store)).map((r) => JSON.stringify(r)).sort();
    assert.deepEqual(await records(new PostgresStore({ url })), await records(nedbAt(source)));
    assert.equal(await readFile(target.registration, "utf8"), await readFile(source.registration, "utf8"));

    const store = new PostgresStore({ url });
    await store.open();
    try {
      assert.equal(await store.journalAppend("matrix", "after-restore", null), true);
      const entry = await store.journalGet("matrix", "after-restore");
      assert.ok((entry?.seq ?? 0) > 3, `seq ${entry?.seq} continues above the backup's`);
    } finally {
      await store.close();
    }
  });

  test("restore refuses a non-empty store unless --force, which replaces everything", async () => {
    const source = await nedbBridge(20);
    const file = path.join(root, "force.sbk");
    assert.equal((await cli(["backup", "-c", source.config, "-o", file])).code, 0);
    const store = nedbAt(source);
    await store.open();
    await store.linkPut({
      roomId: "!new:example.org",
      network: "irc",
      channelId: "#new",
      receiver: "",
      kind: "portal",
      state: "active",
      createdBy: "@a:example.org",
      createdAt: 9,
      meta: {},
    });
    await store.close();
    const afterBackup = await summaryOf(nedbAt(source));

    const refused = await cli(["restore", file, "-c", source.config]);
    assert.equal(refused.code, 1);
    assert.match(
      refused.err,
      /is not empty \(journal 3, links 2, .*\): restore only fills an empty store.*--force/s,
    );
    assert.deepEqual(await summaryOf(nedbAt(source)), afterBackup, "nothing changed");

    const forced = await cli(["restore", file, "-c", source.config, "--force"]);
    assert.equal(forced.code, 0, forced.err);
    const now = await summaryOf(nedbAt(source));
    assert.equal(now.links.count, 1, "the link made after the backup is gone");
    const verified = await cli(["backup", "--verify", file]);
    assert.match(verified.out, /OK: journal 3, links 1/);

    // PostgreSQL: the same refusal, and the database is untouched by it.
    const url = await pg().createDatabase();
    const pgBridge = await bridgeDir({ pgUrl: url, registration: false });
    assert.equal((await cli(["restore", file, "-c", pgBridge.config])).code, 0);
    const again = await cli(["restore", file, "-c", pgBridge.config]);
    assert.equal(again.code, 1);
    assert.match(again.err, /the postgres store at .* is not empty/);
    assert.equal((await cli(["restore", file, "-c", pgBridge.config, "--force"])).code, 0);
    assert.equal((await summaryOf(new PostgresStore({ url }))).messages.count, 20);
  });

  test("--verify passes a good archive and names what is wrong with a tampered one", async () => {
    const source = await nedbBridge(50);
    const file = path.join(root, "verify.sbk");
    assert.equal((await cli(["backup", "-c", source.config, "-o", file])).code, 0);
    const good = await binary(["backup", "--verify", file]);
    assert.equal(good.code, 0, good.err);
    assert.match(good.out, /OK: journal 3, .*messages 50.*all 10 collections match/);

    const bytes = await readFile(file);
    const at = Math.floor(bytes.length / 2);
    bytes[at] = (bytes[at] ?? 0) ^ 0x01;
    const flipped = path.join(root, "flipped.sbk");
    await writeFile(flipped, bytes);
    const bad = await cli(["backup", "--verify", flipped]);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /flipped\.sbk is (corrupt|damaged)/);

    // Edited and compressed again, so gzip's own check passes: the checksums catch it.
    const text = gunzipSync(await readFile(file)).toString("utf8");
    const edited = path.join(root, "edited.sbk");
    await writeFile(edited, gzipSync(text.replace('"eventId":"$ev7"', '"eventId":"$ev7x"')));
    const caught = await cli(["backup", "--verify", edited]);
    assert.equal(caught.code, 1);
    assert.match(
      caught.err,
      /edited\.sbk does not match its own checksums \(messages: 50 records, but their checksum differs\)/,
    );

    // Restore reads the whole archive before it writes anything.
    const target = await bridgeDir({ config: false });
    const restored = await cli(["restore", edited, "-c", target.config]);
    assert.equal(restored.code, 1);
    await assert.rejects(readFile(target.config), /ENOENT/);
    await assert.rejects(readFile(path.join(target.data, "links.db")), /ENOENT/);
  });

  test("--without-key warns, leaves the key out, and restore then needs the right key", async () => {
    const source = await nedbBridge(5);
    const file = path.join(root, "nokey.sbk");
    const made = await cli(["backup", "-c", source.config, "-o", file, "--without-key"]);
    assert.equal(made.code, 0, made.err);
    assert.match(
      made.err,
      /warning: --without-key: this backup holds no encryption key.*useless without it/s,
    );
    assert.doesNotMatch(gunzipSync(await readFile(file)).toString("utf8"), new RegExp(KEY));
    const verified = await cli(["backup", "--verify", file]);
    assert.equal(verified.code, 0);
    assert.match(verified.err, /holds no encryption key/);

    const target = await bridgeDir({ config: false });
    const keyless = await cli(["restore", file, "-c", target.config]);
    assert.equal(keyless.code, 1);
    assert.match(keyless.err, /holds no encryption key .* put the key file at .*credentials\.key/);

    await mkdir(target.data, { recursive: true });
    await writeFile(path.join(target.data, "credentials.key"), "some-other-key-of-thirty-two-characters\n");
    const wrong = await cli(["restore", file, "-c", target.config]);
    assert.equal(wrong.code, 1);
    assert.match(
      wrong.err,
      /wrong key: .*credentials\.key is not the key this backup's credentials are sealed with/,
    );
    await assert.rejects(readFile(target.config), /ENOENT/, "nothing written on a refusal");

    await writeFile(path.join(target.data, "credentials.key"), `${KEY}\n`);
    assert.equal((await cli(["restore", file, "-c", target.config])).code, 0);
    const login = (await recordsOf(nedbAt(target))).find((r) => r.collection === "logins");
    assert.ok(login?.collection === "logins");
    assert.deepEqual(new CredentialBox(KEY).open(login.record.credentials), { token: "xoxp-secret" });
  });

  test("--without-key also leaves encryption.key out of the archived config", async () => {
    const source = await nedbBridge(1);
    await writeFile(source.config, `${await readFile(source.config, "utf8")}encryption:\n  key: ${KEY}\n`);
    const file = path.join(root, "config-key.sbk");
    const made = await cli(["backup", "-c", source.config, "-o", file, "--without-key"]);
    assert.equal(made.code, 0, made.err);
    assert.match(made.err, /encryption\.key was left out of its config/);
    const text = gunzipSync(await readFile(file)).toString("utf8");
    assert.doesNotMatch(text, new RegExp(KEY));
    assert.match(text, /# the test bridge/, "the rest of the config, comments included, is kept");
  });
});

/** Something answering on the bridge's port: /health, and the snapshot endpoint when given a store. */
async function fakeBridge(port: number, serve: { store: Store; hsToken: string } | null): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url === "/health")
      return void res.writeHead(200, { "content-type": "application/json" }).end("{}");
    if (serve && req.url === SNAPSHOT_PATH) {
      if (req.headers.authorization !== `Bearer ${serve.hsToken}`) return void res.writeHead(403).end();
      void serveSnapshot(serve.store, res);
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return server;
}

describe("backing up a running NeDB bridge", LIMIT, () => {
  test("without a snapshot endpoint, backup refuses and says what to do", async () => {
    const source = await nedbBridge(2);
    const stopped = path.join(root, "stopped.sbk");
    assert.equal(
      (await cli(["backup", "-c", source.config, "-o", stopped])).code,
      0,
      "a stopped bridge is fine",
    );
    const server = await fakeBridge(source.port, null);
    try {
      const result = await cli(["backup", "-c", source.config, "-o", path.join(root, "running.sbk")]);
      assert.equal(result.code, 1);
      assert.match(result.err, /The bridge is running .* a second process must not read them/);
      assert.match(
        result.err,
        /stop it \(SIGTERM lets it drain its queues\), run the backup, and start it again/,
      );
      const restored = await cli(["restore", stopped, "-c", source.config, "--force"]);
      assert.match(restored.err, /is running .*stop it before restoring/);
    } finally {
      server.close();
    }
  });

  test("with the endpoint, the bridge's own snapshot is archived while it keeps writing", async (t) => {
    const source = await nedbBridge(100);
    const live = nedbAt(source);
    await live.open();
    const { hs_token } = parseRegistration(await readFile(source.registration, "utf8"), source.registration);
    const server = await fakeBridge(source.port, { store: live, hsToken: hs_token });
    let writing = true;
    let written = 0;
    const writer = (async () => {
      // Bounded, and one write per turn of the event loop (as a bridge's writes come): NeDB resolves a
      // write without I/O callbacks, so a tight loop would starve the HTTP server.
      while (writing && written < 5000) {
        await new Promise((resolve) => setImmediate(resolve));
        await live.messagePut({
          network: "irc",
          channelId: "#busy",
          receiver: "",
          remoteId: `busy${written}`,
          part: 0,
          roomId: "!busy:example.org",
          eventId: `$busy${written}`,
          sender: "@irc_x:example.org",
          timestamp: written,
        });
        written++;
      }
    })();
    const file = path.join(root, "live.sbk");
    try {
      const started = Date.now();
      const result = await binary(["backup", "-c", source.config, "-o", file]);
      assert.equal(result.code, 0, result.err);
      t.diagnostic(`backup of the running bridge: ${Date.now() - started} ms, ${written} writes meanwhile`);
    } finally {
      writing = false;
      await writer;
      server.close();
      await live.close();
    }
    assert.ok(written > 0, "the bridge kept writing during the backup");
    const target = await bridgeDir({ config: false });
    assert.equal((await cli(["restore", file, "-c", target.config])).code, 0);
    const restored = await summaryOf(nedbAt(target));
    assert.ok(restored.messages.count >= 100 && restored.messages.count <= 100 + written);
    const now = await summaryOf(nedbAt(source));
    for (const c of STORE_COLLECTIONS.filter((c) => c !== "messages"))
      assert.deepEqual(restored[c], now[c], c);
  });
});
