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
 * naming the index; numbers are `sortableNumber` text, so key order is numeric order. A mapping is
 * five entries, always written or removed together in one batch (LevelDB applies a batch atomically,
 * so a crash never leaves an index half written):
 *   ["e", eventId]                                                        -> the mapping (JSON)
 *   ["r", network, channelId, receiver, remoteId, part, roomId, eventId]  -> the mapping
 *   ["t", roomId, timestamp, part, eventId]                               -> the mapping
 *   ["p", timestamp, eventId]                                             -> eventId
 *   ["n", network, remoteId, eventId]                                     -> eventId
 * "r" and "t" carry the whole mapping because they answer the hot lookups (messageByRemote,
 * messageLatestBefore): one iterator, which reads one consistent view, with no second lookup. "p"
 * (prune) and "n" (the upgrade-only prefix query) only lead back to "e".
 * ["v"] holds the layout version; ["migrating"] is present while a NeDB datafile is being imported.
 *
 * Concurrency. Reads run freely. Writes run one at a time (`exclusive`): an upsert must read the
 * mapping it replaces to delete that one's index entries, and two interleaved upserts of the same
 * event would each miss the other's. A write resolves once LevelDB has applied it (in its log, not
 * fsynced: like NeDB's appends, a process crash loses nothing); close() ends with a synced write.
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

/** The five entries of a mapping (see the layout above). */
export function mappingEntries(m: MessageMapping): Array<{ key: string; value: string }> {
  const json = encodeMapping(m);
  const part = sortableNumber(m.part);
  const timestamp = sortableNumber(m.timestamp);
  return [
    { key: eventKey(m.eventId), value: json },
    {
      key: tupleKey("r", m.network, m.channelId, m.receiver, m.remoteId, part, m.roomId, m.eventId),
      value: json,
    },
    { key: tupleKey("t", m.roomId, timestamp, part, m.eventId), value: json },
    { key: tupleKey("p", timestamp, m.eventId), value: m.eventId },
    { key: tupleKey("n", m.network, m.remoteId, m.eventId), value: m.eventId },
  ];
}

const putOps = (m: MessageMapping): Operation[] =>
  mappingEntries(m).map(({ key, value }) => ({ type: "put", key, value }));
const delOps = (m: MessageMapping): Operation[] => mappingEntries(m).map(({ key }) => ({ type: "del", key }));

function encodeMapping(m: MessageMapping): string {
  const stored: MessageMapping = {
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
  if (m.meta !== undefined) stored.meta = m.meta;
  return JSON.stringify(stored);
}

/** A fresh record built field by field, so nothing but the contract's fields leaves the store. */
function decodeMapping(json: string): MessageMapping {
  const d = JSON.parse(json) as MessageMapping;
  const mapping: MessageMapping = {
    network: d.network,
    channelId: d.channelId,
    receiver: d.receiver,
    remoteId: d.remoteId,
    part: d.part,
    roomId: d.roomId,
    eventId: d.eventId,
    sender: d.sender,
    timestamp: d.timestamp,
  };
  if (d.meta !== undefined) mapping.meta = d.meta;
  return mapping;
}

const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export class MessageLevel {
  /** Tail of the write queue (see Concurrency in the header). */
  private writes: Promise<unknown> = Promise.resolve();

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
    const run = this.writes.then(write);
    this.writes = run.catch(() => undefined);
    return run;
  }

  put(mapping: MessageMapping): Promise<void> {
    const ops = putOps(mapping);
    return this.exclusive(async () => {
      const old = await this.db.get(eventKey(mapping.eventId));
      // Deletes first: a batch applies in order, so keys the new mapping shares are put back.
      await this.db.batch(old === undefined ? ops : [...delOps(decodeMapping(old)), ...ops]);
    });
  }

  async byEvent(eventId: string): Promise<MessageMapping | null> {
    const json = await this.db.get(eventKey(eventId));
    return json === undefined ? null : decodeMapping(json);
  }

  async byRemote(
    network: string,
    channelId: string,
    receiver: string,
    remoteId: string,
  ): Promise<MessageMapping[]> {
    const values = await this.db.values(tupleRange("r", network, channelId, receiver, remoteId)).all();
    // The keys already run by part; ties on part go by roomId compared as JS strings, as NeDB sorted.
    return values.map(decodeMapping).sort((a, b) => a.part - b.part || compareText(a.roomId, b.roomId));
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
          const found = await this.db.getMany(ids.map(eventKey));
          const ops = found.flatMap((json) => (json === undefined ? [] : delOps(decodeMapping(json))));
          pruned += found.filter((json) => json !== undefined).length;
          await this.db.batch(ops);
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
      const ids: string[] = [];
      for await (const [key, id] of this.db.iterator({ gte: start, lt: range.lt })) {
        if (!key.startsWith(start)) break;
        ids.push(id);
      }
      const found = ids.length === 0 ? [] : await this.db.getMany(ids.map(eventKey));
      return found
        .flatMap((json) => (json === undefined ? [] : [decodeMapping(json)]))
        .sort((a, b) => a.timestamp - b.timestamp || compareText(a.eventId, b.eventId));
    });
  }

  deleteByEvent(eventId: string): Promise<void> {
    return this.exclusive(async () => {
      const old = await this.db.get(eventKey(eventId));
      if (old !== undefined) await this.db.batch(delOps(decodeMapping(old)));
    });
  }

  moveReceiver(network: string, channelId: string, from: string, to: string): Promise<number> {
    if (from === to) return Promise.resolve(0);
    return this.exclusive(async () => {
      // "r" keys start with (network, channelId, receiver): the chat's mappings are one range.
      const values = await this.db.values(tupleRange("r", network, channelId, from)).all();
      const mappings = values.map(decodeMapping);
      for (let i = 0; i < mappings.length; i += BATCH) {
        const ops = mappings
          .slice(i, i + BATCH)
          .flatMap((m) => [...delOps(m), ...putOps({ ...m, receiver: to })]);
        await this.db.batch(ops);
      }
      return mappings.length;
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
        if (seen.has(m.eventId)) return m.eventId;
        seen.add(m.eventId);
      }
      const existing =
        mappings.length === 0 ? [] : await this.db.getMany(mappings.map((m) => eventKey(m.eventId)));
      const taken = existing.findIndex((json) => json !== undefined);
      if (taken >= 0) return mappings[taken]?.eventId ?? null;
      await this.db.batch(mappings.flatMap(putOps));
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
      const ids = [...pending.keys()];
      if (ids.length === 0) return;
      const old = await this.db.getMany(ids.map(eventKey));
      const ops: Operation[] = [];
      ids.forEach((id, i) => {
        const before = old[i];
        if (before !== undefined) ops.push(...delOps(decodeMapping(before)));
        const after = pending.get(id);
        if (after) ops.push(...putOps(after));
      });
      pending = new Map();
      await this.db.batch(ops);
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
