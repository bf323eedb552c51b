/**
 * "Nothing lost, nothing silent", as an admin lives it: one bridge process with IRC (the real
 * ircd) and Slack (the double the real Bolt talks to) on the real Synapse, which runs on
 * SQLite like small installs. The homeserver restarts for an upgrade; it is down for two
 * minutes while IRC and Slack users keep talking; it is down while the bridge is killed -9 and
 * started again. Every message arrives once, in order per chat, and Matrix → remote works
 * again right after the restart (Synapse on SQLite numbers transactions from 1 again). While
 * the ircd is down, /health and the bot's `status` say so.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { startSlackDouble, type SlackDouble } from "../doubles/slack/index.js";
import { ircdKindFromEnv, startIrcd, type Ircd } from "../harness/ircd.js";
import { IrcPerson } from "../harness/irc-client.js";
import { startBridgeEnvironment, type BridgeEnvironment } from "../harness/switchboard.js";
import { ircBridge, slackWorkspace } from "../harness/bridge-config.js";
import { TestMatrixClient, botSays, dmWithBot } from "../harness/matrix-client.js";
import { until } from "../harness/wait.js";

/** How long the homeserver stays down in the outage test (longer than any retry budget). */
const OUTAGE_MS = Number(process.env.SWITCHBOARD_TEST_OUTAGE_MS ?? 120_000);

let ircd: Ircd;
let slack: SlackDouble;
let env: BridgeEnvironment;
let alice: TestMatrixClient;
let carol: IrcPerson;
let bob: { id: string; token: string };
let general: string;
let ircRoom: string;
let slackRoom: string;
const people: IrcPerson[] = [];

const fromBot = (text: RegExp) => botSays(env.botUserId, text);

/** The bodies of remote messages in a room with a given prefix, oldest first. */
async function bodies(roomId: string, prefix: string): Promise<string[]> {
  return (await alice.timeline(roomId, 500))
    .filter((e) => e.type === "m.room.message" && String(e.content.body).startsWith(prefix))
    .map((e) => String(e.content.body));
}

/** The 10 IRC and 10 Slack messages of a test (`irc-<tag>-N`, `slack-<tag>-N`) are in Matrix once each, in order. */
async function assertAllOnceInOrder(tag: string): Promise<void> {
  const expected = (net: string) => Array.from({ length: 10 }, (_, i) => `${net}-${tag}-${i}`);
  await until(
    "all 20 in Matrix",
    async () =>
      (await bodies(ircRoom, `irc-${tag}-`)).length >= 10 &&
      (await bodies(slackRoom, `slack-${tag}-`)).length >= 10,
    60_000,
  );
  await sleep(2000); // a duplicate would show by now
  assert.deepEqual(await bodies(ircRoom, `irc-${tag}-`), expected("irc"), "IRC: each once, in order");
  assert.deepEqual(await bodies(slackRoom, `slack-${tag}-`), expected("slack"), "Slack: each once, in order");
}

async function health(): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${env.bridge.metricsPort}/health`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

before(async () => {
  ircd = await startIrcd({ kind: ircdKindFromEnv() });
  slack = await startSlackDouble({ teamName: "Acme", teamDomain: "acme" });
  bob = slack.addUser({ name: "bob", realName: "Bob Builder", displayName: "Bob" });
  general = slack.addChannel({ name: "general", members: [bob.id, slack.botUserId] }).id;
  env = await startBridgeEnvironment({
    bridges: {
      irc: ircBridge(ircd, { reconnect_initial_delay_ms: 500 }),
      slack: {
        enabled: true,
        workspaces: {
          acme: slackWorkspace(slack),
        },
      },
    },
  });
  const a = await env.hs.registerUser("alice");
  alice = new TestMatrixClient(env.hs.url, a.accessToken, a.userId);
  carol = await IrcPerson.connect(ircd, "carol");
  people.push(carol);
  await carol.join("#room");
  ircRoom = await alice.join("#irc_test_#room:localhost");
  slackRoom = await alice.join("#slack_acme_general:localhost");
  carol.say("#room", "warm-up from irc");
  await alice.waitForEvent(ircRoom, (e) => e.content.body === "warm-up from irc");
  slack.postAs(bob.id, general, "warm-up from slack");
  await alice.waitForEvent(slackRoom, (e) => e.content.body === "warm-up from slack");
});

after(async () => {
  for (const p of people) p.quit();
  await env?.cleanup();
  await slack?.close();
  await ircd?.stop();
});

describe("the homeserver restarts or goes away", () => {
  test("after a homeserver restart, Matrix messages reach IRC and Slack within seconds", async () => {
    // Enough transactions before the restart that Synapse's reused ids collide with seen ones.
    for (let i = 0; i < 3; i++) await alice.sendText(ircRoom, `before restart ${i}`);
    await carol.waitFor((l) => l.type === "privmsg" && l.text === "before restart 2");
    await env.hs.restart();
    await alice.sendText(ircRoom, "after restart to irc");
    await alice.sendText(slackRoom, "after restart to slack");
    await carol.waitFor((l) => l.type === "privmsg" && l.text === "after restart to irc", 20_000);
    await until(
      "the Slack message",
      () => slack.messages(general).some((m) => m.text === "after restart to slack"),
      20_000,
    );
  });

  test("a transaction the homeserver retries is processed once; a reused id with new events is new", async () => {
    const url = (txnId: string) =>
      `http://127.0.0.1:${env.bridge.appservicePort}/_matrix/app/v1/transactions/${txnId}`;
    const event = (id: string, body: string) => ({
      event_id: id,
      type: "m.room.message",
      room_id: ircRoom,
      sender: alice.userId,
      origin_server_ts: Date.now(),
      content: { msgtype: "m.text", body },
    });
    const put = (txnId: string, events: unknown[]) =>
      fetch(url(txnId), {
        method: "PUT",
        headers: { authorization: `Bearer ${env.registration.hs_token}`, "content-type": "application/json" },
        body: JSON.stringify({ events }),
      });
    const first = [event("$retry-test-1:localhost", "retried transaction")];
    assert.equal((await put("reused-1", first)).status, 200);
    assert.equal((await put("reused-1", first)).status, 200, "the retry is acknowledged");
    assert.equal(
      (await put("reused-1", [event("$retry-test-2:localhost", "same id, new event")])).status,
      200,
    );
    // The first event again, inside another transaction: still handled once by its event id.
    assert.equal((await put("other-2", first)).status, 200);
    await carol.waitFor((l) => l.type === "privmsg" && l.text === "same id, new event");
    await sleep(1500);
    const retried = carol.seen.filter((l) => l.type === "privmsg" && l.text === "retried transaction");
    assert.equal(retried.length, 1, "the retried transaction and the re-sent event went out once");
  });

  test(`the homeserver is down for ${OUTAGE_MS / 1000} s while IRC and Slack users talk: all 20 arrive once, in order`, async () => {
    await env.hs.halt();
    const started = Date.now();
    for (let i = 0; i < 10; i++) {
      carol.say("#room", `irc-outage-${i}`);
      slack.postAs(bob.id, general, `slack-outage-${i}`);
      // Spread over the outage, so messages also arrive long after the first ones began to wait.
      await sleep(Math.max(0, started + ((i + 1) * OUTAGE_MS) / 11 - Date.now()));
    }
    const during = await health();
    assert.equal(during.status, 503, "unhealthy while the homeserver is down");
    assert.equal((during.body.homeserver as { reachable: boolean }).reachable, false);
    await sleep(Math.max(0, started + OUTAGE_MS - Date.now()));
    await env.hs.resume();

    await assertAllOnceInOrder("outage");
    assert.equal((await health()).status, 200, "healthy again");
  });

  test("the same with the bridge killed -9 during the outage and started before the homeserver is back", async () => {
    await env.hs.halt();
    for (let i = 0; i < 10; i++) {
      carol.say("#room", `irc-crash-${i}`);
      slack.postAs(bob.id, general, `slack-crash-${i}`);
      await sleep(300);
    }
    // Journaled (and acknowledged to Slack) at once; held through the outage, longer than any
    // retry budget, before the crash.
    await sleep(40_000);
    await env.bridge.kill9();
    await env.bridge.restart({ waitForRunning: false });
    await sleep(5000); // the new process waits for the homeserver
    await env.hs.resume();
    await env.bridge.waitForLog(/Switchboard is running/, 60_000);

    await assertAllOnceInOrder("crash");
  });
});

describe("connection state", () => {
  test("/health is 503 naming IRC while its ircd is down and 200 when it is back; status says the same", async () => {
    const dm = await dmWithBot(alice, env.botUserId);
    await ircd.restart(async () => {
      const down = await until(
        "/health 503 with IRC down",
        async () => {
          const h = await health();
          const irc = (h.body.networks as Record<string, { state: string }>).irc;
          return h.status === 503 && irc?.state === "TRANSIENT_DISCONNECT" ? h : null;
        },
        20_000,
      );
      const networks = down.body.networks as Record<
        string,
        { state: string; connections: Record<string, { state: string }> }
      >;
      assert.equal(networks.irc?.connections.test?.state, "TRANSIENT_DISCONNECT");
      assert.equal(networks.slack?.state, "CONNECTED", "Slack is not blamed");
      await alice.sendText(dm, "status");
      await alice.waitForEvent(
        dm,
        fromBot(/IRC: TRANSIENT_DISCONNECT \(test: TRANSIENT_DISCONNECT, no connection to/),
      );
    });
    await until(
      "/health 200 with IRC back",
      async () => {
        const h = await health();
        return (
          h.status === 200 &&
          (h.body.networks as Record<string, { state: string }>).irc?.state === "CONNECTED"
        );
      },
      60_000,
    );
    await alice.sendText(dm, "status");
    await alice.waitForEvent(dm, fromBot(/- IRC: CONNECTED\n/));
    const metrics = await (await fetch(`http://127.0.0.1:${env.bridge.metricsPort}/metrics`)).text();
    assert.match(
      metrics,
      /switchboard_connection_state\{network="irc",connection="test",state="CONNECTED"\} 1/,
    );
  });
});
