/**
 * The MongoDB backend's collections and indexes, and the versioned steps that create and upgrade them.
 *
 * `switchboard_meta` holds the marker document `{ _id: "schema", value: <version> }`: the version of
 * these steps applied, and what tells our database from someone else's. That version is the backend's
 * business only; the framework's data layout version (`Store.schemaVersion()`, migrated by
 * `migrate.ts`) is another document of the same collection, as is the journal's seq counter.
 *
 * MongoDB has no lock to hold while upgrading, so every step must be idempotent: processes starting
 * together on an empty database may all run it (creating an index that exists with the same options
 * is a no-op), and one interrupted is run again whole. The marker only ever rises (`$max`).
 *
 * Opening an up-to-date database reads the collection names and the marker, nothing else: start-up
 * costs the same with ten documents or ten million.
 */
import type { Db, IndexDescription } from "mongodb";

export const COLLECTIONS = {
  journal: "journal",
  links: "links",
  ghosts: "ghosts",
  users: "users",
  logins: "logins",
  messages: "messages",
  reactions: "reactions",
  members: "chat_members",
  media: "media_links",
  kv: "kv",
  meta: "switchboard_meta",
} as const;

/** `_id`s of `switchboard_meta`. */
export const META = {
  /** The version of this file's steps applied: the marker. */
  schema: "schema",
  /** The framework's data layout version (`Store.schemaVersion()`). */
  dataVersion: "data_version",
  /** The last journal seq handed out: a counter, so seq keeps rising when the journal is pruned. */
  journalSeq: "journal_seq",
} as const;

type CollectionName = (typeof COLLECTIONS)[keyof typeof COLLECTIONS];

/**
 * The indexes of the first version. A natural key that is not `_id` has a unique index (named
 * `*_key`); the others serve the lookups of `mongodb.ts`.
 */
export const INDEXES: Readonly<Record<CollectionName, readonly IndexDescription[]>> = {
  journal: [
    // _id is the seq.
    { name: "journal_key", key: { stream: 1, key: 1 }, unique: true },
    { name: "journal_pending", key: { stream: 1, done: 1, _id: 1 } },
    { name: "journal_recent", key: { stream: 1, createdAt: 1 } },
    { name: "journal_prunable", key: { done: 1, createdAt: 1 } },
  ],
  links: [
    // _id is the room id.
    { name: "links_channel", key: { network: 1, channelId: 1, receiver: 1 } },
    { name: "links_created_by", key: { createdBy: 1 } },
  ],
  ghosts: [
    // _id is the ghost's user id.
    { name: "ghosts_key", key: { network: 1, remoteId: 1 }, unique: true },
  ],
  users: [
    // _id is the user id.
    { name: "users_management_room", key: { managementRoom: 1 } },
  ],
  logins: [
    { name: "logins_key", key: { network: 1, loginId: 1 }, unique: true },
    { name: "logins_matrix_user", key: { matrixUserId: 1 } },
  ],
  messages: [
    { name: "messages_event_key", key: { eventId: 1 }, unique: true },
    {
      name: "messages_key",
      key: { network: 1, channelId: 1, receiver: 1, remoteId: 1, part: 1 },
      unique: true,
    },
    { name: "messages_room_time", key: { roomId: 1, timestamp: 1, part: 1 } },
    { name: "messages_time", key: { timestamp: 1 } },
  ],
  reactions: [
    { name: "reactions_event_key", key: { eventId: 1 }, unique: true },
    {
      name: "reactions_key",
      key: { network: 1, channelId: 1, receiver: 1, messageId: 1, sender: 1, key: 1 },
      unique: true,
    },
  ],
  chat_members: [
    { name: "chat_members_key", key: { network: 1, channelId: 1, receiver: 1, loginId: 1 }, unique: true },
    { name: "chat_members_login", key: { network: 1, loginId: 1 } },
  ],
  media_links: [
    // _id is the token.
    { name: "media_links_event", key: { eventId: 1 } },
    { name: "media_links_expiry", key: { expiresAt: 1 } },
  ],
  kv: [{ name: "kv_key", key: { namespace: 1, key: 1 }, unique: true }],
  switchboard_meta: [],
};

/** Index = version - 1. Append new steps; never edit one that has shipped. Each must be idempotent. */
const STEPS: ReadonlyArray<(db: Db) => Promise<void>> = [
  async (db) => {
    for (const [name, indexes] of Object.entries(INDEXES)) {
      if (indexes.length > 0) await db.collection(name).createIndexes([...indexes]);
    }
    // So that the first append increments a document instead of racing to insert it.
    await db
      .collection<{ _id: string; value: number }>(COLLECTIONS.meta)
      .updateOne({ _id: META.journalSeq }, { $setOnInsert: { value: 0 } }, { upsert: true })
      .catch(ignoreDuplicateKey);
  },
];

/** The step version this code creates and understands. */
export const SCHEMA_VERSION = STEPS.length;

/** What `decideSchema` looks at. */
export interface FoundDatabase {
  /** The marker's version; null without a marker. */
  marker: number | null;
  /** Names of the database's collections (and views). */
  collections: readonly string[];
  /** Those of our collections that hold documents (only looked at without a marker). */
  withDocuments: readonly string[];
}

export type SchemaDecision = { action: "upgrade"; from: number } | { action: "refuse"; reason: string };

const OURS = new Set<string>(Object.values(COLLECTIONS));

/**
 * Whether to upgrade a database (from which version) or refuse it. Without a marker the database must
 * be empty, or hold only empty collections of ours: what a first start interrupted before writing the
 * marker leaves. Anything else belongs to someone else, even when its collections have our names.
 */
export function decideSchema(found: FoundDatabase, codeVersion = SCHEMA_VERSION): SchemaDecision {
  if (found.marker !== null) {
    if (found.marker > codeVersion) {
      return {
        action: "refuse",
        reason:
          `its Switchboard collections are at schema version ${found.marker}, newer than this Switchboard ` +
          `understands (up to ${codeVersion}): run the newer Switchboard that upgraded it, or restore a backup taken before`,
      };
    }
    return { action: "upgrade", from: found.marker };
  }
  const foreign = found.collections.filter((name) => !OURS.has(name) && !name.startsWith("system."));
  const taken = [...foreign, ...found.withDocuments.filter((name) => OURS.has(name))].sort();
  if (taken.length > 0) {
    const shown = taken.slice(0, 5).join(", ") + (taken.length > 5 ? `, … (${taken.length} in all)` : "");
    return {
      action: "refuse",
      reason:
        `it already holds data that is not Switchboard's (${shown}) and no ${COLLECTIONS.meta} marker: ` +
        "give Switchboard an empty database of its own (a new name in store.url; MongoDB creates it on first use)",
    };
  }
  return { action: "upgrade", from: 0 };
}

/** Reads what `decideSchema` needs: the marker, and without one, which of our collections hold data. */
async function inspect(db: Db): Promise<FoundDatabase> {
  const collections = (await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name);
  let marker: number | null = null;
  if (collections.includes(COLLECTIONS.meta)) {
    const doc = await db
      .collection<{ _id: string; value: unknown }>(COLLECTIONS.meta)
      .findOne({ _id: META.schema });
    if (doc) marker = typeof doc.value === "number" ? doc.value : Number(doc.value);
  }
  const withDocuments: string[] = [];
  if (marker === null) {
    for (const name of collections.filter((n) => OURS.has(n))) {
      if (await db.collection(name).findOne({}, { projection: { _id: 1 } })) withDocuments.push(name);
    }
  }
  return { marker, collections, withDocuments };
}

/** Brings the database to SCHEMA_VERSION, or refuses one that is newer or not ours. */
export async function upgradeSchema(db: Db): Promise<{ from: number; to: number }> {
  const decision = decideSchema(await inspect(db));
  if (decision.action === "refuse") throw new Error(decision.reason);
  const meta = db.collection<{ _id: string; value: number }>(COLLECTIONS.meta);
  if (decision.from === 0) {
    // Claims the database before creating anything, so that a start interrupted half-way is ours.
    await meta
      .updateOne({ _id: META.schema }, { $setOnInsert: { value: 0 } }, { upsert: true })
      .catch(ignoreDuplicateKey);
  }
  for (let version = decision.from + 1; version <= SCHEMA_VERSION; version++) {
    try {
      await STEPS[version - 1]?.(db);
      await meta.updateOne({ _id: META.schema }, { $max: { value: version } });
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      const hint =
        code === 13
          ? " (the user may not create indexes here: grant it the readWrite role on this database)"
          : "";
      throw new Error(
        `upgrading its Switchboard collections to schema version ${version} failed: ${messageOf(error)}${hint}`,
        { cause: error },
      );
    }
  }
  return { from: decision.from, to: SCHEMA_VERSION };
}

/** True for MongoDB's duplicate key error (11000; 11001 on old servers' updates). */
export function isDuplicateKey(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 11000 || code === 11001;
}

/** For an upsert racing another process's: the loser's duplicate key error means "already there". */
function ignoreDuplicateKey(error: unknown): void {
  if (!isDuplicateKey(error)) throw error;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
