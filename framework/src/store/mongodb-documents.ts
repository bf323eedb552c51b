/**
 * The MongoDB backend's documents, and how records become documents and back.
 *
 * Field names are the records' own. `_id` is the natural key where a record has one string key that
 * never changes (a link's room, a ghost's or user's Matrix id, a media link's token) and the journal
 * entry's `seq`; elsewhere (logins, messages, reactions, members, kv) it is the server's ObjectId and the
 * natural keys are unique indexes (`mongodb-schema.ts`): a message or reaction record is replaced in
 * place by a newer event, which changes its `eventId`, and an `_id` cannot change. Records are built
 * field by field from documents, so `_id` never reaches a caller.
 *
 * Free-form data (journal payloads, `meta`, kv values) is stored as JSON text, not as BSON
 * sub-documents, because BSON cannot keep every JS value a record may hold:
 * - a field name cannot contain U+0000 (BSON writes names as C strings; the driver refuses them);
 * - servers before 5.0 refuse field names with `.` or a leading `$`, and Matrix content is full of
 *   `m.relates_to`-style keys;
 * - BSON strings are UTF-8, so a lone surrogate ("\ud800") in a value silently becomes U+FFFD.
 * `JSON.stringify` escapes U+0000 and lone surrogates (`\u0000`, `\ud800`), so its text is well-formed
 * and comes back exactly. Nothing queries inside these fields, so nothing is lost by it.
 *
 * kv namespaces and keys, and journal keys (matrix-in's hold U+0000; a connector's remote keys may
 * hold anything), are free-form strings too, and indexed: they go through `toKeyText`. Other strings
 * (ids from Matrix and the networks) are stored as they are.
 *
 * `DOCUMENTS` gathers the mappings per collection, for snapshots and loads (`mongodb-dump.ts`): a
 * record read back is exactly what the getters return, so dumps of every backend compare equal.
 */
import type {
  ChatMember,
  DumpRecord,
  GhostRecord,
  JournalEntry,
  JournalStream,
  KvEntry,
  LinkKind,
  LinkState,
  LoginRecord,
  LoginState,
  MatrixUserRecord,
  MediaLink,
  MessageMapping,
  ReactionRecord,
  RoomLink,
  StoreCollection,
  StoreRecordTypes,
} from "./types.js";

// ---- free-form values ----

/** JSON text of a value (`undefined` as null, as JSON has no undefined). */
export function toJsonText(value: unknown): string {
  return JSON.stringify(value === undefined ? null : value);
}

export function fromJsonText<T>(text: string): T {
  return JSON.parse(text) as T;
}

// ---- kv namespaces and keys ----

/*
 * A lone surrogate cannot be stored in a BSON string (see above). So each is stored as U+E000 followed
 * by U+F000 + (unit - U+D800), and U+E000 itself (a private-use character, rare but legal) as U+E000
 * twice. Text without either (nearly all of it) is stored as it is. The substitution is per code unit,
 * and whether a surrogate is lone depends only on its neighbours, so when a key starts with a prefix
 * that does not end in a high surrogate, the key's stored form starts with the prefix's (`kvList`
 * strips such a last unit, then checks the decoded keys).
 */
const MARK = 0xe000;
const SURROGATE_CODES = 0xf000;
const SURROGATES = 0xd800;
/** U+E000, and surrogates that are not half of a pair. */
const RAW = /\uE000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const STORED = /\uE000([\uE000\uF000-\uF7FF])/g;

export function toKeyText(text: string): string {
  return text.replace(RAW, (c) => {
    const unit = c.charCodeAt(0);
    return String.fromCharCode(MARK, unit === MARK ? MARK : SURROGATE_CODES + (unit - SURROGATES));
  });
}

export function fromKeyText(stored: string): string {
  return stored.replace(STORED, (_, code: string) => {
    const unit = code.charCodeAt(0);
    return String.fromCharCode(unit === MARK ? MARK : SURROGATES + (unit - SURROGATE_CODES));
  });
}

/** The stored prefix that every stored key whose decoded form starts with `prefix` starts with. */
export function storedKeyPrefix(prefix: string): string {
  const last = prefix.charCodeAt(prefix.length - 1);
  // A high surrogate at the end may be half of a pair in the key, stored as it is.
  const safe = last >= 0xd800 && last <= 0xdbff ? prefix.slice(0, -1) : prefix;
  return toKeyText(safe);
}

/**
 * A filter on a string field matching exactly the strings that start with `prefix`, as a range an
 * index serves. MongoDB compares strings (without a collation) by their UTF-8 bytes, which is code
 * point order, so they are the strings at or after the prefix and before the prefix with its last code
 * point raised by one. `prefix` must be well-formed (no lone surrogates), as stored strings are.
 */
export function prefixRange(prefix: string): { $gte: string; $lt?: string } {
  const points = Array.from(prefix, (c) => c.codePointAt(0) ?? 0);
  while (points.length > 0) {
    const last = points.pop() ?? 0;
    if (last === 0x10ffff) continue;
    points.push(last === 0xd7ff ? 0xe000 : last + 1);
    return { $gte: prefix, $lt: String.fromCodePoint(...points) };
  }
  return { $gte: prefix };
}

// ---- documents and records ----

export interface JournalDocument {
  /** The entry's seq. */
  _id: number;
  stream: JournalStream;
  /** `toKeyText` of the key. */
  key: string;
  payload: string;
  done: boolean;
  createdAt: number;
}

/** `payload` is already JSON text (`toJsonText`): the store makes it when the append is called. */
export function journalDocument(
  seq: number,
  stream: JournalStream,
  key: string,
  payload: string,
  createdAt: number,
): JournalDocument {
  return { _id: seq, stream, key: toKeyText(key), payload, done: false, createdAt };
}

/** A whole entry's document (a load's; appends make theirs with `journalDocument`). */
export function journalEntryDocument(e: JournalEntry): JournalDocument {
  return { ...journalDocument(e.seq, e.stream, e.key, toJsonText(e.payload), e.createdAt), done: e.done };
}

export function toJournal(d: JournalDocument): JournalEntry {
  return {
    stream: d.stream,
    key: fromKeyText(d.key),
    seq: d._id,
    payload: fromJsonText<unknown>(d.payload),
    done: d.done,
    createdAt: d.createdAt,
  };
}

export interface LinkDocument {
  /** The room id. */
  _id: string;
  network: string;
  channelId: string;
  receiver: string;
  kind: LinkKind;
  state: LinkState;
  createdBy: string;
  createdAt: number;
  meta: string;
}

export function linkDocument(l: RoomLink): LinkDocument {
  return {
    _id: l.roomId,
    network: l.network,
    channelId: l.channelId,
    receiver: l.receiver,
    kind: l.kind,
    state: l.state,
    createdBy: l.createdBy,
    createdAt: l.createdAt,
    meta: toJsonText(l.meta),
  };
}

export function toLink(d: LinkDocument): RoomLink {
  return {
    roomId: d._id,
    network: d.network,
    channelId: d.channelId,
    receiver: d.receiver,
    kind: d.kind,
    state: d.state,
    createdBy: d.createdBy,
    createdAt: d.createdAt,
    meta: fromJsonText<Record<string, unknown>>(d.meta),
  };
}

export interface GhostDocument {
  /** The ghost's Matrix user id. */
  _id: string;
  network: string;
  remoteId: string;
  displayname: string | null;
  avatarUrl: string | null;
  avatarKey: string | null;
  registered: boolean;
}

export function ghostDocument(g: GhostRecord): GhostDocument {
  return {
    _id: g.userId,
    network: g.network,
    remoteId: g.remoteId,
    displayname: g.displayname,
    avatarUrl: g.avatarUrl,
    avatarKey: g.avatarKey ?? null,
    registered: g.registered,
  };
}

export function toGhost(d: GhostDocument): GhostRecord {
  return {
    userId: d._id,
    network: d.network,
    remoteId: d.remoteId,
    displayname: d.displayname ?? null,
    avatarUrl: d.avatarUrl ?? null,
    avatarKey: d.avatarKey ?? null,
    registered: d.registered,
  };
}

export interface UserDocument {
  /** The Matrix user id. */
  _id: string;
  managementRoom: string | null;
  meta: string;
}

export function userDocument(u: MatrixUserRecord): UserDocument {
  return { _id: u.userId, managementRoom: u.managementRoom, meta: toJsonText(u.meta) };
}

export function toUser(d: UserDocument): MatrixUserRecord {
  return {
    userId: d._id,
    managementRoom: d.managementRoom ?? null,
    meta: fromJsonText<Record<string, unknown>>(d.meta),
  };
}

export interface LoginDocument {
  network: string;
  loginId: string;
  matrixUserId: string;
  credentials: string;
  state: LoginState;
  remoteName: string;
  createdAt: number;
  meta: string;
}

export function loginDocument(l: LoginRecord): LoginDocument {
  return {
    network: l.network,
    loginId: l.loginId,
    matrixUserId: l.matrixUserId,
    credentials: l.credentials,
    state: l.state,
    remoteName: l.remoteName,
    createdAt: l.createdAt,
    meta: toJsonText(l.meta),
  };
}

export function toLogin(d: LoginDocument): LoginRecord {
  return {
    network: d.network,
    matrixUserId: d.matrixUserId,
    loginId: d.loginId,
    credentials: d.credentials,
    state: d.state,
    remoteName: d.remoteName,
    createdAt: d.createdAt,
    meta: fromJsonText<Record<string, unknown>>(d.meta),
  };
}

export interface MessageDocument {
  eventId: string;
  network: string;
  channelId: string;
  receiver: string;
  remoteId: string;
  part: number;
  roomId: string;
  sender: string;
  timestamp: number;
  /** Absent when the mapping has no meta. */
  meta?: string;
}

export function messageDocument(m: MessageMapping): MessageDocument {
  const doc: MessageDocument = {
    eventId: m.eventId,
    network: m.network,
    channelId: m.channelId,
    receiver: m.receiver,
    remoteId: m.remoteId,
    part: m.part,
    roomId: m.roomId,
    sender: m.sender,
    timestamp: m.timestamp,
  };
  if (m.meta !== undefined) doc.meta = toJsonText(m.meta);
  return doc;
}

export function toMessage(d: MessageDocument): MessageMapping {
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
  if (typeof d.meta === "string") mapping.meta = fromJsonText<Record<string, unknown>>(d.meta);
  return mapping;
}

export interface ReactionDocument {
  eventId: string;
  network: string;
  channelId: string;
  receiver: string;
  messageId: string;
  sender: string;
  key: string;
  roomId: string;
  remoteId?: string;
  meta?: string;
  timestamp: number;
}

export function reactionDocument(r: ReactionRecord): ReactionDocument {
  const doc: ReactionDocument = {
    eventId: r.eventId,
    network: r.network,
    channelId: r.channelId,
    receiver: r.receiver,
    messageId: r.messageId,
    sender: r.sender,
    key: r.key,
    roomId: r.roomId,
    timestamp: r.timestamp,
  };
  if (r.remoteId !== undefined) doc.remoteId = r.remoteId;
  if (r.meta !== undefined) doc.meta = toJsonText(r.meta);
  return doc;
}

export function toReaction(d: ReactionDocument): ReactionRecord {
  const reaction: ReactionRecord = {
    network: d.network,
    channelId: d.channelId,
    receiver: d.receiver,
    messageId: d.messageId,
    sender: d.sender,
    key: d.key,
    roomId: d.roomId,
    eventId: d.eventId,
    timestamp: d.timestamp,
  };
  if (typeof d.remoteId === "string") reaction.remoteId = d.remoteId;
  if (typeof d.meta === "string") reaction.meta = fromJsonText<Record<string, unknown>>(d.meta);
  return reaction;
}

export interface MemberDocument {
  network: string;
  channelId: string;
  receiver: string;
  loginId: string;
  matrixUserId: string;
  since: number;
}

export function memberDocument(m: ChatMember): MemberDocument {
  return {
    network: m.network,
    channelId: m.channelId,
    receiver: m.receiver,
    loginId: m.loginId,
    matrixUserId: m.matrixUserId,
    since: m.since,
  };
}

export function toMember(d: MemberDocument): ChatMember {
  return {
    network: d.network,
    channelId: d.channelId,
    receiver: d.receiver,
    loginId: d.loginId,
    matrixUserId: d.matrixUserId,
    since: d.since,
  };
}

export interface MediaDocument {
  /** The token. */
  _id: string;
  mxc: string;
  name: string;
  mimetype: string;
  eventId?: string;
  createdAt: number;
  expiresAt?: number;
}

export function mediaDocument(l: MediaLink): MediaDocument {
  const doc: MediaDocument = {
    _id: l.token,
    mxc: l.mxc,
    name: l.name,
    mimetype: l.mimetype,
    createdAt: l.createdAt,
  };
  if (l.eventId !== undefined) doc.eventId = l.eventId;
  if (l.expiresAt !== undefined) doc.expiresAt = l.expiresAt;
  return doc;
}

export function toMediaLink(d: MediaDocument): MediaLink {
  const link: MediaLink = {
    token: d._id,
    mxc: d.mxc,
    name: d.name,
    mimetype: d.mimetype,
    createdAt: d.createdAt,
  };
  if (typeof d.eventId === "string") link.eventId = d.eventId;
  if (typeof d.expiresAt === "number") link.expiresAt = d.expiresAt;
  return link;
}

export interface KvDocument {
  /** `toKeyText` of the namespace. */
  namespace: string;
  /** `toKeyText` of the key. */
  key: string;
  value: string;
}

export function kvDocument(namespace: string, key: string, value: unknown): KvDocument {
  return { namespace: toKeyText(namespace), key: toKeyText(key), value: toJsonText(value) };
}

export function toKvEntry(d: KvDocument): KvEntry {
  return {
    namespace: fromKeyText(d.namespace),
    key: fromKeyText(d.key),
    value: fromJsonText<unknown>(d.value),
  };
}

// ---- every collection, for dumps ----

/** The document kind of each collection (their names: `COLLECTIONS` in mongodb-schema.ts). */
export interface StoreDocumentTypes {
  journal: JournalDocument;
  links: LinkDocument;
  ghosts: GhostDocument;
  users: UserDocument;
  logins: LoginDocument;
  messages: MessageDocument;
  reactions: ReactionDocument;
  members: MemberDocument;
  media: MediaDocument;
  kv: KvDocument;
}

interface DocumentMapping<C extends StoreCollection> {
  toDocument(record: StoreRecordTypes[C]): StoreDocumentTypes[C];
  /** Field by field: the server's `_id` of logins, messages, … is left behind. */
  fromDocument(doc: StoreDocumentTypes[C]): StoreRecordTypes[C];
}

export const DOCUMENTS: { [C in StoreCollection]: DocumentMapping<C> } = {
  journal: { toDocument: journalEntryDocument, fromDocument: toJournal },
  links: { toDocument: linkDocument, fromDocument: toLink },
  ghosts: { toDocument: ghostDocument, fromDocument: toGhost },
  users: { toDocument: userDocument, fromDocument: toUser },
  logins: { toDocument: loginDocument, fromDocument: toLogin },
  messages: { toDocument: messageDocument, fromDocument: toMessage },
  reactions: { toDocument: reactionDocument, fromDocument: toReaction },
  members: { toDocument: memberDocument, fromDocument: toMember },
  media: { toDocument: mediaDocument, fromDocument: toMediaLink },
  kv: { toDocument: (e) => kvDocument(e.namespace, e.key, e.value), fromDocument: toKvEntry },
};

/** The document a dump's record is stored as. */
export function documentOf<C extends StoreCollection>(
  collection: C,
  record: StoreRecordTypes[C],
): StoreDocumentTypes[C] {
  return (DOCUMENTS[collection] as DocumentMapping<C>).toDocument(record);
}

/** The dump record a stored document stands for. */
export function dumpRecordOf<C extends StoreCollection>(
  collection: C,
  doc: StoreDocumentTypes[C],
): DumpRecord {
  return {
    collection,
    record: (DOCUMENTS[collection] as DocumentMapping<C>).fromDocument(doc),
  } as DumpRecord;
}

/** Documents of `switchboard_meta`, by `_id`. */
export interface MetaDocument {
  _id: string;
  value: number;
}
