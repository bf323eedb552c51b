/**
 * The Slack bridge end to end: the real Synapse, the bridge process, and the Slack double
 * that the real @slack/bolt and @slack/web-api talk to. "A Slack channel is bridged as a
 * portal and as a plumbed room and everything crosses both ways"; a logged-in user posts
 * as themselves, a relayed one shows their Matrix name; read receipts move Slack's read
 * marker; a restart and a 429 storm lose and duplicate nothing.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { startSlackDouble, type SlackDouble } from "../doubles/slack/index.js";
import { startBridgeEnvironment, type BridgeEnvironment } from "../harness/switchboard.js";
import { slackWorkspace } from "../harness/bridge-config.js";
import { TestMatrixClient, botSays, dmWithBot, type MatrixTestEvent } from "../harness/matrix-client.js";
import { until } from "../harness/wait.js";

let slack: SlackDouble;
let env: BridgeEnvironment;
let alice: TestMatrixClient;
let bob: { id: string; token: string };
let aliceSlack: { id: string; token: string };
let general: string;
let random: string;
let portal: string;
/** Alice's DM with the bridge bot: where logins happen and where she is told about them. */
let managementRoom: string;
/** The Slack DM between bob and alice, and its portal. */
let dmChannel: string;
let dmRoom: string;

const ghost = (slackId: string) => `@slack_${slack.team.id.toLowerCase()}_${slackId.toLowerCase()}:localhost`;
const fromBot = (text: RegExp) => botSays(env.botUserId, text);
const relation = (e: MatrixTestEvent) => (e.content["m.relates_to"] ?? {}) as Record<string, unknown>;

/** A room of alice's, with the bot invited, linked to a Slack channel with `!link slack`. */
async function plumbedRoom(name: string, channel: string): Promise<string> {
  const room = await alice.createRoom({ name, invite: [env.botUserId] });
  await until("the bot joins", async () => {
    const { joined } = await alice.request<{ joined: Record<string, unknown> }>(
      "GET",
      `/_matrix/client/v3/rooms/${encodeURIComponent(room)}/joined_members`,
    );
    return env.botUserId in joined;
  });
  await alice.sendText(room, `!link slack ${channel}`);
  await alice.waitForEvent(room, fromBot(/[Ll]inked/));
  return room;
}

before(async () => {
  slack = await startSlackDouble({ teamName: "Acme", teamDomain: "acme" });
  bob = slack.addUser({ name: "bob", realName: "Bob Builder", displayName: "Bob" });
  aliceSlack = slack.addUser({ name: "alice", realName: "Alice Liddell", displayName: "Alice S" });
  general = slack.addChannel({ name: "general", members: [bob.id, aliceSlack.id, slack.botUserId] }).id;
  random = slack.addChannel({ name: "random", members: [bob.id, slack.botUserId] }).id;
  env = await startBridgeEnvironment({
    bridges: {
      slack: {
        enabled: true,
        workspaces: {
          acme: slackWorkspace(slack),
        },
      },
    },
    extraConfig: { guards: { receipt_debounce_ms: 100 } },
  });
  const a = await env.hs.registerUser("alice");
  alice = new TestMatrixClient(env.hs.url, a.accessToken, a.userId);
  await alice.request("PUT", `/_matrix/client/v3/profile/${encodeURIComponent(a.userId)}/displayname`, {
    displayname: "Alice M",
  });
});

after(async () => {
  await env?.cleanup();
  await slack?.close();
});

describe("Slack bridge", () => {
  test("a portal: joining #slack_acme_general bridges the channel; formatting and mentions cross", async () => {
    portal = await alice.join("#slack_acme_general:localhost");
    slack.postAs(bob.id, general, "*bold* and _italic_ for <@" + aliceSlack.id + "> :tada:");
    const msg = await alice.waitForEvent(portal, (e) => String(e.content.body).includes("bold"));
    assert.equal(msg.sender, ghost(bob.id));
    assert.match(String(msg.content.formatted_body), /<strong>bold<\/strong>/);
    assert.match(String(msg.content.formatted_body), /<em>italic<\/em>/);
    assert.match(String(msg.content.formatted_body), new RegExp(`matrix\\.to/#/${ghost(aliceSlack.id)}`));
    assert.match(String(msg.content.body), /🎉/);

    // The workspace is a space holding its portals; anyone in a portal can join it.
    const state = await alice.request<MatrixTestEvent[]>(
      "GET",
      `/_matrix/client/v3/rooms/${encodeURIComponent(portal)}/state`,
    );
    const parent = state.find((e) => e.type === "m.space.parent");
    assert.ok(parent?.state_key, "the portal names its space");
    const space = await alice.join(parent.state_key!);
    const spaceState = await alice.request<MatrixTestEvent[]>(
      "GET",
      `/_matrix/client/v3/rooms/${encodeURIComponent(space)}/state`,
    );
    assert.ok(spaceState.some((e) => e.type === "m.space.child" && e.state_key === portal));
    assert.ok(spaceState.some((e) => e.type === "m.room.name" && e.content.name === "Acme"));

    await alice.sendMessage(portal, {
      msgtype: "m.text",
      body: "hi Bob, **loud**",
      format: "org.matrix.custom.html",
      formatted_body: `hi <a href="https://matrix.to/#/${ghost(bob.id)}">Bob</a>, <strong>loud</strong> &lt;!channel&gt;`,
    });
    const sent = await until("the relayed message on Slack", () =>
      slack.messages(general).find((m) => m.text.includes("loud")),
    );
    assert.equal(sent.username, "Alice M", "a relayed message shows the Matrix name");
    assert.equal(sent.bot_id, slack.botId, "posted by the bridge's app");
    assert.match(sent.text, new RegExp(`<@${bob.id}>`));
    assert.match(sent.text, /\*loud\*/);
    assert.doesNotMatch(sent.text, /<!channel>/, "typed text never becomes a Slack @channel");
  });

  test("threads cross both ways", async () => {
    const root = slack.postAs(bob.id, general, "thread root");
    const rootEvent = await alice.waitForEvent(portal, (e) => e.content.body === "thread root");
    slack.postAs(bob.id, general, { text: "first reply", threadTs: root });
    const reply = await alice.waitForEvent(portal, (e) => e.content.body === "first reply");
    assert.equal(relation(reply).rel_type, "m.thread");
    assert.equal(relation(reply).event_id, rootEvent.event_id);

    await alice.sendMessage(portal, {
      msgtype: "m.text",
      body: "reply from matrix",
      "m.relates_to": {
        rel_type: "m.thread",
        event_id: rootEvent.event_id,
        is_falling_back: true,
        "m.in_reply_to": { event_id: reply.event_id },
      },
    });
    await until("the Matrix thread reply on Slack", () =>
      slack.replies(general, root).find((m) => m.text === "reply from matrix"),
    );
    assert.ok(
      !slack.messages(general).some((m) => m.text === "reply from matrix"),
      "not posted to the channel",
    );
  });

  test("edits, deletes and reactions cross both ways", async () => {
    const ts = slack.postAs(bob.id, general, "tpyo");
    const original = await alice.waitForEvent(portal, (e) => e.content.body === "tpyo");
    slack.editAs(bob.id, general, ts, "typo fixed");
    const edit = await alice.waitForEvent(portal, (e) => relation(e).rel_type === "m.replace");
    assert.equal(relation(edit).event_id, original.event_id);
    assert.equal((edit.content["m.new_content"] as { body: string }).body, "typo fixed");

    slack.reactAs(bob.id, general, ts, "thumbsup");
    const reaction = await alice.waitForEvent(portal, (e) => e.type === "m.reaction");
    // Keys carry the emoji presentation selector (U+FE0F) where Element's picker puts one.
    assert.equal(String(relation(reaction).key).replace(/\uFE0F/g, ""), "👍");
    assert.equal(relation(reaction).event_id, original.event_id);

    slack.deleteAs(bob.id, general, ts);
    await alice.waitForEvent(
      portal,
      (e) => e.type === "m.room.redaction" && (e as { redacts?: string }).redacts === original.event_id,
    );

    const mine = await alice.sendText(portal, "to be edited");
    const onSlack = await until("alice's message on Slack", () =>
      slack.messages(general).find((m) => m.text === "to be edited"),
    );
    await alice.sendMessage(portal, {
      msgtype: "m.text",
      body: "* edited from matrix",
      "m.new_content": { msgtype: "m.text", body: "edited from matrix" },
      "m.relates_to": { rel_type: "m.replace", event_id: mine },
    });
    await until("the edit on Slack", () => slack.message(general, onSlack.ts)?.text === "edited from matrix");

    const bobsTs = slack.postAs(bob.id, general, "react to me");
    const bobs = await alice.waitForEvent(portal, (e) => e.content.body === "react to me");
    await alice.sendMessage(
      portal,
      { "m.relates_to": { rel_type: "m.annotation", event_id: bobs.event_id, key: "🎉" } },
      "m.reaction",
    );
    await until("the reaction on Slack", () =>
      slack.message(general, bobsTs)?.reactions?.find((r) => r.name === "tada"),
    );

    await alice.request(
      "PUT",
      `/_matrix/client/v3/rooms/${encodeURIComponent(portal)}/redact/${encodeURIComponent(mine)}/r-${Date.now()}`,
      {},
    );
    await until("the delete on Slack", () => !slack.message(general, onSlack.ts));
    // The bridge's own edit, delete and reaction must not come back as Matrix events.
    await sleep(500);
    const echoes = (await alice.syncOnce(0)).filter(
      ({ event }) => event.sender !== alice.userId && event.sender !== ghost(bob.id),
    );
    assert.deepEqual(
      echoes.filter(({ event }) => event.type !== "m.receipt" && event.type !== "m.typing"),
      [],
    );
  });

  test("files cross both ways", async () => {
    const { ts } = slack.uploadAs(bob.id, general, {
      name: "pic.png",
      mimetype: "image/png",
      data: Buffer.from("png bytes from slack"),
    });
    const image = await alice.waitForEvent(portal, (e) => e.content.msgtype === "m.image");
    assert.ok(ts);
    const mxc = String(image.content.url).slice("mxc://".length);
    const dl = await fetch(`${env.hs.url}/_matrix/client/v1/media/download/${mxc}`, {
      headers: { authorization: `Bearer ${alice.accessToken}` },
    });
    assert.equal(Buffer.from(await dl.arrayBuffer()).toString(), "png bytes from slack");

    const data = Buffer.from("notes from matrix");
    const url = await alice.upload("notes.txt", "text/plain", data);
    await alice.sendMessage(portal, {
      msgtype: "m.file",
      body: "notes.txt",
      url,
      info: { mimetype: "text/plain", size: data.length },
    });
    const shared = await until("the file on Slack", () =>
      slack.messages(general).find((m) => m.files?.some((f) => f.name === "notes.txt")),
    );
    assert.equal(slack.fileContent(shared.files![0]!.id)?.data.toString(), "notes from matrix");
  });

  test("profile and topic changes on Slack follow on Matrix", async () => {
    slack.setProfile(bob.id, { displayName: "Robert" });
    const member = await alice.waitForEvent(
      portal,
      (e) =>
        e.type === "m.room.member" && e.state_key === ghost(bob.id) && e.content.displayname === "Robert",
    );
    assert.equal(member.content.membership, "join");
    slack.setTopic(general, "Release day");
    await alice.waitForEvent(portal, (e) => e.type === "m.room.topic" && e.content.topic === "Release day");
  });

  test("plumbing: a room admin links an existing room with !link slack", async () => {
    const room = await plumbedRoom("Our random", "random");
    slack.postAs(bob.id, random, "hello plumbed room");
    const m = await alice.waitForEvent(room, (e) => e.content.body === "hello plumbed room");
    assert.equal(m.sender, ghost(bob.id));
    await alice.sendText(room, "answer from the plumbed room");
    await until("the plumbed answer on Slack", () =>
      slack
        .messages(random)
        .find((x) => x.text === "answer from the plumbed room" && x.username === "Alice M"),
    );
  });

  test("a logged-in user posts as themselves, with no echo; a read receipt moves their Slack read marker", async () => {
    managementRoom = await dmWithBot(alice, env.botUserId);
    await alice.sendText(managementRoom, `login slack token ${aliceSlack.token}`);
    await alice.waitForEvent(managementRoom, fromBot(/Logged in to Slack as alice/));

    await alice.sendText(portal, "as myself on slack");
    const sent = await until("the puppeted message", () =>
      slack.messages(general).find((m) => m.text === "as myself on slack"),
    );
    assert.equal(sent.user, aliceSlack.id);
    assert.equal(sent.username, undefined);
    // Slack pushed the event before answering chat.postMessage: it must not come back as a ghost message.
    await sleep(800);
    const back = (await alice.syncOnce(0)).filter(
      ({ event }) => event.content.body === "as myself on slack" && event.sender !== alice.userId,
    );
    assert.deepEqual(back, []);

    slack.postAs(bob.id, general, "read me 1");
    const r2ts = slack.postAs(bob.id, general, "read me 2");
    slack.postAs(bob.id, general, "read me 3");
    await alice.waitForEvent(portal, (e) => e.content.body === "read me 3", 15_000);
    const r2 = await until("read me 2 in the timeline", async () =>
      (await alice.timeline(portal, 20)).find((e) => e.content.body === "read me 2"),
    );
    await alice.request(
      "POST",
      `/_matrix/client/v3/rooms/${encodeURIComponent(portal)}/receipt/m.read/${encodeURIComponent(r2.event_id ?? "")}`,
      {},
    );
    await until("alice's Slack read marker", () => slack.readMarker(aliceSlack.id, general) === r2ts);
  });

  test("a Slack DM to a logged-in user becomes a DM portal; the answer goes out as them", async () => {
    dmChannel = slack.openDm([bob.id, aliceSlack.id]).id;
    slack.postAs(bob.id, dmChannel, "psst, alice");
    const room = await until(
      "the DM portal invite",
      async () => {
        await alice.syncOnce(0);
        return [...alice.invites][0];
      },
      20_000,
    );
    await alice.join(room);
    dmRoom = room;
    const first = await until("the DM in the portal", async () =>
      (await alice.timeline(room, 20)).find((e) => e.content.body === "psst, alice"),
    );
    assert.equal(first.sender, ghost(bob.id));
    await alice.sendText(room, "hi bob, privately");
    const answer = await until("the answer in the Slack DM", () =>
      slack.messages(dmChannel).find((m) => m.text === "hi bob, privately"),
    );
    assert.equal(answer.user, aliceSlack.id);
  });

  test("a private channel has no portal alias; a logged-in member can plumb it", async () => {
    const secret = slack.addChannel({
      name: "secret",
      isPrivate: true,
      members: [aliceSlack.id, bob.id, slack.botUserId],
    }).id;
    await assert.rejects(alice.join("#slack_acme_secret:localhost"), /404|M_NOT_FOUND/);
    const room = await plumbedRoom("Secret", "secret");
    slack.postAs(bob.id, secret, "for members only");
    await alice.waitForEvent(room, (e) => e.content.body === "for members only");
  });

  test("a restart while Slack messages arrive: delivered after restart, once each, in order", async () => {
    await env.bridge.kill9();
    const texts = Array.from({ length: 8 }, (_, i) => `while down ${i}`);
    for (const text of texts) slack.postAs(bob.id, general, text);
    // A DM too: it can only be delivered once alice's login is loaded again.
    slack.postAs(bob.id, dmChannel, "dm while down");
    await env.bridge.restart();
    const whileDown = async () =>
      (await alice.timeline(portal, 60))
        .map((e) => String(e.content.body ?? ""))
        .filter((b) => b.startsWith("while down"));
    await until("all messages after restart", async () => (await whileDown()).length >= texts.length, 40_000);
    // Give a duplicate time to show up before counting.
    await sleep(1500);
    const got = await whileDown();
    assert.deepEqual(got, texts);
    const dmCopies = async () =>
      (await alice.timeline(dmRoom, 30)).filter((e) => e.content.body === "dm while down").length;
    await until("the DM sent while down", async () => (await dmCopies()) > 0, 20_000);
    await sleep(1000);
    assert.equal(await dmCopies(), 1, "the DM sent while down arrives once");
    // Slack's own redelivery and the history catch-up both carried them; the keys kept them single.
    assert.match(env.bridge.output(), /caught up on Slack history/);
  });

  test("a 429 storm is ridden out without losing or reordering messages", async () => {
    slack.rateLimit({ method: "chat.postMessage", count: 6, retryAfterSeconds: 1 });
    const texts = Array.from({ length: 5 }, (_, i) => `storm ${i}`);
    for (const text of texts) await alice.sendText(portal, text);
    await until(
      "every storm message on Slack",
      () => slack.messages(general).filter((m) => m.text.startsWith("storm ")).length === texts.length,
      60_000,
    );
    assert.deepEqual(
      slack
        .messages(general)
        .filter((m) => m.text.startsWith("storm "))
        .map((m) => m.text),
      texts,
    );
    assert.ok(
      slack.calls("chat.postMessage").some((c) => c.status === 429),
      "the storm happened",
    );
  });

  test("a revoked user token logs that user out, tells them, and the workspace keeps working", async () => {
    slack.revokeToken(aliceSlack.token);
    await alice.sendText(portal, "after revocation");
    const relayed = await until("the message, relayed", () =>
      slack.messages(general).find((m) => m.text === "after revocation"),
    );
    assert.equal(relayed.bot_id, slack.botId, "relayed by the bot once the token is dead");
    assert.equal(relayed.username, "Alice M");
    await alice.waitForEvent(managementRoom, fromBot(/no longer accepts your token|revoked/));
    slack.postAs(bob.id, general, "still bridged");
    await alice.waitForEvent(portal, (e) => e.content.body === "still bridged");
  });

  test("every Web API call and pushed event matched Slack's published specs", () => {
    slack.assertNoSpecViolations();
  });
});
