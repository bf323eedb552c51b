import type { TObject } from "@sinclair/typebox";
import type { Logger } from "pino";

/**
 * The network connector contract: what a bridge implements to plug its network into
 * the framework. A small required core (`Connector`), then optional capabilities, each a
 * small interface the framework detects at run time with the `supports*` guards. A
 * capability a connector lacks is a polite notice to the Matrix user, never an error.
 * Nothing here mentions Matrix ids except where the connector must render a mention.
 */

/** A remote chat as the framework keys it. */
export interface ChatRef {
  channelId: string;
  /** For chats only one login sees (its DMs): that login's id. */
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
  /** Set when this remote user is another Matrix bridge's puppet (see `ForeignPuppet`). */
  foreign?: ForeignPuppet;
  /** From `getMembers`: their standing in the chat as a power level (an IRC operator's); absent: 0. */
  level?: number;
}

/**
 * A remote user who is another Matrix bridge's puppet of a Matrix user (a channel bridged twice):
 * `matrixUserId` when the network says whom (an IRC realname holding a Matrix id), `unknown` when
 * it is one but not whose, `nameHint` when only its name suggests it ("alice[m]"), which counts
 * only when a member of the room has that name. With `guards.foreign_remote_puppets: drop`, their
 * messages are dropped where the room already has that Matrix user, and they get no ghost.
 */
export type ForeignPuppet = { matrixUserId: string } | { unknown: true } | { nameHint: string };

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
  /** Matrix → remote: the mxc URI, and a way to download it. */
  mxc?: string;
  download?: () => Promise<Buffer>;
  /**
   * Matrix → remote, for networks that can only send links: a public link that opens without a
   * Matrix account (served by the bridge, made on first call, ended when the event is redacted).
   */
  link?: () => Promise<string>;
}

export interface RemoteSender {
  userId: string;
  displayname?: string;
  avatar?: RemoteMedia | null;
  /** Set when a logged-in Matrix user sent this from another client: shown from their real account. */
  fromLogin?: string;
  /** Set when the sender is another Matrix bridge's puppet (see `ForeignPuppet`). */
  foreign?: ForeignPuppet;
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
  | {
      type: "reaction";
      chat: ChatRef;
      id: string;
      sender: RemoteSender;
      /** An emoji, or a ":name:" shortcode for a custom one. */
      key: string;
      /** A custom emoji's picture: the Matrix reaction is then that image (MSC4027), named by `key`. */
      image?: RemoteMedia;
      timestamp?: number;
    }
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
  /**
   * A remote user's standing in the chat (e.g. IRC channel operator): their ghost's power level;
   * 0 clears it. With `fromLogin`, the user is that login's own account (a Signal group admin
   * who is the bridge's user): the level goes to their Matrix user instead of a ghost.
   */
  | { type: "power"; chat: ChatRef; userId: string; level: number; fromLogin?: string }
  /**
   * A login joined or left a chat on the network. The framework records it (whom to invite,
   * whom to choose as sender or relay), creates the chat's portal per the bridge's
   * `portals_from_logins` setting and invites the login's Matrix user, or removes them.
   */
  | { type: "login-membership"; chat: ChatRef; loginId: string; membership: "join" | "leave" };

/** What `ctx.emit` accepts: the event, plus a key the network can redeliver it under. */
export interface EmitOptions {
  /** Stable across redeliveries: the framework drops an event whose key it has already accepted. */
  key?: string;
}

/**
 * Opaque data a connector attaches to a message, a reaction or a link and reads back later
 * (a webhook message id, the author and timestamp that identify a Signal message, the share
 * ts of a Slack file). Plain JSON: it is stored with the mapping.
 */
export type Meta = Record<string, string | number | boolean | null>;

export interface MatrixSender {
  userId: string;
  displayname: string;
  /** An http URL of the sender's avatar, for networks that show one on relayed messages. */
  avatarUrl?: string;
  /**
   * True when the client the framework chose is not the sender's own account (the bot, or the
   * room's relay login): show who wrote it (name, avatar) the way the network shows relays.
   */
  relayed: boolean;
}

/** A remote message the framework knows, as the connector described it when it was sent or bridged. */
export interface MessageRef {
  remoteId: string;
  meta?: Meta;
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
  replyTo?: MessageRef & { senderName: string; text: string };
  threadRoot?: MessageRef;
  /** Mentions of remote users (pills to ghosts) in the message. */
  mentions: Array<{ remoteUserId: string; displayname: string }>;
}

export interface SendResult {
  /** The remote id of what was sent; lets edits, replies, reactions and receipts find it. */
  remoteId?: string;
  timestamp?: number;
  /** Kept with the mapping and handed back with later edits, deletes and reactions. */
  meta?: Meta;
}

/**
 * What can be done in one chat, asked per chat (`NetworkClient.capabilities`): a Discord
 * announcement channel or a Signal announcement-only group differs from its network's other
 * chats. A Matrix event the chat cannot carry gets one polite notice in its room.
 */
export interface ChatCapabilities {
  /** Set when Matrix users cannot post here at all: why, said once in the room. */
  readOnly?: string;
  edits: boolean;
  replies: boolean;
  threads: boolean;
  reactions: boolean;
  redactions: boolean;
  typing: boolean;
  readReceipts: boolean;
  media: boolean;
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

/**
 * A login's own durable storage (`ctx.loginState(loginId)`): small string records sealed at rest
 * with the framework's key, durable once a call resolves, deleted with the login. Made for a
 * protocol store (identity keys, prekeys, sessions: thousands of records, writes per message).
 */
export interface LoginState {
  get(key: string): Promise<string | null>;
  set(key: string, value: string): Promise<void>;
  delete(key: string): Promise<void>;
  /** Every record whose key starts with `prefix`, in key order. */
  list(prefix: string): Promise<Array<{ key: string; value: string }>>;
}

/** What the framework offers a connector. */
export interface BridgeContext {
  readonly network: string;
  /** The connector's own config section (validated against its `configSchema`). */
  readonly config: Record<string, unknown>;
  readonly log: Logger;
  /** Hands a remote event to the framework; resolves once it is durably queued (then ack the network). */
  emit(event: RemoteEvent, options?: EmitOptions): Promise<void>;
  /** A small persistent key/value space of the connector's own (not sealed: no secrets here). */
  kvGet<T>(key: string): Promise<T | null>;
  kvSet(key: string, value: unknown): Promise<void>;
  kvDelete(key: string): Promise<void>;
  /** Keys (and values) starting with `prefix`, in key order. */
  kvList<T>(prefix: string): Promise<Array<{ key: string; value: T }>>;
  /** Sealed, durable state of one login (see `LoginState`). */
  loginState(loginId: string): LoginState;
  /** Stores a login's new credentials (a rotated token), sealed, before resolving. */
  updateCredentials(loginId: string, credentials: unknown): Promise<void>;
  /** HTML for a mention of a remote user (a pill to their ghost). */
  mentionHtml(remoteUserId: string, displayname: string): string;
  /**
   * A login went bad remotely (revoked token…): it is marked logged out and its owner told why.
   * Its state shows BAD_CREDENTIALS, or LOGGED_OUT when `loggedOut` says the account itself
   * ended the session (a phone that unlinked the bridge's device).
   */
  loginFailed(loginId: string, reason: string, options?: { loggedOut?: boolean }): Promise<void>;
  /** Sends a notice to a Matrix user's management room with the bridge bot. */
  notifyUser(matrixUserId: string, text: string): Promise<void>;
  /**
   * Stores bytes in the homeserver's media repository (e.g. a long message as a text file);
   * `link` opens them without a Matrix account. `forEvent`: the Matrix event they stand for,
   * whose redaction ends the link.
   */
  uploadMedia(
    data: Buffer,
    mimetype: string,
    name: string,
    options?: { forEvent?: string },
  ): Promise<{ mxc: string; link: string }>;
  /** Opens (or finds) the DM portal between a login and a remote user; returns its room id. */
  openDm(loginId: string, remoteUserId: string): Promise<string>;
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
  /**
   * Also usable in a room bridged to this network as `!<network> <name> …` (e.g. `!irc ignore
   * nick`); there `caller.chat` is the room's chat and `caller.roomAdmin` whether the caller
   * administers the room (or the bridge).
   */
  inRooms?: boolean;
  run(args: string[], caller: CommandCaller): Promise<void>;
}

export interface CommandCaller {
  userId: string;
  roomId: string;
  reply: (text: string) => Promise<void>;
  /** In a bridged room only: its chat on this network. */
  chat?: ChatRef;
  roomAdmin?: boolean;
}

/**
 * One account on the network, as the framework acts through it: the network's bot (see
 * `Connector.bot`) or a user's login (`LoginClient`). For each Matrix event the framework
 * chooses the client (the sender's own login in the chat, else the room's relay) and calls
 * it; a client never needs to be told whose it is. Optional abilities are the small
 * interfaces below, detected with the `supports*` guards.
 *
 * The framework delivers each event at least once (a crash may replay it) with the same
 * `eventId`: use it as the network's idempotency key where there is one. Throw
 * `UnsupportedError`, `PermanentError` or `RateLimitedError` (errors.ts) to say why a call
 * failed; anything else is retried as transient.
 */
export interface NetworkClient {
  /** What Matrix events can do in this chat (asked per event: keep it cheap). */
  capabilities(chat: ChatRef): ChatCapabilities;
  /** Describes a chat as this account sees it, or null when it does not exist or cannot be seen. */
  getChat(chat: ChatRef): Promise<ChatInfo | null>;
  /** Sends a Matrix message; `msg.sender.relayed` says whether it is someone else's. */
  sendMessage(msg: MatrixMessage): Promise<SendResult>;
}

/** A user's logged-in account: a network client of its own, with its chats and its state. */
export interface LoginClient extends NetworkClient {
  readonly loginId: string;
  readonly matrixUserId: string;
  readonly remoteName: string;
  /**
   * Whether the account can post in a chat. Without it, a login is in a chat when its client
   * reported joining it (`login-membership`) or the chat is its own (`receiver`).
   */
  inChat?(chat: ChatRef): boolean | Promise<boolean>;
  /** Closes connections; the login stays stored. */
  disconnect(): Promise<void>;
  /**
   * Invalidates the session remotely where the network supports it. On an implicit login
   * (`HasImplicitLogins`) the framework calls it when its user may no longer use the bridge (a
   * policy-list ban): end the connection and do not bring it back at the next start.
   */
  logout?(): Promise<void>;
}

export interface EditsMessages {
  editMessage(edit: {
    chat: ChatRef;
    target: MessageRef;
    sender: MatrixSender;
    content: BridgeContent;
    eventId: string;
  }): Promise<void>;
}

export interface DeletesMessages {
  deleteMessage(r: {
    chat: ChatRef;
    target: MessageRef;
    sender: MatrixSender;
    eventId: string;
  }): Promise<void>;
}

export interface Reacts {
  /** Returns the reaction's own remote id/meta where the network has them (kept for its removal). */
  react(r: {
    chat: ChatRef;
    target: MessageRef;
    key: string;
    sender: MatrixSender;
    eventId: string;
  }): Promise<SendResult>;
  unreact(r: {
    chat: ChatRef;
    target: MessageRef;
    key: string;
    sender: MatrixSender;
    /** What `react` returned for it. */
    reaction: SendResult;
  }): Promise<void>;
}

export interface ListsMembers {
  getMembers(chat: ChatRef): Promise<RemoteUser[]>;
}

export interface ChecksPlumbing {
  /** Whether `matrixUserId` may bridge this chat (asked of their login when they have one); a string says why not. */
  canPlumb(chat: ChatRef, matrixUserId: string): Promise<true | string>;
}

export interface MarksRead {
  /** This login read the chat up to and including `target`. */
  markRead(chat: ChatRef, target: MessageRef): Promise<void>;
}

/**
 * Networks whose old messages the bridge can read: a message in a thread whose root was never
 * bridged (the thread started before the chat was bridged) has its root fetched and bridged
 * first, so the thread has something to hang from in Matrix.
 */
/**
 * A chat's past, read backwards a page at a time: the framework imports it into a new portal
 * and on `!backfill`. Networks without history (IRC) leave this out.
 */
export interface ReadsHistory {
  /**
   * Up to `limit` messages older than `before` (a cursor an earlier page returned; null: from the
   * newest). A cursor names a point in the chat, not a session: the framework stores it and asks
   * again with it after a restart, and asks for the same page twice (once to find where the
   * import starts, once to import it).
   */
  historyPage(chat: ChatRef, before: string | null, limit: number): Promise<HistoryPage>;
}

export interface HistoryPage {
  /** Oldest first. */
  messages: HistoryMessage[];
  /** The cursor of the page before this one; null when the network returns nothing older. */
  older: string | null;
  /**
   * A cursor that gives this same page again, pinned: messages said since do not push its
   * oldest ones out (the scan reads the newest page first and imports it last).
   */
  again?: string;
}

/** One message of the past and what belongs to it, as live delivery would have emitted it. */
export interface HistoryMessage {
  /** When it was said, ms. */
  timestamp: number;
  /**
   * Oldest first: the message (final text, its parts), its thread's replies, its reactions.
   * Each key is the one live delivery uses, so a message that also arrives live is bridged once.
   */
  events: Array<{ event: RemoteEvent; key: string }>;
}

export interface FetchesMessages {
  /** The message's events as a live one would give them (its parts), or [] when it is gone. */
  fetchMessage(chat: ChatRef, remoteId: string): Promise<RemoteEvent[]>;
}

export interface SendsTyping {
  setTyping(chat: ChatRef, typing: boolean): Promise<void>;
}

/** Networks where presence in a chat is per user (IRC): Matrix joins and leaves follow. */
export interface JoinsChats {
  joinChat(chat: ChatRef, sender: MatrixSender): Promise<void>;
  leaveChat(chat: ChatRef, sender: MatrixSender): Promise<void>;
}

/**
 * Networks with a channel role a Matrix power level can stand for (IRC channel operator): the
 * way back of the `power` remote event. Called on the user's own login only, never for ghosts
 * or the bot, so a role the bridge mirrored into the room does not bounce back.
 */
export interface SetsRoles {
  /** `user`'s power level in the chat's room went from `previous` to `level`. */
  setPowerLevel(chat: ChatRef, user: MatrixSender, level: number, previous: number): Promise<void>;
}

/**
 * Networks where members rename a chat or change its description (a Signal group's title): the
 * way back of `chat-update`. Called on the sender's own login only, never for ghosts or the bot,
 * so a name the bridge mirrored in does not bounce back. Throw `PermanentError` when the
 * account's role does not allow it.
 */
export interface ChangesChatInfo {
  setChatInfo(chat: ChatRef, change: { name?: string; topic?: string }, sender: MatrixSender): Promise<void>;
}

/** The network-wide core every connector implements. */
export interface Connector {
  /** Lowercase id used in config, commands, ghost and alias prefixes: "irc", "slack". */
  readonly id: string;
  /** Human name: "IRC", "Slack". */
  readonly displayName: string;
  /** JSON Schema (TypeBox) of the connector's keys under `bridges.<id>`. */
  readonly configSchema: TObject;

  start(ctx: BridgeContext): Promise<void>;
  stop(): Promise<void>;

  /**
   * The network's own account (IRC's bot connection, a Slack app, a Discord bot), once `start`
   * resolved: it relays for Matrix users without a login and answers lookups. Networks without
   * one (Signal) leave it out; their rooms relay through a login a room admin chose (`!set-relay`).
   */
  readonly bot?: NetworkClient;

  /** Describes a remote user, or null when unknown (ghost profiles, user queries). */
  getUser(userId: string): Promise<RemoteUser | null>;
  /**
   * Maps the part of a portal alias after the bridge's prefix ("#rust" of #irc_libera_#rust) to a
   * chat; also what `!link <network> <channel>` names. May look the name up remotely.
   */
  chatFromAlias(aliasSuffix: string): ChatRef | null | Promise<ChatRef | null>;
  /** The inverse: the alias suffix for a chat, or null when the chat has no public alias (DMs). */
  aliasFor(chat: ChatRef): string | null;
  /**
   * Optional: the ghost localpart (after the bridge prefix) for a remote user id, when the
   * default escaping is not what users expect (IRC: `libera_alice`). Must be injective,
   * valid in a Matrix localpart, and reversible with `remoteIdFromLocalpart`.
   */
  ghostLocalpart?(remoteUserId: string): string;
  remoteIdFromLocalpart?(localpart: string): string | null;
}

/**
 * What a bridge package hands the `switchboard` command: the light parts it needs for every
 * config (schema, name, admin commands), and its connector, imported only when the bridge is
 * enabled. A network client library (discord.js, @slack/bolt, libsignal) costs start-up CPU and
 * tens of MB that an admin running only IRC should not pay.
 */
export interface BridgeModule {
  readonly displayName: string;
  /** The same schema as the connector's `configSchema`, from a module that loads no network client. */
  readonly configSchema: TObject;
  /**
   * Optional admin commands, run as `switchboard <id> <name> -c config.yaml` without starting
   * anything (Discord's `invite-url`). Each gets its validated `bridges.<id>` section.
   */
  readonly cliCommands?: readonly ConnectorCliCommand[];
  /** Imports the connector's code and makes the connector. */
  load(): Promise<Connector>;
}

export interface ConnectorCliCommand {
  name: string;
  description: string;
  /** What to print; throw an Error with the remedy in its message when it cannot. */
  run(section: Record<string, unknown>): string | Promise<string>;
}

/** Networks where users log in (token, OAuth, QR code): each login is a client of its own. */
export interface HasLogins {
  readonly loginFlows: LoginFlow[];
  createLogin(flowId: string, matrixUserId: string): LoginProcess;
  /** Connects a stored login (at start and after a fresh login) and returns its client. */
  loadLogin(login: {
    loginId: string;
    matrixUserId: string;
    remoteName: string;
    credentials: unknown;
  }): Promise<LoginClient>;
}

/**
 * Networks that give every Matrix user an account of their own without a login step (IRC's
 * per-user connections): the framework asks for one when a user without a login speaks.
 */
export interface HasImplicitLogins {
  /** The user's own client for a chat, or null when they get none there (excluded, at a limit). */
  implicitLogin(matrixUserId: string, chat: ChatRef): Promise<LoginClient | null>;
  /** The Matrix user behind an implicit login id, or null when it is not one. */
  implicitLoginOwner(loginId: string): string | null;
  /** The implicit logins a Matrix user has now (connected or connecting), for `status`. */
  implicitLoginsOf?(matrixUserId: string): LoginClient[];
}

/** Networks where a Matrix user can start a private chat with a remote user. */
export interface StartsDms {
  /** The DM chat between a login of `matrixUserId` and a remote user, or null if impossible. */
  dmChat(remoteUserId: string, matrixUserId: string): ChatRef | null | Promise<ChatRef | null>;
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

/**
 * Data directories from before contract v2 scoped DMs by Matrix user id: the login id that
 * now owns such a chat, chosen among that user's stored logins (used once, on upgrade).
 */
export interface UpgradesDms {
  upgradeDmReceiver(channelId: string, matrixUserId: string, loginIds: string[]): string | null;
}

const has = (o: object, method: string): boolean =>
  typeof (o as Record<string, unknown>)[method] === "function";

export const supportsEdits = (c: NetworkClient): c is NetworkClient & EditsMessages => has(c, "editMessage");
export const supportsRedactions = (c: NetworkClient): c is NetworkClient & DeletesMessages =>
  has(c, "deleteMessage");
export const supportsReactions = (c: NetworkClient): c is NetworkClient & Reacts => has(c, "react");
export const supportsMembers = (c: NetworkClient): c is NetworkClient & ListsMembers => has(c, "getMembers");
export const supportsPlumbCheck = (c: NetworkClient): c is NetworkClient & ChecksPlumbing =>
  has(c, "canPlumb");
export const supportsMarkRead = (c: NetworkClient): c is NetworkClient & MarksRead => has(c, "markRead");
export const supportsFetchMessage = (c: NetworkClient): c is NetworkClient & FetchesMessages =>
  has(c, "fetchMessage");
export const supportsHistory = (c: NetworkClient): c is NetworkClient & ReadsHistory => has(c, "historyPage");
export const supportsTyping = (c: NetworkClient): c is NetworkClient & SendsTyping => has(c, "setTyping");
export const supportsMembership = (c: NetworkClient): c is NetworkClient & JoinsChats => has(c, "joinChat");
export const supportsPowerLevels = (c: NetworkClient): c is NetworkClient & SetsRoles =>
  has(c, "setPowerLevel");
export const supportsChatInfo = (c: NetworkClient): c is NetworkClient & ChangesChatInfo =>
  has(c, "setChatInfo");

export const supportsLogins = (c: Connector): c is Connector & HasLogins =>
  Array.isArray((c as Partial<HasLogins>).loginFlows) && has(c, "createLogin") && has(c, "loadLogin");
export const supportsImplicitLogins = (c: Connector): c is Connector & HasImplicitLogins =>
  has(c, "implicitLogin");
export const supportsCommands = (c: Connector): c is Connector & HasCommands =>
  Array.isArray((c as Partial<HasCommands>).commands);
export const supportsDms = (c: Connector): c is Connector & StartsDms => has(c, "dmChat");
export const supportsForeignBridges = (c: Connector): c is Connector & DetectsForeignBridges =>
  has(c, "foreignPuppetOf");
export const supportsMediaFetch = (c: Connector): c is Connector & FetchesMedia => has(c, "fetchMedia");
export const supportsDmUpgrade = (c: Connector): c is Connector & UpgradesDms => has(c, "upgradeDmReceiver");
