import assert from "node:assert/strict";
import { test } from "node:test";
import { buildRegistration, RegistrationError } from "./index.js";
import type { RegistrationInput } from "./index.js";

function input(overrides: Partial<RegistrationInput> = {}): RegistrationInput {
  return {
    id: "switchboard",
    url: "http://127.0.0.1:9000",
    senderLocalpart: "switchboard",
    domain: "example.org",
    namespaces: [
      { userPrefix: "irc_", aliasPrefix: "irc_", name: "irc" },
      { userPrefix: "slack_", aliasPrefix: "slack_", name: "slack" },
    ],
    ...overrides,
  };
}

const TOKEN = /^[A-Za-z0-9_-]{43}$/;

test("tokens are random, url-safe, 32 bytes, and differ from each other", () => {
  const a = buildRegistration(input());
  const b = buildRegistration(input());
  for (const token of [a.as_token, a.hs_token, b.as_token, b.hs_token]) assert.match(token, TOKEN);
  assert.equal(Buffer.from(a.as_token, "base64url").length, 32);
  assert.notEqual(a.as_token, a.hs_token);
  assert.notEqual(a.as_token, b.as_token);
  assert.notEqual(a.hs_token, b.hs_token);
});

test("tokens are kept from an existing registration, everything else follows the input", () => {
  const deployed = buildRegistration(input());
  const again = buildRegistration(input({ url: "http://bridge:9000" }), deployed);
  assert.equal(again.as_token, deployed.as_token);
  assert.equal(again.hs_token, deployed.hs_token);
  assert.equal(again.url, "http://bridge:9000");
});

test("an existing registration with an empty token gets a fresh one for that token only", () => {
  const deployed = { ...buildRegistration(input()), hs_token: "" };
  const again = buildRegistration(input(), deployed);
  assert.equal(again.as_token, deployed.as_token);
  assert.match(again.hs_token, TOKEN);
});

test("one exclusive users and aliases namespace per bridge, prefix and domain regex-escaped", () => {
  const r = buildRegistration(
    input({
      domain: "chat.example.org",
      namespaces: [
        { userPrefix: "irc_", aliasPrefix: "irc_" },
        { userPrefix: "slack.", aliasPrefix: "slack." },
      ],
    }),
  );
  assert.deepEqual(r.namespaces.users.slice(0, 2), [
    { exclusive: true, regex: "@irc_.*:chat\\.example\\.org" },
    { exclusive: true, regex: "@slack\\..*:chat\\.example\\.org" },
  ]);
  assert.deepEqual(r.namespaces.aliases, [
    { exclusive: true, regex: "#irc_.*:chat\\.example\\.org" },
    { exclusive: true, regex: "#slack\\..*:chat\\.example\\.org" },
  ]);
  assert.deepEqual(r.namespaces.rooms, []);
  const slack = new RegExp(`^${r.namespaces.users[1]?.regex}$`);
  assert.ok(slack.test("@slack.U123:chat.example.org"));
  assert.ok(!slack.test("@slackXU123:chat.example.org"), "the dot in the prefix must be literal");
  assert.ok(!slack.test("@slack.U123:chatXexample.org"), "the dots in the domain must be literal");
});

test("the bot gets its own exclusive users regex unless a bridge namespace covers it", () => {
  const r = buildRegistration(input());
  assert.deepEqual(r.namespaces.users.at(-1), { exclusive: true, regex: "@switchboard:example\\.org" });
  assert.equal(r.namespaces.users.length, 3);

  const covered = buildRegistration(input({ senderLocalpart: "irc_bot" }));
  assert.equal(covered.namespaces.users.length, 2);
  assert.ok(!covered.namespaces.users.some((n) => n.regex.includes("irc_bot")));
});

test("spec flags: not rate limited, ephemeral events on (stable and MSC2409 names)", () => {
  const r = buildRegistration(input({ protocols: ["irc"] }));
  assert.equal(r.id, "switchboard");
  assert.equal(r.url, "http://127.0.0.1:9000");
  assert.equal(r.sender_localpart, "switchboard");
  assert.equal(r.rate_limited, false);
  assert.equal(r.receive_ephemeral, true);
  assert.equal(r["de.sorunome.msc2409.push_ephemeral"], true);
  assert.deepEqual(r.protocols, ["irc"]);
  assert.equal("protocols" in buildRegistration(input()), false);
});

test("two bridges with the same prefix share one namespace entry", () => {
  const r = buildRegistration(
    input({
      namespaces: [
        { userPrefix: "x_", aliasPrefix: "x_" },
        { userPrefix: "x_", aliasPrefix: "x_" },
      ],
    }),
  );
  assert.equal(r.namespaces.aliases.length, 1);
  assert.equal(r.namespaces.users.length, 2); // x_ plus the bot
});

test("input that cannot make a safe registration throws RegistrationError naming each field", () => {
  assert.throws(
    () =>
      buildRegistration(
        input({
          url: "127.0.0.1:9000",
          senderLocalpart: "Bot!",
          namespaces: [{ userPrefix: "", aliasPrefix: "irc_", name: "irc" }],
        }),
      ),
    (err: unknown) => {
      assert.ok(err instanceof RegistrationError);
      assert.match(err.message, /url: "127\.0\.0\.1:9000"/);
      assert.match(err.message, /senderLocalpart: "Bot!" is not a valid Matrix localpart/);
      assert.match(err.message, /namespaces\[0\] \(irc\)\.userPrefix: must not be empty/);
      assert.equal(err.details.length, 3);
      return true;
    },
  );
  const botOnly = buildRegistration(input({ namespaces: [] }));
  assert.equal(botOnly.namespaces.users.length, 1, "with no bridge enabled, only the bot's namespace");
  assert.throws(() => buildRegistration(input({ domain: "exa mple.org" })), /not a valid server_name/);
  assert.doesNotThrow(() => buildRegistration(input({ url: null, domain: "[::1]:8448" })));
});
