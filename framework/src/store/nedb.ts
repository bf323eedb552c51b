/**
 * The embedded default backend: one NeDB (@seald-io/nedb via nedb-promises) datafile per collection,
 * except the message mappings, which are in LevelDB (see the end of this comment).
 *
 * How NeDB persists, and what that means here (checked against @seald-io/nedb 4.1):
 * - Every insert/update/remove changes the in-memory copy, then appends the changed documents to the
 *   datafile with fs.appendFile; the operation's promise resolves only after that append. So once one
 *   of our write methods resolves, the data is in the file (in the OS page cache: appends are not
 *   fsynced, so a machine crash can lose the last seconds; a process crash cannot).
 * - Compaction rewrites the file with one line per live document (write temp file, fsync, rename,
 *   fsync dir). NeDB's load ends with one; `open()` skips it for a datafile that ends with a newline
 *   (see `skipLoadRewriteIfClean`). We compact periodically and on `close()` (which is what makes a
 *   clean shutdown fully durable).
 * - All operations of one datastore run one at a time, in call order, on NeDB's executor: that is
 *   what makes check-then-insert (unique indexes) and our seq counter race-free.
 * - NeDB rejects field names containing "." or starting with "$". Free-form data (journal payloads,
 *   meta, kv values) routinely has such keys ("m.relates_to"), so it is stored as a JSON string.
 * - Each collection's primary key (room id, user id, event id, ...) is NeDB's `_id`: NeDB always keeps
 *   a unique `_id` index, so a separate unique index would double the dominant load cost (building
 *   AVL trees) for nothing.
 * - NeDB answers a query from at most one index: the last plain-equality field of the query that has
 *   one, and a compound index only if no such field exists. Multi-field lookups therefore go through one
 *   derived string field (JSON of the parts, so no separator can collide) with its own index, and
 *   queries are written so the most selective indexed field wins.
 * - The `_id` index is an ordered tree, and a compound key's JSON begins with its leading parts, so
 *   "every document whose key starts with these parts" is a range over `_id` (see `partsRange`):
 *   listings by a leading part (a kv namespace, a login's chats) cost log n plus the matches, with no
 *   extra index to maintain on every write.
 *
 * Message mappings are the exception: they live in LevelDB (`messages.level`, see nedb-messages.ts),
 * not NeDB. NeDB holds every document in memory and reads them all at open, and mappings are the
 * collection that grows with history (one per bridged event), so with them in NeDB start time and
 * memory grew with history. LevelDB opens in the same time whatever it holds. A `messages.db` left
 * by an older version is imported on open.
 */
import { appendFileSync } from "node:fs";
import { mkdir, open as openFile } from "node:fs/promises";
import path from "node:path";
import nedbStorage from "@seald-io/nedb/lib/storage.js";
import Datastore from "nedb-promises";
import { INCOMPLETE_LOAD_VERSION, StoreNotEmptyError, batches } from "./dump.js";
import { MessageLevel } from "./nedb-messages.js";
import type { STORE_COLLECTIONS } from "./dump.js";
import type {
  ChatMember,
  DumpRecord,
  GhostRecord,
  JournalEntry,
  JournalStream,
  KvEntry,
  LinkState,
  LoadOptions,
  LoginRecord,
  MatrixUserRecord,
  MediaLink,
  MessageMapping,
  ReactionRecord,
  RoomLink,
  Store,
  StoreCollection,
  StoreDump,
  StoreRecordTypes,
  StoreSnapshot,
} from "./types.js";

export type NedbStoreOptions = ({ directory: string } | { inMemory: true }) & {
  /** How often to rewrite the append-only datafiles; 0 disables. Default 10 minutes. */
  compactionIntervalMs?: number;
  /** Periodic compaction runs in the background, so its failures can only be reported here. */
  onCompactionError?: (collection: string, error: unknown) => void;
};

const COLLECTIONS = [
  "journal",
  "links",
  "ghosts",
  "users",
  "logins",
  "messages",
  "reactions",
  "members",
  "media",
  "kv",
] as const;
type Collection = (typeof COLLECTIONS)[number];
// A dump names collections as this store does: one datafile per collection of the contract.
const _dumpOrder: typeof STORE_COLLECTIONS = COLLECTIONS;

/** The collections kept in NeDB: all but the messages (see the header). */
type NedbCollection = Exclude<Collection, "messages">;
const NEDB_COLLECTIONS = COLLECTIONS.filter((name): name is NedbCollection => name !== "messages");

/** Documents per insert when loading a dump: one append to the datafile each. */
const LOAD_BATCH = 10_000;

const DEFAULT_COMPACTION_INTERVAL_MS = 10 * 60 * 1000;

interface IndexSpec {
  fieldName: string;
  unique?: boolean;
  sparse?: boolean;
}

/*
 * Secondary indexes (`_id` is implicit). Low-cardinality fields are indexed only where cheap: NeDB keeps
 * all documents with one key in one array, and every update of such a document filters that array.
 * - ghosts.network is deliberately NOT indexed: with 100k ghosts it made each ghostPut ~3x slower
 *   (O(25k) per update) and sped ghostCount(network) up not at all, since a count visits every match.
 * - links/logins by network stay indexed: those collections are small and list them by network.
 * - `_pending` is sparse, so done journal entries drop out of it and journalPending visits only open ones.
 * - kv has none: its `_id` (namespace, key) already orders a namespace's entries together, which is all
 *   kvList and kvClear need; a `namespace` index would be one shared key per namespace, and a login's
 *   protocol state (thousands of entries, several writes per message) would pay O(entries) per write.
 * - members are found by chat through `_chatKey` and by login through their `_id` (login first).
 */
const INDEXES: Record<NedbCollection, IndexSpec[]> = {
  journal: [
    { fieldName: "_pending", sparse: true },
    { fieldName: "createdAt", sparse: true },
  ],
  links: [{ fieldName: "_channelKey" }, { fieldName: "network" }, { fieldName: "createdBy" }],
  ghosts: [{ fieldName: "_remoteKey", unique: true }],
  users: [{ fieldName: "managementRoom", sparse: true }],
  logins: [{ fieldName: "matrixUserId" }, { fieldName: "network" }],
  reactions: [{ fieldName: "_targetKey", unique: true }],
  members: [{ fieldName: "_chatKey" }],
  media: [
    { fieldName: "eventId", sparse: true },
    { fieldName: "expiresAt", sparse: true },
  ],
  kv: [],
};

/*
 * Stored shapes. `_id` is the record's primary key (dropped from the fields it duplicates); the other
 * underscore fields are derived lookup keys. None of them leave the store: every read builds the public
 * record field by field.
 */
interface StoredJournal {
  /** compoundKey(stream, key) */
  _id: string;
  stream: JournalStream;
  key: string;
  seq: number;
  payload: string;
  done: boolean;
  createdAt: number;
  /**
   * pendingKey(stream, seq) while not done, absent once done: `journalPending` reads a range of this
   * sparse index. One key per entry, because NeDB keeps the documents of one key in an array and
   * removing one from a shared key would cost every open entry (quadratic under bursts).
   */
  _pending?: string;
}

/**
 * Highest seq ever handed out, kept as a journal document so pruning every entry cannot make seq
 * restart lower after a restart. Matches none of the entry queries (no stream, done or createdAt).
 */
interface StoredSeqWatermark {
  _id: typeof SEQ_WATERMARK_KEY;
  seq: number;
}
const SEQ_WATERMARK_KEY = "\u0000seq-watermark";

type StoredLink = Omit<RoomLink, "roomId" | "meta"> & { _id: string; meta: string; _channelKey: string };
type StoredGhost = Omit<GhostRecord, "userId"> & { _id: string; _remoteKey: string };
/** `managementRoom` is omitted rather than null so the sparse index holds only real rooms. */
type StoredUser = { _id: string; managementRoom?: string; meta: string };
/** `_id` is compoundKey(network, loginId). */
type StoredLogin = Omit<LoginRecord, "meta"> & { _id: string; meta: string };
/** `_id` is the m.reaction event id; `_targetKey` is `reactionKey`, the six-field identity. */
type StoredReaction = Omit<ReactionRecord, "eventId" | "meta"> & {
  _id: string;
  meta?: string;
  _targetKey: string;
};
/** `_id` is compoundKey(network, loginId, channelId, receiver): login first, for chatsOfLogin's range. */
type StoredMember = ChatMember & { _id: string; _chatKey: string };
/** `_id` is the token. */
type StoredMediaLink = Omit<MediaLink, "token"> & { _id: string };
interface StoredKv {
  /** compoundKey(namespace, key) */
  _id: string;
  namespace: string;
  key: string;
  value: string;
}

type Db = Datastore<{ _id: string }>;

function pendingKey(stream: JournalStream, seq: number): string {
  return `${stream}\u0000${String(seq).padStart(16, "0")}`;
}

/**
 * NeDB appends each write with fs.promises.appendFile: open, write and close, three thread-pool
 * round trips per write, which dominated the bridge's cost per event. A synchronous append writes
 * the same bytes in the same order (and, like before, without fsync) in a fraction of the time.
 * The module is imported, not required by path: the bundle (bin/build.js) holds its own copy of
 * NeDB, and only an import reaches the copy that NeDB itself uses.
 */
nedbStorage.appendFileAsync = async (file, data, options) => appendFileSync(file, data, options);

/** Members @seald-io/nedb has that nedb-promises' typings do not expose (its Proxy forwards them). */
interface NedbInternals {
  compactDatafileAsync(): Promise<void>;
  /** Rewrites the datafile from memory: what compaction does, and what NeDB's load ends with. */
  persistence: { persistCachedDatabaseAsync(): Promise<void> };
  /** The live documents themselves (never changed in place: an update swaps in a modified copy). */
  getAllData(): unknown[];
  indexes: Record<string, { unique: boolean; sparse: boolean }>;
}

/**
 * NeDB's load ends by rewriting the whole datafile (a third of an open's CPU with 100k ghosts).
 * That rewrite is what drops a line cut short by a machine crash, which the next append would
 * otherwise join and so lose; a datafile that ends with a newline has no such line, and its
 * older versions of documents only cost disk until the periodic compaction or the one at close.
 * So the load's rewrite is skipped exactly when the file ends cleanly.
 */
async function skipLoadRewriteIfClean(db: Db, file: string): Promise<void> {
  let endsCleanly = true;
  try {
    const handle = await openFile(file, "r");
    try {
      const { size } = await handle.stat();
      if (size > 0) {
        const last = Buffer.alloc(1);
        await handle.read(last, 0, 1, size - 1);
        endsCleanly = last[0] === 0x0a;
      }
    } finally {
      await handle.close();
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  if (!endsCleanly) return;
  const persistence = (db as unknown as NedbInternals).persistence;
  // An own property shadows the prototype's method for the load's call alone, then goes away.
  persistence.persistCachedDatabaseAsync = async function (this: typeof persistence) {
    delete (this as Partial<typeof persistence>).persistCachedDatabaseAsync;
  };
}

/**
 * Makes the datastore's indexes exactly `specs`. NeDB records index definitions in the datafile and
 * recreates them on load, so an index dropped or changed in this file would otherwise live on in every
 * existing store (costing load time and write time) and a changed unique/sparse flag would be ignored.
 */
async function syncIndexes(db: Db, specs: IndexSpec[]): Promise<void> {
  const existing = (db as unknown as NedbInternals).indexes;
  for (const [fieldName, index] of Object.entries(existing)) {
    if (fieldName === "_id") continue;
    const spec = specs.find((s) => s.fieldName === fieldName);
    if (!spec || index.unique !== (spec.unique ?? false) || index.sparse !== (spec.sparse ?? false)) {
      await db.removeIndex(fieldName);
    }
  }
  // For an index the datafile already defined, ensureIndex returns at once; only new ones are built.
  for (const spec of specs) await db.ensureIndex({ ...spec });
}

const compoundKey = (...parts: string[]): string => JSON.stringify(parts);

/**
 * `_id` bounds of every compound key whose leading parts are `parts`. After them the JSON always goes
 * on with `,"`, so the range ends just before `,#` and cannot reach a key whose last leading part
 * merely starts with the same text.
 */
function partsRange(...parts: string[]): { $gte: string; $lt: string } {
  const head = compoundKey(...parts).slice(0, -1);
  return { $gte: `${head},"`, $lt: `${head},#` };
}

/**
 * `_id` bounds of the compound keys (namespace, key) whose key starts with `prefix`. JSON escapes
 * character by character, so a key starts with the prefix exactly when its JSON does. The upper bound
 * raises the last code unit that is not U+FFFF (trailing U+FFFFs cannot be raised, and anything at or
 * above them up to that bound still starts with them), so the range holds those keys and no others.
 */
function keyPrefixRange(namespace: string, prefix: string): { $gte: string; $lt: string } {
  const text = `${partsRange(namespace).$gte}${JSON.stringify(prefix).slice(1, -1)}`;
  let end = text.length - 1;
  while (text.charCodeAt(end) === 0xffff) end--;
  return { $gte: text, $lt: text.slice(0, end) + String.fromCharCode(text.charCodeAt(end) + 1) };
}

type ReactionTarget = Pick<
  ReactionRecord,
  "network" | "channelId" | "receiver" | "messageId" | "sender" | "key"
>;

const reactionKey = (r: ReactionTarget): string =>
  compoundKey(r.network, r.channelId, r.receiver, r.messageId, r.sender, r.key);

/** The store's own kv namespace: the framework names its namespaces in words, none starts with NUL. */
const STORE_NAMESPACE = "\u0000store";
const SCHEMA_VERSION_KEY = "schemaVersion";

/** JSON text instead of the value itself: see the NeDB key restrictions in the header. */
const encode = (value: unknown): string => JSON.stringify(value === undefined ? null : value);
const decode = <T>(text: string): T => JSON.parse(text) as T;

function isUniqueViolation(error: unknown): boolean {
  return (
    typeof error === "object" &&
    error !== null &&
    (error as { errorType?: unknown }).errorType === "uniqueViolated"
  );
}

function storedJournal(e: JournalEntry): StoredJournal {
  const doc: StoredJournal = {
    _id: compoundKey(e.stream, e.key),
    stream: e.stream,
    key: e.key,
    seq: e.seq,
    payload: encode(e.payload),
    done: e.done,
    createdAt: e.createdAt,
  };
  if (!e.done) doc._pending = pendingKey(e.stream, e.seq);
  return doc;
}

function toJournal(d: StoredJournal): JournalEntry {
  return {
    stream: d.stream,
    key: d.key,
    seq: d.seq,
    payload: decode<unknown>(d.payload),
    done: d.done,
    createdAt: d.createdAt,
  };
}

function storedLink(link: RoomLink): StoredLink {
  return {
    _id: link.roomId,
    network: link.network,
    channelId: link.channelId,
    receiver: link.receiver,
    kind: link.kind,
    state: link.state,
    createdBy: link.createdBy,
    createdAt: link.createdAt,
    meta: encode(link.meta),
    _channelKey: compoundKey(link.network, link.channelId),
  };
}

function toLink(d: StoredLink): RoomLink {
  return {
    roomId: d._id,
    network: d.network,
    channelId: d.channelId,
    receiver: d.receiver,
    kind: d.kind,
    state: d.state,
    createdBy: d.createdBy,
    createdAt: d.createdAt,
    meta: decode<Record<string, unknown>>(d.meta),
  };
}

function storedGhost(ghost: GhostRecord): StoredGhost {
  return {
    _id: ghost.userId,
    network: ghost.network,
    remoteId: ghost.remoteId,
    displayname: ghost.displayname,
    avatarUrl: ghost.avatarUrl,
    avatarKey: ghost.avatarKey ?? null,
    registered: ghost.registered,
    _remoteKey: compoundKey(ghost.network, ghost.remoteId),
  };
}

function toGhost(d: StoredGhost): GhostRecord {
  return {
    userId: d._id,
    network: d.network,
    remoteId: d.remoteId,
    displayname: d.displayname,
    avatarUrl: d.avatarUrl,
    avatarKey: d.avatarKey ?? null,
    registered: d.registered,
  };
}

function storedUser(user: MatrixUserRecord): StoredUser {
  const doc: StoredUser = { _id: user.userId, meta: encode(user.meta) };
  if (user.managementRoom !== null) doc.managementRoom = user.managementRoom;
  return doc;
}

function toUser(d: StoredUser): MatrixUserRecord {
  return {
    userId: d._id,
    managementRoom: d.managementRoom ?? null,
    meta: decode<Record<string, unknown>>(d.meta),
  };
}

function storedLogin(login: LoginRecord): StoredLogin {
  return {
    _id: compoundKey(login.network, login.loginId),
    network: login.network,
    matrixUserId: login.matrixUserId,
    loginId: login.loginId,
    credentials: login.credentials,
    state: login.state,
    remoteName: login.remoteName,
    createdAt: login.createdAt,
    meta: encode(login.meta),
  };
}

function toLogin(d: StoredLogin): LoginRecord {
  return {
    network: d.network,
    matrixUserId: d.matrixUserId,
    loginId: d.loginId,
    credentials: d.credentials,
    state: d.state,
    remoteName: d.remoteName,
    createdAt: d.createdAt,
    meta: decode<Record<string, unknown>>(d.meta),
  };
}

function toReaction(d: StoredReaction): ReactionRecord {
  const reaction: ReactionRecord = {
    network: d.network,
    channelId: d.channelId,
    receiver: d.receiver,
    messageId: d.messageId,
    sender: d.sender,
    key: d.key,
    roomId: d.roomId,
    eventId: d._id,
    timestamp: d.timestamp,
  };
  if (d.remoteId !== undefined) reaction.remoteId = d.remoteId;
  if (d.meta !== undefined) reaction.meta = decode<Record<string, unknown>>(d.meta);
  return reaction;
}

function storedReaction(r: ReactionRecord): StoredReaction {
  const doc: StoredReaction = {
    _id: r.eventId,
    network: r.network,
    channelId: r.channelId,
    receiver: r.receiver,
    messageId: r.messageId,
    sender: r.sender,
    key: r.key,
    roomId: r.roomId,
    timestamp: r.timestamp,
    _targetKey: reactionKey(r),
  };
  if (r.remoteId !== undefined) doc.remoteId = r.remoteId;
  if (r.meta !== undefined) doc.meta = encode(r.meta);
  return doc;
}

function storedMember(member: ChatMember): StoredMember {
  return {
    _id: compoundKey(member.network, member.loginId, member.channelId, member.receiver),
    network: member.network,
    channelId: member.channelId,
    receiver: member.receiver,
    loginId: member.loginId,
    matrixUserId: member.matrixUserId,
    since: member.since,
    _chatKey: compoundKey(member.network, member.channelId, member.receiver),
  };
}

function storedMediaLink(link: MediaLink): StoredMediaLink {
  const doc: StoredMediaLink = {
    _id: link.token,
    mxc: link.mxc,
    name: link.name,
    mimetype: link.mimetype,
    createdAt: link.createdAt,
  };
  if (link.eventId !== undefined) doc.eventId = link.eventId;
  if (link.expiresAt !== undefined) doc.expiresAt = link.expiresAt;
  return doc;
}

function toMediaLink(d: StoredMediaLink): MediaLink {
  const link: MediaLink = {
    token: d._id,
    mxc: d.mxc,
    name: d.name,
    mimetype: d.mimetype,
    createdAt: d.createdAt,
  };
  if (d.eventId !== undefined) link.eventId = d.eventId;
  if (d.expiresAt !== undefined) link.expiresAt = d.expiresAt;
  return link;
}

function storedKv(namespace: string, key: string, value: unknown): StoredKv {
  return { _id: compoundKey(namespace, key), namespace, key, value: encode(value) };
}

function toMember(d: StoredMember): ChatMember {
  return {
    network: d.network,
    channelId: d.channelId,
    receiver: d.receiver,
    loginId: d.loginId,
    matrixUserId: d.matrixUserId,
    since: d.since,
  };
}

export class NedbStore implements Store {
  private dbs: Record<NedbCollection, Db> | null = null;
  /** The message mappings (LevelDB); set and cleared together with `dbs`. */
  private messages: MessageLevel | null = null;
  private opening: Promise<void> | null = null;
  private closing: Promise<void> | null = null;
  private compactionTimer: NodeJS.Timeout | null = null;
  private compacting: Promise<void> | null = null;
  /** Last seq handed out; assigned synchronously so concurrent appends never share one. */
  private lastSeq = 0;
  /** Seq last written to the watermark document (avoids rewriting it on every prune). */
  private watermark = 0;
  /**
   * Tail of the reaction writes: a put is a remove (whoever holds the same six fields) plus an upsert,
   * and two of them interleaved on NeDB's executor would trip the unique index.
   */
  private reactionWrites: Promise<void> = Promise.resolve();

  constructor(private readonly options: NedbStoreOptions) {}

  open(): Promise<void> {
    // Concurrent open() calls share one load instead of racing two datastores onto the same files,
    // and an open() right after close() waits until the old datastores have let go of them.
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
    const directory = "directory" in this.options ? this.options.directory : null;
    if (directory !== null) await mkdir(directory, { recursive: true });

    const entries = NEDB_COLLECTIONS.map((name): [NedbCollection, Db] => [
      name,
      directory === null
        ? Datastore.create({ inMemoryOnly: true })
        : Datastore.create({ filename: path.join(directory, `${name}.db`) }),
    ]);
    const dbs = Object.fromEntries(entries) as Record<NedbCollection, Db>;

    const [level, loaded] = await Promise.allSettled([
      MessageLevel.open(directory),
      (async () => {
        if (directory !== null) {
          await Promise.all(
            entries.map(([name, db]) => skipLoadRewriteIfClean(db, path.join(directory, `${name}.db`))),
          );
        }
        await Promise.all(entries.map(([, db]) => db.load()));
        await Promise.all(entries.map(([name, db]) => syncIndexes(db, INDEXES[name])));
        await this.loadJournalState(dbs.journal);
      })(),
    ]);
    if (level.status === "rejected" || loaded.status === "rejected") {
      // LevelDB locks its directory until closed: a failed open must let go of it.
      if (level.status === "fulfilled") await level.value.close();
      throw level.status === "rejected" ? level.reason : (loaded as PromiseRejectedResult).reason;
    }

    this.dbs = dbs;
    this.messages = level.value;

    const interval = this.options.compactionIntervalMs ?? DEFAULT_COMPACTION_INTERVAL_MS;
    if (directory !== null && interval > 0) {
      this.compactionTimer = setInterval(() => {
        // A run still going (huge files, slow disk) is not doubled up.
        this.compacting ??= this.compactAll().finally(() => (this.compacting = null));
      }, interval);
      // Housekeeping must never be what keeps the process alive.
      this.compactionTimer.unref();
    }
  }

  private async loadJournalState(journal: Db): Promise<void> {
    const newest = await journal
      .find<{ seq?: number }>({ seq: { $exists: true } })
      .sort({ seq: -1 })
      .limit(1);
    this.lastSeq = newest[0]?.seq ?? 0;
    // Entries written before pending keys were per entry carry the bare stream name.
    for (const old of await journal.find<StoredJournal>({ _pending: { $in: ["matrix", "remote"] } })) {
      await journal.update({ _id: old._id }, { $set: { _pending: pendingKey(old.stream, old.seq) } });
    }
    const mark = await journal.findOne<StoredSeqWatermark>({ _id: SEQ_WATERMARK_KEY });
    this.watermark = mark?.seq ?? 0;
  }

  close(): Promise<void> {
    // Taken synchronously so an open() issued right after this call starts a new life, not this one.
    const opening = this.opening;
    this.opening = null;
    const previous = this.closing;
    const closing = this.doClose(previous, opening);
    this.closing = closing;
    return closing;
  }

  private async doClose(previous: Promise<void> | null, opening: Promise<void> | null): Promise<void> {
    await previous?.catch(() => undefined);
    await opening?.catch(() => undefined);
    if (this.compactionTimer) clearInterval(this.compactionTimer);
    this.compactionTimer = null;
    const dbs = this.dbs;
    const messages = this.messages;
    if (!dbs || !messages) return;
    // Detach first so a periodic run in progress stops after its current file, then let it finish:
    // nothing may write to the files once close() has resolved.
    this.dbs = null;
    this.messages = null;
    await this.compacting;
    // Compaction is queued behind every pending operation, so awaiting it also drains in-flight writes;
    // and unlike appends it fsyncs, so a clean shutdown loses nothing even if the machine dies next.
    // MessageLevel.close likewise drains its writes and syncs LevelDB's log.
    await Promise.all([
      ...NEDB_COLLECTIONS.map((name) => (dbs[name] as unknown as NedbInternals).compactDatafileAsync()),
      messages.close(),
    ]);
  }

  /** Rewrites every datafile; errors go to onCompactionError because nobody awaits this. */
  private async compactAll(): Promise<void> {
    const dbs = this.dbs;
    for (const name of NEDB_COLLECTIONS) {
      if (!dbs || this.dbs !== dbs) return;
      try {
        await (dbs[name] as unknown as NedbInternals).compactDatafileAsync();
      } catch (error) {
        if (this.options.onCompactionError) this.options.onCompactionError(name, error);
        else process.emitWarning(`NeDB compaction of ${name} failed: ${String(error)}`);
      }
    }
  }

  private db(name: NedbCollection): Db {
    if (!this.dbs) throw new Error("NedbStore is not open");
    return this.dbs[name];
  }

  private messageLevel(): MessageLevel {
    if (!this.messages) throw new Error("NedbStore is not open");
    return this.messages;
  }

  // ---- journal ----

  async journalAppend(stream: JournalStream, key: string, payload: unknown): Promise<boolean> {
    const db = this.db("journal");
    const doc: StoredJournal = {
      _id: compoundKey(stream, key),
      stream,
      key,
      // Taken before the insert is queued; NeDB runs inserts in call order, so seq follows append order.
      // A duplicate burns its number: seq only has to increase, not be dense.
      seq: ++this.lastSeq,
      payload: encode(payload),
      done: false,
      createdAt: Date.now(),
      _pending: pendingKey(stream, this.lastSeq),
    };
    try {
      // The unique _id index is checked inside NeDB's serial executor, so of two concurrent
      // appends with the same key exactly one is inserted.
      await db.insert(doc);
      return true;
    } catch (error) {
      if (isUniqueViolation(error)) return false;
      throw error;
    }
  }

  async journalGet(stream: JournalStream, key: string): Promise<JournalEntry | null> {
    const doc = await this.db("journal").findOne<StoredJournal>({ _id: compoundKey(stream, key) });
    return doc ? toJournal(doc) : null;
  }

  async journalPending(stream: JournalStream): Promise<JournalEntry[]> {
    const docs = await this.db("journal")
      .find<StoredJournal>({ _pending: { $gte: `${stream}\u0000`, $lt: `${stream}\u0001` } })
      .sort({ seq: 1 });
    return docs.map(toJournal);
  }

  async journalRecent(stream: JournalStream, since: number): Promise<JournalEntry[]> {
    const docs = await this.db("journal")
      .find<StoredJournal>({ createdAt: { $gte: since }, stream })
      .sort({ seq: 1 });
    return docs.map(toJournal);
  }

  async journalMarkDone(stream: JournalStream, key: string): Promise<void> {
    await this.db("journal").update(
      { _id: compoundKey(stream, key) },
      { $set: { done: true }, $unset: { _pending: true } },
    );
  }

  async journalPrune(before: number): Promise<number> {
    const db = this.db("journal");
    // Record the high-water mark before deleting: if the newest entries go, open() still continues above them.
    if (this.lastSeq > this.watermark) {
      const seq = this.lastSeq;
      const mark: StoredSeqWatermark = { _id: SEQ_WATERMARK_KEY, seq };
      await db.update({ _id: SEQ_WATERMARK_KEY }, mark, { upsert: true });
      this.watermark = Math.max(this.watermark, seq);
    }
    return db.remove({ createdAt: { $lt: before }, done: true }, { multi: true });
  }

  // ---- links ----

  async linkPut(link: RoomLink): Promise<void> {
    const doc = storedLink(link);
    await this.db("links").update({ _id: doc._id }, doc, { upsert: true });
  }

  async linkByRoom(roomId: string): Promise<RoomLink | null> {
    const doc = await this.db("links").findOne<StoredLink>({ _id: roomId });
    return doc ? toLink(doc) : null;
  }

  async linksByChannel(network: string, channelId: string, receiver?: string): Promise<RoomLink[]> {
    const query: Record<string, unknown> = { _channelKey: compoundKey(network, channelId) };
    if (receiver !== undefined) query.receiver = receiver;
    const docs = await this.db("links").find<StoredLink>(query).sort({ createdAt: 1, _id: 1 });
    return docs.map(toLink);
  }

  async linkDelete(roomId: string): Promise<void> {
    await this.db("links").remove({ _id: roomId }, { multi: false });
  }

  async linkList(filter?: { network?: string; createdBy?: string; state?: LinkState }): Promise<RoomLink[]> {
    // Key order matters: NeDB uses the last indexed equality field, and createdBy is the most selective.
    const query: Record<string, unknown> = {};
    if (filter?.state !== undefined) query.state = filter.state;
    if (filter?.network !== undefined) query.network = filter.network;
    if (filter?.createdBy !== undefined) query.createdBy = filter.createdBy;
    const docs = await this.db("links").find<StoredLink>(query).sort({ createdAt: 1, _id: 1 });
    return docs.map(toLink);
  }

  linkCount(network?: string): Promise<number> {
    return this.db("links").count(network === undefined ? {} : { network });
  }

  // ---- ghosts ----

  async ghostPut(ghost: GhostRecord): Promise<void> {
    const doc = storedGhost(ghost);
    await this.db("ghosts").update({ _id: doc._id }, doc, { upsert: true });
  }

  async ghostGet(userId: string): Promise<GhostRecord | null> {
    const doc = await this.db("ghosts").findOne<StoredGhost>({ _id: userId });
    return doc ? toGhost(doc) : null;
  }

  async ghostByRemote(network: string, remoteId: string): Promise<GhostRecord | null> {
    const doc = await this.db("ghosts").findOne<StoredGhost>({ _remoteKey: compoundKey(network, remoteId) });
    return doc ? toGhost(doc) : null;
  }

  ghostCount(network?: string): Promise<number> {
    return this.db("ghosts").count(network === undefined ? {} : { network });
  }

  // ---- users ----

  async userPut(user: MatrixUserRecord): Promise<void> {
    const doc = storedUser(user);
    await this.db("users").update({ _id: doc._id }, doc, { upsert: true });
  }

  async userGet(userId: string): Promise<MatrixUserRecord | null> {
    const doc = await this.db("users").findOne<StoredUser>({ _id: userId });
    return doc ? toUser(doc) : null;
  }

  async userByManagementRoom(roomId: string): Promise<MatrixUserRecord | null> {
    const doc = await this.db("users").findOne<StoredUser>({ managementRoom: roomId });
    return doc ? toUser(doc) : null;
  }

  // ---- logins ----

  async loginPut(login: LoginRecord): Promise<void> {
    const doc = storedLogin(login);
    await this.db("logins").update({ _id: doc._id }, doc, { upsert: true });
  }

  async loginGet(network: string, loginId: string): Promise<LoginRecord | null> {
    const doc = await this.db("logins").findOne<StoredLogin>({ _id: compoundKey(network, loginId) });
    return doc ? toLogin(doc) : null;
  }

  async loginsOf(matrixUserId: string, network?: string): Promise<LoginRecord[]> {
    // matrixUserId last so NeDB picks its (selective) index over network's.
    const query: Record<string, unknown> = {};
    if (network !== undefined) query.network = network;
    query.matrixUserId = matrixUserId;
    const docs = await this.db("logins").find<StoredLogin>(query).sort({ createdAt: 1, loginId: 1 });
    return docs.map(toLogin);
  }

  async loginsOfNetwork(network: string): Promise<LoginRecord[]> {
    const docs = await this.db("logins").find<StoredLogin>({ network }).sort({ createdAt: 1, loginId: 1 });
    return docs.map(toLogin);
  }

  async loginDelete(network: string, loginId: string): Promise<void> {
    await this.db("logins").remove({ _id: compoundKey(network, loginId) }, { multi: false });
  }

  // ---- messages ----

  async messagePut(mapping: MessageMapping): Promise<void> {
    await this.messageLevel().put(mapping);
  }

  async messageByRemote(
    network: string,
    channelId: string,
    receiver: string,
    remoteId: string,
  ): Promise<MessageMapping[]> {
    return this.messageLevel().byRemote(network, channelId, receiver, remoteId);
  }

  async messageByEvent(eventId: string): Promise<MessageMapping | null> {
    return this.messageLevel().byEvent(eventId);
  }

  async messageLatestBefore(roomId: string, timestamp: number): Promise<MessageMapping | null> {
    return this.messageLevel().latestBefore(roomId, timestamp);
  }

  async messagePrune(before: number): Promise<number> {
    return this.messageLevel().prune(before);
  }

  async messagesWithRemotePrefix(network: string, prefix: string): Promise<MessageMapping[]> {
    return this.messageLevel().withRemotePrefix(network, prefix);
  }

  async messageDeleteByEvent(eventId: string): Promise<void> {
    await this.messageLevel().deleteByEvent(eventId);
  }

  async messageMoveReceiver(network: string, channelId: string, from: string, to: string): Promise<number> {
    return this.messageLevel().moveReceiver(network, channelId, from, to);
  }

  // ---- reactions ----

  reactionPut(reaction: ReactionRecord): Promise<void> {
    const doc = storedReaction(reaction);
    const write = this.reactionWrites.then(async () => {
      const db = this.db("reactions");
      await db.remove({ _targetKey: doc._targetKey, _id: { $ne: doc._id } }, { multi: true });
      await db.update({ _id: doc._id }, doc, { upsert: true });
    });
    this.reactionWrites = write.catch(() => undefined);
    return write;
  }

  async reactionByEvent(eventId: string): Promise<ReactionRecord | null> {
    const doc = await this.db("reactions").findOne<StoredReaction>({ _id: eventId });
    return doc ? toReaction(doc) : null;
  }

  async reactionGet(
    network: string,
    channelId: string,
    receiver: string,
    messageId: string,
    sender: string,
    key: string,
  ): Promise<ReactionRecord | null> {
    const _targetKey = reactionKey({ network, channelId, receiver, messageId, sender, key });
    const doc = await this.db("reactions").findOne<StoredReaction>({ _targetKey });
    return doc ? toReaction(doc) : null;
  }

  async reactionDelete(eventId: string): Promise<void> {
    await this.db("reactions").remove({ _id: eventId }, { multi: false });
  }

  // ---- media links ----

  async mediaLinkPut(link: MediaLink): Promise<void> {
    const doc = storedMediaLink(link);
    await this.db("media").update({ _id: doc._id }, doc, { upsert: true });
  }

  async mediaLinkGet(token: string): Promise<MediaLink | null> {
    const d = await this.db("media").findOne<StoredMediaLink>({ _id: token });
    return d ? toMediaLink(d) : null;
  }

  mediaLinkDeleteByEvent(eventId: string): Promise<number> {
    return this.db("media").remove({ eventId }, { multi: true });
  }

  mediaLinkPrune(now: number): Promise<number> {
    return this.db("media").remove({ expiresAt: { $lt: now } }, { multi: true });
  }

  // ---- chat members ----

  async chatMemberPut(member: ChatMember): Promise<void> {
    const doc = storedMember(member);
    await this.db("members").update({ _id: doc._id }, doc, { upsert: true });
  }

  async chatMemberDelete(
    network: string,
    channelId: string,
    receiver: string,
    loginId: string,
  ): Promise<void> {
    await this.db("members").remove(
      { _id: compoundKey(network, loginId, channelId, receiver) },
      { multi: false },
    );
  }

  async chatMembers(network: string, channelId: string, receiver: string): Promise<ChatMember[]> {
    const docs = await this.db("members")
      .find<StoredMember>({ _chatKey: compoundKey(network, channelId, receiver) })
      .sort({ since: 1, loginId: 1 });
    return docs.map(toMember);
  }

  async chatsOfLogin(network: string, loginId: string): Promise<ChatMember[]> {
    const docs = await this.db("members")
      .find<StoredMember>({ _id: partsRange(network, loginId) })
      .sort({ since: 1, _id: 1 });
    return docs.map(toMember);
  }

  // ---- kv ----

  async kvGet<T = unknown>(namespace: string, key: string): Promise<T | null> {
    const doc = await this.db("kv").findOne<StoredKv>({ _id: compoundKey(namespace, key) });
    return doc ? decode<T | null>(doc.value) : null;
  }

  async kvSet(namespace: string, key: string, value: unknown): Promise<void> {
    const doc = storedKv(namespace, key, value);
    await this.db("kv").update({ _id: doc._id }, doc, { upsert: true });
  }

  async kvDelete(namespace: string, key: string): Promise<void> {
    await this.db("kv").remove({ _id: compoundKey(namespace, key) }, { multi: false });
  }

  async kvList<T = unknown>(namespace: string, prefix: string): Promise<Array<{ key: string; value: T }>> {
    const docs = await this.db("kv").find<StoredKv>({ _id: keyPrefixRange(namespace, prefix) });
    return (
      docs
        .map((d) => ({ key: d.key, value: decode<T>(d.value) }))
        // Not the index's order: escaping (`"`, `\`, control characters) reorders some keys.
        .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    );
  }

  kvClear(namespace: string): Promise<number> {
    return this.db("kv").remove({ _id: partsRange(namespace) }, { multi: true });
  }

  // ---- schema version ----

  async schemaVersion(): Promise<number> {
    return (await this.kvGet<number>(STORE_NAMESPACE, SCHEMA_VERSION_KEY)) ?? 0;
  }

  async setSchemaVersion(version: number): Promise<void> {
    await this.kvSet(STORE_NAMESPACE, SCHEMA_VERSION_KEY, version);
  }

  // ---- snapshot and load ----

  snapshot(): Promise<StoreSnapshot> {
    let dbs: Record<NedbCollection, Db>;
    let messages: MessageLevel;
    try {
      dbs = this.openDbs();
      messages = this.messageLevel();
    } catch (error) {
      return Promise.reject(error);
    }
    // One synchronous step, so all ten collections are taken at the same instant while the bridge goes
    // on writing: NeDB applies each operation to its in-memory documents synchronously (the datafile
    // append follows), and never changes a document in place, so these arrays stay as they are; the
    // messages are a LevelDB snapshot, taken synchronously too and read from disk as the reader goes.
    // Nothing is written or paused beyond this step, however long the reader then takes.
    const taken = NEDB_COLLECTIONS.map(
      (name) => [name, (dbs[name] as unknown as NedbInternals).getAllData()] as const,
    );
    const messageSnapshot = messages.snapshot();
    const journalSeq = Math.max(this.lastSeq, this.watermark);
    const versionId = compoundKey(STORE_NAMESPACE, SCHEMA_VERSION_KEY);
    const versionDoc = taken
      .find(([name]) => name === "kv")?.[1]
      .find((d) => (d as StoredKv)._id === versionId) as StoredKv | undefined;
    async function* records(): AsyncIterable<DumpRecord> {
      for (const name of COLLECTIONS) {
        if (name === "messages") {
          for await (const record of messageSnapshot.records()) yield { collection: name, record };
          continue;
        }
        for (const doc of taken.find(([n]) => n === name)?.[1] ?? []) {
          const record = fromStored(name, doc);
          if (record) yield record;
        }
      }
    }
    return Promise.resolve({
      schemaVersion: versionDoc ? decode<number>(versionDoc.value) : 0,
      journalSeq,
      records: records(),
      close: () => messageSnapshot.close(),
    });
  }

  async load(dump: StoreDump, options: LoadOptions = {}): Promise<void> {
    const dbs = this.openDbs();
    const messages = this.messageLevel();
    const held = await this.recordCounts();
    const version = await this.schemaVersion();
    if (Object.values(held).some((n) => n > 0) && !options.replace) {
      throw new StoreNotEmptyError(held, version === INCOMPLETE_LOAD_VERSION);
    }
    // No transactions: the marker goes first and the dump's version last, so a load that dies midway
    // leaves a store the framework refuses (and a restore --force replaces), never a half one in use.
    await this.setSchemaVersion(INCOMPLETE_LOAD_VERSION);
    if (options.replace) {
      for (const name of NEDB_COLLECTIONS) {
        const keep =
          name === "kv" ? { _id: { $nin: [compoundKey(STORE_NAMESPACE, SCHEMA_VERSION_KEY)] } } : {};
        await dbs[name].remove(keep, { multi: true });
      }
      await messages.clear();
      this.watermark = 0;
    }
    let seq = dump.journalSeq;
    for await (const batch of batches(dump.records, LOAD_BATCH)) {
      if (batch.collection === "messages") {
        const taken = await messages.insertNew(batch.records as MessageMapping[]);
        if (taken !== null) {
          throw new Error(`the dump holds two messages records with the same key: event ${taken}`);
        }
        continue;
      }
      const collection = batch.collection;
      const docs = batch.records.map((record) => toStored(collection, record));
      if (batch.collection === "journal") {
        for (const doc of docs as StoredJournal[]) seq = Math.max(seq, doc.seq);
      }
      try {
        await dbs[collection].insert(docs);
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
        throw new Error(`the dump holds two ${collection} records with the same key: ${String(error)}`, {
          cause: error,
        });
      }
    }
    // New appends continue above every seq the source handed out, as they would have there.
    this.lastSeq = Math.max(this.lastSeq, seq);
    const mark: StoredSeqWatermark = { _id: SEQ_WATERMARK_KEY, seq: this.lastSeq };
    await dbs.journal.update({ _id: SEQ_WATERMARK_KEY }, mark, { upsert: true });
    this.watermark = this.lastSeq;
    await this.setSchemaVersion(dump.schemaVersion);
  }

  /** Records per collection, without this store's bookkeeping (seq watermark, schema version). */
  private async recordCounts(): Promise<Record<StoreCollection, number>> {
    const dbs = this.openDbs();
    const counts = {} as Record<StoreCollection, number>;
    counts.messages = await this.messageLevel().count();
    for (const name of NEDB_COLLECTIONS) {
      const own =
        name === "journal"
          ? { _id: SEQ_WATERMARK_KEY }
          : name === "kv"
            ? { _id: partsRange(STORE_NAMESPACE) }
            : null;
      counts[name] = (await dbs[name].count({})) - (own ? await dbs[name].count(own) : 0);
    }
    return counts;
  }

  private openDbs(): Record<NedbCollection, Db> {
    if (!this.dbs) throw new Error("NedbStore is not open");
    return this.dbs;
  }
}

/** The contract's record of a stored document; null for this store's own bookkeeping. */
function fromStored(name: NedbCollection, doc: unknown): DumpRecord | null {
  switch (name) {
    case "journal":
      return (doc as { _id: string })._id === SEQ_WATERMARK_KEY
        ? null
        : { collection: name, record: toJournal(doc as StoredJournal) };
    case "links":
      return { collection: name, record: toLink(doc as StoredLink) };
    case "ghosts":
      return { collection: name, record: toGhost(doc as StoredGhost) };
    case "users":
      return { collection: name, record: toUser(doc as StoredUser) };
    case "logins":
      return { collection: name, record: toLogin(doc as StoredLogin) };
    case "reactions":
      return { collection: name, record: toReaction(doc as StoredReaction) };
    case "members":
      return { collection: name, record: toMember(doc as StoredMember) };
    case "media":
      return { collection: name, record: toMediaLink(doc as StoredMediaLink) };
    case "kv": {
      const d = doc as StoredKv;
      if (d.namespace === STORE_NAMESPACE) return null;
      return {
        collection: name,
        record: { namespace: d.namespace, key: d.key, value: decode<unknown>(d.value) },
      };
    }
  }
}

function toStored(name: NedbCollection, record: StoreRecordTypes[StoreCollection]): { _id: string } {
  switch (name) {
    case "journal":
      return storedJournal(record as JournalEntry);
    case "links":
      return storedLink(record as RoomLink);
    case "ghosts":
      return storedGhost(record as GhostRecord);
    case "users":
      return storedUser(record as MatrixUserRecord);
    case "logins":
      return storedLogin(record as LoginRecord);
    case "reactions":
      return storedReaction(record as ReactionRecord);
    case "members":
      return storedMember(record as ChatMember);
    case "media":
      return storedMediaLink(record as MediaLink);
    case "kv": {
      const { namespace, key, value } = record as KvEntry;
      if (namespace === STORE_NAMESPACE) throw new Error("a dump may not hold the store's own kv namespace");
      return storedKv(namespace, key, value);
    }
  }
}
