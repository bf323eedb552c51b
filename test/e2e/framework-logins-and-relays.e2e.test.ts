/**
 * Logins as network clients, on the real Synapse with the reference connector configured as a
 * network without a bot account (`bot: false`, like Signal): chats a login joins on the network
 * become portals its Matrix user is invited to (and removed from when it leaves), and a room
 * admin chooses whose login relays for people without one; without a relay they are told.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { ToyNetwork } from "../reference/toy-network.js";
import { startBridgeEnvironment, type BridgeEnvironment } from "../harness/switchboard.js";
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
  toy.addChannel("general", "General", "", ["bob"]);
  toy.addChannel("random", "Random", "", ["bob"]);
  env = await startBridgeEnvironment({
    bridges: { reference: { enabled: true, url: toy.url, token: toy.bridgeToken, bot: false } },
  });
  const a = await env.hs.registerUser("alice");
  alice = new TestMatrixClient(env.hs.url, a.accessToken, a.userId);
  const c = await env.hs.registerUser("carol");
  carol = new TestMatrixClient(env.hs.url, c.accessToken, c.userId);
  const dm = await alice.createRoom({
    is_direct: true,
    invite: [env.botUserId],
    preset: "trusted_private_chat",
  });
  await alice.waitForEvent(dm, fromBot(/Say `help`/));
  const aliceToy = toy.addUser("alice-toy", "Alice on Toy");
  await alice.sendText(dm, `login reference token ${aliceToy.token}`);
  await alice.waitForEvent(dm, fromBot(/Logged in to Toy network as Alice on Toy/));
});

after(async () => {
  await env?.cleanup();
  await toy?.close();
});

/** The room id of a room the user is invited to but has not joined, if any. */
async function pendingInvite(user: TestMatrixClient): Promise<string | null> {
  await user.syncOnce(500);
  return [...user.invites][0] ?? null;
}

describe("chats a login sees become portals", () => {
  test("the login joins a channel on the network: its portal appears and the user is invited", async () => {
    toy.join("alice-toy", "random");
    const invite = await until("the portal invite", () => pendingInvite(alice));
    const roomId = await alice.join(invite);
    const name = await alice.request<{ name: string }>(
      "GET",
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.name/`,
    );
    assert.equal(name.name, "Random");
    toy.post("bob", "random", "hello portal from a login");
    const msg = await alice.waitForEvent(roomId, (e) => e.content.body === "hello portal from a login");
    assert.equal(msg.sender, "@reference_bob:localhost");

    toy.leave("alice-toy", "random");
    // Removed from the room: a left room is no longer in /sync's joined rooms, so read its timeline.
    const removal = await until("alice removed from the portal", async () =>
      (await alice.timeline(roomId, 20)).find(
        (e) => e.type === "m.room.member" && e.state_key === alice.userId && e.content.membership === "leave",
      ),
    );
    assert.equal(removal.sender, env.botUserId);
  });
});

describe("who sends in a room without a bot", () => {
  let roomId: string;

  test("a room admin links a room as their login; their own messages go out as them", async () => {
    roomId = await alice.createRoom({
      name: "General on Matrix",
      invite: [env.botUserId],
      preset: "public_chat",
    });
    await alice.waitForEvent(roomId, joinOf(env.botUserId));
    await alice.sendText(roomId, "!link reference general");
    await alice.waitForEvent(roomId, fromBot(/Linked this room/));
    await alice.sendText(roomId, "alice speaking");
    const sent = await until("alice's message", () =>
      toy.channelMessages("general").find((m) => m.text === "alice speaking"),
    );
    assert.equal(sent.sender, "alice-toy");
  });

  test("without a relay, a user with no login is told the message was not bridged and how to fix it", async () => {
    await carol.join(roomId);
    await carol.sendText(roomId, "carol without a relay");
    await carol.waitForEvent(roomId, fromBot(/not bridged[\s\S]*login reference[\s\S]*!set-relay/));
    assert.equal(toy.channelMessages("general").filter((m) => m.text.includes("carol without")).length, 0);
  });

  test("only a room admin sets the relay; then others are relayed through it with their names", async () => {
    await carol.sendText(roomId, "!set-relay");
    await carol.waitForEvent(roomId, fromBot(/Only a room admin/));
    await alice.sendText(roomId, "!set-relay");
    await alice.waitForEvent(roomId, fromBot(/relayed through Alice on Toy/));
    await carol.sendText(roomId, "carol through the relay");
    const sent = await until("carol's relayed message", () =>
      toy.channelMessages("general").find((m) => m.text.endsWith("carol through the relay")),
    );
    assert.equal(sent.sender, "alice-toy");
    assert.equal(sent.text, "carol: carol through the relay");
  });

  test("!set-relay off: back to the notice", async () => {
    await alice.sendText(roomId, "!set-relay off");
    await alice.waitForEvent(roomId, fromBot(/no relay now/));
    await carol.sendText(roomId, "carol after off");
    await carol.waitForEvent(roomId, fromBot(/not bridged/));
    assert.equal(toy.channelMessages("general").filter((m) => m.text.includes("carol after off")).length, 0);
  });
});
