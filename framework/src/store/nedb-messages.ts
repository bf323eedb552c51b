/**
 * The message mappings of NedbStore, in an ordered key-value store: LevelDB (classic-level) on disk,
 * memory-level in memory, both behind the same abstract-level API.
 *
 * Why not NeDB like the other collections: NeDB reads every document into memory at open (~40 µs
 * each), and mappings are the one collection that grows with history (one per bridged event, kept
 * for message_retention_days), so start time grew with it (12 s at 200k). LevelDB opens in the same
 * time whatever it holds and reads from disk on demand.
 *
 * Layout. Every key is the JSON array of its parts (so no separator can collide), the first part
 * naming the index; numbers are `sortableNumber` text, so key order is numeric order. Whatever a
 * change touches (a mapping's own entries, the lists it joins or leaves) is written in one batch,
 * which LevelDB applies atomically: a crash never leaves an index half written.
 *   ["e", eventId]                                 -> the mapping (JSON)
 *   ["r", network, channelId, receiver, remoteId]  -> JSON list of the event ids of its parts
 *   ["t", roomId, timestamp, part, eventId]        -> the mapping
 *   ["p", timestamp, eventId]                      -> eventId
 *   ["n", network, remoteId, eventId]              -> eventId
 * ["v"] holds the layout version; ["migrating"] is present while a NeDB datafile is being imported.
 * messageByRemote, the lookup of every remote event, is a list under one key rather than a range:
 * point reads can be synchronous (getSync, ~2 µs from LevelDB's cache or the page cache, against
 * ~30 µs for an async read and ~60 µs for an iterator, both a round trip through the thread pool).
 * NeDB answered from memory, and this store already appends synchronously, so reading from the
 * event loop is no new kind of wait. "t" carries the mapping so messageLatestBefore is one
 * reverse iterator step; "p" (prune) and "n" (the upgrade-only prefix query) lead back to "e".
 *
 * Concurrency. Reads run freely; a lookup through a list checks each mapping it reads, so a write
 * landing between its reads cannot make it return a mapping that does not match. Writes run one
 * at a time (`exclusive`): a change reads what it replaces (the old mapping, the lists), and two
 * interleaved ones would each miss the other's. A write resolves once LevelDB has applied it (in
 * its log, not fsynced: like NeDB's appends, a process crash loses nothing); close() ends with a
 * synced write.
 */
import { createReadStream } from "node:fs";
import { open as openFile, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import type { AbstractBatchOperation, AbstractLevel } from "abstract-level";
import type { ClassicLevel } from "classic-level";
import type { MessageMapping } from "./types.js";

/** The LevelDB directory inside a NedbStore directory. */
export const MESSAGES_LEVEL_DIR = "messages.level";
/** Where older versions kept the mappings: a NeDB datafile, imported once by `MessageLevel.open`. */
export const LEGACY_DATAFILE = "messages.db";
/** What an imported datafile is renamed to (kept, not deleted: it is the pre-upgrade copy). */
export const MIGRATED_DATAFILE = "messages.db.migrated";

const LAYOUT_VERSION = "1";
/** Mappings per batch when importing, loading or rewriting many. */
const BATCH = 1000;

type Level = AbstractLevel<string | Buffer | Uint8Array, string, string>;
type Operation = AbstractBatchOperation<Level, string, string>;

const tupleKey = (...parts: string[]): string => JSON.stringify(parts);

/**
 * Bounds of every key whose leading parts are `parts`: after them the JSON always goes on with `,"`,
 * so the range ends just before `,#` and cannot reach a key whose last part merely starts the same.
 */
function tupleRange(...parts: string[]): { gte: string; lt: string } {
  const head = tupleKey(...parts).slice(0, -1);
  return { gte: `${head},"`, lt: `${head},#` };
}

/**
 * 16 hex digits that sort like the number: the IEEE 754 bits with the sign bit set for positives and
 * every bit flipped for negatives. Covers any finite number (timestamps, parts, fractions, negatives).
 */
export function sortableNumber(n: number): string {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, n === 0 ? 0 : n); // -0 and 0 are one value, as in NeDB's comparisons
  let hi = view.getUint32(0);
  let lo = view.getUint32(4);
  if (hi & 0x80000000) {
    hi = ~hi >>> 0;
    lo = ~lo >>> 0;
  } else {
    hi = (hi | 0x80000000) >>> 0;
  }
  return hi.toString(16).padStart(8, "0") + lo.toString(16).padStart(8, "0");
}

const VERSION_KEY = tupleKey("v");
const MIGRATING_KEY = tupleKey("migrating");
export const eventKey = (eventId: string): string => tupleKey("e", eventId);
const EVENTS = tupleRange("e");
type RemoteKeyFields = Pick<MessageMapping, "network" | "channelId" | "receiver" | "remoteId">;
const remoteKey = (m: RemoteKeyFields): string =>
  tupleKey("r", m.network, m.channelId, m.receiver, m.remoteId);

/** A mapping's own entries: all but its place in its remote message's list. */
function ownEntries(m: MessageMapping): Array<{ key: string; value: string }> {
  const json = encodeMapping(m);
  const timestamp = sortableNumber(m.timestamp);
  return [
    { key: eventKey(m.eventId), value: json },
    { key: tupleKey("t", m.roomId, timestamp, sortableNumber(m.part), m.eventId), value: json },
    { key: tupleKey("p", timestamp, m.eventId), value: m.eventId },
    { key: tupleKey("n", m.network, m.remoteId, m.eventId), value: m.eventId },
  ];
}

/** One mapping replaced, added (before: null) or removed (after: null). */
interface Change {
  before: MessageMapping | null;
  after: MessageMapping | null;
}

/** A fresh record built field by field, so nothing but the contract's fields is stored or leaves the store. */
function contractFields(m: MessageMapping): MessageMapping {
  const mapping: MessageMapping = {
    network: m.network,
    channelId: m.channelId,
    receiver: m.receiver,
    remoteId: m.remoteId,
    part: m.part,
    roomId: m.roomId,
    eventId: m.eventId,
    sender: m.sender,
    timestamp: m.timestamp,
  };
  if (m.meta !== undefined) mapping.meta = m.meta;
  return mapping;
}

function encodeMapping(m: MessageMapping): string {
  return JSON.stringify(contractFields(m));
}

function decodeMapping(json: string): MessageMapping {
  return contractFields(JSON.parse(json) as MessageMapping);
}

const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export class MessageLevel {
  /** Tail of the write queue (see Concurrency in the header). */
  private writes: Promise<unknown> = Promise.resolve();
  /**
   * Puts waiting behind the write in flight, to be applied in one batch: each LevelDB write is a
   * round trip to a background thread (~50 µs of CPU here), so a busy bridge pays it once per
   * group, not once per message. Any other write closes the group, so writes keep their order.
   */
  private waitingPuts: { mappings: Map<string, MessageMapping>; done: Promise<void> } | null = null;

  private constructor(
    private readonly db: Level,
    /** The same db when it is LevelDB on disk (typed for its `sync` write option). */
    private readonly disk: ClassicLevel<string, string> | null,
  ) {}

  /**
   * Opens (creating if need be) `directory/messages.level`, or an in-memory db for null, and imports
   * a NeDB `messages.db` left by an older version.
   */
  static async open(directory: string | null): Promise<MessageLevel> {
    let db: Level;
    let disk: ClassicLevel<string, string> | null = null;
    if (directory === null) {
      const { MemoryLevel } = await import("memory-level");
      // Keys are compared as JS strings, not UTF-8 bytes; the layout only relies on ASCII structure and
      // on prefixes, which both orders agree on.
      db = new MemoryLevel<string, string>({ storeEncoding: "utf8" });
    } else {
      const { ClassicLevel } = await import("classic-level");
      db = disk = new ClassicLevel<string, string>(path.join(directory, MESSAGES_LEVEL_DIR));
    }
    await db.open();
    const level = new MessageLevel(db, disk);
    try {
      const version = await db.get(VERSION_KEY);
      if (version !== undefined && version !== LAYOUT_VERSION) {
        throw new Error(
          `the message store has layout version ${version}; this version reads only ${LAYOUT_VERSION}`,
        );
      }
      if (version === undefined) await db.put(VERSION_KEY, LAYOUT_VERSION);
      if (directory !== null) await level.importLegacy(directory);
    } catch (error) {
      await db.close();
      throw error;
    }
    return level;
  }

  /** A write that is on disk when it resolves (LevelDB fsyncs its log, and so every write before it). */
  private async syncedBatch(ops: Operation[]): Promise<void> {
    if (this.disk) await this.disk.batch(ops, { sync: true });
    else await this.db.batch(ops);
  }

  /** Runs `write` after every write queued before it; the queue goes on after a failure. */
  private exclusive<T>(write: () => Promise<T>): Promise<T> {
    this.waitingPuts = null;
    const run = this.writes.then(write);
    this.writes = run.catch(() => undefined);
    return run;
  }

  private mapping(eventId: string): MessageMapping | null {
    const json = this.db.getSync(eventKey(eventId));
    return json === undefined ? null : decodeMapping(json);
  }

  /**
   * Applies changes (at most one per event id) in one batch. Only inside `exclusive` (or in open,
   * before anyone else can write): the lists it reads must not change before its batch lands.
   */
  private async apply(changes: Change[]): Promise<void> {
    const dels: Operation[] = [];
    const puts: Operation[] = [];
    const lists = new Map<string, string[]>();
    const list = (key: string): string[] => {
      let ids = lists.get(key);
      if (!ids) {
        const json = this.db.getSync(key);
        ids = json === undefined ? [] : (JSON.parse(json) as string[]);
        lists.set(key, ids);
      }
      return ids;
    };
    for (const { before, after } of changes) {
      if (before) {
        for (const { key } of ownEntries(before)) dels.push({ type: "del", key });
        const ids = list(remoteKey(before));
        const at = ids.indexOf(before.eventId);
        if (at >= 0) ids.splice(at, 1);
      }
      if (after) {
        for (const { key, value } of ownEntries(after)) puts.push({ type: "put", key, value });
        const ids = list(remoteKey(after));
        if (!ids.includes(after.eventId)) ids.push(after.eventId);
      }
    }
    for (const [key, ids] of lists) {
      puts.push(ids.length === 0 ? { type: "del", key } : { type: "put", key, value: JSON.stringify(ids) });
    }
    // Deletes first: a batch applies in order, so the keys a replacement shares are put back.
    if (dels.length + puts.length > 0) await this.db.batch([...dels, ...puts]);
  }

  put(mapping: MessageMapping): Promise<void> {
    const after = decodeMapping(encodeMapping(mapping)); // taken now: the caller may change its object
    let group = this.waitingPuts;
    if (!group) {
      const mappings = new Map<string, MessageMapping>();
      const done = this.exclusive(() => {
        if (this.waitingPuts?.mappings === mappings) this.waitingPuts = null;
        const changes = [...mappings.values()].map((m) => ({ before: this.mapping(m.eventId), after: m }));
        return this.apply(changes);
      });
      group = this.waitingPuts = { mappings, done };
    }
    // The last put of an event id in the group wins, as it would one write after another.
    group.mappings.set(after.eventId, after);
    return group.done;
  }

  byEvent(eventId: string): MessageMapping | null {
    return this.mapping(eventId);
  }

  byRemote(network: string, channelId: string, receiver: string, remoteId: string): MessageMapping[] {
    const json = this.db.getSync(remoteKey({ network, channelId, receiver, remoteId }));
    if (json === undefined) return [];
    const found: MessageMapping[] = [];
    for (const id of JSON.parse(json) as string[]) {
      const m = this.mapping(id);
      if (
        m &&
        m.network === network &&
        m.channelId === channelId &&
        m.receiver === receiver &&
        m.remoteId === remoteId
      ) {
        found.push(m);
      }
    }
    // Ties on part go by roomId compared as JS strings, as NeDB sorted.
    return found.sort((a, b) => a.part - b.part || compareText(a.roomId, b.roomId));
  }

  async latestBefore(roomId: string, timestamp: number): Promise<MessageMapping | null> {
    // Newest first from the last key at `timestamp`: within one timestamp the highest part comes first.
    const values = await this.db
      .values({
        gte: tupleRange("t", roomId).gte,
        lt: tupleRange("t", roomId, sortableNumber(timestamp)).lt,
        reverse: true,
        limit: 1,
      })
      .all();
    const json = values[0];
    return json === undefined ? null : decodeMapping(json);
  }

  prune(before: number): Promise<number> {
    return this.exclusive(async () => {
      let pruned = 0;
      const iterator = this.db.values({
        gte: tupleRange("p").gte,
        lt: tupleRange("p", sortableNumber(before)).gte,
      });
      try {
        // The iterator reads the db as of its creation, so deleting behind it does not disturb it.
        for (let ids = await iterator.nextv(BATCH); ids.length > 0; ids = await iterator.nextv(BATCH)) {
          const changes = ids.flatMap((id) => {
            const m = this.mapping(id);
            return m && m.timestamp < before ? [{ before: m, after: null }] : [];
          });
          pruned += changes.length;
          await this.apply(changes);
        }
      } finally {
        await iterator.close();
      }
      return pruned;
    });
  }

  withRemotePrefix(network: string, prefix: string): Promise<MessageMapping[]> {
    // Queued with the writes so the "n" entries and the mappings they lead to are read as one state.
    return this.exclusive(async () => {
      const range = tupleRange("n", network);
      // JSON escapes character by character, so a remoteId starts with the prefix exactly when its
      // JSON text does; those keys are contiguous from `start` on.
      const start = range.gte + JSON.stringify(prefix).slice(1, -1);
      const found: MessageMapping[] = [];
      for await (const [key, id] of this.db.iterator({ gte: start, lt: range.lt })) {
        if (!key.startsWith(start)) break;
        const m = this.mapping(id);
        if (m) found.push(m);
      }
      return found.sort((a, b) => a.timestamp - b.timestamp || compareText(a.eventId, b.eventId));
    });
  }

  deleteByEvent(eventId: string): Promise<void> {
    return this.exclusive(async () => {
      const before = this.mapping(eventId);
      if (before) await this.apply([{ before, after: null }]);
    });
  }

  moveReceiver(network: string, channelId: string, from: string, to: string): Promise<number> {
    if (from === to) return Promise.resolve(0);
    return this.exclusive(async () => {
      // "r" keys start with (network, channelId, receiver): the chat's remote messages are one range.
      const lists = await this.db.values(tupleRange("r", network, channelId, from)).all();
      const moving = lists.flatMap((json) =>
        (JSON.parse(json) as string[]).flatMap((id) => {
          const m = this.mapping(id);
          return m ? [m] : [];
        }),
      );
      for (let i = 0; i < moving.length; i += BATCH) {
        await this.apply(
          moving.slice(i, i + BATCH).map((m) => ({ before: m, after: { ...m, receiver: to } })),
        );
      }
      return moving.length;
    });
  }

  /** How many mappings there are (a scan of the "e" keys: load's emptiness check, not a hot path). */
  async count(): Promise<number> {
    let n = 0;
    const iterator = this.db.keys(EVENTS);
    try {
      for (let keys = await iterator.nextv(BATCH); keys.length > 0; keys = await iterator.nextv(BATCH)) {
        n += keys.length;
      }
    } finally {
      await iterator.close();
    }
    return n;
  }

  /** Deletes every mapping. */
  clear(): Promise<void> {
    return this.exclusive(() => this.clearNow());
  }

  private async clearNow(): Promise<void> {
    await this.db.clear();
    await this.db.put(VERSION_KEY, LAYOUT_VERSION);
  }

  /**
   * Adds mappings whose events are not stored yet (a load, or bench/fill-store.ts); returns the event
   * id of the first one that is already stored or repeated within `mappings`, having added nothing.
   */
  insertNew(mappings: MessageMapping[]): Promise<string | null> {
    return this.exclusive(async () => {
      const seen = new Set<string>();
      for (const m of mappings) {
        if (seen.has(m.eventId) || this.db.getSync(eventKey(m.eventId)) !== undefined) return m.eventId;
        seen.add(m.eventId);
      }
      await this.apply(mappings.map((after) => ({ before: null, after })));
      return null;
    });
  }

  /**
   * Every mapping as of this call, while writes go on: the explicit snapshot is taken synchronously,
   * so NedbStore.snapshot() takes it in the same step as the NeDB collections.
   */
  snapshot(): { records: () => AsyncIterable<MessageMapping>; close: () => Promise<void> } {
    const snapshot = this.db.snapshot();
    const db = this.db;
    return {
      records: async function* () {
        const iterator = db.values({ ...EVENTS, snapshot });
        try {
          for (
            let values = await iterator.nextv(BATCH);
            values.length > 0;
            values = await iterator.nextv(BATCH)
          ) {
            yield* values.map(decodeMapping);
          }
        } finally {
          await iterator.close();
          await snapshot.close();
        }
      },
      close: () => snapshot.close(),
    };
  }

  /** Waits for queued writes, makes everything durable (a synced write syncs LevelDB's log), closes. */
  close(): Promise<void> {
    return this.exclusive(async () => {
      await this.syncedBatch([{ type: "put", key: VERSION_KEY, value: LAYOUT_VERSION }]);
      await this.db.close();
    });
  }

  /**
   * Imports `messages.db`, the NeDB datafile of older versions, then renames it aside. Streamed line
   * by line, so memory does not grow with history either. A crash midway leaves the file in place
   * and the ["migrating"] marker set, and the next open starts over on an emptied db. Without the
   * marker, a file still present is replayed on top: its lines are upserts and deletes by event id,
   * so a crash after the import but before the rename repeats it harmlessly.
   */
  private async importLegacy(directory: string): Promise<void> {
    const file = path.join(directory, LEGACY_DATAFILE);
    // NeDB's crash-safe rewrite leaves `messages.db~` beside the old file if it dies midway, and NeDB
    // itself takes the ~ file only when messages.db is missing.
    const temp = `${file}~`;
    const source = (await exists(file)) ? file : (await exists(temp)) ? temp : null;
    if (source === null) return;

    if ((await this.db.get(MIGRATING_KEY)) !== undefined) await this.db.clear();
    await this.db.batch([
      { type: "put", key: VERSION_KEY, value: LAYOUT_VERSION },
      { type: "put", key: MIGRATING_KEY, value: "1" },
    ]);

    // NeDB's load rules: a line per insert or update, the last line of an _id wins, a
    // {"$$deleted":true,"_id":...} line deletes it, $$indexCreated/$$indexRemoved lines define
    // indexes (nothing to import), and it refuses a file more than 10% of whose lines do not parse.
    let lines = 0;
    let corrupt = 0;
    let pending = new Map<string, MessageMapping | null>();
    const flush = async (): Promise<void> => {
      const changes = [...pending].map(([id, after]) => ({ before: this.mapping(id), after }));
      pending = new Map();
      await this.apply(changes);
    };
    const take = (line: string): void => {
      if (line === "") return;
      lines++;
      try {
        const doc = JSON.parse(line) as Record<string, unknown>;
        if (typeof doc._id !== "string" || doc._id === "") return;
        pending.set(doc._id, doc.$$deleted === true ? null : legacyMapping(doc));
      } catch {
        corrupt++;
      }
    };

    // NeDB joins documents with "\n". (Its reader also splits on U+2028 and the like, which a raw
    // JSON string may contain, and so loses such documents; splitting on "\n" alone keeps them.)
    let rest = "";
    const stream = createReadStream(source, { encoding: "utf8" });
    for await (const chunk of stream as AsyncIterable<string>) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop() ?? "";
      for (const line of parts) {
        take(line.endsWith("\r") ? line.slice(0, -1) : line);
        if (pending.size >= BATCH) await flush();
      }
    }
    take(rest);
    await flush();
    if (lines > 0 && corrupt / lines > 0.1) {
      throw new Error(
        `${source}: ${corrupt} of ${lines} lines are not JSON; NeDB would refuse this file too, so it is left as it is`,
      );
    }

    // Synced, so the import is on disk before the file that holds the only other copy goes.
    await this.syncedBatch([{ type: "del", key: MIGRATING_KEY }]);
    if (source === file) await rm(temp, { force: true });
    await rename(source, path.join(directory, MIGRATED_DATAFILE));
    await syncDirectory(directory);
  }
}

/** A mapping as older versions stored it in NeDB (`_id` the event id, meta as JSON text). */
function legacyMapping(d: Record<string, unknown>): MessageMapping {
  const mapping: MessageMapping = {
    network: d.network as string,
    channelId: d.channelId as string,
    receiver: d.receiver as string,
    remoteId: d.remoteId as string,
    part: d.part as number,
    roomId: d.roomId as string,
    eventId: d._id as string,
    sender: d.sender as string,
    timestamp: d.timestamp as number,
  };
  if (typeof d.meta === "string") mapping.meta = JSON.parse(d.meta) as Record<string, unknown>;
  return mapping;
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw error;
  }
}

/** Makes a rename in `directory` durable. */
async function syncDirectory(directory: string): Promise<void> {
  const handle = await openFile(directory, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
