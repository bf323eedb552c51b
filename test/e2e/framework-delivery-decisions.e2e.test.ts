/**
 * "A failure carries a decision": the reference connector maps the toy network's refusals to
 * the framework's typed errors, and the framework acts on each. Rate limited → retried after
 * exactly that long while other rooms flow; unsupported → one polite notice, no retry;
 * permanent → one notice, no retry; anything else → retried, then the room is told and the
 * event waits for the next start. And "media survives a crash": a remote image journaled while
 * the homeserver is down, with the bridge killed -9 before it is bridged, arrives as an image.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { ToyNetwork } from "../reference/toy-network.js";
import { startBridgeEnvironment, type BridgeEnvironment } from "../harness/switchboard.js";
import { until } from "../harness/wait.js";
import { TestMatrixClient, botSays, type MatrixTestEvent } from "../harness/matrix-client.js";

let env: BridgeEnvironment;
let toy: ToyNetwork;
let alice: TestMatrixClient;
let general: string;
let other: string;

const fromBot = (text: RegExp) => botSays(env.botUserId, text);
const sentTo = (channel: string, text: string) => toy.channelMessages(channel).filter((m) => m.text === text);

/** Bot notices in the room, oldest first. */
async function notices(roomId: string): Promise<MatrixTestEvent[]> {
  return (await alice.timeline(roomId, 200)).filter(
    (e) => e.sender === env.botUserId && e.content.msgtype === "m.notice",
  );
}

before(async () => {
  toy = new ToyNetwork();
  await toy.listen();
  toy.addUser("bob", "Bob Remote");
  toy.addChannel("general", "General", "", ["bob"]);
  toy.addChannel("other", "Other", "", ["bob"]);
  env = await startBridgeEnvironment({
    bridges: { reference: { enabled: true, url: toy.url, token: toy.bridgeToken } },
  });
  const a = await env.hs.registerUser("alice");
  alice = new TestMatrixClient(env.hs.url, a.accessToken, a.userId);
  general = await alice.join("#reference_general:localhost");
  other = await alice.join("#reference_other:localhost");
});

after(async () => {
  await env?.cleanup();
  await toy?.close();
});

describe("Matrix → remote failures carry a decision", () => {
  test("RateLimitedError(2000) is retried after 2 s, and other rooms keep flowing meanwhile", async () => {
    toy.failNext("/send", {
      channel: "general",
      status: 429,
      body: { error: "ratelimited", retry_after_ms: 2000 },
    });
    await alice.sendText(general, "slow down please");
    await until("the 429", () => toy.faulted.some((f) => f.channel === "general"));
    const refusedAt = toy.faulted.find((f) => f.channel === "general")?.at ?? 0;
    await alice.sendText(other, "meanwhile elsewhere");
    const elsewhere = await until(
      "the other room's message",
      () => sentTo("other", "meanwhile elsewhere")[0],
    );
    const delivered = await until("the rate-limited message", () => sentTo("general", "slow down please")[0]);
    assert.ok(elsewhere.ts < delivered.ts, "the other room was not held behind the rate limit");
    const waited = delivered.ts - refusedAt;
    assert.ok(waited >= 1900, `retried after the network's 2 s, not sooner (waited ${waited} ms)`);
    assert.ok(waited < 10_000, `retried once the 2 s were up (waited ${waited} ms)`);
    await sleep(500);
    assert.equal(sentTo("general", "slow down please").length, 1, "delivered once");
  });

  test("UnsupportedError: one notice for the room, no retries", async () => {
    const before = toy.faulted.length;
    toy.failNext("/send", { channel: "general", status: 501, body: { error: "polls" }, times: 2 });
    await alice.sendText(general, "a poll, say");
    await alice.waitForEvent(general, fromBot(/The toy network cannot do this \(polls\)/));
    await alice.sendText(general, "another poll");
    await until("the second refusal", () => toy.faulted.length === before + 2);
    await sleep(3000); // a retry would have come by now (the first is after 250 ms)
    assert.equal(toy.faulted.length, before + 2, "each message was tried exactly once");
    const told = (await notices(general)).filter((e) => /cannot do this/.test(String(e.content.body)));
    assert.equal(told.length, 1, "the room is told once");
    assert.equal(sentTo("general", "a poll, say").length, 0);
  });

  test("PermanentError: the room is told why, and there is no retry", async () => {
    const before = toy.faulted.length;
    toy.failNext("/send", { channel: "general", status: 403, body: { error: "not_allowed_here" } });
    const eventId = await alice.sendText(general, "forbidden words");
    const notice = await alice.waitForEvent(
      general,
      fromBot(/This message could not be delivered: toy network \/send: not_allowed_here/),
    );
    assert.deepEqual(notice.content["m.relates_to"], { "m.in_reply_to": { event_id: eventId } });
    await sleep(3000);
    assert.equal(toy.faulted.length, before + 1, "tried once");
    assert.equal(sentTo("general", "forbidden words").length, 0);
  });

  test("a transient failure is retried, then the room is told, and the event is delivered after a restart", async () => {
    // Five refusals: the first try and every retry of this run (250 ms … 10 s).
    toy.failNext("/send", { channel: "general", status: 500, body: { error: "internal" }, times: 5 });
    await alice.sendText(general, "persistent one");
    await alice.waitForEvent(
      general,
      fromBot(/could not be delivered yet: toy network \/send: internal\. The bridge will keep trying/),
      40_000,
    );
    assert.equal(sentTo("general", "persistent one").length, 0);
    await env.bridge.stop();
    await env.bridge.restart();
    await until(
      "the parked message after the restart",
      () => sentTo("general", "persistent one").length > 0,
      30_000,
    );
    await sleep(1000);
    assert.equal(sentTo("general", "persistent one").length, 1, "delivered once");
  });
});

describe("media survives a crash", () => {
  test("a remote image journaled while the homeserver is down, bridge killed -9: it arrives as an image", async () => {
    await env.hs.halt();
    toy.files.set("crashpic", {
      name: "crash.png",
      mimetype: "image/png",
      data: Buffer.from("bytes that must survive"),
    });
    toy.post("bob", "general", "crash.png", {
      file: { id: "crashpic", name: "crash.png", mimetype: "image/png" },
      kind: "file",
    });
    // The bridge reads the toy network's log at once; its event is journaled, then waits for Matrix.
    await sleep(2000);
    await env.bridge.kill9();
    await env.bridge.restart({ waitForRunning: false });
    await sleep(1000);
    await env.hs.resume();
    await env.bridge.waitForLog(/Switchboard is running/, 60_000);
    const image = await until(
      "the image in Matrix",
      async () => (await alice.timeline(general, 50)).find((e) => e.content.body === "crash.png"),
      60_000,
    );
    assert.equal(image.content.msgtype, "m.image", "an image, not a notice naming it");
    const mxc = String(image.content.url).slice("mxc://".length);
    const dl = await fetch(`${env.hs.url}/_matrix/client/v1/media/download/${mxc}`, {
      headers: { authorization: `Bearer ${alice.accessToken}` },
    });
    assert.equal(Buffer.from(await dl.arrayBuffer()).toString(), "bytes that must survive");
  });
});
