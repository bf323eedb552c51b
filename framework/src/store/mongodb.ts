/**
 * The MongoDB backend (the official `mongodb` driver): one collection per record kind, a unique index
 * for every natural key, and upserts as single `replaceOne(..., { upsert: true })` calls, so that
 * concurrent writers (pool connections, or another process) are arbitrated by those indexes.
 *
 * - `open()` checks and upgrades the collections (`mongodb-schema.ts`) and loads nothing: start-up costs
 *   the same with ten documents or ten million.
 * - No multi-document transactions: a standalone server has none. Every write is one atomic document
 *   operation, or (reactions and messages, which have two unique keys) a short sequence that is retried
 *   whole when a concurrent write got in between.
 * - Two upserts of one new key can both miss and both insert; the index refuses the second with a
 *   duplicate key error (11000), and retrying it finds the first's document to replace.
 * - Journal appends are written in call order, batched while one is in flight: the seq counter is one
 *   document (`$inc`), and concurrent appends on separate connections could otherwise get their numbers
 *   in another order than they were made. A batch reserves its numbers with one `$inc` and is inserted
 *   with one `insertMany`.
 * - How records are kept in documents (free-form data as JSON text, kv and journal keys encoded): see
 *   `mongodb-documents.ts`.
 * - Snapshots read in a snapshot session, which needs MongoDB 5.0+ as a replica set; loads insert in
 *   bulk without a transaction: see `mongodb-dump.ts`.
 */
import { MongoBulkWriteError, MongoClient } from "mongodb";
import type { AnyBulkWriteOperation, Collection, Db, Filter, WithoutId, WriteConcernSettings } from "mongodb";
import { openError, targetOf } from "./mongodb-connection.js";
import {
  fromJsonText,
  fromKeyText,
  ghostDocument,
  journalDocument,
  kvDocument,
  linkDocument,
  loginDocument,
  mediaDocument,
  memberDocument,
  messageDocument,
  prefixRange,
  reactionDocument,
  storedKeyPrefix,
  toGhost,
  toJournal,
  toJsonText,
  toKeyText,
  toLink,
  toLogin,
  toMediaLink,
  toMember,
  toMessage,
  toReaction,
  toUser,
  userDocument,
} from "./mongodb-documents.js";
import type {
  GhostDocument,
  JournalDocument,
  KvDocument,
  LinkDocument,
  LoginDocument,
  MediaDocument,
  MemberDocument,
  MessageDocument,
  MetaDocument,
  ReactionDocument,
  UserDocument,
} from "./mongodb-documents.js";
import { COLLECTIONS, META, isDuplicateKey, upgradeSchema } from "./mongodb-schema.js";
import {
  DUMP_BATCH,
  countDocuments,
  insertRecords,
  readCollections,
  startSnapshot,
  untyped,
} from "./mongodb-dump.js";
import type { DumpCollections } from "./mongodb-dump.js";
import { INCOMPLETE_LOAD_VERSION, STORE_COLLECTIONS, StoreNotEmptyError, batches } from "./dump.js";
import type {
  ChatMember,
  GhostRecord,
  JournalEntry,
  JournalStream,
  LinkState,
  LoadOptions,
  LoginRecord,
  MatrixUserRecord,
  MediaLink,
  MessageMapping,
  ReactionRecord,
  RoomLink,
  Store,
  StoreDump,
  StoreSnapshot,
} from "./types.js";

export interface MongoStoreOptions {
  /**
   * `mongodb://user:password@host:27017/database` (or `mongodb+srv://`; the driver's URL options
   * apply). The database must be named: it is Switchboard's own.
   */
  url: string;
  /** Pool size. Default: the driver's (100). */
  maxConnections?: number;
  /** How long to wait for a usable server (`serverSelectionTimeoutMS`) before failing. Default 10 s. */
  connectTimeoutMs?: number;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** Appends a batch at most: far below the 16 MiB of a command when payloads are small. */
const MAX_APPEND_BATCH = 500;
/** Tries of a write that lost a race (duplicate key) before its error is passed on. */
const WRITE_ATTEMPTS = 5;
/** Operations of one bulk write (messageMoveReceiver). */
const BULK_CHUNK = 1000;

interface PendingAppend {
  stream: JournalStream;
  key: string;
  /** JSON text, made at the call: the caller may change its object while the append waits. */
  payload: string;
  createdAt: number;
  resolve: (inserted: boolean) => void;
  reject: (error: unknown) => void;
}

interface Collections extends DumpCollections {
  /** `meta` with the journal's write concern: the seq counter is as durable as the entries numbered by it. */
  seqCounter: Collection<MetaDocument>;
}

function collectionsOf(db: Db): Collections {
  // The journal is what the bridge acknowledges on: its writes (and the seq counter's, or a crash
  // could roll the counter back below seqs in use) wait for the on-disk journal, not only memory. The driver replaces a collection's write concern rather than merging it, so the URL's w
  // and wtimeoutMS are carried over by hand.
  const inherited = db.writeConcern;
  const journalled: WriteConcernSettings = { journal: true };
  if (inherited?.w !== undefined) journalled.w = inherited.w;
  if (inherited?.wtimeoutMS !== undefined) journalled.wtimeoutMS = inherited.wtimeoutMS;
  return {
    journal: db.collection<JournalDocument>(COLLECTIONS.journal, { writeConcern: journalled }),
    links: db.collection<LinkDocument>(COLLECTIONS.links),
    ghosts: db.collection<GhostDocument>(COLLECTIONS.ghosts),
    users: db.collection<UserDocument>(COLLECTIONS.users),
    logins: db.collection<LoginDocument>(COLLECTIONS.logins),
    messages: db.collection<MessageDocument>(COLLECTIONS.messages),
    reactions: db.collection<ReactionDocument>(COLLECTIONS.reactions),
    members: db.collection<MemberDocument>(COLLECTIONS.members),
    media: db.collection<MediaDocument>(COLLECTIONS.media),
    kv: db.collection<KvDocument>(COLLECTIONS.kv),
    meta: db.collection<MetaDocument>(COLLECTIONS.meta),
    seqCounter: db.collection<MetaDocument>(COLLECTIONS.meta, { writeConcern: journalled }),
  };
}

/** Runs `write` again while it fails with a duplicate key error (a concurrent write won a race). */
async function retryingRaces<T>(write: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (error) {
      if (!isDuplicateKey(error) || attempt >= WRITE_ATTEMPTS) throw error;
    }
  }
}

async function writeDataVersion(c: Collections, version: number): Promise<void> {
  await retryingRaces(() =>
    c.meta.updateOne({ _id: META.dataVersion }, { $set: { value: version } }, { upsert: true }),
  );
}

/** The document without `_id`, for a replacement (whose `_id` comes from the filter). */
function withoutId<T extends { _id: unknown }>(doc: T): WithoutId<T> {
  const { _id: _, ...rest } = doc;
  return rest as WithoutId<T>;
}

export class MongoStore implements Store {
  private client: MongoClient | null = null;
  private c: Collections | null = null;
  private opening: Promise<void> | null = null;
  private closing: Promise<void> | null = null;
  /** Operations sent and not yet answered: close() lets them finish before closing the client. */
  private readonly inFlight = new Set<Promise<unknown>>();
  private appendQueue: PendingAppend[] = [];
  private appending: Promise<void> | null = null;
  /** Snapshots not yet closed: close() ends their sessions before the client. */
  private readonly snapshots = new Set<StoreSnapshot>();

  constructor(private readonly options: MongoStoreOptions) {}

  open(): Promise<void> {
    // Concurrent open() calls share one client; an open() right after close() waits for it to end.
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
    const timeout = this.options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const client = new MongoClient(this.options.url, {
      appName: "switchboard",
      serverSelectionTimeoutMS: timeout,
      connectTimeoutMS: timeout,
      ...(this.options.maxConnections !== undefined ? { maxPoolSize: this.options.maxConnections } : {}),
      // Optional record fields are left out of documents; an undefined that slipped through is too.
      ignoreUndefined: true,
    });
    try {
      await client.connect();
      const db = client.db(target.database);
      await upgradeSchema(db);
      this.c = collectionsOf(db);
    } catch (error) {
      await client.close().catch(() => undefined);
      throw openError(target, error);
    }
    this.client = client;
  }

  close(): Promise<void> {
    // Taken synchronously so an open() issued right after this call starts a new life, not this one.
    const opening = this.opening;
    this.opening = null;
    const previous = this.closing;
    const closing = (async () => {
      await previous?.catch(() => undefined);
      await opening?.catch(() => undefined);
      const client = this.client;
      if (!client) return;
      this.client = null;
      this.c = null;
      await Promise.allSettled([...this.snapshots].map((s) => s.close()));
      // Appends already accepted are written, and answered operations answered, before the client ends.
      await this.appending;
      while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
      await client.close();
    })();
    this.closing = closing;
    return closing;
  }

  private connected(): Collections {
    if (!this.c) throw new Error("MongoStore is not open");
    return this.c;
  }

  /**
   * Runs `work` on the open collections, tracked for close(). Called before a method's first await, so
   * close() sees the work as soon as the method was called.
   */
  private run<T>(work: (c: Collections) => Promise<T>): Promise<T> {
    let c: Collections;
    try {
      c = this.connected();
    } catch (error) {
      return Promise.reject(error);
    }
    const result = work(c);
    this.inFlight.add(result);
    void result.finally(() => this.inFlight.delete(result)).catch(() => undefined);
    return result;
  }

  // ---- journal ----

  journalAppend(stream: JournalStream, key: string, payload: unknown): Promise<boolean> {
    let c: Collections;
    try {
      c = this.connected();
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<boolean>((resolve, reject) => {
      let text: string;
      try {
        text = toJsonText(payload);
      } catch (error) {
        reject(error);
        return;
      }
      this.appendQueue.push({ stream, key, payload: text, createdAt: Date.now(), resolve, reject });
      this.appending ??= this.writeAppends(c);
    });
  }

  private async writeAppends(c: Collections): Promise<void> {
    while (this.appendQueue.length > 0) {
      const batch = this.appendQueue.splice(0, MAX_APPEND_BATCH);
      // A key met twice in one batch is written once; the later appends of it are duplicates.
      const first = new Map<string, PendingAppend>();
      const repeats: Array<[PendingAppend, PendingAppend]> = [];
      for (const append of batch) {
        const id = JSON.stringify([append.stream, append.key]);
        const earlier = first.get(id);
        if (earlier) repeats.push([append, earlier]);
        else first.set(id, append);
      }
      const fresh = [...first.values()];
      const outcomes = await this.insertAppends(c, fresh).catch((error: unknown) =>
        fresh.map(() => ({ error })),
      );
      const byAppend = new Map<PendingAppend, { inserted: boolean } | { error: unknown }>();
      fresh.forEach((append, i) => byAppend.set(append, outcomes[i] ?? { error: new Error("no outcome") }));
      for (const [append, outcome] of byAppend) {
        if ("error" in outcome) append.reject(outcome.error);
        else append.resolve(outcome.inserted);
      }
      for (const [append, earlier] of repeats) {
        const outcome = byAppend.get(earlier);
        if (outcome && "error" in outcome) append.reject(outcome.error);
        else append.resolve(false);
      }
    }
    this.appending = null;
  }

  /** Numbers the appends in order and inserts them; one outcome per append, in order. */
  private async insertAppends(
    c: Collections,
    appends: PendingAppend[],
  ): Promise<Array<{ inserted: boolean } | { error: unknown }>> {
    const counter = await retryingRaces(() =>
      c.seqCounter.findOneAndUpdate(
        { _id: META.journalSeq },
        { $inc: { value: appends.length } },
        { upsert: true, returnDocument: "after" },
      ),
    );
    const last = Number(counter?.value);
    if (!Number.isFinite(last))
      throw new Error("MongoStore: the journal seq counter did not answer a number");
    const docs = appends.map((a, i) =>
      journalDocument(last - appends.length + 1 + i, a.stream, a.key, a.payload, a.createdAt),
    );
    try {
      await c.journal.insertMany(docs, { ordered: false });
      return appends.map(() => ({ inserted: true }));
    } catch (error) {
      if (!(error instanceof MongoBulkWriteError) || error.result.getWriteConcernError()) throw error;
      const failed = new Map(error.result.getWriteErrors().map((e) => [e.index, e]));
      return appends.map((_, i) => {
        const writeError = failed.get(i);
        if (!writeError) return { inserted: true };
        // A duplicate seq (the `_id_` index) is not a duplicate entry: the counter fell behind the
        // journal (a partial restore). Failing keeps the entry from being taken as already there;
        // the failed batch has moved the counter on, so a retry gets fresh numbers.
        if (isDuplicateKey(writeError) && !/index: _id_ /.test(writeError.errmsg ?? "")) {
          return { inserted: false };
        }
        return {
          error: new Error(`MongoStore: journal append failed: ${writeError.errmsg ?? "unknown error"}`),
        };
      });
    }
  }

  journalGet(stream: JournalStream, key: string): Promise<JournalEntry | null> {
    return this.run(async (c) => {
      const doc = await c.journal.findOne({ stream, key: toKeyText(key) });
      return doc ? toJournal(doc) : null;
    });
  }

  journalPending(stream: JournalStream): Promise<JournalEntry[]> {
    return this.run(async (c) =>
      (await c.journal.find({ stream, done: false }).sort({ _id: 1 }).toArray()).map(toJournal),
    );
  }

  journalRecent(stream: JournalStream, since: number): Promise<JournalEntry[]> {
    return this.run(async (c) =>
      (
        await c.journal
          .find({ stream, createdAt: { $gte: since } })
          .sort({ _id: 1 })
          .toArray()
      ).map(toJournal),
    );
  }

  journalMarkDone(stream: JournalStream, key: string): Promise<void> {
    return this.run(async (c) => {
      await c.journal.updateOne({ stream, key: toKeyText(key), done: false }, { $set: { done: true } });
    });
  }

  journalPrune(before: number): Promise<number> {
    // The counter is a document of its own, so seq keeps rising after any prune.
    return this.run(
      async (c) => (await c.journal.deleteMany({ done: true, createdAt: { $lt: before } })).deletedCount,
    );
  }

  // ---- links ----

  linkPut(link: RoomLink): Promise<void> {
    const doc = linkDocument(link);
    return this.run(async (c) => {
      await retryingRaces(() => c.links.replaceOne({ _id: doc._id }, withoutId(doc), { upsert: true }));
    });
  }

  linkByRoom(roomId: string): Promise<RoomLink | null> {
    return this.run(async (c) => {
      const doc = await c.links.findOne({ _id: roomId });
      return doc ? toLink(doc) : null;
    });
  }

  linksByChannel(network: string, channelId: string, receiver?: string): Promise<RoomLink[]> {
    const filter: Filter<LinkDocument> = { network, channelId };
    if (receiver !== undefined) filter.receiver = receiver;
    return this.run(async (c) =>
      (await c.links.find(filter).sort({ createdAt: 1, _id: 1 }).toArray()).map(toLink),
    );
  }

  linkDelete(roomId: string): Promise<void> {
    return this.run(async (c) => {
      await c.links.deleteOne({ _id: roomId });
    });
  }

  linkList(filter?: { network?: string; createdBy?: string; state?: LinkState }): Promise<RoomLink[]> {
    const query: Filter<LinkDocument> = {};
    if (filter?.network !== undefined) query.network = filter.network;
    if (filter?.createdBy !== undefined) query.createdBy = filter.createdBy;
    if (filter?.state !== undefined) query.state = filter.state;
    return this.run(async (c) =>
      (await c.links.find(query).sort({ createdAt: 1, _id: 1 }).toArray()).map(toLink),
    );
  }

  linkCount(network?: string): Promise<number> {
    return this.run((c) => c.links.countDocuments(network === undefined ? {} : { network }));
  }

  // ---- ghosts ----

  ghostPut(ghost: GhostRecord): Promise<void> {
    const doc = ghostDocument(ghost);
    return this.run(async (c) => {
      await retryingRaces(() => c.ghosts.replaceOne({ _id: doc._id }, withoutId(doc), { upsert: true }));
    });
  }

  ghostGet(userId: string): Promise<GhostRecord | null> {
    return this.run(async (c) => {
      const doc = await c.ghosts.findOne({ _id: userId });
      return doc ? toGhost(doc) : null;
    });
  }

  ghostByRemote(network: string, remoteId: string): Promise<GhostRecord | null> {
    return this.run(async (c) => {
      const doc = await c.ghosts.findOne({ network, remoteId });
      return doc ? toGhost(doc) : null;
    });
  }

  ghostCount(network?: string): Promise<number> {
    return this.run((c) => c.ghosts.countDocuments(network === undefined ? {} : { network }));
  }

  // ---- users ----

  userPut(user: MatrixUserRecord): Promise<void> {
    const doc = userDocument(user);
    return this.run(async (c) => {
      await retryingRaces(() => c.users.replaceOne({ _id: doc._id }, withoutId(doc), { upsert: true }));
    });
  }

  userGet(userId: string): Promise<MatrixUserRecord | null> {
    return this.run(async (c) => {
      const doc = await c.users.findOne({ _id: userId });
      return doc ? toUser(doc) : null;
    });
  }

  userByManagementRoom(roomId: string): Promise<MatrixUserRecord | null> {
    return this.run(async (c) => {
      const doc = await c.users.findOne({ managementRoom: roomId }, { sort: { _id: 1 } });
      return doc ? toUser(doc) : null;
    });
  }

  // ---- logins ----

  loginPut(login: LoginRecord): Promise<void> {
    const doc = loginDocument(login);
    return this.run(async (c) => {
      await retryingRaces(() =>
        c.logins.replaceOne({ network: doc.network, loginId: doc.loginId }, doc, { upsert: true }),
      );
    });
  }

  loginGet(network: string, loginId: string): Promise<LoginRecord | null> {
    return this.run(async (c) => {
      const doc = await c.logins.findOne({ network, loginId });
      return doc ? toLogin(doc) : null;
    });
  }

  loginsOf(matrixUserId: string, network?: string): Promise<LoginRecord[]> {
    const filter: Filter<LoginDocument> = { matrixUserId };
    if (network !== undefined) filter.network = network;
    return this.run(async (c) =>
      (await c.logins.find(filter).sort({ createdAt: 1, loginId: 1 }).toArray()).map(toLogin),
    );
  }

  loginsOfNetwork(network: string): Promise<LoginRecord[]> {
    return this.run(async (c) =>
      (await c.logins.find({ network }).sort({ createdAt: 1, loginId: 1 }).toArray()).map(toLogin),
    );
  }

  loginDelete(network: string, loginId: string): Promise<void> {
    return this.run(async (c) => {
      await c.logins.deleteOne({ network, loginId });
    });
  }

  // ---- messages ----

  messagePut(mapping: MessageMapping): Promise<void> {
    const doc = messageDocument(mapping);
    const part = {
      network: doc.network,
      channelId: doc.channelId,
      receiver: doc.receiver,
      remoteId: doc.remoteId,
      part: doc.part,
    };
    return this.run(async (c) => {
      // Upsert by event, and one event per remote part: another event holding this part is replaced
      // (the newest wins). First this event's document goes if it held another part; a concurrent put
      // of the same event in between makes the replace fail on the event index, and both run again.
      await retryingRaces(async () => {
        await c.messages.deleteOne({ eventId: doc.eventId, $nor: [part] });
        await c.messages.replaceOne(part, doc, { upsert: true });
      });
    });
  }

  messageByRemote(
    network: string,
    channelId: string,
    receiver: string,
    remoteId: string,
  ): Promise<MessageMapping[]> {
    return this.run(async (c) =>
      (
        await c.messages
          .find({ network, channelId, receiver, remoteId })
          .sort({ part: 1, roomId: 1 })
          .toArray()
      ).map(toMessage),
    );
  }

  messageByEvent(eventId: string): Promise<MessageMapping | null> {
    return this.run(async (c) => {
      const doc = await c.messages.findOne({ eventId });
      return doc ? toMessage(doc) : null;
    });
  }

  messageLatestBefore(roomId: string, timestamp: number): Promise<MessageMapping | null> {
    // Ties on timestamp go to the highest part: the last Matrix event sent for that remote message.
    return this.run(async (c) => {
      const doc = await c.messages.findOne(
        { roomId, timestamp: { $lte: timestamp } },
        { sort: { timestamp: -1, part: -1 } },
      );
      return doc ? toMessage(doc) : null;
    });
  }

  messagePrune(before: number): Promise<number> {
    return this.run(async (c) => (await c.messages.deleteMany({ timestamp: { $lt: before } })).deletedCount);
  }

  messagesWithRemotePrefix(network: string, prefix: string): Promise<MessageMapping[]> {
    return this.run(async (c) =>
      (
        await c.messages
          .find({ network, remoteId: prefixRange(prefix) })
          .sort({ timestamp: 1, eventId: 1 })
          .toArray()
      ).map(toMessage),
    );
  }

  messageDeleteByEvent(eventId: string): Promise<void> {
    return this.run(async (c) => {
      await c.messages.deleteOne({ eventId });
    });
  }

  messageMoveReceiver(network: string, channelId: string, from: string, to: string): Promise<number> {
    if (from === to) return Promise.resolve(0);
    return this.run(async (c) => {
      const moving = await c.messages
        .find({ network, channelId, receiver: from }, { projection: { _id: 1, remoteId: 1, part: 1 } })
        .toArray();
      let moved = 0;
      for (let start = 0; start < moving.length; start += BULK_CHUNK) {
        // A part already mapped under the new receiver would collide: the moved mapping replaces it,
        // as a newer put would. In order, so each delete runs before its move.
        const operations: AnyBulkWriteOperation<MessageDocument>[] = [];
        for (const m of moving.slice(start, start + BULK_CHUNK)) {
          operations.push(
            {
              deleteOne: { filter: { network, channelId, receiver: to, remoteId: m.remoteId, part: m.part } },
            },
            { updateOne: { filter: { _id: m._id, receiver: from }, update: { $set: { receiver: to } } } },
          );
        }
        moved += (await c.messages.bulkWrite(operations, { ordered: true })).modifiedCount;
      }
      return moved;
    });
  }

  // ---- reactions ----

  reactionPut(reaction: ReactionRecord): Promise<void> {
    const doc = reactionDocument(reaction);
    const six = {
      network: doc.network,
      channelId: doc.channelId,
      receiver: doc.receiver,
      messageId: doc.messageId,
      sender: doc.sender,
      key: doc.key,
    };
    return this.run(async (c) => {
      // Same shape as messagePut: upsert by the six fields (their unique index arbitrates concurrent
      // puts, so exactly one record survives), after dropping this event's record if its six fields
      // changed.
      await retryingRaces(async () => {
        await c.reactions.deleteOne({ eventId: doc.eventId, $nor: [six] });
        await c.reactions.replaceOne(six, doc, { upsert: true });
      });
    });
  }

  reactionByEvent(eventId: string): Promise<ReactionRecord | null> {
    return this.run(async (c) => {
      const doc = await c.reactions.findOne({ eventId });
      return doc ? toReaction(doc) : null;
    });
  }

  reactionGet(
    network: string,
    channelId: string,
    receiver: string,
    messageId: string,
    sender: string,
    key: string,
  ): Promise<ReactionRecord | null> {
    return this.run(async (c) => {
      const doc = await c.reactions.findOne({ network, channelId, receiver, messageId, sender, key });
      return doc ? toReaction(doc) : null;
    });
  }

  reactionDelete(eventId: string): Promise<void> {
    return this.run(async (c) => {
      await c.reactions.deleteOne({ eventId });
    });
  }

  // ---- chat members ----

  chatMemberPut(member: ChatMember): Promise<void> {
    const doc = memberDocument(member);
    const filter = {
      network: doc.network,
      channelId: doc.channelId,
      receiver: doc.receiver,
      loginId: doc.loginId,
    };
    return this.run(async (c) => {
      await retryingRaces(() => c.members.replaceOne(filter, doc, { upsert: true }));
    });
  }

  chatMemberDelete(network: string, channelId: string, receiver: string, loginId: string): Promise<void> {
    return this.run(async (c) => {
      await c.members.deleteOne({ network, channelId, receiver, loginId });
    });
  }

  chatMembers(network: string, channelId: string, receiver: string): Promise<ChatMember[]> {
    return this.run(async (c) =>
      (await c.members.find({ network, channelId, receiver }).sort({ since: 1, loginId: 1 }).toArray()).map(
        toMember,
      ),
    );
  }

  chatsOfLogin(network: string, loginId: string): Promise<ChatMember[]> {
    return this.run(async (c) =>
      (
        await c.members.find({ network, loginId }).sort({ since: 1, channelId: 1, receiver: 1 }).toArray()
      ).map(toMember),
    );
  }

  // ---- media links ----

  mediaLinkPut(link: MediaLink): Promise<void> {
    const doc = mediaDocument(link);
    return this.run(async (c) => {
      await retryingRaces(() => c.media.replaceOne({ _id: doc._id }, withoutId(doc), { upsert: true }));
    });
  }

  mediaLinkGet(token: string): Promise<MediaLink | null> {
    return this.run(async (c) => {
      const doc = await c.media.findOne({ _id: token });
      return doc ? toMediaLink(doc) : null;
    });
  }

  mediaLinkDeleteByEvent(eventId: string): Promise<number> {
    return this.run(async (c) => (await c.media.deleteMany({ eventId })).deletedCount);
  }

  mediaLinkPrune(now: number): Promise<number> {
    // A link without expiresAt has no such field, which $lt never matches.
    return this.run(async (c) => (await c.media.deleteMany({ expiresAt: { $lt: now } })).deletedCount);
  }

  // ---- kv ----

  kvGet<T = unknown>(namespace: string, key: string): Promise<T | null> {
    return this.run(async (c) => {
      const doc = await c.kv.findOne({ namespace: toKeyText(namespace), key: toKeyText(key) });
      return doc ? fromJsonText<T | null>(doc.value) : null;
    });
  }

  kvSet(namespace: string, key: string, value: unknown): Promise<void> {
    const doc = kvDocument(namespace, key, value);
    return this.run(async (c) => {
      await retryingRaces(() =>
        c.kv.replaceOne({ namespace: doc.namespace, key: doc.key }, doc, { upsert: true }),
      );
    });
  }

  kvDelete(namespace: string, key: string): Promise<void> {
    return this.run(async (c) => {
      await c.kv.deleteOne({ namespace: toKeyText(namespace), key: toKeyText(key) });
    });
  }

  kvList<T = unknown>(namespace: string, prefix: string): Promise<Array<{ key: string; value: T }>> {
    return this.run(async (c) => {
      const docs = await c.kv
        .find({ namespace: toKeyText(namespace), key: prefixRange(storedKeyPrefix(prefix)) })
        .toArray();
      return (
        docs
          .map((d) => ({ key: fromKeyText(d.key), value: fromJsonText<T>(d.value) }))
          .filter((e) => e.key.startsWith(prefix))
          // JS string order (UTF-16 code units), which neither MongoDB's (UTF-8 bytes, i.e. code
          // points) nor the stored forms keep.
          .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      );
    });
  }

  kvClear(namespace: string): Promise<number> {
    return this.run(async (c) => (await c.kv.deleteMany({ namespace: toKeyText(namespace) })).deletedCount);
  }

  // ---- schema version (the framework's data layout; the collections' version is mongodb-schema.ts's) ----

  schemaVersion(): Promise<number> {
    return this.run(async (c) => {
      const doc = await c.meta.findOne({ _id: META.dataVersion });
      return doc ? Number(doc.value) : 0;
    });
  }

  setSchemaVersion(version: number): Promise<void> {
    return this.run((c) => writeDataVersion(c, version));
  }

  // ---- snapshot and load (the reading and writing is in mongodb-dump.ts) ----

  async snapshot(): Promise<StoreSnapshot> {
    const client = this.client;
    const start = await this.run((c) =>
      startSnapshot(client as MongoClient, c).then((started) => ({ ...started, c })),
    );
    const c = start.c;
    let ended: Promise<void> | null = null;
    const end = (): Promise<void> => {
      ended ??= (async () => {
        this.snapshots.delete(snapshot);
        await start.session.endSession().catch(() => undefined);
      })();
      return ended;
    };
    const snapshot: StoreSnapshot = {
      schemaVersion: start.schemaVersion,
      journalSeq: start.journalSeq,
      records: (async function* () {
        try {
          yield* readCollections(c, start.session);
        } finally {
          await end();
        }
      })(),
      close: end,
    };
    this.snapshots.add(snapshot);
    return snapshot;
  }

  load(dump: StoreDump, options: LoadOptions = {}): Promise<void> {
    return this.run(async (c) => {
      const held = await countDocuments(c);
      if (Object.values(held).some((n) => n > 0) && !options.replace) {
        const version = await c.meta.findOne({ _id: META.dataVersion });
        throw new StoreNotEmptyError(held, Number(version?.value) === INCOMPLETE_LOAD_VERSION);
      }
      // No transaction: the marker goes first and the dump's version last, so a load that dies midway
      // leaves a store the framework refuses (and a restore --force replaces), never a half one in use.
      await writeDataVersion(c, INCOMPLETE_LOAD_VERSION);
      if (options.replace) {
        // deleteMany, not drop: the indexes stay, and no other process sees a collection missing.
        for (const collection of STORE_COLLECTIONS) await untyped(c, collection).deleteMany({});
      }
      let seq = dump.journalSeq;
      for await (const batch of batches(dump.records, DUMP_BATCH)) {
        if (batch.collection === "journal") {
          for (const entry of batch.records as JournalEntry[]) seq = Math.max(seq, entry.seq);
        }
        await insertRecords(c, batch.collection, batch.records);
      }
      // New appends continue above every seq the source handed out; the counter never goes back.
      await retryingRaces(() =>
        c.seqCounter.updateOne({ _id: META.journalSeq }, { $max: { value: seq } }, { upsert: true }),
      );
      await writeDataVersion(c, dump.schemaVersion);
    });
  }
}
