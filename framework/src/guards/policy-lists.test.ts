import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  globToRegExp,
  mustHold,
  PolicyRuleSet,
  readRule,
  ruleKindOf,
  serverOf,
  type PolicyRule,
} from "./policy-lists.js";

const ROOM = "!list:example.org";
const ban = (type: string, stateKey: string, entity: string, extra: Record<string, unknown> = {}) => ({
  type,
  state_key: stateKey,
  content: { entity, recommendation: "m.ban", reason: "spam", ...extra },
});

describe("policy rules", () => {
  it("knows the three rule kinds under all three type names, and nothing else", () => {
    for (const prefix of ["m.policy.rule.", "m.room.rule.", "org.matrix.mjolnir.rule."]) {
      assert.equal(ruleKindOf(`${prefix}user`), "user");
      assert.equal(ruleKindOf(`${prefix}server`), "server");
      assert.equal(ruleKindOf(`${prefix}room`), "room");
      assert.equal(ruleKindOf(`${prefix}other`), null);
    }
    assert.equal(ruleKindOf("m.room.member"), null);
    assert.equal(ruleKindOf("m.policy.rule"), null);
  });

  it("reads a ban; empty content, another recommendation or no entity removes the rule", () => {
    assert.deepEqual(readRule(ROOM, ban("m.policy.rule.user", "r1", "@spam*:example.org")), {
      roomId: ROOM,
      type: "m.policy.rule.user",
      stateKey: "r1",
      kind: "user",
      entity: "@spam*:example.org",
      reason: "spam",
    });
    assert.equal(readRule(ROOM, { type: "m.policy.rule.user", state_key: "r1", content: {} }), "removed");
    assert.equal(
      readRule(ROOM, ban("m.policy.rule.user", "r1", "@a:b", { recommendation: "m.mute" })),
      "removed",
    );
    assert.equal(readRule(ROOM, ban("m.policy.rule.user", "r1", "")), "removed");
    assert.equal(readRule(ROOM, { type: "m.room.topic", state_key: "", content: { topic: "x" } }), null);
    assert.equal(readRule(ROOM, { type: "m.policy.rule.user", content: {} }), null, "not a state event");
  });

  it("globs: * is any run, ? one character, everything else literal, case-insensitive", () => {
    const g = globToRegExp("@spam*:localhost");
    assert.ok(g.test("@spam:localhost"));
    assert.ok(g.test("@spammer:localhost"));
    assert.ok(g.test("@SPAMMER:localhost"));
    assert.ok(!g.test("@alice:localhost"));
    assert.ok(!g.test("@spammer:localhost.evil"), "anchored at the end");
    assert.ok(!g.test("x@spammer:localhost"), "anchored at the start");
    const q = globToRegExp("@bot?:example.org");
    assert.ok(q.test("@bot1:example.org"));
    assert.ok(!q.test("@bot12:example.org"));
    assert.ok(!q.test("@bot:example.org"));
    const dots = globToRegExp("evil.example.org");
    assert.ok(!dots.test("evilXexample.org"), "a dot is a dot");
    assert.ok(globToRegExp("(a|b)+[c]").test("(a|b)+[c]"), "regex syntax is literal");
  });

  it("a server's part of a user id, port included", () => {
    assert.equal(serverOf("@alice:example.org"), "example.org");
    assert.equal(serverOf("@alice:example.org:8448"), "example.org:8448");
  });
});

describe("PolicyRuleSet", () => {
  it("bans users by user glob and by their server; rooms by id or alias", () => {
    const set = new PolicyRuleSet();
    set.apply(ROOM, ban("m.policy.rule.user", "u", "@spam*:localhost"));
    set.apply(ROOM, ban("m.room.rule.server", "s", "*.evil.org"));
    set.apply(ROOM, ban("org.matrix.mjolnir.rule.room", "r", "#bad*:localhost"));
    assert.equal(set.size, 3);
    assert.equal(set.userBan("@spammer:localhost")?.kind, "user");
    assert.equal(set.userBan("@alice:localhost"), null);
    assert.equal(set.userBan("@alice:hs.evil.org")?.kind, "server");
    assert.equal(set.userBan("@alice:evil.org"), null, "*.evil.org needs a subdomain");
    assert.equal(set.userBan("@evil.org:localhost"), null, "a server rule looks at the server part only");
    assert.equal(set.roomBan(["!abc:localhost", "#badroom:localhost"])?.kind, "room");
    assert.equal(set.roomBan(["!abc:localhost", "#good:localhost"]), null);
    assert.equal(set.userBan("#badroom:localhost"), null, "a room rule bans no user");
  });

  it("a new event for the same type and state key replaces the rule; empty content deletes it", () => {
    const set = new PolicyRuleSet();
    const first = set.apply(ROOM, ban("m.policy.rule.user", "k", "@a:x"));
    assert.equal(first?.previous, null);
    const second = set.apply(ROOM, ban("m.policy.rule.user", "k", "@b:x"));
    assert.equal(second?.previous?.entity, "@a:x");
    assert.equal(set.size, 1);
    assert.equal(set.userBan("@a:x"), null);
    assert.ok(set.userBan("@b:x"));
    // Same state key, another type: a rule of its own.
    set.apply(ROOM, ban("m.room.rule.user", "k", "@c:x"));
    assert.equal(set.size, 2);
    const removed = set.apply(ROOM, { type: "m.policy.rule.user", state_key: "k", content: {} });
    assert.equal(removed?.rule, null);
    assert.equal(removed?.previous?.entity, "@b:x");
    assert.equal(set.userBan("@b:x"), null);
    assert.equal(set.size, 1);
    assert.equal(set.apply(ROOM, { type: "m.room.name", state_key: "", content: { name: "x" } }), null);
  });

  it("rules of another recommendation never ban", () => {
    const set = new PolicyRuleSet();
    set.apply(ROOM, ban("m.policy.rule.user", "k", "@a:x", { recommendation: "org.example.watch" }));
    assert.equal(set.size, 0);
    assert.equal(set.userBan("@a:x"), null);
  });

  it("only counts the rules the caller says are in force (held ones are not)", () => {
    const set = new PolicyRuleSet();
    set.apply(ROOM, ban("m.policy.rule.user", "all", "@*:localhost"));
    assert.ok(set.userBan("@alice:localhost"));
    assert.equal(
      set.userBan("@alice:localhost", (r) => r.stateKey !== "all"),
      null,
    );
  });

  it("lists what a rule matches, and forgets a room's rules", () => {
    const set = new PolicyRuleSet();
    set.apply(ROOM, ban("m.policy.rule.server", "s", "matrix.org"));
    set.apply("!other:x", ban("m.policy.rule.room", "r", "!abc:*"));
    const [server, room] = set.all() as [PolicyRule, PolicyRule];
    const users = ["@a:matrix.org", "@b:localhost", "@c:MATRIX.ORG"];
    assert.deepEqual(set.matches(server, users, []), ["@a:matrix.org", "@c:MATRIX.ORG"]);
    assert.deepEqual(set.matches(room, users, [["!abc:localhost", "#x:localhost"], ["!def:localhost"]]), [
      "!abc:localhost",
    ]);
    assert.equal(set.countIn(ROOM), 1);
    assert.equal(set.dropRoom(ROOM).length, 1);
    assert.equal(set.size, 1);
    assert.equal(set.userBan("@a:matrix.org"), null);
  });
});

describe("holding a rule that matches too many (matrix-appservice-irc #1551)", () => {
  const rule = (kind: PolicyRule["kind"], entity: string): PolicyRule => ({
    roomId: ROOM,
    type: `m.policy.rule.${kind}`,
    stateKey: "k",
    kind,
    entity,
    reason: "",
  });

  it("holds a glob matching more than the share, not one at or under it", () => {
    assert.equal(mustHold(rule("user", "@*:localhost"), 4, 4, 0.2), true);
    assert.equal(mustHold(rule("user", "@spam*:localhost"), 1, 4, 0.2), true, "25% > 20%");
    assert.equal(mustHold(rule("user", "@spam*:localhost"), 1, 4, 0.5), false);
    assert.equal(mustHold(rule("user", "@spam*:localhost"), 1, 5, 0.2), false, "exactly the share passes");
    assert.equal(mustHold(rule("room", "!*:localhost"), 3, 3, 0.2), true);
  });

  it("never holds one user or room named exactly; does hold a literal server", () => {
    assert.equal(mustHold(rule("user", "@alice:localhost"), 1, 1, 0.2), false);
    assert.equal(mustHold(rule("room", "!abc:localhost"), 1, 1, 0.2), false);
    assert.equal(mustHold(rule("server", "localhost"), 9, 10, 0.2), true);
  });

  it("holds nothing when there is nobody to measure against", () => {
    assert.equal(mustHold(rule("user", "@*:*"), 0, 0, 0.2), false);
  });
});
