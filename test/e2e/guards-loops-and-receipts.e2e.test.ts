/**
 * The scenario that plagues Libera users, with the double-bridge check switched off so the
 * second link gets through: the echo loop guard must catch it. And read state: "I answer
 * from Matrix and the remote app no longer shows everything unread", both ways, plus typing.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { ToyNetwork } from "../reference/toy-network.js";
import { startBridgeEnvironment, type BridgeEnvironment } from "../harness/switchboard.js";
import { TestMatrixClient, botSays, dmWithBot as openBotDm, joinOf } from "../harness/matrix-client.js";
import { until } from "../harness/wait.js";

let env: BridgeEnvironment;
let toy: ToyNetwork;
let alice: TestMatrixClient;
let admin: TestMatrixClient;
let adminDm: string;

const fromBot = (text: RegExp) => botSays(env.botUserId, text);

const dmWithBot = (client: TestMatrixClient) => openBotDm(client, env.botUserId);

before(async () => {
  toy = new ToyNetwork();
  await toy.listen();
  toy.addUser("bob", "Bob Remote");
  toy.addUser("otherbridge", "Other Bridge");
  toy.addChannel("general", "General", "", ["bob", "otherbridge"]);
  toy.addChannel("reads", "Reads", "", ["bob"]);
  env = await startBridgeEnvironment({
    bridges: { reference: { enabled: true, url: toy.url, token: toy.bridgeToken } },
    extraConfig: {
      admins: ["@admin:localhost"],
      guards: { double_bridge_check: false, echo_threshold: 3, receipt_debounce_ms: 200 },
    },
  });
  const a = await env.hs.registerUser("alice");
  alice = new TestMatrixClient(env.hs.url, a.accessToken, a.userId);
  const b = await env.hs.registerUser("admin");
  admin = new TestMatrixClient(env.hs.url, b.accessToken, b.userId);
  adminDm = await dmWithBot(admin);
});

after(async () => {
  await env?.cleanup();
  await toy?.close();
});

describe("a channel bridged twice", () => {
  test("with the double-bridge check off, the second link goes through and the echo guard pauses the loop", async () => {
    const portal = await alice.join("#reference_general:localhost");
    const second = await alice.createRoom({ name: "Second", invite: [env.botUserId] });
    await alice.waitForEvent(second, joinOf(env.botUserId));
    await alice.sendText(second, "!link reference general");
    await alice.waitForEvent(second, fromBot(/Linked this room/));

    // Another bridge relays everything our bridge posts back into the channel under its own name.
    toy.onPost = (m) => {
      if (m.sender === "bridge")
        setTimeout(() => toy.post("otherbridge", "general", `<${m.relayName ?? "?"}> ${m.text}`), 20);
    };
    for (let i = 0; i < 3; i++) {
      await alice.sendText(portal, `loop test ${i}`);
      await until(`echo ${i}`, () =>
        toy
          .channelMessages("general")
          .some((m) => m.sender === "otherbridge" && m.text.endsWith(`loop test ${i}`)),
      );
    }
    await alice.waitForEvent(portal, fromBot(/is paused: messages sent from Matrix came back/));
    await admin.waitForEvent(adminDm, fromBot(/is paused/));
    toy.onPost = null;

    const before = toy.channelMessages("general").length;
    await alice.sendText(portal, "while paused");
    await alice.waitForEvent(portal, fromBot(/Bridging is paused in this room/));
    await sleep(500);
    assert.equal(toy.channelMessages("general").length, before, "nothing crosses while paused");

    await alice.sendText(portal, "!resume");
    await alice.waitForEvent(portal, fromBot(/Only a room admin or a bridge admin can resume/));
    await admin.sendText(adminDm, `resume ${portal}`);
    await admin.waitForEvent(adminDm, fromBot(/Bridging resumed/));
    await alice.sendText(portal, "after resume");
    await until("a message after resume", () =>
      toy.channelMessages("general").some((m) => m.text === "after resume"),
    );
  });
});

describe("read receipts and typing", () => {
  let room: string;
  let dm: string;
  const ids: Record<string, { remote: string; event: string }> = {};

  test("setup: alice logs in and bob's messages arrive", async () => {
    const aliceToy = toy.addUser("alice-toy", "Alice on Toy");
    toy.channels.get("reads")?.members.add("alice-toy");
    dm = await dmWithBot(alice);
    await alice.sendText(dm, `login reference token ${aliceToy.token}`);
    await alice.waitForEvent(dm, fromBot(/Logged in to Toy network as Alice on Toy/));
    room = await alice.join("#reference_reads:localhost");
    for (const text of ["r1", "r2", "r3"]) {
      const m = toy.post("bob", "reads", text);
      const e = await alice.waitForEvent(room, (ev) => ev.content.body === text);
      ids[text] = { remote: m.id, event: e.event_id ?? "" };
    }
  });

  const aliceReads = () =>
    toy.eventsOfType("read").filter((e) => e.user === "alice-toy" && e.channel === "reads");
  const receipt = (eventId: string) =>
    alice.request(
      "POST",
      `/_matrix/client/v3/rooms/${encodeURIComponent(room)}/receipt/m.read/${encodeURIComponent(eventId)}`,
      {},
    );

  test("a Matrix read receipt marks the chat read on the remote side up to that message", async () => {
    await receipt(ids.r2?.event ?? "");
    await until("alice's remote read marker", () => toy.reads.get("alice-toy\0reads") === ids.r2?.remote);
    assert.equal(aliceReads().length, 1);
  });

  test("older and duplicate receipts are ignored", async () => {
    await receipt(ids.r1?.event ?? "");
    await receipt(ids.r2?.event ?? "");
    await sleep(1500);
    assert.equal(toy.reads.get("alice-toy\0reads"), ids.r2?.remote, "never moves backwards");
    assert.equal(aliceReads().length, 1, "no extra mark-read calls");
  });

  test("sending a message marks the chat read up to it", async () => {
    await alice.sendText(room, "my answer");
    const mine = await until("alice's message on the remote side", () =>
      toy.channelMessages("reads").find((m) => m.text === "my answer"),
    );
    await until(
      "the read marker on alice's own message",
      () => toy.reads.get("alice-toy\0reads") === mine.id,
    );
  });

  test("a remote read becomes a Matrix receipt from the reader's ghost", async () => {
    toy.markRead("bob", "reads", ids.r3?.remote ?? "");
    const ev = await alice.waitForEvent(room, (e) => {
      if (e.type !== "m.receipt") return false;
      const forEvent = e.content[ids.r3?.event ?? ""] as Record<string, Record<string, unknown>> | undefined;
      return Boolean(forEvent?.["m.read"]?.["@reference_bob:localhost"]);
    });
    assert.ok(ev);
  });

  test("typing crosses both ways", async () => {
    toy.setTyping("bob", "reads", true);
    await alice.waitForEvent(
      room,
      (e) =>
        e.type === "m.typing" &&
        ((e.content.user_ids as string[] | undefined) ?? []).includes("@reference_bob:localhost"),
    );
    await alice.request(
      "PUT",
      `/_matrix/client/v3/rooms/${encodeURIComponent(room)}/typing/${encodeURIComponent(alice.userId)}`,
      {
        typing: true,
        timeout: 10_000,
      },
    );
    await until("alice typing on the remote side", () =>
      toy.eventsOfType("typing").some((e) => e.user === "alice-toy" && e.typing),
    );
  });
});
