/**
 * The MongoDB store's URL handling and connection errors, checked without a server (the last test
 * connects to a port where nothing listens).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { inspect } from "node:util";
import { openError, redact, targetOf, urlParts, withDatabase } from "./mongodb-connection.js";
import { MongoStore } from "./mongodb.js";

const PASSWORD = "Sup3r-Secret/Passw0rd@";
const ENCODED = encodeURIComponent(PASSWORD);

/** Everything an error can show: its message, how Node prints it, its JSON. */
function assertHidden(error: unknown, ...secrets: string[]): void {
  for (const shown of [String(error), inspect(error, { depth: 8 }), JSON.stringify(error)]) {
    for (const secret of secrets) assert.ok(!shown.includes(secret), `a secret leaked: ${shown}`);
  }
}

describe("MongoDB connection: what a URL points at", () => {
  test("one host, several hosts, SRV and a Unix socket are described without the password", () => {
    const cases: Array<[string, string]> = [
      [
        `mongodb://bridge:${ENCODED}@db:27017/switchboard`,
        'host db:27017, database "switchboard", user "bridge"',
      ],
      [
        `mongodb://bridge:${ENCODED}@db1,db2:27018/sb?replicaSet=rs0&authSource=admin`,
        'hosts db1:27017, db2:27018, database "sb", user "bridge" (auth database "admin")',
      ],
      [
        `mongodb+srv://bridge:${ENCODED}@cluster0.example.net/sb`,
        'SRV host cluster0.example.net, database "sb", user "bridge"',
      ],
      ["mongodb://%2Ftmp%2Fmongodb-27017.sock/sb", 'host /tmp/mongodb-27017.sock, database "sb", no user'],
    ];
    for (const [url, description] of cases) {
      const target = targetOf(url);
      assert.equal(target.description, description);
      assert.ok(!target.description.includes(PASSWORD) && !target.description.includes(ENCODED));
    }
    const target = targetOf(`mongodb://bridge:${ENCODED}@db/sb`);
    assert.ok(target.secrets.includes(PASSWORD) && target.secrets.includes(ENCODED), "both forms are secret");
    assert.equal(target.database, "sb");
  });

  test("a URL without a database is refused (the driver would use one named test)", () => {
    for (const url of [`mongodb://u:${ENCODED}@db:27017`, `mongodb://u:${ENCODED}@db:27017/?tls=false`]) {
      assert.throws(
        () => targetOf(url),
        (error: Error) => {
          assert.match(error.message, /names no database/);
          assertHidden(error, PASSWORD, ENCODED);
          return true;
        },
      );
    }
  });

  test("a URL the driver cannot read is refused with its reason, never with the password", () => {
    const cases = [
      "mongodb://u:hunter/22@db/sb", // unescaped /
      "mongodb://u:hun@ter22@db/sb", // unescaped @
      "mongodb://u:hunter22@db:notaport/sb",
      "mysql://u:hunter22@db/sb",
      "mongodb://u:hunter22@db/sb?notAnOption=1",
    ];
    for (const url of cases) {
      const secret = /:\/\/u:(.*)@db/.exec(url)?.[1] ?? "";
      assert.throws(
        () => targetOf(url),
        (error: Error) => {
          assert.match(error.message, /store\.url is not a valid MongoDB URL \(.+\)/);
          assertHidden(error, secret);
          assert.equal((error as { cause?: unknown }).cause, undefined, "no cause that might hold the URL");
          return true;
        },
        url,
      );
    }
  });

  test("urlParts and withDatabase keep hosts and options, and change only the database", () => {
    assert.deepEqual(urlParts("mongodb://u:p@h1,h2/db?replicaSet=rs"), {
      head: "mongodb://u:p@h1,h2",
      database: "db",
      query: "?replicaSet=rs",
    });
    assert.deepEqual(urlParts("mongodb+srv://h"), { head: "mongodb+srv://h", database: "", query: "" });
    assert.equal(withDatabase("mongodb://u:p@h:1/old?w=majority", "new"), "mongodb://u:p@h:1/new?w=majority");
    assert.equal(withDatabase("mongodb://h:1", "new"), "mongodb://h:1/new");
    assert.equal(withDatabase("mongodb://h:1/?w=1", "new"), "mongodb://h:1/new?w=1");
  });
});

describe("MongoDB connection: errors", () => {
  const target = targetOf(`mongodb://bridge:${ENCODED}@db:27017/switchboard`);

  test("name the target and the remedy, keep the code, and never the password or the cause", () => {
    const cases: Array<[object, RegExp]> = [
      [
        { message: "Authentication failed.", code: 18 },
        /Authentication failed\. \(check the user .*authSource/,
      ],
      [{ message: "not authorized on switchboard", code: 13 }, /grant it the readWrite role/],
      [{ message: "connect ECONNREFUSED 10.0.0.1:27017" }, /is MongoDB running there/],
      [{ message: "getaddrinfo ENOTFOUND db" }, /is the host name in store\.url right/],
      [{ message: "querySrv ENOTFOUND _mongodb._tcp.db", code: "ENOTFOUND" }, /is the host name/],
      [{ message: "Server selection timed out after 10000 ms" }, /firewall, its bindIp.*replicaSet/],
    ];
    for (const [cause, hint] of cases) {
      const error = openError(target, Object.assign(new Error("x"), cause));
      assert.match(error.message, /^MongoDB store at host db:27017, database "switchboard", user "bridge": /);
      assert.match(error.message, hint);
      assert.equal((error as { code?: unknown }).code, (cause as { code?: unknown }).code);
      assert.equal(error.cause, undefined);
    }
    const leaky = Object.assign(new Error(`bad auth for ${PASSWORD} (${ENCODED})`), {
      uri: `mongodb://bridge:${ENCODED}@db`,
    });
    const error = openError(target, leaky);
    assertHidden(error, PASSWORD, ENCODED);
    assert.match(error.message, /bad auth for \*\*\* \(\*\*\*\)/);
  });

  test("redact blanks the longest secret first and leaves secrets too short to mean anything", () => {
    assert.equal(redact("pass password", ["pass", "password"]), "*** ***");
    assert.equal(redact("a b c", ["a", "b"]), "a b c");
  });

  test("a store that cannot connect fails to open, saying where and why, without the password", async () => {
    // Port 1 (tcpmux): nothing listens there.
    const store = new MongoStore({
      url: `mongodb://bridge:${ENCODED}@127.0.0.1:1/nowhere`,
      connectTimeoutMs: 500,
    });
    const error = await store.open().then(
      () => assert.fail("open() succeeded"),
      (e: unknown) => e as Error,
    );
    assert.match(error.message, /host 127\.0\.0\.1:1, database "nowhere", user "bridge"/);
    assert.match(error.message, /ECONNREFUSED.*is MongoDB running there/);
    assertHidden(error, PASSWORD, ENCODED);
    await assert.rejects(store.kvGet("ns", "k"), /MongoStore is not open/);
    await assert.rejects(store.journalAppend("matrix", "k", null), /MongoStore is not open/);
    await store.close();
    await store.close();
  });

  test("an invalid URL fails at open, not at construction", async () => {
    const store = new MongoStore({ url: `mongodb://u:${ENCODED}@db:port/x` });
    await assert.rejects(store.open(), (error: Error) => {
      assert.match(error.message, /not a valid MongoDB URL/);
      assertHidden(error, PASSWORD, ENCODED);
      return true;
    });
  });
});
