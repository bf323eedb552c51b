/**
 * The activation guard and double-bridge detection on the real Synapse:
 * "joining a channel with 101 people new to the bridge waits for an admin; 99 go
 * through", "members ghosted elsewhere don't count", approve / lazy / deny, state kept
 * across a restart; and "a second room cannot be bridged to a channel that has a portal".
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { ToyNetwork } from "../reference/toy-network.js";
import { startBridgeEnvironment, type BridgeEnvironment } from "../harness/switchboard.js";
import {
  TestMatrixClient,
  botSays,
  dmWithBot as openBotDm,
  type MatrixTestEvent,
  joinOf,
} from "../harness/matrix-client.js";
import { until } from "../harness/wait.js";

let env: BridgeEnvironment;
let toy: ToyNetwork;
let alice: TestMatrixClient;
let admin: TestMatrixClient;
let adminDm: string;
let aliceDm: string;

const fromBot = (text: RegExp) => botSays(env.botUserId, text);

function channel(id: string, members: string[]): void {
  for (const m of members) if (!toy.users.has(m)) toy.addUser(m, `User ${m}`);
  toy.addChannel(id, id, "", members);
}
const range = (prefix: string, from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => `${prefix}${from + i}`);

async function joinedCount(roomId: string): Promise<number> {
  const res = await alice.request<{ joined: Record<string, unknown> }>(
    "GET",
    `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/joined_members`,
  );
  return Object.keys(res.joined).length;
}

const dmWithBot = (client: TestMatrixClient) => openBotDm(client, env.botUserId);

before(async () => {
  toy = new ToyNetwork();
  await toy.listen();
  channel("big", range("u", 0, 101));
  channel("small", range("u", 0, 99));
  channel("mixed", [...range("u", 0, 60), ...range("u", 101, 142)]);
  channel("lazy", range("l", 0, 120));
  channel("nope", range("d", 0, 110));
  channel("general", ["bob"]);
  channel("random", ["bob"]);
  toy.addUser("alicem", "alice[m]", "@alice:localhost");
  toy.channels.get("small")?.members.add("alicem");
  env = await startBridgeEnvironment({
    bridges: { reference: { enabled: true, url: toy.url, token: toy.bridgeToken, activation_limit: 100 } },
    // The global limit is tiny: only the per-network limit of 100 lets 99 through.
    extraConfig: {
      admins: ["@admin:localhost"],
      guards: { activation_limit: 5, ghost_rate_per_second: 200, foreign_puppet_patterns: ["^@irc_"] },
    },
  });
  const a = await env.hs.registerUser("alice");
  alice = new TestMatrixClient(env.hs.url, a.accessToken, a.userId);
  const b = await env.hs.registerUser("admin");
  admin = new TestMatrixClient(env.hs.url, b.accessToken, b.userId);
  adminDm = await dmWithBot(admin);
  aliceDm = await dmWithBot(alice);
});

after(async () => {
  await env?.cleanup();
  await toy?.close();
});

describe("the activation guard", () => {
  let bigRoom: string;

  test("101 members new to the bridge: the portal waits for approval and nothing is bridged", async () => {
    bigRoom = await alice.join("#reference_big:localhost");
    const notice = await alice.waitForEvent(
      bigRoom,
      fromBot(/has 101 members, 101 of them new .* limit of 100/),
    );
    assert.match(String(notice.content.body), /approve/);
    await admin.waitForEvent(adminDm, fromBot(/Pending approval: reference big/));
    toy.post("u3", "big", "should not cross yet");
    await alice.sendText(bigRoom, "hello?");
    await alice.waitForEvent(bigRoom, fromBot(/waiting for a bridge admin's approval/));
    await sleep(1000);
    assert.equal(await joinedCount(bigRoom), 2, "no ghost joined: only the bot and alice");
    assert.ok(!toy.channelMessages("big").some((m) => m.text === "hello?"));
  });

  test("99 new members: active at once, every member added at a paced rate", async () => {
    const room = await alice.join("#reference_small:localhost");
    await until("all 100 members in the room", async () => (await joinedCount(room)) === 102, 60_000);
    toy.post("u5", "small", "small channel works");
    await alice.waitForEvent(room, (e) => e.content.body === "small channel works");
  });

  test("members already ghosted elsewhere don't count", async () => {
    // 60 of its 101 members are already ghosts from the small channel; 41 are new.
    const room = await alice.join("#reference_mixed:localhost");
    toy.post("u120", "mixed", "mixed channel works");
    await alice.waitForEvent(room, (e) => e.content.body === "mixed channel works");
  });

  test("the pending state survives a restart, and only admins may approve", async () => {
    await env.bridge.stop();
    await env.bridge.restart();
    await admin.sendText(adminDm, "pending");
    await admin.waitForEvent(
      adminDm,
      fromBot(new RegExp(`${bigRoom.replace(/[.*+?^${}()|[\]\\!]/g, "\\$&")}: reference big`)),
    );
    await alice.sendText(aliceDm, `approve ${bigRoom}`);
    await alice.waitForEvent(aliceDm, fromBot(/`approve` is for bridge admins/));
  });

  test("approve: messages cross and all members are added", async () => {
    await admin.sendText(adminDm, `approve ${bigRoom}`);
    await admin.waitForEvent(adminDm, fromBot(/Approved/));
    await alice.waitForEvent(bigRoom, fromBot(/approved this room/));
    toy.post("u7", "big", "now it crosses");
    await alice.waitForEvent(bigRoom, (e) => e.content.body === "now it crosses");
    await until("all 101 members in the room", async () => (await joinedCount(bigRoom)) === 103, 60_000);
    await admin.sendText(adminDm, "status");
    await admin.waitForEvent(adminDm, fromBot(/all 101 members added/));
  });

  test("lazy approval: only members who speak get a Matrix user", async () => {
    const room = await alice.join("#reference_lazy:localhost");
    await alice.waitForEvent(room, fromBot(/has 120 members, 120 of them new/));
    await admin.sendText(adminDm, `approve ${room} lazy`);
    await alice.waitForEvent(room, fromBot(/lazy mode/));
    toy.post("l5", "lazy", "I speak");
    const msg = await alice.waitForEvent(room, (e) => e.content.body === "I speak");
    assert.equal(msg.sender, "@reference_l5:localhost");
    toy.join("l6", "lazy");
    await sleep(1500);
    assert.equal(await joinedCount(room), 3, "bot, alice and the one speaker");
  });

  test("deny: nothing is bridged", async () => {
    const room = await alice.join("#reference_nope:localhost");
    await alice.waitForEvent(room, fromBot(/110 of them new/));
    await admin.sendText(adminDm, `deny ${room}`);
    await alice.waitForEvent(room, fromBot(/declined to bridge this room/));
    toy.post("d1", "nope", "denied message");
    await sleep(1500);
    const events = await alice.request<{ chunk: MatrixTestEvent[] }>(
      "GET",
      `/_matrix/client/v3/rooms/${encodeURIComponent(room)}/messages?dir=b&limit=50`,
    );
    assert.ok(!events.chunk.some((e) => e.content.body === "denied message"));
  });
});

describe("double-bridge detection", () => {
  test("a second room cannot be plumbed to a channel that has a portal; an admin can migrate", async () => {
    const portal = await alice.join("#reference_general:localhost");
    const second = await alice.createRoom({ name: "Second", invite: [env.botUserId] });
    await alice.waitForEvent(second, joinOf(env.botUserId));
    await alice.sendText(second, "!link reference general");
    await alice.waitForEvent(
      second,
      fromBot(/already has a portal room: #reference_general:localhost[\s\S]*migrate/),
    );

    const target = await admin.createRoom({ name: "Official", invite: [env.botUserId, alice.userId] });
    await admin.waitForEvent(target, joinOf(env.botUserId));
    await admin.sendText(target, "!link reference general migrate");
    await admin.waitForEvent(target, fromBot(/Linked this room/));
    const tomb = await alice.request<{ replacement_room: string }>(
      "GET",
      `/_matrix/client/v3/rooms/${encodeURIComponent(portal)}/state/m.room.tombstone/`,
    );
    assert.equal(tomb.replacement_room, target);
    const resolved = await alice.request<{ room_id: string }>(
      "GET",
      `/_matrix/client/v3/directory/room/${encodeURIComponent("#reference_general:localhost")}`,
    );
    assert.equal(resolved.room_id, target, "the alias moved to the plumbed room");
    await alice.join(target);
    toy.post("bob", "general", "after migration");
    await alice.waitForEvent(target, (e) => e.content.body === "after migration");
  });

  test("a room another bridge already bridges is refused, with the reason", async () => {
    const room = await alice.createRoom({ name: "Bridged elsewhere", invite: [env.botUserId] });
    await alice.request("PUT", `/_matrix/client/v3/rooms/${encodeURIComponent(room)}/state/m.bridge/other`, {
      bridgebot: "@otherbot:localhost",
      protocol: { id: "reference", displayname: "Toy network" },
      channel: { id: "random" },
    });
    await alice.waitForEvent(room, joinOf(env.botUserId));
    await alice.sendText(room, "!link reference random");
    await alice.waitForEvent(room, fromBot(/Not linking: .*@otherbot:localhost already bridges this room/));
  });

  test("members that look like another bridge's puppets make the room refused", async () => {
    const puppet = await env.hs.registerUser("irc_someone");
    const room = await alice.createRoom({ name: "Has puppets", invite: [env.botUserId, puppet.userId] });
    await new TestMatrixClient(env.hs.url, puppet.accessToken, puppet.userId).join(room);
    await alice.waitForEvent(room, joinOf(env.botUserId));
    await alice.sendText(room, "!link reference random");
    await alice.waitForEvent(
      room,
      fromBot(/Not linking: .*members @irc_someone:localhost look like another bridge's/),
    );
  });

  test("a remote puppet of a Matrix user already in the room is not bridged again; the room is told once", async () => {
    const room = await alice.join("#reference_small:localhost");
    toy.post("alicem", "small", "echo of alice via another bridge");
    await alice.waitForEvent(room, fromBot(/come from another Matrix bridge/));
    toy.post("alicem", "small", "second echo");
    toy.post("u1", "small", "a real remote message");
    await alice.waitForEvent(room, (e) => e.content.body === "a real remote message");
    const events = await alice.request<{ chunk: MatrixTestEvent[] }>(
      "GET",
      `/_matrix/client/v3/rooms/${encodeURIComponent(room)}/messages?dir=b&limit=100`,
    );
    const bodies = events.chunk.map((e) => String(e.content.body));
    assert.ok(!bodies.some((b) => b.includes("echo of alice") || b === "second echo"));
    assert.equal(bodies.filter((b) => /come from another Matrix bridge/.test(b)).length, 1);
  });
});
