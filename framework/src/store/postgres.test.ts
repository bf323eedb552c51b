import assert from "node:assert/strict";
import { inspect } from "node:util";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { storeConformanceSuite } from "./conformance.js";
import type { StoreHarness } from "./conformance.js";
import { PostgresStore } from "./postgres.js";
import { DDL_VERSION } from "./postgres-schema.js";
import { startPostgres } from "./testing/pg-cluster.js";
import type { PgCluster } from "./testing/pg-cluster.js";
import { databaseHarness, serverStoreCases } from "./testing/server-store-cases.js";

let cluster: PgCluster | undefined;
before(async () => {
  cluster = await startPostgres();
});
after(async () => {
  await cluster?.stop();
});

function pgCluster(): PgCluster {
  assert.ok(cluster, "the PostgreSQL test cluster did not start (see the before hook's error)");
  return cluster;
}

async function onFreshDatabase(): Promise<Required<StoreHarness>> {
  const url = await pgCluster().createDatabase();
  return databaseHarness(
    () => new PostgresStore({ url }),
    () => pgCluster().dropDatabase(url),
  );
}

storeConformanceSuite("PostgresStore", onFreshDatabase);

/** Runs SQL on a database as the test cluster's superuser. */
async function sql<R extends pg.QueryResultRow>(
  url: string,
  text: string,
  params: unknown[] = [],
): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(text, params)).rows;
  } finally {
    await client.end();
  }
}

async function withDatabase(body: (url: string) => Promise<void>): Promise<void> {
  const url = await pgCluster().createDatabase();
  try {
    await body(url);
  } finally {
    await pgCluster().dropDatabase(url);
  }
}

describe("PostgresStore specifics", () => {
  test("stores opened at once on an empty database both work; the schema is created once", async () => {
    await withDatabase(async (url) => {
      const stores = Array.from({ length: 4 }, () => new PostgresStore({ url }));
      try {
        const opened = await Promise.allSettled(stores.map((s) => s.open()));
        assert.deepEqual(
          opened.map((o) => (o.status === "rejected" ? String(o.reason) : o.status)),
          stores.map(() => "fulfilled"),
        );
        const versions = await sql<{ version: number }>(
          url,
          "SELECT version FROM switchboard_schema ORDER BY 1",
        );
        assert.deepEqual(
          versions.map((v) => v.version),
          Array.from({ length: DDL_VERSION }, (_, i) => i + 1),
        );
        await stores[0]?.kvSet("ns", "k", 1);
        assert.equal(await stores[3]?.kvGet("ns", "k"), 1);
      } finally {
        await Promise.all(stores.map((s) => s.close()));
      }
    });
  });

  test("reopening an up-to-date database changes nothing", async () => {
    await withDatabase(async (url) => {
      const first = new PostgresStore({ url });
      await first.open();
      await first.close();
      const applied = await sql(url, "SELECT version, applied_at FROM switchboard_schema ORDER BY 1");
      const second = new PostgresStore({ url });
      await second.open();
      await second.close();
      assert.deepEqual(
        await sql(url, "SELECT version, applied_at FROM switchboard_schema ORDER BY 1"),
        applied,
      );
    });
  });

  test("a database whose tables are newer than this code is refused, naming both versions", async () => {
    await withDatabase(async (url) => {
      const store = new PostgresStore({ url });
      await store.open();
      await store.setSchemaVersion(1);
      await store.close();
      const newer = DDL_VERSION + 1;
      await sql(url, "INSERT INTO switchboard_schema (version) VALUES ($1)", [newer]);
      const again = new PostgresStore({ url });
      await assert.rejects(again.open(), (error: Error) => {
        assert.match(error.message, new RegExp(`schema version ${newer}\\b`));
        assert.match(error.message, new RegExp(`up to ${DDL_VERSION}\\)`));
        return true;
      });
      await assert.rejects(again.kvGet("ns", "k"), /not open/);
    });
  });

  test("a database holding someone else's tables is refused and left untouched", async () => {
    await withDatabase(async (url) => {
      await sql(url, "CREATE TABLE events (event_id text PRIMARY KEY, json text)");
      const store = new PostgresStore({ url });
      await assert.rejects(store.open(), (error: Error) => {
        assert.match(error.message, /not Switchboard's \(events\)/);
        assert.match(error.message, /empty database of its own/);
        return true;
      });
      const tables = await sql<{ relname: string }>(
        url,
        "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'",
      );
      assert.deepEqual(
        tables.map((t) => t.relname),
        ["events"],
      );
    });
  });

  test("connection errors name host, port and database, never the password", async () => {
    const password = "Sup3r-Secret-Passw0rd";
    const admin = new URL(pgCluster().adminUrl);
    // Port 1 (tcpmux): nothing listens there.
    const refused = `postgres://switchboard:${password}@127.0.0.1:1/nowhere`;
    const wrongPassword = `postgres://${admin.username}:${password}@${admin.host}/switchboard_missing`;
    for (const url of [refused, wrongPassword]) {
      const store = new PostgresStore({ url, connectTimeoutMs: 5000 });
      const error = await store.open().then(
        () => assert.fail(`open() of ${url.replace(password, "***")} succeeded`),
        (e: unknown) => e as Error,
      );
      const { hostname, port } = new URL(url);
      assert.match(error.message, new RegExp(`host ${hostname.replace(/\./g, "\\.")}, port ${port}\\b`));
      assert.match(error.message, /database "(nowhere|switchboard_missing)"/);
      for (const shown of [error.message, inspect(error, { depth: 5 }), JSON.stringify(error)]) {
        assert.ok(!shown.includes(password), `the password leaked: ${shown}`);
      }
    }
    const invalid = new PostgresStore({ url: `postgres://u:${password}@host:notaport/db` });
    await assert.rejects(invalid.open(), (error: Error) => {
      assert.match(error.message, /not a valid PostgreSQL URL/);
      assert.ok(!inspect(error, { depth: 5 }).includes(password));
      return true;
    });
  });

  test("a pooled connection the server drops is reported, and the next query gets a new one", async () => {
    await withDatabase(async (url) => {
      const errors: Error[] = [];
      const store = new PostgresStore({ url, onConnectionError: (e) => errors.push(e) });
      await store.open();
      try {
        await store.kvSet("ns", "k", 1);
        const database = new URL(url).pathname.slice(1);
        await sql(
          url,
          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
          [database],
        );
        const deadline = Date.now() + 5000;
        while (errors.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
        assert.equal(errors.length, 1);
        assert.match(errors[0]?.message ?? "", new RegExp(`database "${database}".*terminating connection`));
        assert.equal(await store.kvGet("ns", "k"), 1);
      } finally {
        await store.close();
      }
    });
  });

  serverStoreCases(onFreshDatabase);
});
