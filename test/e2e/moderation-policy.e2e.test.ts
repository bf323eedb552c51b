/**
 * Policy lists end to end: the real Synapse, the real ircd, the IRC bridge. A bridge admin keeps
 * a policy room (as Draupnir or Mjolnir would), the bridge's config lists it; a ban rule on
 * `@spam*:localhost` stops that user's messages from reaching IRC within seconds (and ends their
 * IRC connection) while others still arrive; removing the rule lets them through again; a rule
 * matching everyone is held for an admin's confirmation (matrix-appservice-irc #1551).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import yaml from "js-yaml";
import { ircdKindFromEnv, startIrcd, type Ircd } from "../harness/ircd.js";
import { IrcPerson } from "../harness/irc-client.js";
import { startBridgeEnvironment, type BridgeEnvironment } from "../harness/switchboard.js";
import { ircBridge } from "../harness/bridge-config.js";
import { TestMatrixClient, botSays, dmWithBot } from "../harness/matrix-client.js";
import { until } from "../harness/wait.js";

const kind = ircdKindFromEnv();
let ircd: Ircd;
let env: BridgeEnvironment;
let mod: TestMatrixClient;
let modDm: string;
let spammer: TestMatrixClient;
let alice: TestMatrixClient;
let watcher: IrcPerson;
let policyRoom: string;
let room: string;

const said = (nick: string, text: string) => (l: { type: string; nick: string; text: string }) =>
  l.type === "privmsg" && l.nick === nick && l.text === text;

/** Publishes (or, with empty content, deletes) a rule in the policy room as the admin. */
async function rule(stateKey: string, content: Record<string, unknown>, type = "m.policy.rule.user") {
  await mod.request(
    "PUT",
    `/_matrix/client/v3/rooms/${encodeURIComponent(policyRoom)}/state/${type}/${encodeURIComponent(stateKey)}`,
    content,
  );
}

/** Deletes a rule (its state replaced with empty content) and waits for the bridge to drop it. */
async function removeRule(stateKey: string) {
  const removed = logAfterNow();
  await rule(stateKey, {});
  await removed(/a policy rule was removed/, 5000);
}

/** The bridge's log from here on matches `pattern` (each wait looks only at what came after it). */
function logAfterNow(): (pattern: RegExp, timeoutMs?: number) => Promise<number> {
  const from = env.bridge.output().length;
  const started = Date.now();
  return async (pattern, timeoutMs = 10_000) => {
    await until(
      `the bridge to log ${pattern}`,
      () => pattern.test(env.bridge.output().slice(from)),
      timeoutMs,
    );
    return Date.now() - started;
  };
}

before(async () => {
  ircd = await startIrcd({ kind });
  env = await startBridgeEnvironment({
    bridges: { irc: ircBridge(ircd) },
    extraConfig: { admins: ["@mod:localhost"] },
  });
  const m = await env.hs.registerUser("mod");
  mod = new TestMatrixClient(env.hs.url, m.accessToken, m.userId);
  modDm = await dmWithBot(mod, env.botUserId);
  // The admin's policy room, public like a shared ban list: the bot joins it by its alias.
  policyRoom = await mod.createRoom({ preset: "public_chat", room_alias_name: "bans", name: "Ban list" });
  // The config lists it; the bridge joins it and reads its state at start.
  const raw = yaml.load(await readFile(env.bridge.configPath, "utf8")) as Record<string, unknown>;
  raw.moderation = { policy_rooms: ["#bans:localhost"], max_ban_share: 0.5 };
  await writeFile(env.bridge.configPath, yaml.dump(raw));
  await env.bridge.stop();
  await env.bridge.restart();
  await env.bridge.waitForLog(/following policy lists/);

  watcher = await IrcPerson.connect(ircd, "watcher");
  await watcher.join("#room");
  const s = await env.hs.registerUser("spammer");
  spammer = new TestMatrixClient(env.hs.url, s.accessToken, s.userId);
  const a = await env.hs.registerUser("alice");
  alice = new TestMatrixClient(env.hs.url, a.accessToken, a.userId);
  room = await alice.join("#irc_test_#room:localhost");
  await spammer.join(room);
  await spammer.sendText(room, "spammer before any rule");
  await watcher.waitFor(said("spammer[m]", "spammer before any rule"), 20_000);
  await alice.sendText(room, "alice before any rule");
  await watcher.waitFor(said("alice[m]", "alice before any rule"), 20_000);
});

after(async () => {
  watcher?.quit();
  await env?.cleanup();
  await ircd?.stop();
});

describe(`policy lists with the IRC bridge on ${kind}`, () => {
  test("the bot joined the policy room listed in the config", async () => {
    const { joined } = await mod.request<{ joined: Record<string, unknown> }>(
      "GET",
      `/_matrix/client/v3/rooms/${encodeURIComponent(policyRoom)}/joined_members`,
    );
    assert.ok(env.botUserId in joined, `the bot is a member: ${Object.keys(joined).join(", ")}`);
  });

  test("a ban on @spam*:localhost stops the spammer's messages within seconds and ends their IRC connection; alice's still arrive", async () => {
    const applied = logAfterNow();
    await rule("spam", { entity: "@spam*:localhost", recommendation: "m.ban", reason: "spam" });
    const ms = await applied(/a policy rule is applied/, 5000);
    assert.ok(ms < 5000, `applied ${ms} ms after the rule was sent`);
    // The puppet quits IRC and does not come back.
    await until(
      "the spammer's puppet to leave IRC",
      async () => !(await watcher.names("#room")).includes("spammer[m]"),
    );
    await spammer.sendText(room, "spam after the ban");
    await alice.sendText(room, "alice after the ban");
    await watcher.waitFor(said("alice[m]", "alice after the ban"));
    await sleep(1500);
    assert.ok(
      !watcher.seen.some((l) => l.text === "spam after the ban"),
      "the spammer's message did not reach IRC",
    );
    assert.ok(!(await watcher.names("#room")).includes("spammer[m]"), "no new puppet for the spammer");
  });

  test("removing the rule (empty content) lets the spammer through again", async () => {
    await removeRule("spam");
    await spammer.sendText(room, "spammer is back");
    await watcher.waitFor(said("spammer[m]", "spammer is back"), 20_000);
  });

  test("a rule matching every active user is held: messages keep flowing, admins are told, `moderation confirm` applies it", async () => {
    await rule("everyone", { entity: "@*:localhost", recommendation: "m.ban", reason: "oops" });
    const notice = await mod.waitForEvent(modDm, botSays(env.botUserId, /so it is held and not applied/));
    const body = String(notice.content.body);
    assert.match(body, /@\*:localhost/);
    const id = /moderation confirm (\w+)/.exec(body)?.[1];
    assert.ok(id, body);
    assert.match(env.bridge.output(), /a policy rule is held for an admin's confirmation/);
    await alice.sendText(room, "alice while a rule is held");
    await spammer.sendText(room, "spammer while a rule is held");
    await watcher.waitFor(said("alice[m]", "alice while a rule is held"));
    await watcher.waitFor(said("spammer[m]", "spammer while a rule is held"));

    await mod.sendText(modDm, "moderation");
    await mod.waitForEvent(
      modDm,
      botSays(env.botUserId, new RegExp(`\`${id}\` user @\\*:localhost \\(oops\\): HELD`)),
    );

    await mod.sendText(modDm, `moderation confirm ${id}`);
    await mod.waitForEvent(modDm, botSays(env.botUserId, /is applied now/));
    await alice.sendText(room, "alice after the confirmation");
    await sleep(2000);
    assert.ok(
      !watcher.seen.some((l) => l.text === "alice after the confirmation"),
      "confirmed: alice is banned too",
    );

    await removeRule("everyone");
    await alice.sendText(room, "alice once the list is fixed");
    await watcher.waitFor(said("alice[m]", "alice once the list is fixed"), 20_000);
  });

  test("remote users whose ghost id a user rule matches are not bridged into Matrix", async () => {
    const carol = await IrcPerson.connect(ircd, "carol");
    try {
      await carol.join("#room");
      const applied = logAfterNow();
      await rule("ghost", {
        entity: "@irc_test_watcher:localhost",
        recommendation: "m.ban",
        reason: "irc spam",
      });
      await applied(/a policy rule is applied/, 5000);
      watcher.say("#room", "from a banned ghost");
      carol.say("#room", "carol after the ghost ban");
      const timeline = await until("carol's line in Matrix", async () => {
        const events = await alice.timeline(room, 30);
        return events.some((e) => e.content.body === "carol after the ghost ban") && events;
      });
      assert.ok(
        !timeline.some((e) => e.content.body === "from a banned ghost"),
        "the banned ghost's line stayed on IRC",
      );
      await removeRule("ghost");
      watcher.say("#room", "watcher unbanned");
      await until("the watcher's line in Matrix once unbanned", async () =>
        (await alice.timeline(room, 30)).some((e) => e.content.body === "watcher unbanned"),
      );
    } finally {
      carol.quit();
    }
  });
});
