/**
 * The MongoDB backend's side of snapshots and loads (`MongoStore.snapshot()` / `load()`); how records
 * become documents is `DOCUMENTS` in mongodb-documents.ts.
 *
 * - Reading: every collection through a cursor in one snapshot session (`startSession({ snapshot:
 *   true })`). The driver sends read concern "snapshot" with the session's first read, keeps the
 *   `atClusterTime` the server answers with, and sends it with every later read and getMore, so all ten
 *   collections are read as of one majority-committed instant while the bridge goes on writing (a write
 *   acknowledged with `w: 1` just before may not be majority-committed yet; `w: "majority"` is the
 *   default since MongoDB 5.0). What that needs:
 *   - MongoDB 5.0 or later: the driver refuses older servers itself (`MongoCompatibilityError`, "Snapshot
 *     reads require MongoDB 5.0 or later");
 *   - a replica set or a sharded cluster: a standalone mongod answers NotAReplicaSet (123), "node needs to
 *     be a replica set member to use readConcern: snapshot". A single-node replica set will do
 *     (`mongod --replSet rs0`, `rs.initiate()` once);
 *   - the reading to end within the server's snapshot history window (`minSnapshotHistoryWindowInSeconds`,
 *     300 s by default), else SnapshotTooOld (239).
 *   There is no fallback to plain reads: they would give a dump of no instant, whose journal and mappings
 *   disagree. `snapshotError` says what to do instead.
 * - Writing: `insertMany` (unordered) in batches. Without multi-document transactions (a standalone has
 *   none, and one transaction could not hold 200k documents in its 60 s), a load marks the store with
 *   `INCOMPLETE_LOAD_VERSION` first and writes the dump's version last, as NeDB's does.
 */
import { MongoBulkWriteError, MongoCompatibilityError } from "mongodb";
import type { ClientSession, Collection, Document, MongoClient } from "mongodb";
import { STORE_COLLECTIONS } from "./dump.js";
import { documentOf, dumpRecordOf } from "./mongodb-documents.js";
import type { MetaDocument, StoreDocumentTypes } from "./mongodb-documents.js";
import { META, isDuplicateKey } from "./mongodb-schema.js";
import type { DumpRecord, StoreCollection, StoreRecordTypes } from "./types.js";

/** Documents per cursor batch and per insertMany: small against the 16 MiB of a message. */
export const DUMP_BATCH = 1000;

/** Tries at opening a snapshot while the server has collection catalog changes pending (246). */
const SNAPSHOT_ATTEMPTS = 5;
const SNAPSHOT_RETRY_MS = 200;

/** Server error codes of snapshot reads. */
const NOT_A_REPLICA_SET = 123;
const SNAPSHOT_UNAVAILABLE = 246;
const SNAPSHOT_TOO_OLD = 239;

/** The collections a dump covers, and `switchboard_meta`. */
export type DumpCollections = { [C in StoreCollection]: Collection<StoreDocumentTypes[C]> } & {
  meta: Collection<MetaDocument>;
};

/** What a snapshot reads first, in its session. */
export interface SnapshotStart {
  session: ClientSession;
  schemaVersion: number;
  journalSeq: number;
}

/**
 * Starts a snapshot session and reads, as of its instant, the data version, the journal's seq, and one
 * document of every collection: a server that cannot serve the snapshot says so here, not after the
 * first 100k records have gone into an archive.
 */
export async function startSnapshot(client: MongoClient, c: DumpCollections): Promise<SnapshotStart> {
  for (let attempt = 1; ; attempt++) {
    const session = client.startSession({ snapshot: true });
    try {
      const version = await c.meta.findOne({ _id: META.dataVersion }, { session });
      const counter = await c.meta.findOne({ _id: META.journalSeq }, { session });
      const top = await c.journal.findOne({}, { session, sort: { _id: -1 }, projection: { _id: 1 } });
      for (const collection of STORE_COLLECTIONS) {
        await untyped(c, collection).findOne({}, { session, projection: { _id: 1 } });
      }
      return {
        session,
        schemaVersion: version ? Number(version.value) : 0,
        // The counter is taken before entries are inserted with its numbers, so in any one instant it
        // is at or above every seq in the journal; the top seq covers a counter a partial load left behind.
        journalSeq: Math.max(Number(counter?.value ?? 0), top?._id ?? 0),
      };
    } catch (error) {
      await session.endSession().catch(() => undefined);
      if (codeOf(error) === SNAPSHOT_UNAVAILABLE && attempt < SNAPSHOT_ATTEMPTS) {
        // Collections created a moment ago (a store just opened) are not in a snapshot yet.
        await new Promise((resolve) => setTimeout(resolve, SNAPSHOT_RETRY_MS * attempt));
        continue;
      }
      throw snapshotError(error);
    }
  }
}

/** Every document of every collection as a dump record, through cursors in the snapshot session. */
export async function* readCollections(
  c: DumpCollections,
  session: ClientSession,
): AsyncIterable<DumpRecord> {
  for (const collection of STORE_COLLECTIONS) {
    const cursor = untyped(c, collection).find({}, { session, batchSize: DUMP_BATCH });
    try {
      for await (const doc of cursor) {
        yield dumpRecordOf(collection, doc as unknown as StoreDocumentTypes[StoreCollection]);
      }
    } catch (error) {
      throw snapshotError(error);
    } finally {
      await cursor.close();
    }
  }
}

/** Documents per collection (the store's bookkeeping is in `switchboard_meta`, not counted). */
export async function countDocuments(c: DumpCollections): Promise<Record<StoreCollection, number>> {
  const counts = {} as Record<StoreCollection, number>;
  for (const collection of STORE_COLLECTIONS) {
    counts[collection] = await untyped(c, collection).countDocuments({});
  }
  return counts;
}

/** Inserts one batch of one collection's records; a key the dump holds twice is named. */
export async function insertRecords(
  c: DumpCollections,
  collection: StoreCollection,
  records: StoreRecordTypes[StoreCollection][],
): Promise<void> {
  const docs = records.map((record) => documentOf(collection, record)) as Document[];
  try {
    await untyped(c, collection).insertMany(docs, { ordered: false });
  } catch (error) {
    const duplicate =
      error instanceof MongoBulkWriteError
        ? error.result.getWriteErrors().find((e) => isDuplicateKey(e))
        : isDuplicateKey(error)
          ? (error as { errmsg?: string })
          : undefined;
    if (!duplicate) throw error;
    throw new Error(
      `the dump holds two ${collection} records with the same key${duplicate.errmsg ? ` (${duplicate.errmsg})` : ""}`,
      { cause: error },
    );
  }
}

/** The error a failed snapshot read gives: what the server lacks, and what to do. */
export function snapshotError(error: unknown): Error {
  const message = error instanceof Error ? error.message : String(error);
  const code = codeOf(error);
  let remedy: string | undefined;
  if (error instanceof MongoCompatibilityError || code === NOT_A_REPLICA_SET) {
    remedy =
      "a consistent snapshot (backup, store copy) needs MongoDB 5.0 or later running as a replica set; " +
      "a single-node one will do: start mongod with --replSet rs0 and run rs.initiate() once";
  } else if (code === SNAPSHOT_TOO_OLD) {
    remedy =
      "reading took longer than the server keeps snapshots (minSnapshotHistoryWindowInSeconds, 300 s by " +
      "default): raise it for the backup, or run the backup closer to the server";
  }
  if (!remedy) return error instanceof Error ? error : new Error(message);
  const wrapped = new Error(`MongoDB store: ${message} (${remedy})`, { cause: error });
  if (code !== undefined) Object.assign(wrapped, { code });
  return wrapped;
}

/** A collection for what any collection's documents allow (finding all, counting, inserting). */
export function untyped(c: DumpCollections, collection: StoreCollection): Collection<Document> {
  return c[collection] as unknown as Collection<Document>;
}

function codeOf(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "number" ? code : undefined;
}
