/**
 * IRC channel modes against the bridge, end to end on the real Synapse and the ircd chosen by
 * SWITCHBOARD_TEST_IRCD: "a Matrix user banned on IRC is told their message did not arrive and
 * why"; "+i and +k channels tell whoever joins the room what keeps the bridge out, and work once
 * it is invited or has the key"; "a Matrix power level gives or takes channel operator status".
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { ircdKindFromEnv, startIrcd, type Ircd } from "../harness/ircd.js";
import { IrcPerson, type SeenLine } from "../harness/irc-client.js";
import { startBridgeEnvironment, type BridgeEnvironment } from "../harness/switchboard.js";
import { ircBridge } from "../harness/bridge-config.js";
import { TestMatrixClient, botSays, joinOf } from "../harness/matrix-client.js";
import { until } from "../harness/wait.js";

const kind = ircdKindFromEnv();
let ircd: Ircd;
let env: BridgeEnvironment;
let alice: TestMatrixClient;
let bob: TestMatrixClient;
let carol: IrcPerson;

const fromBot = (text: RegExp) => botSays(env.botUserId, text);
const joined = (nick: string, channel: string) => (l: SeenLine) =>
  l.type === "join" && l.nick === nick && l.target.toLowerCase() === channel;
const mode = (text: string, channel: string) => (l: SeenLine) =>
  l.type === "mode" && l.text === text && l.target.toLowerCase() === channel;

before(async () => {
  ircd = await startIrcd({ kind });
  env = await startBridgeEnvironment({
    bridges: {
      irc: ircBridge(ircd, {
        connect_concurrency: 8,
        ops_from_power_level: 50,
        // Slow first reconnect, so after the ircd restart the test's IRC user is in #dflt first.
        reconnect_initial_delay_ms: 4000,
        // Mixed case on purpose: channel names are case-insensitive on IRC, so are their keys.
        channel_keys: { "#Keyed": "sesame" },
      }),
    },
    extraConfig: { guards: { ghost_rate_per_second: 200 } },
  });
  const a = await env.hs.registerUser("alice");
  alice = new TestMatrixClient(env.hs.url, a.accessToken, a.userId);
  const b = await env.hs.registerUser("bob");
  bob = new TestMatrixClient(env.hs.url, b.accessToken, b.userId);
  carol = await IrcPerson.connect(ircd, "carol");
});

after(async () => {
  carol?.quit();
  await env?.cleanup();
  await ircd?.stop();
});

/** Sets one user's power level in a room, as alice (the room's admin). */
async function setLevel(roomId: string, userId: string, level: number): Promise<void> {
  const path = `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.power_levels/`;
  const pl = await alice.request<{ users?: Record<string, number> }>("GET", path);
  await alice.request("PUT", path, { ...pl, users: { ...(pl.users ?? {}), [userId]: level } });
}

async function powerUsers(roomId: string): Promise<Record<string, number>> {
  const path = `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.power_levels/`;
  return (await alice.request<{ users?: Record<string, number> }>("GET", path)).users ?? {};
}

/** The bot's notices in a room so far whose body matches, read from the room's history. */
async function botNotices(roomId: string, text: RegExp): Promise<string[]> {
  const res = await alice.request<{
    chunk: Array<{ sender: string; type: string; content: { body?: unknown } }>;
  }>("GET", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=100`);
  return res.chunk
    .filter(
      (e) => e.sender === env.botUserId && e.type === "m.room.message" && text.test(String(e.content.body)),
    )
    .map((e) => String(e.content.body));
}

/** A room alice administers, linked to `channel` with `!link`, that bob joins after `thenCarol`. */
async function plumbedRoom(channel: string, thenCarol?: () => Promise<void>): Promise<string> {
  const roomId = await alice.createRoom({ name: channel, invite: [env.botUserId, bob.userId] });
  await alice.waitForEvent(roomId, joinOf(env.botUserId));
  await alice.sendText(roomId, `!link irc test ${channel}`);
  await alice.waitForEvent(roomId, fromBot(new RegExp(`Linked this room to IRC ${channel}`)));
  await thenCarol?.();
  await bob.join(roomId);
  await carol.waitFor(joined("bob[m]", channel));
  return roomId;
}

describe(`IRC channel modes on ${kind}`, () => {
  test("a Matrix user banned on IRC sends a message: it does not arrive, and the room is told why", async () => {
    await carol.join("#bans");
    const room = await alice.join("#irc_test_#bans:localhost");
    await carol.waitFor(joined("alice[m]", "#bans"));
    carol.client.raw("MODE", "#bans", "+b", "alice[m]!*@*");
    await carol.waitFor(mode("+b alice[m]!*@*", "#bans"));
    await alice.sendText(room, "can anyone hear me?");
    await alice.waitForEvent(
      room,
      fromBot(
        /^A message from alice \(alice\[m\]\) could not be delivered to #bans on test: alice\[m\] is banned there \(\+b alice\[m\]!\*@\*\)\.$/,
      ),
    );
    assert.ok(
      !carol.seen.some((l) => l.type === "privmsg" && l.text === "can anyone hear me?"),
      "the banned user's line did not reach IRC",
    );
  });

  test("an invite-only channel: whoever joins its room is told the bridge needs an invite; invited, it bridges", async () => {
    await carol.join("#inv");
    carol.client.raw("MODE", "#inv", "+i");
    await carol.waitFor(mode("+i", "#inv"));
    const room = await alice.join("#irc_test_#inv:localhost");
    await alice.waitForEvent(
      room,
      fromBot(
        /^The bridge's IRC bot \(sbbot\) cannot join #inv on test: the channel is invite only \(\+i\)\. .*\/invite sbbot #inv/,
      ),
    );
    await alice.waitForEvent(
      room,
      fromBot(
        /^alice's IRC connection \(alice\[m\]\) cannot join #inv on test: the channel is invite only \(\+i\)\..*\/invite alice\[m\] #inv/,
      ),
    );
    carol.client.raw("INVITE", "sbbot", "#inv");
    carol.client.raw("INVITE", "alice[m]", "#inv");
    await carol.waitFor(joined("sbbot", "#inv"));
    await carol.waitFor(joined("alice[m]", "#inv"));
    carol.say("#inv", "welcome in");
    await alice.waitForEvent(room, (e) => e.content.body === "welcome in");
    await alice.sendText(room, "thanks for the invite");
    await carol.waitFor(
      (l) => l.type === "privmsg" && l.nick === "alice[m]" && l.text === "thanks for the invite",
    );
  });

  test("a channel key: an unknown one is told to the room; with channel_keys the channel bridges", async () => {
    await carol.join("#locked");
    carol.client.raw("MODE", "#locked", "+k", "hunter2");
    await carol.waitFor(mode("+k hunter2", "#locked"));
    const locked = await alice.join("#irc_test_#locked:localhost");
    await alice.waitForEvent(
      locked,
      fromBot(
        /^The bridge's IRC bot \(sbbot\) cannot join #locked on test: the channel has a key \(\+k\) the bridge does not know\. .*channel_keys/,
      ),
    );

    await carol.join("#keyed");
    carol.client.raw("MODE", "#keyed", "+k", "sesame");
    await carol.waitFor(mode("+k sesame", "#keyed"));
    const keyed = await alice.join("#irc_test_#keyed:localhost");
    await carol.waitFor(joined("sbbot", "#keyed"));
    await carol.waitFor(joined("alice[m]", "#keyed"));
    carol.say("#keyed", "the key was right");
    await alice.waitForEvent(keyed, (e) => e.content.body === "the key was right");
    await alice.sendText(keyed, "in with the key");
    await carol.waitFor((l) => l.type === "privmsg" && l.nick === "alice[m]" && l.text === "in with the key");
  });

  test("a Matrix power level reaching ops_from_power_level gives the puppet +o, a drop takes it; ghosts' levels stay in Matrix", async () => {
    // The bot creates #ops (the first to join an IRC channel is its operator); carol comes later.
    const room = await plumbedRoom("#ops", () => carol.join("#ops"));
    const ghostOfCarol = "@irc_test_carol:localhost";
    await setLevel(room, ghostOfCarol, 50);
    await setLevel(room, bob.userId, 50);
    const op = await carol.waitFor(mode("+o bob[m]", "#ops"));
    assert.equal(op.nick, "sbbot");
    // The +o the bot gave is IRC → Matrix news too; it must not come back as a power change.
    await sleep(1500);
    const opsGiven = carol.seen.filter(
      (l) => l.type === "mode" && l.target.toLowerCase() === "#ops" && l.text.startsWith("+o"),
    );
    assert.deepEqual(
      opsGiven.map((l) => l.text),
      ["+o bob[m]"],
      "a ghost's Matrix level is not mirrored to IRC",
    );
    const users = await powerUsers(room);
    assert.equal(users[bob.userId], 50);
    assert.deepEqual(
      Object.keys(users).filter((u) => u.startsWith("@irc_")),
      [ghostOfCarol],
      "no ghost of bob's puppet was given a level",
    );
    await setLevel(room, bob.userId, 10);
    await carol.waitFor(mode("-o bob[m]", "#ops"));
    assert.ok(!(await carol.names("#ops")).includes("@bob[m]"));
  });

  test("without operator status the bot says once that it cannot mirror power levels, then does once it is op", async () => {
    await carol.join("#noops"); // carol first: she is the operator, the bot is not
    const room = await plumbedRoom("#noops");
    const cannot =
      /not mirrored to operator status in #noops on test: the bridge's IRC bot \(sbbot\) is not a channel operator there/;
    await setLevel(room, bob.userId, 50);
    await alice.waitForEvent(room, fromBot(cannot));
    await setLevel(room, bob.userId, 0);
    await setLevel(room, bob.userId, 60);
    // Matrix events of a room are handled in order: once this line is on IRC, so are the levels.
    await bob.sendText(room, "levels done");
    await carol.waitFor((l) => l.type === "privmsg" && l.text === "levels done");
    assert.equal((await botNotices(room, cannot)).length, 1, "told once, not for every change");
    assert.ok(!carol.seen.some(mode("+o bob[m]", "#noops")));

    carol.client.raw("MODE", "#noops", "+o", "sbbot");
    await carol.waitFor(mode("+o sbbot", "#noops"));
    await setLevel(room, bob.userId, 0);
    await setLevel(room, bob.userId, 50);
    const op = await carol.waitFor(mode("+o bob[m]", "#noops"));
    assert.equal(op.nick, "sbbot");
  });

  test("an operator opped before the bot joined gets the power level (NAMES prefixes)", async () => {
    await carol.join("#preop"); // carol creates it: she is its operator before the bridge is there
    // A portal: the bot administers it (in a plumbed room it may not change power levels).
    const room = await alice.join("#irc_test_#preop:localhost");
    await until("carol's ghost has the operators' level", async () => {
      return (await powerUsers(room))["@irc_test_carol:localhost"] === 50;
    });
  });

  test("a users_default change is mirrored; the mode comes back after the ircd restarts", async () => {
    const room = await plumbedRoom("#dflt", () => carol.join("#dflt"));
    const path = `/_matrix/client/v3/rooms/${encodeURIComponent(room)}/state/m.room.power_levels/`;
    const pl = await alice.request<Record<string, unknown>>("GET", path);
    // bob has no level of his own: the new default makes him an operator.
    await alice.request("PUT", path, { ...pl, users_default: 50 });
    await carol.waitFor(mode("+o bob[m]", "#dflt"));

    let dave: IrcPerson | undefined;
    await ircd.restart();
    try {
      // dave is in #dflt before the bridge reconnects (its first retry waits 4 s): he is its operator.
      dave = await IrcPerson.connect(ircd, "dave");
      await dave.join("#dflt");
      await dave.waitFor(joined("sbbot", "#dflt"), 60_000);
      dave.client.raw("MODE", "#dflt", "+o", "sbbot");
      const op = await dave.waitFor(mode("+o bob[m]", "#dflt"), 60_000);
      assert.equal(op.nick, "sbbot", "the bot gave bob's puppet its mode back");
    } finally {
      dave?.quit();
    }
  });
});
