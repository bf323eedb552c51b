import type { IntentName, PermissionName, PrivilegedIntent } from "./bits.js";

/**
 * The public shapes of the Discord test double: its options, the wire objects a test reads back
 * (the same JSON discord.js receives) and the test-facing API. Everything is plain JSON-like data.
 */

export type { IntentName, PermissionName, PrivilegedIntent };

export interface DiscordDoubleOptions {
  /** The bot user's name (default "Switchboard"). */
  botName?: string;
  /**
   * Privileged intents the application has been granted in the Developer Portal. Identifying with
   * one that is not granted closes the gateway with 4014. Default: none, like a new application.
   */
  privilegedIntents?: PrivilegedIntent[];
  /** HELLO's heartbeat_interval (Discord: 41250 ms). */
  heartbeatIntervalMs?: number;
  /** How long a dropped gateway session stays resumable (Discord: a few minutes). Default 120 s. */
  resumeWindowMs?: number;
  /** Time an interaction may go unanswered before its callback fails with 10062 (Discord: 3 s). */
  interactionResponseTimeoutMs?: number;
  /** Advertised (and enforced) per-route bucket: `limit` requests per `windowMs`. Default 50 per 1000 ms. */
  rateLimitBucket?: { limit: number; windowMs: number };
  /** Default: ../shared/specs/discord/specs/openapi.json next to the repository. Skipped (with a warning) when absent. */
  specPath?: string;
}

export interface DiscordUser {
  id: string;
  username: string;
  discriminator: string;
  global_name: string | null;
  avatar: string | null;
  public_flags: number;
  flags: number;
  primary_guild: null;
  bot?: boolean;
  system?: boolean;
  [key: string]: unknown;
}

export interface DiscordMember {
  user?: DiscordUser;
  nick: string | null;
  avatar: string | null;
  banner: null;
  roles: string[];
  joined_at: string;
  premium_since: null;
  deaf: boolean;
  mute: boolean;
  pending: boolean;
  flags: number;
  communication_disabled_until: null;
  permissions?: string;
}

export interface DiscordRole {
  id: string;
  name: string;
  permissions: string;
  position: number;
  color: number;
  colors: { primary_color: number; secondary_color: null; tertiary_color: null };
  hoist: boolean;
  managed: boolean;
  mentionable: boolean;
  icon: null;
  unicode_emoji: null;
  flags: number;
  tags?: { bot_id?: string };
}

export interface DiscordOverwrite {
  id: string;
  type: 0 | 1;
  allow: string;
  deny: string;
}

export interface DiscordThreadMetadata {
  archived: boolean;
  archive_timestamp: string;
  auto_archive_duration: 60 | 1440 | 4320 | 10080;
  locked: boolean;
  create_timestamp: string;
  invitable?: boolean;
}

export interface DiscordThreadMember {
  id: string;
  user_id: string;
  join_timestamp: string;
  flags: number;
  member?: DiscordMember;
}

export interface DiscordChannel {
  id: string;
  type: number;
  flags: number;
  guild_id?: string;
  name?: string;
  position?: number;
  parent_id?: string | null;
  topic?: string | null;
  nsfw?: boolean;
  last_message_id?: string | null;
  rate_limit_per_user?: number;
  permission_overwrites?: DiscordOverwrite[];
  recipients?: DiscordUser[];
  owner_id?: string;
  thread_metadata?: DiscordThreadMetadata;
  message_count?: number;
  member_count?: number;
  total_message_sent?: number;
  applied_tags?: string[];
  available_tags?: Array<{
    id: string;
    name: string;
    moderated: boolean;
    emoji_id: null;
    emoji_name: string | null;
  }>;
  member?: DiscordThreadMember;
  [key: string]: unknown;
}

export interface DiscordAttachment {
  id: string;
  filename: string;
  size: number;
  url: string;
  proxy_url: string;
  content_type?: string;
  width?: number;
  height?: number;
  description?: string;
  title?: string;
}

export interface DiscordReaction {
  emoji: { id: string | null; name: string; animated?: boolean };
  count: number;
  count_details: { burst: number; normal: number };
  burst_colors: string[];
  me_burst: boolean;
  me: boolean;
}

export interface DiscordMessage {
  id: string;
  channel_id: string;
  type: number;
  content: string;
  author: DiscordUser;
  timestamp: string;
  edited_timestamp: string | null;
  tts: boolean;
  mention_everyone: boolean;
  mentions: DiscordUser[];
  mention_roles: string[];
  attachments: DiscordAttachment[];
  embeds: Array<Record<string, unknown>>;
  components: Array<Record<string, unknown>>;
  pinned: boolean;
  flags: number;
  webhook_id?: string;
  application_id?: string;
  nonce?: string | number;
  message_reference?: { type: 0 | 1; channel_id: string; message_id?: string; guild_id?: string };
  referenced_message?: DiscordMessage | null;
  reactions?: DiscordReaction[];
  thread?: DiscordChannel;
  position?: number;
  interaction_metadata?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface DiscordWebhook {
  id: string;
  type: 1 | 3;
  name: string;
  avatar: string | null;
  channel_id: string | null;
  guild_id: string | null;
  application_id: string | null;
  user?: DiscordUser;
  token?: string;
}

/** A message a webhook posted, with the per-message persona it was executed with. */
export interface WebhookMessage {
  id: string;
  channelId: string;
  /** The thread it went into (`thread_id`), if any. */
  threadId?: string;
  webhookId: string;
  username: string;
  avatarUrl?: string;
  content: string;
}

export interface ApiCall {
  /** "POST /channels/{channel_id}/messages": the route template, as the spec's paths write it. */
  route: string;
  /** The spec's operationId ("create_message"), when the route is in the spec. */
  operationId?: string;
  /** The concrete path after /api/v10. */
  path: string;
  query: Record<string, string>;
  /** JSON body, or the parsed payload_json of a multipart request. */
  body: unknown;
  /** Files of a multipart request. */
  files: Array<{ field: string; filename: string; contentType: string; size: number }>;
  /** "bot" (Authorization: Bot …), "webhook" (token in the path) or "none". */
  auth: "bot" | "webhook" | "none";
  status: number;
  /** Discord's JSON error code, for error answers. */
  code?: number;
}

/** One frame the gateway sent to a session (dispatches only). */
export interface DispatchRecord {
  sessionId: string;
  t: string;
  s: number;
  d: Record<string, unknown>;
  /** False while the session had no socket: the frame waits for a RESUME. */
  delivered: boolean;
}

export interface GatewaySessionInfo {
  sessionId: string;
  intents: number;
  seq: number;
  connected: boolean;
  /** How the session's sockets began: "identify" then one "resume" per successful RESUME. */
  history: Array<"identify" | "resume">;
  /** Paths of the URLs its sockets connected to ("/gateway", "/resume-gateway"). */
  paths: string[];
}

/** What happened to an interaction (a test's slash command or button click). */
export interface InteractionOutcome {
  id: string;
  token: string;
  /** The callback type the app answered with (4 reply, 5 deferred, 6 deferred update, 7 update, 9 modal). */
  responseType?: number;
  /** The message of a type 4/5 response as it is now (after @original edits), ephemeral ones included. */
  original?: DiscordMessage;
  followups: DiscordMessage[];
  /** Modal (type 9) data, if one was shown. */
  modal?: Record<string, unknown>;
}

export interface AttachmentInput {
  name: string;
  data: Buffer;
  contentType?: string;
  description?: string;
}

export interface PostOptions {
  attachments?: AttachmentInput[];
  /** Reply to this message (same channel); pings its author unless mentionRepliedUser is false. */
  replyTo?: string;
  mentionRepliedUser?: boolean;
  /** Post into this thread of the channel instead of the channel itself. */
  thread?: string;
  embeds?: Array<Record<string, unknown>>;
  /** Ids of stickers of the channel's guild (addSticker). */
  stickers?: string[];
}

export type ChannelKind = "text" | "announcement" | "category" | "forum" | "voice";

export interface DiscordDouble {
  /** "http://127.0.0.1:<port>/api", for `new Client({ rest: { api } })` / `new REST({ api })`. */
  restUrl: string;
  /** "http://127.0.0.1:<port>/cdn", for `rest: { cdn }` (avatars; attachment URLs already point here). */
  cdnUrl: string;
  /** What GET /gateway/bot answers as `url`. */
  gatewayUrl: string;
  botToken: string;
  botUserId: string;
  applicationId: string;

  addUser(u: { username: string; globalName?: string; avatar?: Buffer; bot?: boolean }): { id: string };
  /** A guild with the bot in it (its managed role gets `botPermissions`); pushes GUILD_CREATE to live sessions. */
  addGuild(g: {
    name: string;
    ownerId?: string;
    botPermissions?: PermissionName[];
    everyonePermissions?: PermissionName[];
    /** Create a #general text channel and make it the system channel (member-join messages). */
    systemChannel?: boolean;
    /** Boost level 0–3: sets the upload limit (10, 10, 50, 100 MiB). */
    premiumTier?: 0 | 1 | 2 | 3;
  }): { id: string; everyoneRoleId: string; botRoleId: string; systemChannelId?: string };
  renameGuild(guildId: string, name: string): void;
  addRole(
    guildId: string,
    r: { name: string; permissions?: PermissionName[]; color?: number; mentionable?: boolean },
  ): { id: string };
  addChannel(
    guildId: string,
    c: { name: string; type?: ChannelKind; parentId?: string; topic?: string; tags?: string[] },
  ): { id: string };
  renameChannel(channelId: string, name: string): void;
  setTopic(channelId: string, topic: string | null): void;
  deleteChannel(channelId: string): void;
  /** Channel overwrite for the bot's member (what an admin does in Edit Channel → Permissions). */
  setBotPermissions(channelId: string, p: { allow?: PermissionName[]; deny?: PermissionName[] }): void;
  /** A custom emoji; `image` is what the CDN serves for it (a 1×1 PNG when left out). */
  addEmoji(guildId: string, name: string, image?: Buffer): { id: string };
  /** A guild sticker the CDN serves (format: png, apng, lottie or gif). */
  addSticker(
    guildId: string,
    s: { name: string; image: Buffer; format?: "png" | "apng" | "lottie" | "gif" },
  ): { id: string };
  addMember(guildId: string, userId: string, m?: { nick?: string; roles?: string[]; avatar?: Buffer }): void;
  updateMember(
    guildId: string,
    userId: string,
    m: { nick?: string | null; roles?: string[]; avatar?: Buffer | null },
  ): void;
  removeMember(guildId: string, userId: string): void;
  /** A webhook a person made in Channel Settings → Integrations (no application, so no token for the bot). */
  addWebhookAs(userId: string, channelId: string, name: string): { id: string; token: string };
  /** The DM channel between a user and the bot (created on first use; Discord pushes no event for it). */
  openDm(userId: string): { id: string };

  postAs(userId: string, channelId: string, content: string, opts?: PostOptions): string;
  editAs(userId: string, channelId: string, messageId: string, content: string): void;
  deleteAs(userId: string, channelId: string, messageId: string): void;
  /** Pin Message (Manage Messages): the message is pinned and Discord posts its CHANNEL_PINNED_MESSAGE notice. */
  pinAs(userId: string, channelId: string, messageId: string): void;
  /** A moderator's purge (Manage Messages): one MESSAGE_DELETE_BULK. */
  bulkDeleteAs(userId: string, channelId: string, messageIds: string[]): void;
  reactAs(userId: string, channelId: string, messageId: string, emoji: string): void;
  unreactAs(userId: string, channelId: string, messageId: string, emoji: string): void;
  typingAs(userId: string, channelId: string): void;
  /** A thread from a message, a thread without one, or (in a forum) a post whose first message is `content`. */
  createThreadAs(
    userId: string,
    channelId: string,
    t: { name: string; messageId?: string; private?: boolean; content?: string; tags?: string[] },
  ): { id: string; starterMessageId?: string };
  archiveThread(threadId: string, archived?: boolean, locked?: boolean): void;
  /** A user runs /name in a channel: INTERACTION_CREATE with the command's registered id. */
  invokeCommand(
    userId: string,
    channelId: string,
    name: string,
    options?: Record<string, string | number | boolean>,
  ): string;
  /** A user clicks the button with `customId` on a message: INTERACTION_CREATE of type 3. */
  clickButton(userId: string, channelId: string, messageId: string, customId: string): string;
  interaction(id: string): InteractionOutcome;

  /** A channel's messages (a thread is a channel), oldest first, as the REST API returns them. */
  messages(channelId: string): DiscordMessage[];
  message(channelId: string, messageId: string): DiscordMessage | undefined;
  webhookMessages(channelId: string): WebhookMessage[];
  webhooks(channelId: string): DiscordWebhook[];
  channel(channelId: string): DiscordChannel | undefined;
  /** Bytes of an attachment, by its id or any of its URLs. */
  attachmentContent(idOrUrl: string): Buffer | undefined;
  commands(guildId?: string): Array<Record<string, unknown>>;
  /** REST calls, oldest first; filter by route ("POST /channels/{channel_id}/messages") or operationId. */
  calls(route?: string): ApiCall[];
  /** Dispatches the gateway sent (or holds for a RESUME), oldest first, optionally of one type. */
  dispatches(t?: string): DispatchRecord[];
  gatewaySessions(): GatewaySessionInfo[];

  setPrivilegedIntents(intents: PrivilegedIntent[]): void;
  /** Cuts every gateway socket without a close frame (network loss): sessions stay resumable. */
  dropGatewayConnections(): void;
  /** Sends op 7 RECONNECT: the client should resume on resume_gateway_url. */
  requestReconnect(): void;
  /** Sends op 9 INVALID_SESSION (d = resumable); non-resumable ends the sessions. */
  invalidateSessions(resumable: boolean): void;
  /** The next `count` calls of a route (template, operationId or RegExp on "METHOD /path") answer 429. */
  rateLimit(o: {
    route?: string | RegExp;
    count: number;
    retryAfterSeconds?: number;
    global?: boolean;
  }): void;

  specViolations: string[];
  assertNoSpecViolations(): void;
  close(): Promise<void>;
}
