/**
 * The PostgreSQL backend's own tables, and the versioned steps that create and upgrade them.
 *
 * `switchboard_schema` holds one row per step applied: it is both the DDL version and the marker
 * that tells our database from someone else's. This DDL version is the backend's business only; the
 * framework's data layout version (`Store.schemaVersion()`, migrated by `migrate.ts`) is a row of
 * `switchboard_meta`.
 *
 * Column choices:
 * - ms-epoch times are `double precision`: that is exactly a JS number, so no value the Store contract
 *   accepts (it promises `number`, not an integer) can fail to insert or come back changed.
 * - Free-form data (payloads, meta, kv values) is jsonb, written through `postgres-text.ts`.
 * - kv keys and message remote ids are matched by prefix with LIKE, which a btree index serves only
 *   under the "C" collation; it also makes their order independent of the database's locale.
 */
import type pg from "pg";

/** Index = version - 1. Append new steps; never edit one that has shipped. */
const STEPS: readonly (readonly string[])[] = [
  [
    `CREATE TABLE switchboard_schema (
       version integer PRIMARY KEY,
       applied_at timestamptz NOT NULL DEFAULT now()
     )`,
    `CREATE TABLE switchboard_meta (
       name text PRIMARY KEY,
       value bigint NOT NULL
     )`,
    `CREATE TABLE journal (
       seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
       stream text NOT NULL,
       key text NOT NULL,
       payload jsonb NOT NULL,
       done boolean NOT NULL DEFAULT false,
       created_at double precision NOT NULL,
       UNIQUE (stream, key)
     )`,
    `CREATE INDEX journal_pending ON journal (stream, seq) WHERE NOT done`,
    `CREATE INDEX journal_recent ON journal (stream, created_at)`,
    `CREATE INDEX journal_prunable ON journal (created_at) WHERE done`,
    `CREATE TABLE links (
       room_id text PRIMARY KEY,
       network text NOT NULL,
       channel_id text NOT NULL,
       receiver text NOT NULL,
       kind text NOT NULL,
       state text NOT NULL,
       created_by text NOT NULL,
       created_at double precision NOT NULL,
       meta jsonb NOT NULL
     )`,
    `CREATE INDEX links_channel ON links (network, channel_id, receiver)`,
    `CREATE INDEX links_created_by ON links (created_by)`,
    `CREATE TABLE ghosts (
       user_id text PRIMARY KEY,
       network text NOT NULL,
       remote_id text NOT NULL,
       displayname text,
       avatar_url text,
       avatar_key text,
       registered boolean NOT NULL,
       UNIQUE (network, remote_id)
     )`,
    `CREATE TABLE users (
       user_id text PRIMARY KEY,
       management_room text,
       meta jsonb NOT NULL
     )`,
    `CREATE INDEX users_management_room ON users (management_room)`,
    `CREATE TABLE logins (
       network text NOT NULL,
       login_id text NOT NULL,
       matrix_user_id text NOT NULL,
       credentials text NOT NULL,
       state text NOT NULL,
       remote_name text NOT NULL,
       created_at double precision NOT NULL,
       meta jsonb NOT NULL,
       PRIMARY KEY (network, login_id)
     )`,
    `CREATE INDEX logins_matrix_user ON logins (matrix_user_id)`,
    `CREATE TABLE messages (
       event_id text PRIMARY KEY,
       network text NOT NULL,
       channel_id text NOT NULL,
       receiver text NOT NULL,
       remote_id text COLLATE "C" NOT NULL,
       part integer NOT NULL,
       room_id text NOT NULL,
       sender text NOT NULL,
       timestamp double precision NOT NULL,
       meta jsonb,
       UNIQUE (network, channel_id, receiver, remote_id, part)
     )`,
    `CREATE INDEX messages_room_time ON messages (room_id, timestamp, part)`,
    `CREATE INDEX messages_time ON messages (timestamp)`,
    `CREATE TABLE reactions (
       event_id text PRIMARY KEY,
       network text NOT NULL,
       channel_id text NOT NULL,
       receiver text NOT NULL,
       message_id text NOT NULL,
       sender text NOT NULL,
       key text NOT NULL,
       room_id text NOT NULL,
       remote_id text,
       meta jsonb,
       timestamp double precision NOT NULL,
       UNIQUE (network, channel_id, receiver, message_id, sender, key)
     )`,
    `CREATE TABLE chat_members (
       network text NOT NULL,
       channel_id text NOT NULL,
       receiver text NOT NULL,
       login_id text NOT NULL,
       matrix_user_id text NOT NULL,
       since double precision NOT NULL,
       PRIMARY KEY (network, channel_id, receiver, login_id)
     )`,
    `CREATE INDEX chat_members_login ON chat_members (network, login_id)`,
    `CREATE TABLE media_links (
       token text PRIMARY KEY,
       mxc text NOT NULL,
       name text NOT NULL,
       mimetype text NOT NULL,
       event_id text,
       created_at double precision NOT NULL,
       expires_at double precision
     )`,
    `CREATE INDEX media_links_event ON media_links (event_id)`,
    `CREATE INDEX media_links_expiry ON media_links (expires_at) WHERE expires_at IS NOT NULL`,
    `CREATE TABLE kv (
       namespace text COLLATE "C" NOT NULL,
       key text COLLATE "C" NOT NULL,
       value jsonb NOT NULL,
       PRIMARY KEY (namespace, key)
     )`,
  ],
];

/** The DDL version this code creates and understands. */
export const DDL_VERSION = STEPS.length;

/**
 * Session-level advisory lock held while checking and upgrading, so two processes starting at once
 * on an empty database do not both create the tables. Advisory locks are per database, so
 * Switchboards on other databases of the same server never wait for each other. ("Sw1tchbd".)
 */
const UPGRADE_LOCK_KEY = BigInt("0x5377317463686264").toString();

const MARKER = "switchboard_schema";

/**
 * Brings the database's tables to DDL_VERSION, each step in its own transaction (a step interrupted
 * leaves the previous version whole), or refuses a database that is newer or not ours.
 */
export async function upgradeSchema(client: pg.ClientBase): Promise<{ from: number; to: number }> {
  await client.query("SELECT pg_advisory_lock($1::bigint)", [UPGRADE_LOCK_KEY]);
  try {
    const from = await currentVersion(client);
    if (from > DDL_VERSION) {
      throw new Error(
        `its Switchboard tables are at schema version ${from}, newer than this Switchboard understands ` +
          `(up to ${DDL_VERSION}): run the newer Switchboard that upgraded it, or restore a backup taken before`,
      );
    }
    for (let version = from + 1; version <= DDL_VERSION; version++) {
      await applyStep(client, version);
    }
    return { from, to: DDL_VERSION };
  } finally {
    await client.query("SELECT pg_advisory_unlock($1::bigint)", [UPGRADE_LOCK_KEY]);
  }
}

/** 0 for an empty schema; throws for a schema that has tables but not our marker. */
async function currentVersion(client: pg.ClientBase): Promise<number> {
  const schema = await client.query<{ name: string | null }>("SELECT current_schema() AS name");
  const name = schema.rows[0]?.name ?? null;
  if (name === null) {
    throw new Error(
      "it has no schema to create tables in (none of the search_path schemas exists): create one, or fix search_path",
    );
  }
  const tables = await client.query<{ relname: string }>(
    `SELECT c.relname FROM pg_catalog.pg_class c
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
      ORDER BY c.relname`,
    [name],
  );
  const names = tables.rows.map((r) => r.relname);
  if (names.includes(MARKER)) {
    const version = await client.query<{ version: number | null }>(
      `SELECT max(version) AS version FROM ${MARKER}`,
    );
    return version.rows[0]?.version ?? 0;
  }
  if (names.length > 0) {
    const shown = names.slice(0, 5).join(", ") + (names.length > 5 ? `, … (${names.length} in all)` : "");
    throw new Error(
      `schema "${name}" already holds tables that are not Switchboard's (${shown}) and no ${MARKER} table: ` +
        `give Switchboard an empty database of its own (e.g. CREATE DATABASE switchboard OWNER <user>)`,
    );
  }
  return 0;
}

async function applyStep(client: pg.ClientBase, version: number): Promise<void> {
  const statements = STEPS[version - 1] ?? [];
  await client.query("BEGIN");
  try {
    for (const statement of statements) await client.query(statement);
    await client.query(`INSERT INTO ${MARKER} (version) VALUES ($1)`, [version]);
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    const code = (error as { code?: unknown }).code;
    const hint =
      code === "42501"
        ? " (the user may not create tables here: make it the database's owner, or GRANT CREATE ON SCHEMA to it)"
        : "";
    throw new Error(
      `upgrading its Switchboard tables to schema version ${version} failed: ${messageOf(error)}${hint}`,
      { cause: error },
    );
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
