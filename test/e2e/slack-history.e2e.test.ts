/**
 * History import, end to end: the real Synapse, the bridge process, and the Slack double that
 * the real @slack/web-api reads history from. A channel with a past (500 messages over 30 days:
 * threads, edits, a deleted message, reactions, files, six senders) gets a portal; a Matrix
 * client sees that past in order, with its original timestamps and senders, threads intact,
 * then the live messages; none twice. A kill -9 halfway through an import loses and repeats
 * nothing. `!backfill` is for room admins.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startSlackDouble, type SlackDouble } from "../doubles/slack/index.js";
import { startBridgeEnvironment, type BridgeEnvironment } from "../harness/switchboard.js";
import { slackWorkspace } from "../harness/bridge-config.js";
import { TestMatrixClient, botSays, type MatrixTestEvent } from "../harness/matrix-client.js";
import { until } from "../harness/wait.js";

let slack: SlackDouble;
let env: BridgeEnvironment;
let alice: TestMatrixClient;
let bob: TestMatrixClient;
let senders: Array<{ id: string; token: string }>;

/** What the first channel's Matrix room must show, in order. */
interface Expected {
  body: string;
  ts: string;
  sender: string;
  threadRoot?: string;
}
const expected: Expected[] = [];
const reactions: Array<{ ts: string; key: string; user: string }> = [];
let historyChannel: string;
let bigChannel: string;
const BIG = 2_000;

const ghost = (slackId: string) => `@slack_${slack.team.id.toLowerCase()}_${slackId.toLowerCase()}:localhost`;
const tsMs = (ts: string) => Math.round(Number.parseFloat(ts) * 1000);
const relation = (e: MatrixTestEvent) => (e.content["m.relates_to"] ?? {}) as Record<string, unknown>;

/** Every event of a room, oldest first (/messages forwards from its start). */
async function wholeTimeline(client: TestMatrixClient, roomId: string): Promise<MatrixTestEvent[]> {
  const out: MatrixTestEvent[] = [];
  let from: string | undefined;
  for (;;) {
    const q = new URLSearchParams({ dir: "f", limit: "500", ...(from ? { from } : {}) });
    const res = await client.request<{ chunk: MatrixTestEvent[]; end?: string }>(
      "GET",
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?${q}`,
    );
    out.push(...res.chunk);
    if (!res.end || res.chunk.length === 0) return out;
    from = res.end;
  }
}

/** Messages from Slack: sent by ghosts (not the bot's notices, not Matrix users' commands). */
const bodies = (events: MatrixTestEvent[]) =>
  events.filter((e) => e.type === "m.room.message" && e.sender.startsWith("@slack_"));

before(async () => {
  slack = await startSlackDouble({ teamName: "Acme", teamDomain: "acme" });
  senders = ["ann", "ben", "cat", "dan", "eve", "fay"].map((name) =>
    slack.addUser({ name, displayName: name }),
  );
  const members = [...senders.map((s) => s.id), slack.botUserId];
  historyChannel = slack.addChannel({ name: "history", members }).id;
  bigChannel = slack.addChannel({ name: "big", members }).id;

  // The past: a message a minute or so, starting 30 days ago.
  let clock = Date.now() - 30 * 86_400_000;
  slack.setClock(() => (clock += 61_000));
  const who = (i: number) => senders[i % senders.length]!;
  for (let i = 0; expected.length < 500; i++) {
    const s = who(i);
    if (i === 100 || i === 300) {
      const up = slack.uploadAs(s.id, historyChannel, {
        name: `file-${i}.png`,
        mimetype: "image/png",
        data: Buffer.from(`picture ${i}`),
      });
      expected.push({ body: `file-${i}.png`, ts: up.ts, sender: ghost(s.id) });
      continue;
    }
    const ts = slack.postAs(s.id, historyChannel, `past ${i}`);
    expected.push({ body: `past ${i}`, ts, sender: ghost(s.id) });
    if (i % 50 === 7) {
      // A thread of three replies under this message.
      for (let r = 0; r < 3; r++) {
        const replier = who(i + r + 1);
        const rts = slack.postAs(replier.id, historyChannel, { text: `reply ${i}.${r}`, threadTs: ts });
        expected.push({ body: `reply ${i}.${r}`, ts: rts, sender: ghost(replier.id), threadRoot: ts });
      }
    }
    if (i === 20 || i === 220) {
      slack.editAs(s.id, historyChannel, ts, `past ${i} (edited)`);
      expected[expected.length - 1]!.body = `past ${i} (edited)`;
    }
    if (i === 42) {
      slack.deleteAs(s.id, historyChannel, ts);
      expected.pop();
    }
    if (i % 97 === 5) {
      const reactor = who(i + 2);
      slack.reactAs(reactor.id, historyChannel, ts, "thumbsup");
      reactions.push({ ts, key: "👍", user: ghost(reactor.id) });
    }
  }
  for (let i = 0; i < BIG; i++) slack.postAs(who(i).id, bigChannel, `big ${i}`);
  slack.setClock();

  env = await startBridgeEnvironment({
    bridges: { slack: { enabled: true, workspaces: { acme: slackWorkspace(slack) } } },
    extraConfig: { permissions: { "*": "relay", localhost: "user", "@alice:localhost": "admin" } },
  });
  const a = await env.hs.registerUser("alice");
  alice = new TestMatrixClient(env.hs.url, a.accessToken, a.userId);
  const b = await env.hs.registerUser("bob");
  bob = new TestMatrixClient(env.hs.url, b.accessToken, b.userId);
});

after(async () => {
  await env?.cleanup();
  await slack?.close();
});

describe("Slack history import", () => {
  test("a new portal starts with the channel's past, in order, with original timestamps, senders and threads, then live messages; none twice", async () => {
    const room = await alice.join("#slack_acme_history:localhost");
    // Said while the import runs: it comes after the whole past, once (the import's last page
    // may hold it too; its mapping keeps it from twice).
    const live = slack.postAs(senders[0]!.id, historyChannel, "said during the import");
    await alice.waitForEvent(
      room,
      botSays(env.botUserId, /History imported: \d+ messages, back to/),
      180_000,
    );
    slack.postAs(senders[1]!.id, historyChannel, "said after the import");
    const liveEvent = await alice.waitForEvent(room, (e) => e.content.body === "said after the import");

    const timeline = await wholeTimeline(alice, room);
    const messages = bodies(timeline);
    assert.deepEqual(
      messages.map((e) => String(e.content.body)),
      [...expected.map((x) => x.body), "said during the import", "said after the import"],
      "the past in the order it was said, edits' final text, the deleted message left out, then the live one",
    );
    const byBody = new Map(messages.map((e) => [String(e.content.body), e]));
    for (const x of expected) {
      const e = byBody.get(x.body)!;
      assert.equal(e.sender, x.sender, `${x.body}: sent by its author's ghost`);
      assert.equal(e.origin_server_ts, tsMs(x.ts), `${x.body}: its original timestamp`);
      if (x.threadRoot) {
        const root = expected.find((r) => r.ts === x.threadRoot)!;
        assert.equal(relation(e).rel_type, "m.thread", `${x.body}: in a thread`);
        assert.equal(relation(e).event_id, byBody.get(root.body)!.event_id, `${x.body}: under its root`);
      }
    }
    const files = messages.filter((e) => e.content.msgtype === "m.image");
    assert.equal(files.length, 2, "both files, as Matrix media");
    for (const f of files) assert.match(String(f.content.url), /^mxc:\/\//);
    const annotations = timeline.filter((e) => e.type === "m.reaction");
    assert.equal(annotations.length, reactions.length, "each reaction once");
    for (const r of reactions) {
      const target = byBody.get(expected.find((x) => x.ts === r.ts)!.body)!;
      assert.ok(
        annotations.some(
          (a) =>
            a.sender === r.user &&
            relation(a).event_id === target.event_id &&
            // Slack's thumbsup as the bridge spells it live (with a variation selector).
            String(relation(a).key).startsWith(r.key),
        ),
        `the reaction on ${String(target.content.body)}`,
      );
    }
    assert.equal(byBody.get("said during the import")!.origin_server_ts, tsMs(live));
    assert.ok(liveEvent, "the live stream goes on after the import");
  });

  test("killed -9 halfway through importing 2,000 messages, the bridge finishes after restart with each message once", async () => {
    const room = await alice.join("#slack_acme_big:localhost");
    await until(
      "about half the import in Matrix",
      async () =>
        bodies(await alice.timeline(room, 100)).some((e) =>
          /^big (9\d\d|1\d\d\d)$/.test(String(e.content.body)),
        ),
      180_000,
    );
    await env.bridge.kill9();
    await env.bridge.restart();
    await alice.waitForEvent(room, botSays(env.botUserId, /History imported/), 240_000);
    const got = bodies(await wholeTimeline(alice, room)).map((e) => String(e.content.body));
    // The default import is the newest 1,000 messages.
    assert.deepEqual(
      got,
      Array.from({ length: 1000 }, (_, i) => `big ${BIG - 1000 + i}`),
    );
  });

  test("!backfill is refused to a member who is not a room admin, and imports what is missing for one who is", async () => {
    const room = await alice.join("#slack_acme_big:localhost");
    await bob.join(room);
    await bob.sendText(room, "!backfill 30 days");
    await bob.waitForEvent(room, botSays(env.botUserId, /Only a room admin/));
    // The portal's creator is the bot; the bridge's admins may import anywhere.
    await alice.sendText(room, "!backfill all");
    await alice.waitForEvent(room, botSays(env.botUserId, /History imported/), 240_000);
    const got = bodies(await wholeTimeline(alice, room)).map((e) => String(e.content.body));
    assert.equal(got.length, BIG, "the older 1,000 are added, the newer ones not again");
    assert.equal(new Set(got).size, BIG);
  });

  test("every history call and pushed event matched Slack's published specs", () => {
    assert.ok(slack.calls("conversations.history").length > 0);
    slack.assertNoSpecViolations();
  });
});
