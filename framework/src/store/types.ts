/**
 * The one storage contract every backend implements (NeDB is the embedded default).
 * Backends are dumb: they keep records and answer lookups; all bridge logic lives in the
 * framework. Every method is async and safe to call concurrently.
 * Records are plain JSON-compatible objects; backends must not add or keep extra fields
 * on what they return (no `_id`).
 */

/** Which side an entry in the durable journal came from. */
export type JournalStream = "matrix" | "remote";

export interface JournalEntry {
  stream: JournalStream;
  /** Unique per stream: the homeserver's txnId, or a connector-chosen remote event key. */
  key: string;
  /** Ordering within a stream: assigned by the store, strictly increasing in append order. */
  seq: number;
  payload: unknown;
  done: boolean;
  createdAt: number;
}

/** How a Matrix room is tied to a remote chat. */
export type LinkKind = "portal" | "plumbed" | "dm";
/** pending: waiting for an admin (activation guard); paused: stopped by a guard or an admin. */
export type LinkState = "active" | "pending" | "paused" | "denied";

export interface RoomLink {
  roomId: string;
  network: string;
  /** The connector's stable id of the remote chat. */
  channelId: string;
  /** For chats only one login can see (its DMs): that login's id. "" otherwise. */
  receiver: string;
  kind: LinkKind;
  state: LinkState;
  /** Matrix user who created or requested the link. */
  createdBy: string;
  createdAt: number;
  /** Small free-form data owned by the framework's guards and the connector. */
  meta: Record<string, unknown>;
}

export interface GhostRecord {
  /** Full Matrix id, e.g. @irc_libera_alice:example.org */
  userId: string;
  network: string;
  /** The connector's stable id of the remote user (never the display name). */
  remoteId: string;
  displayname: string | null;
  avatarUrl: string | null;
  /** The remote avatar's stable key, so an unchanged avatar is not uploaded again. */
  avatarKey?: string | null;
  registered: boolean;
}

/** A Matrix user the bridge knows: where their management room is, what they may do. */
export interface MatrixUserRecord {
  userId: string;
  /** The DM with the bridge bot, once there is one. */
  managementRoom: string | null;
  meta: Record<string, unknown>;
}

export type LoginState = "active" | "logged-out";

export interface LoginRecord {
  network: string;
  /** The Matrix user who owns the login. */
  matrixUserId: string;
  /** The remote account id (e.g. Slack user id), unique per network. */
  loginId: string;
  /** Encrypted credentials (framework-encrypted; the store never sees plaintext). */
  credentials: string;
  state: LoginState;
  /** Display name of the remote account, for `list`/`status`. */
  remoteName: string;
  createdAt: number;
  meta: Record<string, unknown>;
}

/** One Matrix event ↔ one remote message (or one part of it, when split). */
export interface MessageMapping {
  network: string;
  channelId: string;
  receiver: string;
  remoteId: string;
  /** Remote messages that become several Matrix events (text + files) number their parts. */
  part: number;
  roomId: string;
  eventId: string;
  /** The Matrix sender of the event (ghost, real user or bot). */
  sender: string;
  /** Remote timestamp in ms (for read receipts: "newest message at or before"). */
  timestamp: number;
  /** The connector's own data about the remote message (`SendResult.meta`), handed back later. */
  meta?: Record<string, unknown>;
}

/** One reaction, on either side: a Matrix m.reaction event ↔ a remote reaction on a mapped message. */
export interface ReactionRecord {
  network: string;
  channelId: string;
  receiver: string;
  /** The remote id of the message reacted to. */
  messageId: string;
  /** Who reacted: the remote user id (remote reactions) or the Matrix user id (Matrix reactions). */
  sender: string;
  /** The reaction key (an emoji, or a ":name:" shortcode). */
  key: string;
  roomId: string;
  /** The m.reaction event. */
  eventId: string;
  /** The reaction's own remote id, on networks that give reactions one. */
  remoteId?: string;
  meta?: Record<string, unknown>;
  timestamp: number;
}

/** A login is in a remote chat (its client said so): whom to invite, whom to send or relay as. */
export interface ChatMember {
  network: string;
  channelId: string;
  receiver: string;
  loginId: string;
  matrixUserId: string;
  since: number;
}

/**
 * A public link to a Matrix file, for networks that can only send links (IRC): the token in
 * `/media/<token>` stands for exactly this mxc URI, so the proxy serves nothing else.
 */
export interface MediaLink {
  /** ≥ 128 random bits, base64url: the whole secret of the link. */
  token: string;
  mxc: string;
  /** File name and type to serve it with (the homeserver's type wins when it gives one). */
  name: string;
  mimetype: string;
  /** The Matrix event whose content it came from: redacting that event revokes the link. */
  eventId?: string;
  createdAt: number;
  /** When it stops working; absent: for as long as the homeserver has the file. */
  expiresAt?: number;
}

/** A kv entry, as dumps carry it. */
export interface KvEntry {
  namespace: string;
  key: string;
  value: unknown;
}

/** The record kind of each collection a store keeps (dump order: `STORE_COLLECTIONS` in dump.ts). */
export interface StoreRecordTypes {
  journal: JournalEntry;
  links: RoomLink;
  ghosts: GhostRecord;
  users: MatrixUserRecord;
  logins: LoginRecord;
  messages: MessageMapping;
  reactions: ReactionRecord;
  members: ChatMember;
  media: MediaLink;
  kv: KvEntry;
}
export type StoreCollection = keyof StoreRecordTypes;

/** One record of a dump, with the collection it belongs to. */
export type DumpRecord = {
  [C in StoreCollection]: { collection: C; record: StoreRecordTypes[C] };
}[StoreCollection];

/**
 * Everything a store holds, backend-neutral: what backup, restore and `store copy` move. Records
 * are the interface's records exactly as the getters return them; sealed values (login
 * credentials, journal payloads, login state) stay the sealed strings they are.
 */
export interface StoreDump {
  /** The data layout version (`schemaVersion()`): a dump is loaded as it is and migrated at start. */
  schemaVersion: number;
  /** At least every journal seq the store has handed out: a store loaded from it numbers new entries above. */
  journalSeq: number;
  /**
   * Every record once, collection by collection in `STORE_COLLECTIONS` order, in no particular order
   * within a collection. Read once. Never the backend's own bookkeeping (its schema version entry,
   * seq watermarks): that is what `schemaVersion` and `journalSeq` carry.
   */
  records: AsyncIterable<DumpRecord>;
}

/** A dump of one instant: writes made after `snapshot()` resolved are not in it. */
export interface StoreSnapshot extends StoreDump {
  /** Ends the snapshot (PostgreSQL: its transaction); idempotent, and safe after a partial read. */
  close(): Promise<void>;
}

export interface LoadOptions {
  /** Replace whatever the store holds (restore --force) instead of refusing a store that is not empty. */
  replace?: boolean;
}

export interface Store {
  open(): Promise<void>;
  close(): Promise<void>;

  /** Returns false (and changes nothing) when an entry with this stream+key exists. */
  journalAppend(stream: JournalStream, key: string, payload: unknown): Promise<boolean>;
  journalGet(stream: JournalStream, key: string): Promise<JournalEntry | null>;
  /** Entries not done, oldest (lowest seq) first. */
  journalPending(stream: JournalStream): Promise<JournalEntry[]>;
  /** Entries (done or not) created at or after `since` (ms epoch), oldest first. */
  journalRecent(stream: JournalStream, since: number): Promise<JournalEntry[]>;
  journalMarkDone(stream: JournalStream, key: string): Promise<void>;
  /** Deletes done entries created before `before` (ms epoch); returns how many. */
  journalPrune(before: number): Promise<number>;

  linkPut(link: RoomLink): Promise<void>;
  linkByRoom(roomId: string): Promise<RoomLink | null>;
  /** All links for a remote chat (a chat may have a portal and, wrongly, plumbs: guards check). */
  linksByChannel(network: string, channelId: string, receiver?: string): Promise<RoomLink[]>;
  linkDelete(roomId: string): Promise<void>;
  linkList(filter?: { network?: string; createdBy?: string; state?: LinkState }): Promise<RoomLink[]>;
  linkCount(network?: string): Promise<number>;

  ghostPut(ghost: GhostRecord): Promise<void>;
  ghostGet(userId: string): Promise<GhostRecord | null>;
  ghostByRemote(network: string, remoteId: string): Promise<GhostRecord | null>;
  ghostCount(network?: string): Promise<number>;

  userPut(user: MatrixUserRecord): Promise<void>;
  userGet(userId: string): Promise<MatrixUserRecord | null>;
  userByManagementRoom(roomId: string): Promise<MatrixUserRecord | null>;

  loginPut(login: LoginRecord): Promise<void>;
  loginGet(network: string, loginId: string): Promise<LoginRecord | null>;
  loginsOf(matrixUserId: string, network?: string): Promise<LoginRecord[]>;
  loginsOfNetwork(network: string): Promise<LoginRecord[]>;
  loginDelete(network: string, loginId: string): Promise<void>;

  messagePut(mapping: MessageMapping): Promise<void>;
  /** Parts in ascending order; empty when unknown. */
  messageByRemote(
    network: string,
    channelId: string,
    receiver: string,
    remoteId: string,
  ): Promise<MessageMapping[]>;
  messageByEvent(eventId: string): Promise<MessageMapping | null>;
  /** The newest mapping in the room whose timestamp is <= `timestamp` (read receipts). */
  messageLatestBefore(roomId: string, timestamp: number): Promise<MessageMapping | null>;
  /** Deletes mappings with timestamp before `before`; returns how many. */
  messagePrune(before: number): Promise<number>;

  /** Mappings whose remoteId starts with `prefix` (upgrades only: a full scan is fine). */
  messagesWithRemotePrefix(network: string, prefix: string): Promise<MessageMapping[]>;
  messageDeleteByEvent(eventId: string): Promise<void>;
  /** Moves a chat's mappings from one receiver to another (upgrades only); returns how many. */
  messageMoveReceiver(network: string, channelId: string, from: string, to: string): Promise<number>;

  /**
   * Upserts by eventId; also unique by network + channelId + receiver + messageId + sender + key:
   * a put whose six fields another event holds replaces that record (the newest event wins).
   */
  reactionPut(reaction: ReactionRecord): Promise<void>;
  reactionByEvent(eventId: string): Promise<ReactionRecord | null>;
  reactionGet(
    network: string,
    channelId: string,
    receiver: string,
    messageId: string,
    sender: string,
    key: string,
  ): Promise<ReactionRecord | null>;
  reactionDelete(eventId: string): Promise<void>;

  /** Upserts by network + channelId + receiver + loginId. */
  chatMemberPut(member: ChatMember): Promise<void>;
  chatMemberDelete(network: string, channelId: string, receiver: string, loginId: string): Promise<void>;
  chatMembers(network: string, channelId: string, receiver: string): Promise<ChatMember[]>;
  chatsOfLogin(network: string, loginId: string): Promise<ChatMember[]>;

  mediaLinkPut(link: MediaLink): Promise<void>;
  mediaLinkGet(token: string): Promise<MediaLink | null>;
  /** Deletes the links made for an event (it was redacted); returns how many. */
  mediaLinkDeleteByEvent(eventId: string): Promise<number>;
  /** Deletes links that expired before `now`; returns how many. */
  mediaLinkPrune(now: number): Promise<number>;

  kvGet<T = unknown>(namespace: string, key: string): Promise<T | null>;
  kvSet(namespace: string, key: string, value: unknown): Promise<void>;
  kvDelete(namespace: string, key: string): Promise<void>;
  /** Entries of a namespace whose key starts with `prefix`, in key order. */
  kvList<T = unknown>(namespace: string, prefix: string): Promise<Array<{ key: string; value: T }>>;
  /** Deletes a whole namespace (a login's state when it logs out); returns how many entries. */
  kvClear(namespace: string): Promise<number>;

  /**
   * The data layout version this store holds (0: written before versions existed, or empty);
   * the framework migrates up to `STORE_SCHEMA_VERSION` and refuses a newer one.
   */
  schemaVersion(): Promise<number>;
  setSchemaVersion(version: number): Promise<void>;

  /*
   * Backup, restore and moving stores (conformance: "snapshot and load"). Optional only until every
   * backend has them: the admin commands refuse, naming the store type, a store without them.
   */

  /**
   * Every record as of one instant, while the store keeps serving: NeDB captures its in-memory
   * collections in one synchronous step, PostgreSQL reads in one REPEATABLE READ transaction.
   */
  snapshot?(): Promise<StoreSnapshot>;
  /**
   * Loads a dump into this store, which must hold no records (else `StoreNotEmptyError`, and nothing
   * changes) unless `replace`. Bulk and all-or-nothing where the backend can be: a load that fails
   * midway leaves either the store as it was (one transaction) or `schemaVersion()` at
   * `INCOMPLETE_LOAD_VERSION`, which the framework refuses to start on. The schema version and the
   * journal's seq are the dump's afterwards.
   */
  load?(dump: StoreDump, options?: LoadOptions): Promise<void>;
}
