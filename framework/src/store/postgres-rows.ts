/** Table rows as node-postgres returns them (see the column types in postgres-schema.ts), and records. */
import { fromDbJson, fromDbText, toDbJson } from "./postgres-text.js";
import type {
  ChatMember,
  GhostRecord,
  JournalEntry,
  JournalStream,
  LinkKind,
  LinkState,
  LoginRecord,
  LoginState,
  MatrixUserRecord,
  MediaLink,
  MessageMapping,
  ReactionRecord,
  RoomLink,
} from "./types.js";

export interface JournalRow {
  seq: number;
  stream: JournalStream;
  key: string;
  payload: string;
  done: boolean;
  created_at: number;
}
export const JOURNAL_COLUMNS = "seq, stream, key, payload, done, created_at";

export function toJournal(r: JournalRow): JournalEntry {
  return {
    stream: r.stream,
    // Journal keys hold U+0000 (matrix-in's journalKey separates its parts with it).
    key: fromDbText(r.key),
    seq: r.seq,
    payload: fromDbJson<unknown>(r.payload),
    done: r.done,
    createdAt: r.created_at,
  };
}

export interface LinkRow {
  room_id: string;
  network: string;
  channel_id: string;
  receiver: string;
  kind: LinkKind;
  state: LinkState;
  created_by: string;
  created_at: number;
  meta: string;
}
export const LINK_COLUMNS =
  "room_id, network, channel_id, receiver, kind, state, created_by, created_at, meta";

export function toLink(r: LinkRow): RoomLink {
  return {
    roomId: r.room_id,
    network: r.network,
    channelId: r.channel_id,
    receiver: r.receiver,
    kind: r.kind,
    state: r.state,
    createdBy: r.created_by,
    createdAt: r.created_at,
    meta: fromDbJson<Record<string, unknown>>(r.meta),
  };
}

export interface GhostRow {
  user_id: string;
  network: string;
  remote_id: string;
  displayname: string | null;
  avatar_url: string | null;
  avatar_key: string | null;
  registered: boolean;
}
export const GHOST_COLUMNS = "user_id, network, remote_id, displayname, avatar_url, avatar_key, registered";

export function toGhost(r: GhostRow): GhostRecord {
  return {
    userId: r.user_id,
    network: r.network,
    remoteId: r.remote_id,
    displayname: r.displayname,
    avatarUrl: r.avatar_url,
    avatarKey: r.avatar_key,
    registered: r.registered,
  };
}

export interface UserRow {
  user_id: string;
  management_room: string | null;
  meta: string;
}

export function toUser(r: UserRow): MatrixUserRecord {
  return {
    userId: r.user_id,
    managementRoom: r.management_room,
    meta: fromDbJson<Record<string, unknown>>(r.meta),
  };
}

export interface LoginRow {
  network: string;
  login_id: string;
  matrix_user_id: string;
  credentials: string;
  state: LoginState;
  remote_name: string;
  created_at: number;
  meta: string;
}
export const LOGIN_COLUMNS =
  "network, login_id, matrix_user_id, credentials, state, remote_name, created_at, meta";

export function toLogin(r: LoginRow): LoginRecord {
  return {
    network: r.network,
    matrixUserId: r.matrix_user_id,
    loginId: r.login_id,
    credentials: r.credentials,
    state: r.state,
    remoteName: r.remote_name,
    createdAt: r.created_at,
    meta: fromDbJson<Record<string, unknown>>(r.meta),
  };
}

export interface MessageRow {
  event_id: string;
  network: string;
  channel_id: string;
  receiver: string;
  remote_id: string;
  part: number;
  room_id: string;
  sender: string;
  timestamp: number;
  meta: string | null;
}
export const MESSAGE_COLUMNS =
  "event_id, network, channel_id, receiver, remote_id, part, room_id, sender, timestamp, meta";

export function toMessage(r: MessageRow): MessageMapping {
  const mapping: MessageMapping = {
    network: r.network,
    channelId: r.channel_id,
    receiver: r.receiver,
    remoteId: r.remote_id,
    part: r.part,
    roomId: r.room_id,
    eventId: r.event_id,
    sender: r.sender,
    timestamp: r.timestamp,
  };
  if (r.meta !== null) mapping.meta = fromDbJson<Record<string, unknown>>(r.meta);
  return mapping;
}

export interface ReactionRow {
  event_id: string;
  network: string;
  channel_id: string;
  receiver: string;
  message_id: string;
  sender: string;
  key: string;
  room_id: string;
  remote_id: string | null;
  meta: string | null;
  timestamp: number;
}
export const REACTION_COLUMNS =
  "event_id, network, channel_id, receiver, message_id, sender, key, room_id, remote_id, meta, timestamp";

export function toReaction(r: ReactionRow): ReactionRecord {
  const reaction: ReactionRecord = {
    network: r.network,
    channelId: r.channel_id,
    receiver: r.receiver,
    messageId: r.message_id,
    sender: r.sender,
    key: r.key,
    roomId: r.room_id,
    eventId: r.event_id,
    timestamp: r.timestamp,
  };
  if (r.remote_id !== null) reaction.remoteId = r.remote_id;
  if (r.meta !== null) reaction.meta = fromDbJson<Record<string, unknown>>(r.meta);
  return reaction;
}

export interface MemberRow {
  network: string;
  channel_id: string;
  receiver: string;
  login_id: string;
  matrix_user_id: string;
  since: number;
}
export const MEMBER_COLUMNS = "network, channel_id, receiver, login_id, matrix_user_id, since";

export function toMember(r: MemberRow): ChatMember {
  return {
    network: r.network,
    channelId: r.channel_id,
    receiver: r.receiver,
    loginId: r.login_id,
    matrixUserId: r.matrix_user_id,
    since: r.since,
  };
}

export interface MediaRow {
  token: string;
  mxc: string;
  name: string;
  mimetype: string;
  event_id: string | null;
  created_at: number;
  expires_at: number | null;
}

export function toMediaLink(r: MediaRow): MediaLink {
  const link: MediaLink = {
    token: r.token,
    mxc: r.mxc,
    name: r.name,
    mimetype: r.mimetype,
    createdAt: r.created_at,
  };
  if (r.event_id !== null) link.eventId = r.event_id;
  if (r.expires_at !== null) link.expiresAt = r.expires_at;
  return link;
}

export const jsonOrNull = (value: Record<string, unknown> | undefined): string | null =>
  value === undefined ? null : toDbJson(value);
