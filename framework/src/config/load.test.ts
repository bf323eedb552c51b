import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ConfigError, parseConfig } from "./load.js";

const HOMESERVER = "homeserver:\n  url: http://127.0.0.1:8008\n  domain: example.org\n";

function problemsOf(text: string): Array<{ path: string; line: number | null; message: string }> {
  try {
    parseConfig(text);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.problems;
  }
  return assert.fail("the config was accepted");
}

describe("config: store", () => {
  test("without a store section it is nedb in ./data", () => {
    const config = parseConfig(HOMESERVER);
    assert.equal(config.store.type, "nedb");
    assert.equal(config.store.path, "./data");
    assert.equal(config.store.url, undefined);
    assert.equal(config.store.message_retention_days, 90);
  });

  test("postgres with a postgres:// or postgresql:// url is accepted, defaults filled", () => {
    for (const url of [
      "postgres://bridge:pw@db:5432/switchboard",
      "postgresql:///switchboard?host=/run/pg",
    ]) {
      const config = parseConfig(`${HOMESERVER}store:\n  type: postgres\n  url: "${url}"\n`);
      assert.equal(config.store.type, "postgres");
      assert.equal(config.store.url, url);
      assert.equal(config.store.message_retention_days, 90);
    }
  });

  test("postgres without a url names the missing key, its line, and what to write", () => {
    const problems = problemsOf(`${HOMESERVER}store:\n  type: postgres\n`);
    assert.equal(problems.length, 1, JSON.stringify(problems));
    assert.equal(problems[0]?.path, "store");
    assert.equal(problems[0]?.line, 4);
    assert.match(
      problems[0]?.message ?? "",
      /missing required key "url" \(a postgres store needs url: postgres:\/\//,
    );
  });

  test("a url that is not a PostgreSQL URL is refused without echoing it (it may hold a password)", () => {
    const problems = problemsOf(`${HOMESERVER}store:\n  type: postgres\n  url: mysql://u:hunter22@db/x\n`);
    assert.deepEqual(
      problems.map((p) => [p.path, p.line]),
      [["store.url", 6]],
    );
    assert.match(problems[0]?.message ?? "", /must match \^postgres\(ql\)\?:\/\//);
    assert.ok(!JSON.stringify(problems).includes("hunter22"));
  });

  test("mongodb with a mongodb:// or mongodb+srv:// url is accepted, defaults filled", () => {
    for (const url of [
      "mongodb://bridge:pw@db1:27017,db2:27017/switchboard?replicaSet=rs0",
      "mongodb+srv://bridge:pw@cluster0.example.net/switchboard",
    ]) {
      const config = parseConfig(`${HOMESERVER}store:\n  type: mongodb\n  url: "${url}"\n`);
      assert.equal(config.store.type, "mongodb");
      assert.equal(config.store.url, url);
      assert.equal(config.store.path, "./data");
      assert.equal(config.store.message_retention_days, 90);
    }
  });

  test("mongodb without a url names the missing key, its line, and what to write", () => {
    const problems = problemsOf(`${HOMESERVER}store:\n  type: mongodb\n`);
    assert.equal(problems.length, 1, JSON.stringify(problems));
    assert.equal(problems[0]?.path, "store");
    assert.equal(problems[0]?.line, 4);
    assert.match(
      problems[0]?.message ?? "",
      /missing required key "url" \(a mongodb store needs url: mongodb:\/\//,
    );
  });

  test("each database type wants its own url scheme, and the url is not echoed", () => {
    const mongoUrl = problemsOf(`${HOMESERVER}store:\n  type: postgres\n  url: mongodb://u:hunter22@db/x\n`);
    assert.deepEqual(
      mongoUrl.map((p) => [p.path, p.line]),
      [["store.url", 6]],
    );
    assert.match(mongoUrl[0]?.message ?? "", /must match \^postgres\(ql\)\?:\/\//);
    const pgUrl = problemsOf(`${HOMESERVER}store:\n  type: mongodb\n  url: postgres://u:hunter22@db/x\n`);
    assert.deepEqual(
      pgUrl.map((p) => [p.path, p.line]),
      [["store.url", 6]],
    );
    assert.match(pgUrl[0]?.message ?? "", /must match \^mongodb\(\\\+srv\)\?:\/\//);
    assert.ok(!JSON.stringify([...mongoUrl, ...pgUrl]).includes("hunter22"));
  });

  test("an unknown store type lists the known ones", () => {
    const problems = problemsOf(`${HOMESERVER}store:\n  type: sqlite\n`);
    assert.deepEqual(
      problems.map((p) => [p.path, p.message]),
      [["store.type", 'must be one of "nedb", "postgres", "mongodb"']],
    );
  });
});

describe("config: moderation", () => {
  test("no policy rooms by default; a share of 0.2", () => {
    const config = parseConfig(HOMESERVER);
    assert.deepEqual(config.moderation, { policy_rooms: [], max_ban_share: 0.2 });
  });

  test("room ids and aliases are accepted", () => {
    const config = parseConfig(
      `${HOMESERVER}moderation:\n  policy_rooms: ["!abc:example.org", "#bans:matrix.org"]\n  max_ban_share: 0.5\n`,
    );
    assert.deepEqual(config.moderation.policy_rooms, ["!abc:example.org", "#bans:matrix.org"]);
    assert.equal(config.moderation.max_ban_share, 0.5);
  });

  test("a room that is neither an id nor an alias, and a share outside (0, 1], name key, line and remedy", () => {
    const problems = problemsOf(
      `${HOMESERVER}moderation:\n  policy_rooms:\n    - bans\n  max_ban_share: 20\n  max_bans: 3\n`,
    );
    assert.deepEqual(
      problems.map((p) => [p.path, p.line]),
      [
        ["moderation.policy_rooms[0]", 6],
        ["moderation.max_ban_share", 7],
        ["moderation.max_bans", 8],
      ],
    );
    assert.match(problems[0]?.message ?? "", /a policy room's id \(!abc:example.org\) or alias/);
    assert.match(problems[1]?.message ?? "", /must be <= 1/);
    assert.match(problems[2]?.message ?? "", /unknown key/);
    assert.match(
      problemsOf(`${HOMESERVER}moderation:\n  max_ban_share: 0\n`)[0]?.message ?? "",
      /must be > 0/,
    );
  });
});
