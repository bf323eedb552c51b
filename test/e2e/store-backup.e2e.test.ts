/**
 * `switchboard backup` of a running bridge while messages cross both ways, then `restore`: onto a
 * fresh data directory, and onto PostgreSQL from the same NeDB backup. A restored bridge keeps its
 * links, ghosts, logins and message mappings (an edit of a message bridged before the backup finds
 * its copy), and bridges on without duplicating anything the original bridge already delivered.
 *
 * The real CLI throughout (backup, backup --verify, restore, start), the real Synapse, and a real
 * PostgreSQL cluster for the second restore.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import yaml from "js-yaml";
import { ToyNetwork, type ToyMessage } from "../reference/toy-network.js";
import {
  launch,
  runSwitchboard,
  startBridgeEnvironment,
  testDatabase,
  type BridgeEnvironment,
  type SwitchboardProcess,
} from "../harness/switchboard.js";
import { until } from "../harness/wait.js";
import { TestMatrixClient, botSays, type MatrixTestEvent } from "../harness/matrix-client.js";

const N = 200;

let env: BridgeEnvironment;
let toy: ToyNetwork;
let alice: TestMatrixClient;
let roomId: string;
let scratch: string;
let archive: string;
/** Messages bridged before the backup, edited through each restored bridge. */
let oldRemote: { remote: ToyMessage; eventId: string };
let oldMatrix: { eventId: string; remote: ToyMessage };
/** The bridge currently running: the original, then each restored one. */
let current: SwitchboardProcess;

/** Every m.room.message in the portal, oldest first. */
async function roomMessages(): Promise<MatrixTestEvent[]> {
  const events = await alice.timeline(roomId, 1000);
  return events.filter((e) => e.type === "m.room.message");
}

function countBy(values: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return counts;
}

/**
 * Nothing delivered twice on either side: every r2m-/m2r- body (and every later marker) appears
 * exactly once, and every one sent appears.
 */
async function assertExactlyOnce(extra: string[]): Promise<void> {
  const inMatrix = countBy(
    (await roomMessages()).filter((e) => e.sender !== alice.userId).map((e) => String(e.content.body)),
  );
  const onToy = countBy(
    toy
      .channelMessages("general")
      .filter((m) => m.sender !== "bob")
      .map((m) => m.text),
  );
  for (let i = 0; i < N; i++) {
    assert.equal(inMatrix.get(`r2m-${i}`), 1, `r2m-${i} in Matrix`);
    assert.equal(onToy.get(`m2r-${i}`), 1, `m2r-${i} on the toy network`);
  }
  for (const marker of extra) {
    const side = marker.startsWith("r2m") ? inMatrix : onToy;
    assert.equal(side.get(marker), 1, `${marker} exactly once`);
  }
}

/**
 * What a restored bridge must still do: find old messages' copies (edits both ways), post as
 * alice's login, bridge new messages both ways once.
 */
async function assertRestoredBridgeWorks(label: string, earlierMarkers: string[]): Promise<string[]> {
  // An edit on Matrix of a message bridged before the backup edits its remote copy.
  await alice.sendMessage(roomId, {
    msgtype: "m.text",
    body: `* old matrix, edited via ${label}`,
    "m.new_content": { msgtype: "m.text", body: `old matrix, edited via ${label}` },
    "m.relates_to": { rel_type: "m.replace", event_id: oldMatrix.eventId },
  });
  await until(
    `the Matrix edit reaching the old remote copy (${label})`,
    () => toy.messages.get(oldMatrix.remote.id)?.text === `old matrix, edited via ${label}`,
    30_000,
  );
  // A remote edit of an old message becomes an m.replace of its old Matrix event.
  toy.edit("bob", oldRemote.remote.id, `old remote, edited via ${label}`);
  const edit = await alice.waitForEvent(
    roomId,
    (e) =>
      (e.content["m.new_content"] as { body?: string } | undefined)?.body ===
      `old remote, edited via ${label}`,
    30_000,
  );
  assert.deepEqual(edit.content["m.relates_to"], { rel_type: "m.replace", event_id: oldRemote.eventId });

  const toRemote = `m2r-after-${label}`;
  const toMatrix = `r2m-after-${label}`;
  await alice.sendText(roomId, toRemote);
  toy.post("bob", "general", toMatrix);
  const sent = await until(
    `${toRemote} on the toy network`,
    () => toy.channelMessages("general").find((m) => m.text === toRemote),
    30_000,
  );
  assert.equal(sent.sender, "alice-toy", "alice's login survived the restore: she posts as herself");
  await alice.waitForEvent(roomId, (e) => e.content.body === toMatrix, 30_000);
  // Give a replayed journal time to do what it would (it would duplicate now, not later).
  await sleep(3_000);
  const markers = [...earlierMarkers, toRemote, toMatrix];
  await assertExactlyOnce(markers);
  return markers;
}

before(async () => {
  toy = new ToyNetwork();
  await toy.listen();
  toy.addUser("bob", "Bob Remote");
  const aliceToy = toy.addUser("alice-toy", "Alice on Toy");
  toy.addChannel("general", "General", "", ["bob", "alice-toy"]);
  // Always NeDB: the backup is of a running NeDB bridge, then restored onto PostgreSQL too.
  env = await startBridgeEnvironment({
    bridges: { reference: { enabled: true, url: toy.url, token: toy.bridgeToken } },
    store: "nedb",
  });
  current = env.bridge;
  scratch = await mkdtemp(join(tmpdir(), "switchboard-backup-e2e-"));
  archive = join(scratch, "switchboard.sbk");
  const a = await env.hs.registerUser("alice");
  alice = new TestMatrixClient(env.hs.url, a.accessToken, a.userId);
  const dm = await alice.createRoom({
    is_direct: true,
    invite: [env.botUserId],
    preset: "trusted_private_chat",
  });
  await alice.waitForEvent(dm, botSays(env.botUserId, /Say `help`/));
  await alice.sendText(dm, `login reference token ${aliceToy.token}`);
  await alice.waitForEvent(dm, botSays(env.botUserId, /Logged in to Toy network/));
  roomId = await alice.join("#reference_general:localhost");

  const remote = toy.post("bob", "general", "old remote");
  const remoteCopy = await alice.waitForEvent(roomId, (e) => e.content.body === "old remote");
  assert.ok(remoteCopy.event_id);
  oldRemote = { remote, eventId: remoteCopy.event_id };
  const eventId = await alice.sendText(roomId, "old matrix");
  const matrixCopy = await until("old matrix on the toy network", () =>
    toy.channelMessages("general").find((m) => m.text === "old matrix"),
  );
  assert.equal(matrixCopy.sender, "alice-toy");
  oldMatrix = { eventId, remote: matrixCopy };
});

after(async () => {
  await current?.stop().catch(() => undefined);
  await env?.cleanup();
  await toy?.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe("backup and restore", () => {
  test(`backup while ${N} messages cross each way: the bridge keeps serving, nothing lost`, async () => {
    let backup: Promise<{ code: number | null; output: string }> | null = null;
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < N; i++) {
      // The backup starts in the middle of the traffic and runs beside it.
      if (i === N / 4)
        backup = runSwitchboard(["backup", "-c", env.bridge.configPath, "-o", archive], scratch);
      toy.post("bob", "general", `r2m-${i}`);
      sends.push(alice.sendText(roomId, `m2r-${i}`));
      if (i % 10 === 9) await Promise.all(sends.splice(0));
      await sleep(15);
    }
    await Promise.all(sends);
    const result = await (backup as unknown as Promise<{ code: number | null; output: string }>);
    assert.equal(result.code, 0, result.output);
    assert.match(result.output, /Wrote .*: nedb store/, result.output);
    assert.equal((await stat(archive)).mode & 0o777, 0o600, "the archive holds secrets: 0600");

    await until(
      "every message across",
      async () =>
        (await roomMessages()).filter((e) => /^r2m-\d+$/.test(String(e.content.body))).length >= N &&
        toy.channelMessages("general").filter((m) => /^m2r-\d+$/.test(m.text)).length >= N,
      90_000,
    );
    await assertExactlyOnce([]);
    // The snapshot came from the bridge: it never stopped.
    assert.doesNotMatch(current.output(), /--- start ---[\s\S]*--- start ---/);
  });

  test("backup --verify reads the archive back into a scratch store: counts and checksums match", async () => {
    const verified = await runSwitchboard(
      ["backup", "--verify", archive, "-c", env.bridge.configPath],
      scratch,
    );
    assert.equal(verified.code, 0, verified.output);
    assert.match(verified.output, /links\s+1\b/, verified.output);
    assert.match(verified.output, /logins\s+1\b/, verified.output);
    // Bob's ghost, and a mapping for each of the ~N/4 messages each way bridged before the snapshot.
    assert.match(verified.output, /ghosts\s+[1-9]/, verified.output);
    assert.match(verified.output, /messages\s+[1-9]\d{2,}/, verified.output);

    // A damaged archive is refused, naming what is wrong.
    const damaged = join(scratch, "damaged.sbk");
    const bytes = await readFile(archive);
    const middle = Math.floor(bytes.length / 2);
    bytes[middle] = (bytes[middle] ?? 0) ^ 0xff;
    await writeFile(damaged, bytes);
    const bad = await runSwitchboard(["backup", "--verify", damaged], scratch);
    assert.notEqual(bad.code, 0, bad.output);
    assert.match(bad.output, /damaged\.sbk/);
    assert.doesNotMatch(bad.output, /\n\s+at /, "an admin error, not a stack trace");
  });

  let markers: string[] = [];

  test("restored onto a fresh data directory: links, ghosts, logins and mappings kept; no duplicates", async () => {
    assert.equal(await current.stop(), 0);
    const dir = await mkdtemp(join(scratch, "fresh-"));
    const configPath = join(dir, "config.yaml");
    const restored = await runSwitchboard(["restore", archive, "-c", configPath], dir);
    assert.equal(restored.code, 0, restored.output);
    // The config and registration came back from the archive; the store went into ./data.
    assert.ok((await stat(join(dir, "registration.yaml"))).isFile());
    assert.ok((await stat(join(dir, "data"))).isDirectory());
    // Restoring again over the now non-empty store is refused without --force.
    const again = await runSwitchboard(["restore", archive, "-c", configPath], dir);
    assert.notEqual(again.code, 0);
    assert.match(again.output, /--force/);

    current = await launch(dir, configPath, env.bridge.appservicePort, env.bridge.metricsPort);
    await current.waitForLog(/Switchboard is running/, 60_000);
    markers = await assertRestoredBridgeWorks("fresh-dir", markers);
  });

  test("the same NeDB backup restored onto PostgreSQL bridges on the same way", async () => {
    assert.equal(await current.stop(), 0);
    const dir = await mkdtemp(join(scratch, "postgres-"));
    const database = await testDatabase("postgres");
    try {
      // The admin's new config names PostgreSQL; restore uses it as it is and fills the rest in.
      const config = yaml.load(await readFile(env.bridge.configPath, "utf8")) as Record<string, unknown>;
      config.store = database.store;
      const configPath = join(dir, "config.yaml");
      await writeFile(configPath, yaml.dump(config));
      const restored = await runSwitchboard(["restore", archive, "-c", configPath], dir);
      assert.equal(restored.code, 0, restored.output);

      current = await launch(dir, configPath, env.bridge.appservicePort, env.bridge.metricsPort);
      await current.waitForLog(/Switchboard is running/, 60_000);
      assert.match(
        current.output(),
        /"type":"postgres"[^\n]*"msg":"store"/,
        "the bridge runs on the PostgreSQL store",
      );
      markers = await assertRestoredBridgeWorks("postgres", markers);
      assert.equal(await current.stop(), 0);
    } finally {
      await database.drop();
    }
  });
});
