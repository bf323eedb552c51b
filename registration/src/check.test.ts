import assert from "node:assert/strict";
import { test } from "node:test";
import { buildRegistration, checkRegistration, REGENERATE_COMMAND } from "./index.js";
import type { Registration, RegistrationInput, RegistrationProblem } from "./index.js";

const INPUT: RegistrationInput = {
  id: "switchboard",
  url: "http://127.0.0.1:9000",
  senderLocalpart: "switchboard",
  domain: "example.org",
  namespaces: [
    { userPrefix: "irc_", aliasPrefix: "irc_", name: "irc" },
    { userPrefix: "signal_", aliasPrefix: "signal_", name: "signal" },
  ],
};

const good = (): Registration => buildRegistration(INPUT);
const codes = (problems: RegistrationProblem[]) => problems.map((p) => p.code);

/** Runs the check and asserts it reports exactly `code`, once, with a usable fix. */
function only(
  r: Registration,
  code: RegistrationProblem["code"],
  expectedTokens?: { asToken: string; hsToken: string },
  input: RegistrationInput = INPUT,
): RegistrationProblem {
  const problems = checkRegistration(r, input, expectedTokens);
  assert.deepEqual(codes(problems), [code]);
  const [p] = problems;
  assert.ok(p);
  assert.ok(p.message.length > 20, "message explains the problem");
  assert.ok(p.fix.length > 10, "fix says what to do");
  for (const secret of [r.as_token, r.hs_token].filter((t) => t.length >= 8)) {
    assert.ok(!p.message.includes(secret) && !p.fix.includes(secret), "tokens are never printed");
  }
  return p;
}

test("a correct registration has no problems", () => {
  const r = good();
  assert.deepEqual(checkRegistration(r, INPUT), []);
  assert.deepEqual(checkRegistration(r, INPUT, { asToken: r.as_token, hsToken: r.hs_token }), []);
});

test("hand-written but equivalent namespaces (anchored regexes) are accepted", () => {
  const r = good();
  r.namespaces.users = r.namespaces.users.map((n) => ({ ...n, regex: `^${n.regex}$` }));
  assert.deepEqual(checkRegistration(r, INPUT), []);
});

test("id mismatch", () => {
  const p = only({ ...good(), id: "old-bridge" }, "id-mismatch");
  assert.equal(p.path, "id");
  assert.match(p.message, /"old-bridge".*"switchboard"/);
  assert.ok(p.fix.includes(REGENERATE_COMMAND));
});

test("missing url", () => {
  const p = only({ ...good(), url: null }, "url-missing");
  assert.equal(p.path, "url");
  assert.match(p.message, /no events/);
  assert.match(p.fix, /url: http:\/\/127\.0\.0\.1:9000/);
  assert.match(p.fix, /restart the homeserver/);
});

test("wrong url", () => {
  const p = only({ ...good(), url: "http://localhost:8000" }, "url-mismatch");
  assert.match(p.message, /http:\/\/localhost:8000.*http:\/\/127\.0\.0\.1:9000/);
});

test("sender_localpart mismatch", () => {
  const p = only({ ...good(), sender_localpart: "ircbot" }, "sender-localpart-mismatch");
  assert.equal(p.path, "sender_localpart");
  assert.match(p.message, /@ircbot:example\.org.*@switchboard:example\.org/);
});

test("missing users namespace for an enabled bridge", () => {
  const r = good();
  r.namespaces.users = r.namespaces.users.filter((n) => !n.regex.startsWith("@signal_"));
  const p = only(r, "users-namespace-missing");
  assert.equal(p.path, "namespaces.users");
  assert.match(p.message, /signal bridge/);
  assert.match(p.fix, /regex: '@signal_\.\*:example\\\.org'/);
});

test("missing aliases namespace for an enabled bridge", () => {
  const r = good();
  r.namespaces.aliases = r.namespaces.aliases.filter((n) => !n.regex.startsWith("#irc_"));
  const p = only(r, "aliases-namespace-missing");
  assert.equal(p.path, "namespaces.aliases");
  assert.match(p.message, /irc bridge/);
});

test("namespaces for another domain do not count", () => {
  const problems = checkRegistration(good(), { ...INPUT, domain: "example.com" });
  assert.deepEqual(codes(problems).sort(), [
    "aliases-namespace-missing",
    "aliases-namespace-missing",
    "users-namespace-missing",
    "users-namespace-missing",
  ]);
});

test("namespace not exclusive", () => {
  const r = good();
  r.namespaces.users = r.namespaces.users.map((n) =>
    n.regex.startsWith("@irc_") ? { ...n, exclusive: false } : n,
  );
  const p = only(r, "namespace-not-exclusive");
  assert.equal(p.path, "namespaces.users[0].exclusive");
  assert.match(p.fix, /exclusive: true/);
});

test("invalid namespace regex", () => {
  const r = good();
  r.namespaces.rooms = [{ exclusive: false, regex: "!(unclosed" }];
  const p = only(r, "namespace-invalid-regex");
  assert.equal(p.path, "namespaces.rooms[0].regex");
});

test("as_token mismatch with the bridge's own token", () => {
  const r = good();
  const p = only(r, "as-token-mismatch", { asToken: "x".repeat(43), hsToken: r.hs_token });
  assert.equal(p.path, "as_token");
  assert.match(p.message, /M_UNKNOWN_TOKEN/);
});

test("hs_token mismatch with the bridge's own token", () => {
  const r = good();
  const p = only(r, "hs-token-mismatch", { asToken: r.as_token, hsToken: "y".repeat(43) });
  assert.equal(p.path, "hs_token");
});

test("tokens equal to each other", () => {
  const r = good();
  const p = only({ ...r, hs_token: r.as_token }, "tokens-equal");
  assert.match(p.fix, /delete the as_token and hs_token lines/);
});

test("token too short", () => {
  const p = only({ ...good(), as_token: "short" }, "token-too-short");
  assert.equal(p.path, "as_token");
  assert.match(p.message, /5 characters/);
});

test("rate_limited true, and missing (Synapse defaults it to true)", () => {
  const p = only({ ...good(), rate_limited: true }, "rate-limited");
  assert.match(p.message, /rate_limited is true/);
  assert.match(p.fix, /rate_limited: false/);
  const { rate_limited: _, ...missing } = good();
  assert.match(only(missing, "rate-limited").message, /rate_limited is missing/);
});

test("receive_ephemeral missing or false", () => {
  const { receive_ephemeral: _, ...missing } = good();
  const p = only(missing, "receive-ephemeral-missing");
  assert.match(p.message, /typing.*read receipts/);
  assert.match(p.fix, /receive_ephemeral: true/);
  only({ ...good(), receive_ephemeral: false }, "receive-ephemeral-missing");
});
