/**
 * The PostgreSQL backend's side of snapshots and loads (`PostgresStore.snapshot()` / `load()`), on one
 * connection the store hands in.
 *
 * - Reading: each table through a cursor (`DECLARE … CURSOR`, `FETCH n`) inside the caller's
 *   REPEATABLE READ transaction, so a table of 200k rows never sits in memory whole and every table is
 *   read as of the same snapshot. No `pg_dump` binary, no extra driver.
 * - Writing: one `INSERT … SELECT FROM unnest($1::text[], $2::…[], …)` per batch: one parameter per
 *   column whatever the batch size (PostgreSQL allows 65535 parameters per statement, a multi-row
 *   VALUES list would run out at a few thousand rows), parsed once per batch, as fast as COPY for
 *   these row sizes without a COPY stream library.
 */
import type pg from "pg";
import {
  GHOST_COLUMNS,
  JOURNAL_COLUMNS,
  LINK_COLUMNS,
  LOGIN_COLUMNS,
  MEMBER_COLUMNS,
  MESSAGE_COLUMNS,
  REACTION_COLUMNS,
  jsonOrNull,
  toGhost,
  toJournal,
  toLink,
  toLogin,
  toMediaLink,
  toMember,
  toMessage,
  toReaction,
  toUser,
} from "./postgres-rows.js";
import type {
  GhostRow,
  JournalRow,
  LinkRow,
  LoginRow,
  MediaRow,
  MemberRow,
  MessageRow,
  ReactionRow,
  UserRow,
} from "./postgres-rows.js";
import { fromDbJson, fromDbText, toDbJson, toDbText } from "./postgres-text.js";
import { STORE_COLLECTIONS } from "./dump.js";
import type {
  ChatMember,
  DumpRecord,
  GhostRecord,
  JournalEntry,
  KvEntry,
  LoginRecord,
  MatrixUserRecord,
  MediaLink,
  MessageMapping,
  ReactionRecord,
  RoomLink,
  StoreCollection,
  StoreRecordTypes,
} from "./types.js";

/** Rows per FETCH and per INSERT. */
export const DUMP_BATCH = 5000;

const MEDIA_COLUMNS = "token, mxc, name, mimetype, event_id, created_at, expires_at";

type Row = pg.QueryResultRow;

interface Table<C extends StoreCollection> {
  name: string;
  columns: string;
  /** One SQL array type per column, in `columns` order. */
  types: string[];
  fromRow(row: Row): StoreRecordTypes[C];
  /** The record's column values, in `columns` order, as the store's own writes give them. */
  toRow(record: StoreRecordTypes[C]): unknown[];
}

const T = "text[]";
const F = "double precision[]";
const J = "jsonb[]";

export const TABLES: { [C in StoreCollection]: Table<C> } = {
  journal: {
    name: "journal",
    columns: JOURNAL_COLUMNS,
    types: ["bigint[]", T, T, J, "boolean[]", F],
    fromRow: (r) => toJournal(r as JournalRow),
    toRow: (e: JournalEntry) => [e.seq, e.stream, toDbText(e.key), toDbJson(e.payload), e.done, e.createdAt],
  },
  links: {
    name: "links",
    columns: LINK_COLUMNS,
    types: [T, T, T, T, T, T, T, F, J],
    fromRow: (r) => toLink(r as LinkRow),
    toRow: (l: RoomLink) => [
      l.roomId,
      l.network,
      l.channelId,
      l.receiver,
      l.kind,
      l.state,
      l.createdBy,
      l.createdAt,
      toDbJson(l.meta),
    ],
  },
  ghosts: {
    name: "ghosts",
    columns: GHOST_COLUMNS,
    types: [T, T, T, T, T, T, "boolean[]"],
    fromRow: (r) => toGhost(r as GhostRow),
    toRow: (g: GhostRecord) => [
      g.userId,
      g.network,
      g.remoteId,
      g.displayname,
      g.avatarUrl,
      g.avatarKey ?? null,
      g.registered,
    ],
  },
  users: {
    name: "users",
    columns: "user_id, management_room, meta",
    types: [T, T, J],
    fromRow: (r) => toUser(r as UserRow),
    toRow: (u: MatrixUserRecord) => [u.userId, u.managementRoom, toDbJson(u.meta)],
  },
  logins: {
    name: "logins",
    columns: LOGIN_COLUMNS,
    types: [T, T, T, T, T, T, F, J],
    fromRow: (r) => toLogin(r as LoginRow),
    toRow: (l: LoginRecord) => [
      l.network,
      l.loginId,
      l.matrixUserId,
      l.credentials,
      l.state,
      l.remoteName,
      l.createdAt,
      toDbJson(l.meta),
    ],
  },
  messages: {
    name: "messages",
    columns: MESSAGE_COLUMNS,
    types: [T, T, T, T, T, "integer[]", T, T, F, J],
    fromRow: (r) => toMessage(r as MessageRow),
    toRow: (m: MessageMapping) => [
      m.eventId,
      m.network,
      m.channelId,
      m.receiver,
      m.remoteId,
      m.part,
      m.roomId,
      m.sender,
      m.timestamp,
      jsonOrNull(m.meta),
    ],
  },
  reactions: {
    name: "reactions",
    columns: REACTION_COLUMNS,
    types: [T, T, T, T, T, T, T, T, T, J, F],
    fromRow: (r) => toReaction(r as ReactionRow),
    toRow: (x: ReactionRecord) => [
      x.eventId,
      x.network,
      x.channelId,
      x.receiver,
      x.messageId,
      x.sender,
      x.key,
      x.roomId,
      x.remoteId ?? null,
      jsonOrNull(x.meta),
      x.timestamp,
    ],
  },
  members: {
    name: "chat_members",
    columns: MEMBER_COLUMNS,
    types: [T, T, T, T, T, F],
    fromRow: (r) => toMember(r as MemberRow),
    toRow: (m: ChatMember) => [m.network, m.channelId, m.receiver, m.loginId, m.matrixUserId, m.since],
  },
  media: {
    name: "media_links",
    columns: MEDIA_COLUMNS,
    types: [T, T, T, T, T, F, F],
    fromRow: (r) => toMediaLink(r as MediaRow),
    toRow: (l: MediaLink) => [
      l.token,
      l.mxc,
      l.name,
      l.mimetype,
      l.eventId ?? null,
      l.createdAt,
      l.expiresAt ?? null,
    ],
  },
  kv: {
    name: "kv",
    columns: "namespace, key, value",
    types: [T, T, J],
    fromRow: (r) => ({
      namespace: fromDbText(r.namespace as string),
      key: fromDbText(r.key as string),
      value: fromDbJson<unknown>(r.value as string),
    }),
    toRow: (e: KvEntry) => [toDbText(e.namespace), toDbText(e.key), toDbJson(e.value)],
  },
};

/** Every table the dump covers, for LOCK and TRUNCATE. */
export const ALL_TABLES = STORE_COLLECTIONS.map((c) => TABLES[c].name).join(", ");

/** Every row of every table, through cursors, on a client inside a transaction that fixed its snapshot. */
export async function* readTables(client: pg.ClientBase): AsyncIterable<DumpRecord> {
  for (const collection of STORE_COLLECTIONS) {
    const table: Table<StoreCollection> = TABLES[collection] as Table<StoreCollection>;
    const cursor = `switchboard_dump_${collection}`;
    await client.query(`DECLARE ${cursor} NO SCROLL CURSOR FOR SELECT ${table.columns} FROM ${table.name}`);
    for (;;) {
      const { rows } = await client.query(`FETCH ${DUMP_BATCH} FROM ${cursor}`);
      for (const row of rows) yield { collection, record: table.fromRow(row) } as DumpRecord;
      if (rows.length < DUMP_BATCH) break;
    }
    await client.query(`CLOSE ${cursor}`);
  }
}

/** Inserts one batch of one collection's records. */
export async function insertRecords(
  client: pg.ClientBase,
  collection: StoreCollection,
  records: StoreRecordTypes[StoreCollection][],
): Promise<void> {
  const table = TABLES[collection] as Table<StoreCollection>;
  const columns: unknown[][] = table.types.map(() => []);
  for (const record of records) {
    table.toRow(record).forEach((value, i) => columns[i]?.push(value));
  }
  const unnest = table.types.map((type, i) => `$${i + 1}::${type}`).join(", ");
  // seq is GENERATED ALWAYS: the dump's numbers are kept, and the sequence is moved past them after.
  const overriding = collection === "journal" ? "OVERRIDING SYSTEM VALUE" : "";
  await client.query(
    `INSERT INTO ${table.name} (${table.columns}) ${overriding} SELECT * FROM unnest(${unnest})`,
    columns,
  );
}

/** Rows per table, by collection. */
export async function countRows(client: pg.ClientBase): Promise<Record<StoreCollection, number>> {
  const select = STORE_COLLECTIONS.map((c) => `(SELECT count(*) FROM ${TABLES[c].name}) AS ${c}`).join(", ");
  const { rows } = await client.query<Record<StoreCollection, number>>(`SELECT ${select}`);
  const row = rows[0];
  return Object.fromEntries(STORE_COLLECTIONS.map((c) => [c, Number(row?.[c] ?? 0)])) as Record<
    StoreCollection,
    number
  >;
}

/** The highest seq the journal's identity sequence has handed out (0 if none), read without using one up. */
export async function journalSeqOf(client: pg.ClientBase): Promise<number> {
  const { rows } = await client.query<{ last: number | null; top: number | null }>(
    `SELECT pg_sequence_last_value(pg_get_serial_sequence('journal', 'seq')::regclass) AS last,
            (SELECT max(seq) FROM journal) AS top`,
  );
  return Math.max(Number(rows[0]?.last ?? 0), Number(rows[0]?.top ?? 0));
}

/** Moves the identity sequence so the next append gets `seq + 1` (1 when `seq` is 0). */
export async function continueJournalAfter(client: pg.ClientBase, seq: number): Promise<void> {
  await client.query(`SELECT setval(pg_get_serial_sequence('journal', 'seq'), $1::bigint, $2::boolean)`, [
    Math.max(seq, 1),
    seq > 0,
  ]);
}
