import type { TObject } from "@sinclair/typebox";
import type { Logger } from "pino";

/**
 * The network connector contract: what a bridge implements to plug its network into
 * the framework. A small required core (`Connector`), then optional capabilities, each a
 * small interface the framework detects at run time with the `supports*` guards. A
 * capability a connector lacks is a polite notice to the Matrix user, never an error.
 * Nothing here mentions Matrix ids except where the connector must render a mention.
 */

/** A remote chat as the framework keys it. `receiver` scopes chats only one login sees (DMs). */
export interface ChatRef {
  channelId: string;
  receiver?: string;
}

/**
 * Where a remote file lives, as plain JSON: it crosses the durable journal with the event, so an
 * event replayed after a crash can still fetch its file. The framework fetches it through the
 * connector's `fetchMedia` (or a plain GET of `url` for connectors without one). Never put a
 * credential in it: `fetchMedia` adds the current token when it fetches.
 */
export interface MediaRef {
  url: string;
  /** Whatever else the connector needs to fetch it again: a workspace id, decryption keys (base64). */
  meta?: Record<string, string | number | boolean | null>;
}

/** A remote avatar: fetched lazily so the framework uploads only what changed. */
export interface RemoteMedia {
  /** Stable id (URL or hash) so an unchanged avatar is not uploaded twice. */
  key: string;
  ref: MediaRef;
}

export interface RemoteUser {
  id: string;
  displayname?: string;
  avatar?: RemoteMedia | null;
  isBot?: boolean;
}

export interface ChatInfo {
  name: string;
  topic?: string;
  avatar?: RemoteMedia | null;
  isDirect?: boolean;
  /** Private chats are not published in the room directory. */
  isPrivate?: boolean;
  /** For DMs: the remote user on the other side. */
  otherUser?: RemoteUser;
  /** The group the chat belongs to (a Slack workspace, a Discord server): its portals share a Matrix space. */
  space?: RemoteSpace;
}

export interface RemoteSpace {
  /** Stable id of the group on the network (a team id). */
  id: string;
  name: string;
}

export type MessageKind = "text" | "notice" | "emote" | "image" | "file" | "audio" | "video";

/** Message content in the framework's network-neutral form. */
export interface BridgeContent {
  kind: MessageKind;
  /** Plain text; always present (for media: the caption or file name). */
  text: string;
  /** Matrix-flavoured HTML; the framework sanitizes it whichever way it travels. */
  html?: string;
  media?: BridgeMedia;
}

export interface BridgeMedia {
  name: string;
  mimetype: string;
  size?: number;
  /** Remote → Matrix: where the bytes are (fetched with the connector's `fetchMedia`). */
  remote?: MediaRef;
  /** Matrix → remote: the mxc URI, a public http URL for it, and a way to download it. */
  mxc?: string;
  httpUrl?: string;
  download?: () => Promise<Buffer>;
}

export interface RemoteSender {
  userId: string;
  displayname?: string;
  avatar?: RemoteMedia | null;
  /** Set when a logged-in Matrix user sent this from another client: shown from their real account. */
  fromLogin?: string;
}

/** Remote → Matrix: what a connector hands to `ctx.emit`. */
export type RemoteEvent =
  | {
      type: "message";
      chat: ChatRef;
      /** Remote message id; networks without ids (IRC) leave it out and the framework makes one. */
      id?: string;
      sender: RemoteSender;
      /** Remote timestamp in ms. */
      timestamp?: number;
      content: BridgeContent;
      /** Remote id of the message this replies to. */
      replyTo?: string;
      /** Remote id of the thread's root message. */
      threadRoot?: string;
    }
  | {
      type: "edit";
      chat: ChatRef;
      id: string;
      sender: RemoteSender;
      timestamp?: number;
      content: BridgeContent;
    }
  | { type: "delete"; chat: ChatRef; id: string; sender?: RemoteSender }
  | { type: "reaction"; chat: ChatRef; id: string; sender: RemoteSender; key: string; timestamp?: number }
  | { type: "reaction-remove"; chat: ChatRef; id: string; sender: RemoteSender; key: string }
  | {
      type: "member";
      chat: ChatRef;
      user: RemoteUser;
      membership: "join" | "leave" | "kick" | "ban";
      by?: string;
      reason?: string;
    }
  | { type: "profile"; user: RemoteUser }
  | { type: "chat-update"; chat: ChatRef; name?: string; topic?: string; avatar?: RemoteMedia | null }
  | { type: "typing"; chat: ChatRef; userId: string; typing: boolean }
  | { type: "read"; chat: ChatRef; userId: string; upTo: string; fromLogin?: string }
  /** A remote user's standing in the chat (e.g. IRC channel operator): their ghost's power level; 0 clears it. */
  | { type: "power"; chat: ChatRef; userId: string; level: number };

/** What `ctx.emit` accepts: the event, plus a key the network can redeliver it under. */
export interface EmitOptions {
  /** Stable across redeliveries: the framework drops an event whose key it has already accepted. */
  key?: string;
}

/** A logged-in remote account, as the connector holds it while connected. */
export interface RemoteLogin {
  loginId: string;
  remoteName: string;
  matrixUserId: string;
  /** Closes connections; the login stays stored. */
  disconnect(): Promise<void>;
  /** Invalidates the session remotely where the network supports it. */
  logout?(): Promise<void>;
}

export interface MatrixSender {
  userId: string;
  displayname: string;
  /** An http URL of the sender's avatar, for networks that show one on relayed messages. */
  avatarUrl?: string;
  /** The sender's login on this network; absent means the message is relayed. */
  login?: RemoteLogin;
}

/** Matrix → remote: a message, already translated to network-neutral content. */
export interface MatrixMessage {
  eventId: string;
  roomId: string;
  chat: ChatRef;
  sender: MatrixSender;
  content: BridgeContent;
  timestamp: number;
  /** The remote message this replies to, when known, with a short quote for networks without replies. */
  replyTo?: { remoteId: string; senderName: string; text: string };
  threadRoot?: { remoteId: string };
  /** Mentions of remote users (pills to ghosts) in the message. */
  mentions: Array<{ remoteUserId: string; displayname: string }>;
}

export interface SendResult {
  /** The remote id of what was sent; lets edits, replies, reactions and receipts find it. */
  remoteId?: string;
  timestamp?: number;
}

export interface Capabilities {
  edits: boolean;
  replies: boolean;
  threads: boolean;
  reactions: boolean;
  redactions: boolean;
  typing: boolean;
  readReceipts: { toRemote: boolean; fromRemote: boolean };
  media: boolean;
  formatting: boolean;
  dms: boolean;
  groups: boolean;
}

/**
 * The state of a network connection or a login, in the vocabulary of mautrix's bridge-state API
 * (admins and clients already know it). Shown by the bot's `status`, `/health` and as gauges.
 */
export type ConnectionState =
  "CONNECTING" | "CONNECTED" | "TRANSIENT_DISCONNECT" | "BAD_CREDENTIALS" | "LOGGED_OUT" | "UNKNOWN_ERROR";

export interface StateReport {
  state: ConnectionState;
  /**
   * Which of the network's own connections this is (an IRC network's name, a Slack workspace's
   * team id); leave out for the network as a whole. Ignored when `loginId` is set.
   */
  connection?: string;
  /** A user login's state instead of a network connection's. */
  loginId?: string;
  /** What happened, for people: "connection refused by irc.libera.chat:6697". */
  message?: string;
}

/** What the framework offers a connector. */
export interface BridgeContext {
  readonly network: string;
  /** The connector's own config section (validated against its `configSchema`). */
  readonly config: Record<string, unknown>;
  readonly log: Logger;
  /** Hands a remote event to the framework; resolves once it is durably queued (then ack the network). */
  emit(event: RemoteEvent, options?: EmitOptions): Promise<void>;
  /** A small persistent key/value space of the connector's own. */
  kvGet<T>(key: string): Promise<T | null>;
  kvSet(key: string, value: unknown): Promise<void>;
  /** HTML for a mention of a remote user (a pill to their ghost). */
  mentionHtml(remoteUserId: string, displayname: string): string;
  /** A login went bad remotely (revoked token…): it is marked logged out and its owner told why. */
  loginFailed(loginId: string, reason: string): Promise<void>;
  /** Sends a notice to a Matrix user's management room with the bridge bot. */
  notifyUser(matrixUserId: string, text: string): Promise<void>;
  /** Stores bytes in the homeserver's media repository (e.g. a long message as a text file). */
  uploadMedia(data: Buffer, mimetype: string, name: string): Promise<{ mxc: string; httpUrl: string }>;
  /** Opens (or finds) the DM portal between a Matrix user and a remote user; returns its room id. */
  openDm(matrixUserId: string, remoteUserId: string): Promise<string>;
  /** Every chat of this network that is linked to a room (active links), e.g. to join them at start. */
  linkedChats(): Promise<ChatRef[]>;
  /** Tells a Matrix room something about the remote side (a notice from the bridge bot). */
  noticeInChat(chat: ChatRef, text: string): Promise<void>;
  /**
   * A network connection or a login changed state. Cheap and synchronous: call it on every
   * connect, disconnect and reconnect attempt. A login going BAD_CREDENTIALS tells its owner once.
   */
  reportState(report: StateReport): void;
}

export interface LoginField {
  id: string;
  name: string;
  description?: string;
  secret?: boolean;
}

export interface LoginFlow {
  id: string;
  name: string;
  description: string;
}

export type LoginStep =
  | { type: "input"; instructions: string; fields: LoginField[] }
  | { type: "display"; instructions: string; qr?: string; url?: string }
  | { type: "complete"; loginId: string; remoteName: string; credentials: unknown };

/** One login attempt, driven by the bot's conversation with the user. */
export interface LoginProcess {
  start(): Promise<LoginStep>;
  /** Answers an "input" step. */
  submit?(values: Record<string, string>): Promise<LoginStep>;
  /** Waits past a "display" step (QR code scanned, OAuth finished). */
  wait?(): Promise<LoginStep>;
  cancel(): void;
}

export interface BotCommand {
  name: string;
  help: string;
  /** Needs the bridge admin permission. */
  admin?: boolean;
  run(
    args: string[],
    caller: { userId: string; roomId: string; reply: (text: string) => Promise<void> },
  ): Promise<void>;
}

/** The required core every connector implements. */
export interface Connector {
  /** Lowercase id used in config, commands, ghost and alias prefixes: "irc", "slack". */
  readonly id: string;
  /** Human name: "IRC", "Slack". */
  readonly displayName: string;
  readonly capabilities: Capabilities;
  /** JSON Schema (TypeBox) of the connector's keys under `bridges.<id>`. */
  readonly configSchema: TObject;

  start(ctx: BridgeContext): Promise<void>;
  stop(): Promise<void>;

  /** Describes a chat, or null when it does not exist (or `login` cannot see it). */
  getChat(chat: ChatRef, login?: RemoteLogin): Promise<ChatInfo | null>;
  /** Describes a remote user, or null when unknown. */
  getUser(userId: string): Promise<RemoteUser | null>;
  /**
   * Maps the part of a portal alias after the bridge's prefix ("#rust" of #irc_libera_#rust) to a
   * chat; also what `!link <network> <channel>` names. May look the name up remotely.
   */
  chatFromAlias(aliasSuffix: string): ChatRef | null | Promise<ChatRef | null>;
  /** The inverse: the alias suffix for a chat, or null when the chat has no public alias (DMs). */
  aliasFor(chat: ChatRef): string | null;
  /**
   * Sends a Matrix message to the chat, as `msg.sender.login` or relayed. The framework
   * delivers each event at least once (a crash may replay it) with the same `eventId`:
   * use it as the network's idempotency key where there is one (nonce, client_msg_id).
   * Throw `UnsupportedError`, `PermanentError` or `RateLimitedError` (errors.ts) to say why a
   * send failed; anything else is retried as transient. The same holds for every handler below.
   */
  handleMatrixMessage(msg: MatrixMessage): Promise<SendResult>;
  /**
   * Optional: the ghost localpart (after the bridge prefix) for a remote user id, when the
   * default escaping is not what users expect (IRC: `libera_alice`). Must be injective,
   * valid in a Matrix localpart, and reversible with `remoteIdFromLocalpart`.
   */
  ghostLocalpart?(remoteUserId: string): string;
  remoteIdFromLocalpart?(localpart: string): string | null;
}

export interface HandlesEdits {
  handleMatrixEdit(edit: {
    chat: ChatRef;
    remoteId: string;
    sender: MatrixSender;
    content: BridgeContent;
    eventId: string;
  }): Promise<void>;
}

export interface HandlesRedactions {
  handleMatrixRedaction(r: {
    chat: ChatRef;
    remoteId: string;
    sender: MatrixSender;
    eventId: string;
  }): Promise<void>;
}

export interface HandlesReactions {
  handleMatrixReaction(r: {
    chat: ChatRef;
    remoteId: string;
    key: string;
    sender: MatrixSender;
    eventId: string;
  }): Promise<SendResult>;
  handleMatrixReactionRemove(r: {
    chat: ChatRef;
    remoteId: string;
    key: string;
    sender: MatrixSender;
  }): Promise<void>;
}

export interface HasLogins {
  readonly loginFlows: LoginFlow[];
  createLogin(flowId: string, matrixUserId: string): LoginProcess;
  /** Connects a stored login (at start and after a fresh login). */
  loadLogin(login: { loginId: string; matrixUserId: string; credentials: unknown }): Promise<RemoteLogin>;
}

export interface ListsMembers {
  getMembers(chat: ChatRef): Promise<RemoteUser[]>;
}

export interface ChecksPlumbing {
  /** Whether `matrixUserId` may bridge this chat; a string is the reason why not. */
  canPlumb(chat: ChatRef, matrixUserId: string, login?: RemoteLogin): Promise<true | string>;
}

export interface MarksRead {
  /** The login read the chat up to and including `remoteId`. */
  markRead(chat: ChatRef, login: RemoteLogin, remoteId: string): Promise<void>;
}

export interface HandlesTyping {
  setTyping(chat: ChatRef, login: RemoteLogin, typing: boolean): Promise<void>;
}

/** Facts for double-bridge detection. */
export interface DetectsForeignBridges {
  /**
   * Whether a remote user is another Matrix bridge's puppet: the Matrix user id behind it when
   * known, `true` when it is one but the id is unknown, null when it is a real remote user.
   */
  foreignPuppetOf(user: RemoteSender): string | true | null;
  /** Patterns of Matrix user ids that other bridges use for this network's users (e.g. /^@irc_/). */
  readonly foreignMatrixPuppets?: RegExp[];
}

/** Networks where presence in a chat is per user (IRC): Matrix joins and leaves follow. */
export interface HandlesMembership {
  handleMatrixJoin(chat: ChatRef, sender: MatrixSender): Promise<void>;
  handleMatrixLeave(chat: ChatRef, sender: MatrixSender): Promise<void>;
}

/**
 * Networks with a channel role a Matrix power level can stand for (IRC channel operator): the
 * way back of the `power` remote event. Called for Matrix users only, never for ghosts or the
 * bot, so a role the bridge mirrored into the room does not bounce back.
 */
export interface HandlesPowerLevels {
  /** `user`'s power level in the chat's room went from `previous` to `level`. */
  handleMatrixPowerLevel(chat: ChatRef, user: MatrixSender, level: number, previous: number): Promise<void>;
}

/** Networks where a Matrix user can start a private chat with a remote user. */
export interface StartsDms {
  /** The DM chat between a Matrix user (their login or puppet) and a remote user, or null if impossible. */
  dmChat(remoteUserId: string, matrixUserId: string): ChatRef | null;
}

/**
 * Networks whose files need more than a plain GET (a token, a decryption key). Throw
 * `PermanentError` when the file is gone for good; anything else is retried.
 */
export interface FetchesMedia {
  fetchMedia(ref: MediaRef): Promise<{ data: Buffer; mimetype?: string }>;
}

export interface HasCommands {
  readonly commands: BotCommand[];
}

export const supportsEdits = (c: Connector): c is Connector & HandlesEdits =>
  typeof (c as Partial<HandlesEdits>).handleMatrixEdit === "function";
export const supportsRedactions = (c: Connector): c is Connector & HandlesRedactions =>
  typeof (c as Partial<HandlesRedactions>).handleMatrixRedaction === "function";
export const supportsReactions = (c: Connector): c is Connector & HandlesReactions =>
  typeof (c as Partial<HandlesReactions>).handleMatrixReaction === "function";
export const supportsLogins = (c: Connector): c is Connector & HasLogins =>
  Array.isArray((c as Partial<HasLogins>).loginFlows) &&
  typeof (c as Partial<HasLogins>).createLogin === "function";
export const supportsMembers = (c: Connector): c is Connector & ListsMembers =>
  typeof (c as Partial<ListsMembers>).getMembers === "function";
export const supportsPlumbCheck = (c: Connector): c is Connector & ChecksPlumbing =>
  typeof (c as Partial<ChecksPlumbing>).canPlumb === "function";
export const supportsCommands = (c: Connector): c is Connector & HasCommands =>
  Array.isArray((c as Partial<HasCommands>).commands);
export const supportsMembership = (c: Connector): c is Connector & HandlesMembership =>
  typeof (c as Partial<HandlesMembership>).handleMatrixJoin === "function";
export const supportsDms = (c: Connector): c is Connector & StartsDms =>
  typeof (c as Partial<StartsDms>).dmChat === "function";
export const supportsMarkRead = (c: Connector): c is Connector & MarksRead =>
  typeof (c as Partial<MarksRead>).markRead === "function";
export const supportsTyping = (c: Connector): c is Connector & HandlesTyping =>
  typeof (c as Partial<HandlesTyping>).setTyping === "function";
export const supportsForeignBridges = (c: Connector): c is Connector & DetectsForeignBridges =>
  typeof (c as Partial<DetectsForeignBridges>).foreignPuppetOf === "function";
export const supportsMediaFetch = (c: Connector): c is Connector & FetchesMedia =>
  typeof (c as Partial<FetchesMedia>).fetchMedia === "function";
export const supportsPowerLevels = (c: Connector): c is Connector & HandlesPowerLevels =>
  typeof (c as Partial<HandlesPowerLevels>).handleMatrixPowerLevel === "function";
