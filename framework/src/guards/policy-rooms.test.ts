import { describe, it } from "node:test";
import assert from "node:assert/strict";
import pino from "pino";
import type { Connector, LoginClient } from "../connector.js";
import type { MatrixEvent } from "../matrix/appservice.js";
import type { Logins } from "../runtime/logins.js";
import type { Services } from "../runtime/services.js";
import type { RoomLink } from "../store/types.js";
import { PolicyRooms } from "./policy-rooms.js";

const LIST = "!list:localhost";
const BRIDGED = "!bridged:localhost";
const BOT = "@switchboard:localhost";

/** Just enough of Services for the policy rooms: one bridged room, one policy room, a kv. */
function setup(options: { state?: Array<Record<string, unknown>>; members?: string[] } = {}) {
  const kv = new Map<string, unknown>();
  const link: RoomLink = {
    roomId: BRIDGED,
    network: "irc",
    channelId: "test/#room",
    receiver: "",
    kind: "portal",
    state: "active",
    createdBy: "@mod:localhost",
    createdAt: 0,
    meta: {},
  };
  const ended: string[] = [];
  const puppet = (userId: string): LoginClient =>
    ({
      loginId: `test/${userId}`,
      matrixUserId: userId,
      remoteName: userId,
      logout: async () => void ended.push(`logout ${userId}`),
      disconnect: async () => void ended.push(`disconnect ${userId}`),
    }) as unknown as LoginClient;
  const connector = {
    id: "irc",
    aliasFor: (chat: { channelId: string }) => chat.channelId.replace("/", "_"),
    implicitLogin: async () => null,
    implicitLoginOwner: () => null,
    implicitLoginsOf: (userId: string) => (userId === "@carol:localhost" ? [] : [puppet(userId)]),
  } as unknown as Connector;
  const notices: string[] = [];
  const s = {
    config: { moderation: { policy_rooms: ["#bans:localhost"], max_ban_share: 0.5 } },
    domain: "localhost",
    botUserId: BOT,
    log: pino({ level: "silent" }),
    networks: new Map([["irc", { connector, userPrefix: "irc_", aliasPrefix: "irc_", section: {} }]]),
    isOurs: (u: string) => u === BOT || u.startsWith("@irc_"),
    permissions: { allows: (u: string, level: string) => level !== "admin" || u === "@mod:localhost" },
    link: async (roomId: string) => (roomId === BRIDGED ? link : null),
    store: {
      linkList: async () => [link],
      kvGet: async (_ns: string, key: string) => kv.get(key) ?? null,
      kvSet: async (_ns: string, key: string, value: unknown) => void kv.set(key, value),
    },
    bot: {
      resolveAlias: async (alias: string) => (alias === "#bans:localhost" ? LIST : null),
      ensureJoined: async () => undefined,
      getAllState: async () => options.state ?? [],
      joinedMembers: async () =>
        options.members ?? [
          BOT,
          "@spammer:localhost",
          "@alice:localhost",
          "@mod:localhost",
          "@irc_test_carol:localhost",
        ],
    },
  } as unknown as Services;
  const logins = { implicitOf: () => [] } as unknown as Logins;
  const policies = new PolicyRooms(s, logins, async (text) => void notices.push(text));
  let n = 0;
  const ruleEvent = (stateKey: string, content: Record<string, unknown>): MatrixEvent => ({
    event_id: `$e${++n}`,
    type: "m.policy.rule.user",
    room_id: LIST,
    sender: "@mod:localhost",
    state_key: stateKey,
    content,
  });
  const message = (sender: string, roomId = BRIDGED): MatrixEvent => ({
    event_id: `$m${++n}`,
    type: "m.room.message",
    room_id: roomId,
    sender,
    content: { msgtype: "m.text", body: "hi" },
  });
  return { policies, kv, ended, notices, ruleEvent, message, link };
}

describe("PolicyRooms", () => {
  it("reads the rules already in a policy room at start and applies them", async () => {
    const t = setup({
      state: [
        { type: "m.room.create", state_key: "", content: {} },
        {
          type: "m.policy.rule.user",
          state_key: "r",
          event_id: "$old",
          content: { entity: "@spam*:localhost", recommendation: "m.ban", reason: "spam" },
        },
      ],
    });
    await t.policies.start();
    assert.equal(await t.policies.blocksMatrixEvent(t.message("@spammer:localhost")), true);
    assert.equal(await t.policies.blocksMatrixEvent(t.message("@alice:localhost")), false);
    const view = t.policies.view();
    assert.deepEqual(view.rooms, [{ room: "#bans:localhost", roomId: LIST, rules: 1 }]);
    assert.deepEqual(view.rules[0]?.matched, ["@spammer:localhost"]);
    assert.equal(view.activeUsers, 4, "the bot is not an active user");
    await t.policies.applyToConnections();
    assert.deepEqual(t.ended, ["logout @spammer:localhost", "disconnect @spammer:localhost"]);
  });

  it("follows live changes: a new rule bans, empty content or a redaction lifts it", async () => {
    const t = setup();
    await t.policies.start();
    await t.policies.applyToConnections();
    const rule = t.ruleEvent("r", { entity: "@spam*:localhost", recommendation: "m.ban" });
    await t.policies.observe(rule);
    assert.equal(await t.policies.blocksMatrixEvent(t.message("@spammer:localhost")), true);
    assert.deepEqual(t.ended, ["logout @spammer:localhost", "disconnect @spammer:localhost"]);
    await t.policies.observe(t.ruleEvent("r", {}));
    assert.equal(await t.policies.blocksMatrixEvent(t.message("@spammer:localhost")), false);
    const again = t.ruleEvent("r2", { entity: "@spammer:localhost", recommendation: "m.ban" });
    await t.policies.observe(again);
    assert.equal(await t.policies.blocksMatrixEvent(t.message("@spammer:localhost")), true);
    await t.policies.observe({
      event_id: "$redaction",
      type: "m.room.redaction",
      room_id: LIST,
      sender: "@mod:localhost",
      redacts: again.event_id,
      content: {},
    });
    assert.equal(await t.policies.blocksMatrixEvent(t.message("@spammer:localhost")), false);
  });

  it("bans a server's users, remote users by their ghost id, and rooms by id or portal alias", async () => {
    const t = setup();
    await t.policies.start();
    await t.policies.observe({
      ...t.ruleEvent("s", { entity: "evil.org", recommendation: "m.ban" }),
      type: "m.policy.rule.server",
    });
    assert.equal(await t.policies.blocksMatrixEvent(t.message("@anyone:evil.org")), true);
    await t.policies.observe(
      t.ruleEvent("g", { entity: "@irc_test_spam*:localhost", recommendation: "m.ban" }),
    );
    assert.ok(t.policies.userBan("@irc_test_spambot:localhost"));
    assert.equal(t.policies.linkBan(t.link), null);
    await t.policies.observe({
      ...t.ruleEvent("room", { entity: "#irc_test_#room:localhost", recommendation: "m.ban" }),
      type: "org.matrix.mjolnir.rule.room",
    });
    assert.ok(t.policies.linkBan(t.link), "the portal's alias");
    assert.equal(await t.policies.blocksMatrixEvent(t.message("@alice:localhost")), true);
  });

  it("holds a rule matching more than max_ban_share, tells the admins, applies it once confirmed", async () => {
    const t = setup();
    await t.policies.start();
    await t.policies.applyToConnections();
    await t.policies.observe(t.ruleEvent("all", { entity: "@*:localhost", recommendation: "m.ban" }));
    assert.equal(
      await t.policies.blocksMatrixEvent(t.message("@alice:localhost")),
      false,
      "held: not applied",
    );
    assert.deepEqual(t.ended, []);
    const [held] = t.policies.view().rules;
    assert.equal(held?.held, true);
    assert.equal(held?.heldBecause, "matches 4 of 4 active users (100%)");
    assert.equal(held?.matched.length, 4);
    assert.equal(t.notices.length, 1);
    assert.match(t.notices[0] ?? "", new RegExp(`moderation confirm ${held?.id}`));
    assert.match(t.policies.describe(), /HELD/);
    assert.match(await t.policies.confirm("nope", "@mod:localhost"), /No policy rule/);
    assert.match(await t.policies.confirm(held?.id, "@mod:localhost"), /applied now; 2 connections ended/);
    assert.equal(await t.policies.blocksMatrixEvent(t.message("@alice:localhost")), true);
    assert.equal(await t.policies.blocksMatrixEvent(t.message("@mod:localhost")), false, "admins are exempt");
    assert.equal(t.policies.view().rules[0]?.held, false);
    assert.match(await t.policies.confirm(held?.id, "@mod:localhost"), /already applied/);
    // Remembered: the same rule read again at the next start is not held.
    const next = setup({
      state: [
        {
          type: "m.policy.rule.user",
          state_key: "all",
          content: { entity: "@*:localhost", recommendation: "m.ban" },
        },
      ],
    });
    for (const [k, v] of t.kv) next.kv.set(k, v);
    await next.policies.start();
    assert.equal(next.policies.view().rules[0]?.held, false);
    assert.equal(next.notices.length, 0);
  });

  it("a rule within the share applies at once", async () => {
    const t = setup();
    await t.policies.start();
    await t.policies.observe(t.ruleEvent("s", { entity: "@s*:localhost", recommendation: "m.ban" }));
    assert.equal(t.policies.view().rules[0]?.held, false, "1 of 4 is under 50%");
    assert.equal(t.notices.length, 0);
  });

  it("counts members joining and leaving bridged rooms", async () => {
    const t = setup({ members: [BOT, "@alice:localhost"] });
    await t.policies.start();
    const member = (userId: string, membership: string): MatrixEvent => ({
      event_id: `$${userId}${membership}`,
      type: "m.room.member",
      room_id: BRIDGED,
      sender: userId,
      state_key: userId,
      content: { membership },
    });
    await t.policies.observe(member("@bob:localhost", "join"));
    assert.equal(t.policies.view().activeUsers, 2);
    await t.policies.observe(member("@alice:localhost", "leave"));
    assert.equal(t.policies.view().activeUsers, 1);
  });

  it("an unknown policy room is reported, not fatal", async () => {
    const t = setup();
    const s = (t.policies as unknown as { s: Services }).s;
    s.config.moderation.policy_rooms = ["#missing:localhost"];
    await t.policies.start();
    assert.match(t.policies.view().rooms[0]?.error ?? "", /no room has that alias/);
  });
});
