/**
 * Community teams plumb a room; users manage their bridge in a DM with the bot:
 * "a room admin links their room to a remote channel, a non-admin cannot, unlink stops
 * it", and "a user asks the bot for help, logs in with a token and their messages go
 * out as them; logout wipes the credentials".
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { ToyNetwork } from "../reference/toy-network.js";
import { readStoreFiles, startBridgeEnvironment, type BridgeEnvironment } from "../harness/switchboard.js";
import { until } from "../harness/wait.js";
import { TestMatrixClient, botSays, joinOf } from "../harness/matrix-client.js";

let env: BridgeEnvironment;
let toy: ToyNetwork;
let alice: TestMatrixClient;
let carol: TestMatrixClient;

const fromBot = (text: RegExp) => botSays(env.botUserId, text);

before(async () => {
  toy = new ToyNetwork();
  await toy.listen();
  toy.addUser("bob", "Bob Remote");
  toy.addChannel("random", "Random", "", ["bob"]);
  toy.addChannel("lounge", "Lounge", "", ["bob"]);
  env = await startBridgeEnvironment({
    bridges: { reference: { enabled: true, url: toy.url, token: toy.bridgeToken } },
    doublePuppet: true,
  });
  const a = await env.hs.registerUser("alice");
  alice = new TestMatrixClient(env.hs.url, a.accessToken, a.userId);
  const c = await env.hs.registerUser("carol");
  carol = new TestMatrixClient(env.hs.url, c.accessToken, c.userId);
});

after(async () => {
  await env?.cleanup();
  await toy?.close();
});

describe("plumbed rooms", () => {
  let roomId: string;

  test("a non-admin's !link is refused", async () => {
    roomId = await alice.createRoom({ name: "Team room", invite: [env.botUserId, carol.userId] });
    await carol.join(roomId);
    await until("the bot to join", async () => true);
    await alice.waitForEvent(roomId, joinOf(env.botUserId));
    await carol.sendText(roomId, "!link reference random");
    await alice.waitForEvent(roomId, fromBot(/Only a room admin/));
  });

  test("a room admin's !link bridges the room both ways", async () => {
    await alice.sendText(roomId, "!link reference random");
    await alice.waitForEvent(roomId, fromBot(/Linked this room to Toy network Random/));
    toy.post("bob", "random", "hello plumbed room");
    const msg = await alice.waitForEvent(roomId, (e) => e.content.body === "hello plumbed room");
    assert.equal(msg.sender, "@reference_bob:localhost");
    await carol.sendText(roomId, "hello random channel");
    const sent = await until("carol's message", () =>
      toy.channelMessages("random").find((m) => m.text === "hello random channel"),
    );
    assert.equal(sent.relayName, "carol");
  });

  test("a second room cannot be linked to the same channel", async () => {
    const other = await alice.createRoom({ name: "Other", invite: [env.botUserId] });
    await alice.waitForEvent(other, joinOf(env.botUserId));
    await alice.sendText(other, "!link reference random");
    await alice.waitForEvent(other, fromBot(/already bridged/));
  });

  test("!unlink stops the bridging", async () => {
    await carol.sendText(roomId, "!unlink");
    await alice.waitForEvent(roomId, fromBot(/Only a room admin can unlink/));
    await alice.sendText(roomId, "!unlink");
    await alice.waitForEvent(roomId, fromBot(/Unlinked/));
    await alice.sendText(roomId, "after unlink");
    toy.post("bob", "random", "marker after unlink");
    await sleep(1500);
    assert.equal(toy.channelMessages("random").filter((m) => m.text === "after unlink").length, 0);
  });
});

/** The room id of a room alice is invited to but has not joined, if any. */
async function pendingInvite(): Promise<string | null> {
  await alice.syncOnce(500);
  return [...alice.invites][0] ?? null;
}

describe("the bot DM", () => {
  let dm: string;

  test("the bot greets a DM, answers help, and answers unknown commands with help", async () => {
    dm = await alice.createRoom({ is_direct: true, invite: [env.botUserId], preset: "trusted_private_chat" });
    await alice.waitForEvent(dm, fromBot(/Say `help`/));
    await alice.sendText(dm, "help");
    await alice.waitForEvent(dm, fromBot(/login <network>/));
    await alice.sendText(dm, "frobnicate");
    await alice.waitForEvent(dm, fromBot(/Unknown command `frobnicate`[\s\S]*login <network>/));
    await alice.sendText(dm, "ping");
    await alice.waitForEvent(dm, fromBot(/Homeserver: OK/));
  });

  test("login with a token: credentials are sealed at rest and messages go out as the user", async () => {
    const aliceToy = toy.addUser("alice-toy", "Alice on Toy");
    await alice.sendText(dm, "login reference");
    await alice.waitForEvent(dm, fromBot(/Send your token/));
    await alice.sendText(dm, aliceToy.token);
    await alice.waitForEvent(dm, fromBot(/Logged in to Toy network as Alice on Toy/));
    const files = await readStoreFiles(env.bridge.dir);
    assert.ok(files.includes("alice-toy"), "the login is stored");
    assert.ok(!files.includes(aliceToy.token), "the token must not be stored in the clear");

    const portal = await alice.join("#reference_lounge:localhost");
    await alice.sendText(portal, "as myself");
    const sent = await until("the puppeted message", () =>
      toy.channelMessages("lounge").find((m) => m.text === "as myself"),
    );
    assert.equal(sent.sender, "alice-toy");
    assert.equal(sent.relayName, undefined);

    await alice.sendText(dm, "status");
    await alice.waitForEvent(dm, fromBot(/Alice on Toy \(connected\)/));
  });

  test("a remote DM to a logged-in user becomes a DM portal they are invited to", async () => {
    const chat = toy.addDm("bob", "alice-toy");
    toy.post("bob", chat.id, "psst, alice");
    const invite = await until("the DM invite", pendingInvite);
    const dmPortal = await alice.join(invite);
    const msg = await alice.waitForEvent(dmPortal, (e) => e.content.body === "psst, alice");
    assert.equal(msg.sender, "@reference_bob:localhost");
    await alice.sendText(dmPortal, "hi bob, privately");
    const sent = await until("the DM reply", () =>
      toy.channelMessages(chat.id).find((m) => m.text === "hi bob, privately"),
    );
    assert.equal(sent.sender, "alice-toy");
  });

  test("with double puppeting, what the user sends from another client appears from their own account", async () => {
    const portal = await alice.join("#reference_lounge:localhost");
    toy.post("alice-toy", "lounge", "sent from my toy phone");
    const msg = await alice.waitForEvent(portal, (e) => e.content.body === "sent from my toy phone");
    assert.equal(msg.sender, alice.userId, "not a ghost: the user's real account");
  });

  test("remote threads become Matrix threads", async () => {
    const portal = await alice.join("#reference_lounge:localhost");
    const root = toy.post("bob", "lounge", "thread root");
    const rootEvent = await alice.waitForEvent(portal, (e) => e.content.body === "thread root");
    toy.post("bob", "lounge", "in the thread", { threadRoot: root.id });
    const reply = await alice.waitForEvent(portal, (e) => e.content.body === "in the thread");
    const rel = reply.content["m.relates_to"] as { rel_type?: string; event_id?: string };
    assert.equal(rel.rel_type, "m.thread");
    assert.equal(rel.event_id, rootEvent.event_id);
  });

  test("logout wipes the stored credentials and messages are relayed again", async () => {
    await alice.sendText(dm, "logout reference");
    await alice.waitForEvent(dm, fromBot(/credentials are wiped/));
    await alice.sendText(dm, "status");
    await alice.waitForEvent(dm, fromBot(/not logged in/));
    const portal = await alice.join("#reference_lounge:localhost");
    await alice.sendText(portal, "relayed again");
    const sent = await until("the relayed message", () =>
      toy.channelMessages("lounge").find((m) => m.text === "relayed again"),
    );
    assert.equal(sent.sender, "bridge");
  });

  test("a QR-code login shows the code as an image and completes when it is scanned", async () => {
    toy.addUser("alice-phone", "Alice's Phone");
    await alice.sendText(dm, "login reference qr");
    const image = await alice.waitForEvent(
      dm,
      (e) => e.sender === env.botUserId && e.content.msgtype === "m.image",
    );
    assert.match(String(image.content.url), /^mxc:\/\//);
    await alice.waitForEvent(dm, fromBot(/Scan this QR code/));
    const code = await until("a pending link", () => [...toy.pendingLinks.keys()][0]);
    toy.approveLink(code, "alice-phone");
    await alice.waitForEvent(dm, fromBot(/Logged in to Toy network as Alice's Phone/));
  });
});
