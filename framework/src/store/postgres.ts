/**
 * The PostgreSQL backend (node-postgres): one table per record kind with real columns, a unique
 * index for every natural key, and upserts as single `INSERT ... ON CONFLICT` statements, so that
 * concurrent writers (several pool connections, or another process) are arbitrated by the database.
 *
 * - `open()` checks and upgrades the tables (`postgres-schema.ts`) and loads nothing: start-up costs
 *   the same with ten rows or ten million.
 * - Every query is parameterized; identifiers are constants of this file.
 * - Journal appends are written in call order, batched while one is in flight: the sequence hands out
 *   `seq` as rows are inserted, so concurrent appends on separate connections could otherwise get
 *   their numbers in another order than they were made. Batching keeps that to one round trip (and one
 *   WAL flush) per burst instead of one per append.
 * - Free-form JSON and kv keys go through `postgres-text.ts`: PostgreSQL refuses U+0000 and lone
 *   surrogates, which JS strings may hold.
 */
import pg from "pg";
import { openError, redact, targetOf, typeParsers } from "./postgres-connection.js";
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
import { INCOMPLETE_LOAD_VERSION, StoreNotEmptyError, batches } from "./dump.js";
import {
  ALL_TABLES,
  DUMP_BATCH,
  continueJournalAfter,
  countRows,
  insertRecords,
  journalSeqOf,
  readTables,
} from "./postgres-dump.js";
import { upgradeSchema } from "./postgres-schema.js";
import { fromDbJson, fromDbText, likePrefix, toDbJson, toDbText } from "./postgres-text.js";
import type {
  ChatMember,
  GhostRecord,
  JournalEntry,
  JournalStream,
  LinkState,
  LoginRecord,
  MatrixUserRecord,
  MediaLink,
  MessageMapping,
  LoadOptions,
  ReactionRecord,
  RoomLink,
  Store,
  StoreDump,
  StoreSnapshot,
} from "./types.js";

export interface PostgresStoreOptions {
  /** `postgres://user:password@host:port/database` (or `postgresql://`; libpq URL parameters apply). */
  url: string;
  /** Pool size. Default 10. */
  maxConnections?: number;
  /** How long to wait for a connection (new or from the pool) before failing. Default 10 s. */
  connectTimeoutMs?: number;
  /**
   * An idle pooled connection that breaks (server restart, network) is dropped and replaced on next
   * use; nobody awaits it, so it can only be reported here. Default: a process warning.
   */
  onConnectionError?: (error: Error) => void;
}

const DEFAULT_MAX_CONNECTIONS = 10;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** 4 parameters a row: well inside PostgreSQL's 65535 parameters per statement. */
const MAX_APPEND_BATCH = 500;
const DATA_VERSION = "data_version";

interface PendingAppend {
  stream: JournalStream;
  key: string;
  payload: string;
  createdAt: number;
  resolve: (inserted: boolean) => void;
  reject: (error: unknown) => void;
}

export class PostgresStore implements Store {
  private pool: pg.Pool | null = null;
  private opening: Promise<void> | null = null;
  private closing: Promise<void> | null = null;
  /** Queries sent and not yet answered: close() lets them finish before ending the pool. */
  private readonly inFlight = new Set<Promise<unknown>>();
  private appendQueue: PendingAppend[] = [];
  private appending: Promise<void> | null = null;
  /** Snapshots not yet closed: close() ends their transactions before the pool. */
  private readonly snapshots = new Set<StoreSnapshot>();

  constructor(private readonly options: PostgresStoreOptions) {}

  open(): Promise<void> {
    // Concurrent open() calls share one pool; an open() right after close() waits for it to end.
    const closing = this.closing;
    this.opening ??= (async () => {
      await closing?.catch(() => undefined);
      await this.doOpen();
    })().catch((error: unknown) => {
      this.opening = null;
      throw error;
    });
    return this.opening;
  }

  private async doOpen(): Promise<void> {
    const target = targetOf(this.options.url);
    const pool = new pg.Pool({
      connectionString: this.options.url,
      max: this.options.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
      connectionTimeoutMillis: this.options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      application_name: "switchboard",
      types: typeParsers(),
    });
    // Without a listener, an idle connection's error event would crash the process.
    pool.on("error", (error) => {
      // pool.end() resolves before the server has seen every connection go; one it then drops
      // (DROP DATABASE, a restart) belongs to a store that is closed and needs no report.
      if (this.pool !== pool) return;
      const safe = new Error(
        redact(`PostgreSQL store at ${target.description}: ${error.message}`, target.password),
      );
      if (this.options.onConnectionError) this.options.onConnectionError(safe);
      else process.emitWarning(safe.message);
    });
    try {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        await upgradeSchema(client);
      } catch (error) {
        // The connection may still hold the upgrade lock if unlocking failed: do not pool it.
        broken = error instanceof Error ? error : new Error(String(error));
        throw error;
      } finally {
        client.release(broken);
      }
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw openError(target, error);
    }
    this.pool = pool;
  }

  close(): Promise<void> {
    // Taken synchronously so an open() issued right after this call starts a new life, not this one.
    const opening = this.opening;
    this.opening = null;
    const previous = this.closing;
    const closing = (async () => {
      await previous?.catch(() => undefined);
      await opening?.catch(() => undefined);
      const pool = this.pool;
      if (!pool) return;
      this.pool = null;
      await Promise.allSettled([...this.snapshots].map((s) => s.close()));
      // Appends already accepted are written, and answered queries answered, before the pool ends.
      await this.appending;
      while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
      await pool.end();
    })();
    this.closing = closing;
    return closing;
  }

  private connected(): pg.Pool {
    if (!this.pool) throw new Error("PostgresStore is not open");
    return this.pool;
  }

  /** `pool` is given by work that close() waits for (the append writer), which runs on past `this.pool`. */
  private query<R extends pg.QueryResultRow>(
    sql: string,
    params: unknown[] = [],
    pool?: pg.Pool,
  ): Promise<pg.QueryResult<R>> {
    let result: Promise<pg.QueryResult<R>>;
    try {
      result = (pool ?? this.connected()).query<R>(sql, params);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.track(result);
  }

  private track<T>(work: Promise<T>): Promise<T> {
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work)).catch(() => undefined);
    return work;
  }

  /** Runs `body` in one transaction on one connection; rolls back if it throws. */
  private transaction<T>(body: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let pool: pg.Pool;
    try {
      pool = this.connected();
    } catch (error) {
      return Promise.reject(error);
    }
    return this.track(
      (async () => {
        const client = await pool.connect();
        let broken: Error | undefined;
        try {
          await client.query("BEGIN");
          const result = await body(client);
          await client.query("COMMIT");
          return result;
        } catch (error) {
          await client.query("ROLLBACK").catch((rollback: unknown) => {
            // A connection that cannot roll back is in an unknown state: it must not be reused.
            broken = rollback instanceof Error ? rollback : new Error(String(rollback));
          });
          throw error;
        } finally {
          client.release(broken);
        }
      })(),
    );
  }

  private async rows<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> {
    return (await this.query<R>(sql, params)).rows;
  }

  private async row<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R | null> {
    return (await this.query<R>(sql, params)).rows[0] ?? null;
  }

  private async count(sql: string, params: unknown[] = []): Promise<number> {
    return (await this.query(sql, params)).rowCount ?? 0;
  }

  // ---- journal ----

  journalAppend(stream: JournalStream, key: string, payload: unknown): Promise<boolean> {
    try {
      this.connected();
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<boolean>((resolve, reject) => {
      this.appendQueue.push({
        stream,
        key: toDbText(key),
        payload: toDbJson(payload),
        createdAt: Date.now(),
        resolve,
        reject,
      });
      this.appending ??= this.writeAppends(this.connected());
    });
  }

  private async writeAppends(pool: pg.Pool): Promise<void> {
    while (this.appendQueue.length > 0) {
      const batch = this.appendQueue.splice(0, MAX_APPEND_BATCH);
      try {
        const params: unknown[] = [];
        const values = batch.map((a, i) => {
          params.push(a.stream, a.key, a.payload, a.createdAt);
          return `($${i * 4 + 1}, $${i * 4 + 2}, $${i * 4 + 3}::jsonb, $${i * 4 + 4})`;
        });
        // Rows are inserted, and so numbered, in VALUES order. A key met twice in one batch (or
        // already stored) is skipped by ON CONFLICT; RETURNING names the rows actually inserted.
        const { rows: inserted } = await this.query<{ stream: string; key: string }>(
          `INSERT INTO journal (stream, key, payload, created_at) VALUES ${values.join(", ")}
           ON CONFLICT (stream, key) DO NOTHING RETURNING stream, key`,
          params,
          pool,
        );
        const fresh = new Set(inserted.map((r) => JSON.stringify([r.stream, r.key])));
        for (const append of batch) append.resolve(fresh.delete(JSON.stringify([append.stream, append.key])));
      } catch (error) {
        for (const append of batch) append.reject(error);
      }
    }
    this.appending = null;
  }

  async journalGet(stream: JournalStream, key: string): Promise<JournalEntry | null> {
    const row = await this.row<JournalRow>(
      `SELECT ${JOURNAL_COLUMNS} FROM journal WHERE stream = $1 AND key = $2`,
      [stream, toDbText(key)],
    );
    return row ? toJournal(row) : null;
  }

  async journalPending(stream: JournalStream): Promise<JournalEntry[]> {
    const rows = await this.rows<JournalRow>(
      `SELECT ${JOURNAL_COLUMNS} FROM journal WHERE stream = $1 AND NOT done ORDER BY seq`,
      [stream],
    );
    return rows.map(toJournal);
  }

  async journalRecent(stream: JournalStream, since: number): Promise<JournalEntry[]> {
    const rows = await this.rows<JournalRow>(
      `SELECT ${JOURNAL_COLUMNS} FROM journal WHERE stream = $1 AND created_at >= $2 ORDER BY seq`,
      [stream, since],
    );
    return rows.map(toJournal);
  }

  async journalMarkDone(stream: JournalStream, key: string): Promise<void> {
    await this.query("UPDATE journal SET done = true WHERE stream = $1 AND key = $2 AND NOT done", [
      stream,
      toDbText(key),
    ]);
  }

  journalPrune(before: number): Promise<number> {
    // The identity sequence is not reset by deletes, so seq keeps rising after any prune.
    return this.count("DELETE FROM journal WHERE done AND created_at < $1", [before]);
  }

  // ---- links ----

  async linkPut(link: RoomLink): Promise<void> {
    await this.query(
      `INSERT INTO links (${LINK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb)
       ON CONFLICT (room_id) DO UPDATE SET network = EXCLUDED.network, channel_id = EXCLUDED.channel_id,
         receiver = EXCLUDED.receiver, kind = EXCLUDED.kind, state = EXCLUDED.state,
         created_by = EXCLUDED.created_by, created_at = EXCLUDED.created_at, meta = EXCLUDED.meta`,
      [
        link.roomId,
        link.network,
        link.channelId,
        link.receiver,
        link.kind,
        link.state,
        link.createdBy,
        link.createdAt,
        toDbJson(link.meta),
      ],
    );
  }

  async linkByRoom(roomId: string): Promise<RoomLink | null> {
    const row = await this.row<LinkRow>(`SELECT ${LINK_COLUMNS} FROM links WHERE room_id = $1`, [roomId]);
    return row ? toLink(row) : null;
  }

  async linksByChannel(network: string, channelId: string, receiver?: string): Promise<RoomLink[]> {
    const params: unknown[] = [network, channelId];
    if (receiver !== undefined) params.push(receiver);
    const rows = await this.rows<LinkRow>(
      `SELECT ${LINK_COLUMNS} FROM links WHERE network = $1 AND channel_id = $2
       ${receiver !== undefined ? "AND receiver = $3" : ""} ORDER BY created_at, room_id`,
      params,
    );
    return rows.map(toLink);
  }

  async linkDelete(roomId: string): Promise<void> {
    await this.query("DELETE FROM links WHERE room_id = $1", [roomId]);
  }

  async linkList(filter?: { network?: string; createdBy?: string; state?: LinkState }): Promise<RoomLink[]> {
    const conditions: string[] = [];
    const params: unknown[] = [];
    for (const [column, value] of [
      ["network", filter?.network],
      ["created_by", filter?.createdBy],
      ["state", filter?.state],
    ] as const) {
      if (value === undefined) continue;
      params.push(value);
      conditions.push(`${column} = $${params.length}`);
    }
    const where = conditions.length > 0 ? `WHERE ${conditions.join(" AND ")}` : "";
    const rows = await this.rows<LinkRow>(
      `SELECT ${LINK_COLUMNS} FROM links ${where} ORDER BY created_at, room_id`,
      params,
    );
    return rows.map(toLink);
  }

  async linkCount(network?: string): Promise<number> {
    const row =
      network === undefined
        ? await this.row<{ n: number }>("SELECT count(*) AS n FROM links")
        : await this.row<{ n: number }>("SELECT count(*) AS n FROM links WHERE network = $1", [network]);
    return row?.n ?? 0;
  }

  // ---- ghosts ----

  async ghostPut(ghost: GhostRecord): Promise<void> {
    await this.query(
      `INSERT INTO ghosts (${GHOST_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (user_id) DO UPDATE SET network = EXCLUDED.network, remote_id = EXCLUDED.remote_id,
         displayname = EXCLUDED.displayname, avatar_url = EXCLUDED.avatar_url,
         avatar_key = EXCLUDED.avatar_key, registered = EXCLUDED.registered`,
      [
        ghost.userId,
        ghost.network,
        ghost.remoteId,
        ghost.displayname,
        ghost.avatarUrl,
        ghost.avatarKey ?? null,
        ghost.registered,
      ],
    );
  }

  async ghostGet(userId: string): Promise<GhostRecord | null> {
    const row = await this.row<GhostRow>(`SELECT ${GHOST_COLUMNS} FROM ghosts WHERE user_id = $1`, [userId]);
    return row ? toGhost(row) : null;
  }

  async ghostByRemote(network: string, remoteId: string): Promise<GhostRecord | null> {
    const row = await this.row<GhostRow>(
      `SELECT ${GHOST_COLUMNS} FROM ghosts WHERE network = $1 AND remote_id = $2`,
      [network, remoteId],
    );
    return row ? toGhost(row) : null;
  }

  async ghostCount(network?: string): Promise<number> {
    const row =
      network === undefined
        ? await this.row<{ n: number }>("SELECT count(*) AS n FROM ghosts")
        : await this.row<{ n: number }>("SELECT count(*) AS n FROM ghosts WHERE network = $1", [network]);
    return row?.n ?? 0;
  }

  // ---- users ----

  async userPut(user: MatrixUserRecord): Promise<void> {
    await this.query(
      `INSERT INTO users (user_id, management_room, meta) VALUES ($1, $2, $3::jsonb)
       ON CONFLICT (user_id) DO UPDATE SET management_room = EXCLUDED.management_room, meta = EXCLUDED.meta`,
      [user.userId, user.managementRoom, toDbJson(user.meta)],
    );
  }

  async userGet(userId: string): Promise<MatrixUserRecord | null> {
    const row = await this.row<UserRow>(
      "SELECT user_id, management_room, meta FROM users WHERE user_id = $1",
      [userId],
    );
    return row ? toUser(row) : null;
  }

  async userByManagementRoom(roomId: string): Promise<MatrixUserRecord | null> {
    const row = await this.row<UserRow>(
      "SELECT user_id, management_room, meta FROM users WHERE management_room = $1 ORDER BY user_id LIMIT 1",
      [roomId],
    );
    return row ? toUser(row) : null;
  }

  // ---- logins ----

  async loginPut(login: LoginRecord): Promise<void> {
    await this.query(
      `INSERT INTO logins (${LOGIN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)
       ON CONFLICT (network, login_id) DO UPDATE SET matrix_user_id = EXCLUDED.matrix_user_id,
         credentials = EXCLUDED.credentials, state = EXCLUDED.state, remote_name = EXCLUDED.remote_name,
         created_at = EXCLUDED.created_at, meta = EXCLUDED.meta`,
      [
        login.network,
        login.loginId,
        login.matrixUserId,
        login.credentials,
        login.state,
        login.remoteName,
        login.createdAt,
        toDbJson(login.meta),
      ],
    );
  }

  async loginGet(network: string, loginId: string): Promise<LoginRecord | null> {
    const row = await this.row<LoginRow>(
      `SELECT ${LOGIN_COLUMNS} FROM logins WHERE network = $1 AND login_id = $2`,
      [network, loginId],
    );
    return row ? toLogin(row) : null;
  }

  async loginsOf(matrixUserId: string, network?: string): Promise<LoginRecord[]> {
    const params: unknown[] = [matrixUserId];
    if (network !== undefined) params.push(network);
    const rows = await this.rows<LoginRow>(
      `SELECT ${LOGIN_COLUMNS} FROM logins WHERE matrix_user_id = $1
       ${network !== undefined ? "AND network = $2" : ""} ORDER BY created_at, login_id`,
      params,
    );
    return rows.map(toLogin);
  }

  async loginsOfNetwork(network: string): Promise<LoginRecord[]> {
    const rows = await this.rows<LoginRow>(
      `SELECT ${LOGIN_COLUMNS} FROM logins WHERE network = $1 ORDER BY created_at, login_id`,
      [network],
    );
    return rows.map(toLogin);
  }

  async loginDelete(network: string, loginId: string): Promise<void> {
    await this.query("DELETE FROM logins WHERE network = $1 AND login_id = $2", [network, loginId]);
  }

  // ---- messages ----

  async messagePut(mapping: MessageMapping): Promise<void> {
    // Upsert by event, and one event per remote part: another event holding this part is replaced
    // (the newest wins). The CTE drops this event's row if it moves to another part; it is read by
    // the INSERT so that it runs first (an unread data-modifying CTE would run after it).
    await this.query(
      `WITH moved AS (
         DELETE FROM messages WHERE event_id = $1
           AND (network, channel_id, receiver, remote_id, part) IS DISTINCT FROM ($2, $3, $4, $5, $6::integer)
         RETURNING 1
       )
       INSERT INTO messages (${MESSAGE_COLUMNS})
       SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9::double precision, $10::jsonb
         FROM (SELECT count(*) FROM moved) AS m
       ON CONFLICT (network, channel_id, receiver, remote_id, part) DO UPDATE SET
         event_id = EXCLUDED.event_id, room_id = EXCLUDED.room_id, sender = EXCLUDED.sender,
         timestamp = EXCLUDED.timestamp, meta = EXCLUDED.meta`,
      [
        mapping.eventId,
        mapping.network,
        mapping.channelId,
        mapping.receiver,
        mapping.remoteId,
        mapping.part,
        mapping.roomId,
        mapping.sender,
        mapping.timestamp,
        jsonOrNull(mapping.meta),
      ],
    );
  }

  async messageByRemote(
    network: string,
    channelId: string,
    receiver: string,
    remoteId: string,
  ): Promise<MessageMapping[]> {
    const rows = await this.rows<MessageRow>(
      `SELECT ${MESSAGE_COLUMNS} FROM messages
        WHERE network = $1 AND channel_id = $2 AND receiver = $3 AND remote_id = $4 ORDER BY part, room_id`,
      [network, channelId, receiver, remoteId],
    );
    return rows.map(toMessage);
  }

  async messageByEvent(eventId: string): Promise<MessageMapping | null> {
    const row = await this.row<MessageRow>(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE event_id = $1`, [
      eventId,
    ]);
    return row ? toMessage(row) : null;
  }

  async messageLatestBefore(roomId: string, timestamp: number): Promise<MessageMapping | null> {
    // Ties on timestamp go to the highest part: the last Matrix event sent for that remote message.
    const row = await this.row<MessageRow>(
      `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE room_id = $1 AND timestamp <= $2
        ORDER BY timestamp DESC, part DESC LIMIT 1`,
      [roomId, timestamp],
    );
    return row ? toMessage(row) : null;
  }

  messagePrune(before: number): Promise<number> {
    return this.count("DELETE FROM messages WHERE timestamp < $1", [before]);
  }

  async messagesWithRemotePrefix(network: string, prefix: string): Promise<MessageMapping[]> {
    const rows = await this.rows<MessageRow>(
      `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE network = $1 AND remote_id LIKE $2
        ORDER BY timestamp, event_id`,
      [network, likePrefix(prefix)],
    );
    return rows.map(toMessage);
  }

  async messageDeleteByEvent(eventId: string): Promise<void> {
    await this.query("DELETE FROM messages WHERE event_id = $1", [eventId]);
  }

  async messageMoveReceiver(network: string, channelId: string, from: string, to: string): Promise<number> {
    if (from === to) return 0;
    return this.transaction(async (client) => {
      // A part already mapped under the new receiver would collide: the moved mapping replaces it,
      // as a newer put would.
      await client.query(
        `DELETE FROM messages t USING messages s
          WHERE t.network = $1 AND t.channel_id = $2 AND t.receiver = $4
            AND s.network = $1 AND s.channel_id = $2 AND s.receiver = $3
            AND s.remote_id = t.remote_id AND s.part = t.part`,
        [network, channelId, from, to],
      );
      const moved = await client.query(
        "UPDATE messages SET receiver = $4 WHERE network = $1 AND channel_id = $2 AND receiver = $3",
        [network, channelId, from, to],
      );
      return moved.rowCount ?? 0;
    });
  }

  // ---- reactions ----

  async reactionPut(reaction: ReactionRecord): Promise<void> {
    // Same shape as messagePut: upsert by the six fields (ON CONFLICT arbitrates concurrent puts, so
    // exactly one record survives), after dropping this event's record if its six fields changed.
    await this.query(
      `WITH moved AS (
         DELETE FROM reactions WHERE event_id = $1
           AND (network, channel_id, receiver, message_id, sender, key) IS DISTINCT FROM ($2, $3, $4, $5, $6, $7)
         RETURNING 1
       )
       INSERT INTO reactions (${REACTION_COLUMNS})
       SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11::double precision
         FROM (SELECT count(*) FROM moved) AS m
       ON CONFLICT (network, channel_id, receiver, message_id, sender, key) DO UPDATE SET
         event_id = EXCLUDED.event_id, room_id = EXCLUDED.room_id, remote_id = EXCLUDED.remote_id,
         meta = EXCLUDED.meta, timestamp = EXCLUDED.timestamp`,
      [
        reaction.eventId,
        reaction.network,
        reaction.channelId,
        reaction.receiver,
        reaction.messageId,
        reaction.sender,
        reaction.key,
        reaction.roomId,
        reaction.remoteId ?? null,
        jsonOrNull(reaction.meta),
        reaction.timestamp,
      ],
    );
  }

  async reactionByEvent(eventId: string): Promise<ReactionRecord | null> {
    const row = await this.row<ReactionRow>(`SELECT ${REACTION_COLUMNS} FROM reactions WHERE event_id = $1`, [
      eventId,
    ]);
    return row ? toReaction(row) : null;
  }

  async reactionGet(
    network: string,
    channelId: string,
    receiver: string,
    messageId: string,
    sender: string,
    key: string,
  ): Promise<ReactionRecord | null> {
    const row = await this.row<ReactionRow>(
      `SELECT ${REACTION_COLUMNS} FROM reactions WHERE network = $1 AND channel_id = $2 AND receiver = $3
          AND message_id = $4 AND sender = $5 AND key = $6`,
      [network, channelId, receiver, messageId, sender, key],
    );
    return row ? toReaction(row) : null;
  }

  async reactionDelete(eventId: string): Promise<void> {
    await this.query("DELETE FROM reactions WHERE event_id = $1", [eventId]);
  }

  // ---- chat members ----

  async chatMemberPut(member: ChatMember): Promise<void> {
    await this.query(
      `INSERT INTO chat_members (${MEMBER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (network, channel_id, receiver, login_id) DO UPDATE SET
         matrix_user_id = EXCLUDED.matrix_user_id, since = EXCLUDED.since`,
      [member.network, member.channelId, member.receiver, member.loginId, member.matrixUserId, member.since],
    );
  }

  async chatMemberDelete(
    network: string,
    channelId: string,
    receiver: string,
    loginId: string,
  ): Promise<void> {
    await this.query(
      "DELETE FROM chat_members WHERE network = $1 AND channel_id = $2 AND receiver = $3 AND login_id = $4",
      [network, channelId, receiver, loginId],
    );
  }

  async chatMembers(network: string, channelId: string, receiver: string): Promise<ChatMember[]> {
    const rows = await this.rows<MemberRow>(
      `SELECT ${MEMBER_COLUMNS} FROM chat_members WHERE network = $1 AND channel_id = $2 AND receiver = $3
        ORDER BY since, login_id`,
      [network, channelId, receiver],
    );
    return rows.map(toMember);
  }

  async chatsOfLogin(network: string, loginId: string): Promise<ChatMember[]> {
    const rows = await this.rows<MemberRow>(
      `SELECT ${MEMBER_COLUMNS} FROM chat_members WHERE network = $1 AND login_id = $2
        ORDER BY since, channel_id, receiver`,
      [network, loginId],
    );
    return rows.map(toMember);
  }

  // ---- media links ----

  async mediaLinkPut(link: MediaLink): Promise<void> {
    await this.query(
      `INSERT INTO media_links (token, mxc, name, mimetype, event_id, created_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (token) DO UPDATE SET mxc = EXCLUDED.mxc, name = EXCLUDED.name,
         mimetype = EXCLUDED.mimetype, event_id = EXCLUDED.event_id, created_at = EXCLUDED.created_at,
         expires_at = EXCLUDED.expires_at`,
      [
        link.token,
        link.mxc,
        link.name,
        link.mimetype,
        link.eventId ?? null,
        link.createdAt,
        link.expiresAt ?? null,
      ],
    );
  }

  async mediaLinkGet(token: string): Promise<MediaLink | null> {
    const row = await this.row<MediaRow>(
      "SELECT token, mxc, name, mimetype, event_id, created_at, expires_at FROM media_links WHERE token = $1",
      [token],
    );
    return row ? toMediaLink(row) : null;
  }

  mediaLinkDeleteByEvent(eventId: string): Promise<number> {
    return this.count("DELETE FROM media_links WHERE event_id = $1", [eventId]);
  }

  mediaLinkPrune(now: number): Promise<number> {
    return this.count("DELETE FROM media_links WHERE expires_at < $1", [now]);
  }

  // ---- kv ----

  async kvGet<T = unknown>(namespace: string, key: string): Promise<T | null> {
    const row = await this.row<{ value: string }>("SELECT value FROM kv WHERE namespace = $1 AND key = $2", [
      toDbText(namespace),
      toDbText(key),
    ]);
    return row ? fromDbJson<T | null>(row.value) : null;
  }

  async kvSet(namespace: string, key: string, value: unknown): Promise<void> {
    await this.query(
      `INSERT INTO kv (namespace, key, value) VALUES ($1, $2, $3::jsonb)
       ON CONFLICT (namespace, key) DO UPDATE SET value = EXCLUDED.value`,
      [toDbText(namespace), toDbText(key), toDbJson(value)],
    );
  }

  async kvDelete(namespace: string, key: string): Promise<void> {
    await this.query("DELETE FROM kv WHERE namespace = $1 AND key = $2", [
      toDbText(namespace),
      toDbText(key),
    ]);
  }

  async kvList<T = unknown>(namespace: string, prefix: string): Promise<Array<{ key: string; value: T }>> {
    const rows = await this.rows<{ key: string; value: string }>(
      "SELECT key, value FROM kv WHERE namespace = $1 AND key LIKE $2",
      [toDbText(namespace), likePrefix(toDbText(prefix))],
    );
    return (
      rows
        .map((r) => ({ key: fromDbText(r.key), value: fromDbJson<T>(r.value) }))
        // JS string order (UTF-16 code units), which neither the "C" collation (code points) nor the
        // substitutions of postgres-text.ts keep.
        .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    );
  }

  kvClear(namespace: string): Promise<number> {
    return this.count("DELETE FROM kv WHERE namespace = $1", [toDbText(namespace)]);
  }

  // ---- schema version (the framework's data layout; the DDL version is postgres-schema.ts's) ----

  async schemaVersion(): Promise<number> {
    const row = await this.row<{ value: number }>("SELECT value FROM switchboard_meta WHERE name = $1", [
      DATA_VERSION,
    ]);
    return row?.value ?? 0;
  }

  async setSchemaVersion(version: number): Promise<void> {
    await this.query(
      `INSERT INTO switchboard_meta (name, value) VALUES ($1, $2)
       ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value`,
      [DATA_VERSION, version],
    );
  }

  // ---- snapshot and load (the SQL is in postgres-dump.ts) ----

  async snapshot(): Promise<StoreSnapshot> {
    const client = await this.connected().connect();
    let ended: Promise<void> | null = null;
    const end = (how: "COMMIT" | "ROLLBACK"): Promise<void> => {
      ended ??= (async () => {
        this.snapshots.delete(snapshot);
        let broken: Error | undefined;
        try {
          await client.query(how);
        } catch (error) {
          broken = error instanceof Error ? error : new Error(String(error));
        } finally {
          client.release(broken);
        }
      })();
      return ended;
    };
    const snapshot: StoreSnapshot = {
      schemaVersion: 0,
      journalSeq: 0,
      records: (async function* () {
        try {
          yield* readTables(client);
        } finally {
          await end("COMMIT");
        }
      })(),
      close: () => end("ROLLBACK"),
    };
    this.snapshots.add(snapshot);
    try {
      // The transaction's first query fixes its snapshot: every table is then read as of this instant,
      // while the bridge goes on writing on its own connections.
      await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      const version = await client.query<{ value: number }>(
        "SELECT value FROM switchboard_meta WHERE name = $1",
        [DATA_VERSION],
      );
      snapshot.schemaVersion = version.rows[0]?.value ?? 0;
      // The sequence is outside the snapshot, but only ever ahead of it: what journalSeq must be.
      snapshot.journalSeq = await journalSeqOf(client);
    } catch (error) {
      await end("ROLLBACK");
      throw error;
    }
    return snapshot;
  }

  async load(dump: StoreDump, options: LoadOptions = {}): Promise<void> {
    await this.transaction(async (client) => {
      // Writers wait until the load commits (readers do not): the emptiness checked is the one loaded into.
      await client.query(`LOCK TABLE ${ALL_TABLES} IN EXCLUSIVE MODE`);
      const held = await countRows(client);
      if (Object.values(held).some((n) => n > 0)) {
        if (!options.replace) {
          const version = await client.query<{ value: number }>(
            "SELECT value FROM switchboard_meta WHERE name = $1",
            [DATA_VERSION],
          );
          throw new StoreNotEmptyError(held, version.rows[0]?.value === INCOMPLETE_LOAD_VERSION);
        }
        await client.query(`TRUNCATE ${ALL_TABLES}`);
      }
      let seq = Math.max(dump.journalSeq, await journalSeqOf(client));
      for await (const batch of batches(dump.records, DUMP_BATCH)) {
        if (batch.collection === "journal") {
          for (const entry of batch.records as JournalEntry[]) seq = Math.max(seq, entry.seq);
        }
        await insertRecords(client, batch.collection, batch.records).catch((error: unknown) => {
          if ((error as { code?: unknown }).code !== "23505") throw error;
          const detail = (error as { detail?: unknown }).detail;
          throw new Error(
            `the dump holds two ${batch.collection} records with the same key${typeof detail === "string" ? ` (${detail})` : ""}`,
            { cause: error },
          );
        });
      }
      await continueJournalAfter(client, seq);
      await client.query(
        `INSERT INTO switchboard_meta (name, value) VALUES ($1, $2)
         ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value`,
        [DATA_VERSION, dump.schemaVersion],
      );
    });
  }
}
