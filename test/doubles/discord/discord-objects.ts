import { isThreadType, ChannelType, MessageType } from "./bits.js";
import type { Cdn } from "./cdn.js";
import type {
  DiscordAttachment,
  DiscordChannel,
  DiscordMember,
  DiscordMessage,
  DiscordReaction,
  DiscordRole,
  DiscordThreadMember,
  DiscordUser,
  DiscordWebhook,
} from "./types.js";

/**
 * The double's records (what it stores) and the wire objects built from them (what Discord sends:
 * users, members, roles, guilds, channels, threads, messages, webhooks, commands). Field sets follow
 * Discord's documentation and are checked against the OpenAPI spec on every REST answer.
 */

export interface UserRecord {
  id: string;
  username: string;
  discriminator: string;
  globalName: string | null;
  avatar: string | null;
  avatarData?: Buffer;
  bot: boolean;
}

export interface RoleRecord {
  id: string;
  name: string;
  permissions: bigint;
  position: number;
  color: number;
  hoist: boolean;
  managed: boolean;
  mentionable: boolean;
  /** The bot a managed role belongs to (tags.bot_id). */
  botId?: string;
}

export interface MemberRecord {
  userId: string;
  nick: string | null;
  avatar: string | null;
  avatarData?: Buffer;
  roles: string[];
  joinedAt: string;
}

export interface EmojiRecord {
  id: string;
  name: string;
  /** The picture the CDN serves at /emojis/<id>.<ext>. */
  image?: Buffer;
}

export interface GuildRecord {
  id: string;
  name: string;
  ownerId: string;
  roles: Map<string, RoleRecord>;
  members: Map<string, MemberRecord>;
  /** Channel ids in creation order (threads included). */
  channels: string[];
  systemChannelId: string | null;
  emojis: Map<string, EmojiRecord>;
  stickers: Map<string, StickerRecord>;
  premiumTier: 0 | 1 | 2 | 3;
  botRoleId: string;
}

/** A guild's sticker; format_type 1 PNG, 2 APNG, 3 Lottie, 4 GIF. */
export interface StickerRecord {
  id: string;
  name: string;
  format: 1 | 2 | 3 | 4;
  /** What the CDN serves at /stickers/<id>.<ext>. */
  image: Buffer;
}

export interface Overwrite {
  id: string;
  /** 0 role, 1 member. */
  type: 0 | 1;
  allow: bigint;
  deny: bigint;
}

export interface ThreadState {
  ownerId: string;
  archived: boolean;
  locked: boolean;
  autoArchiveDuration: 60 | 1440 | 4320 | 10080;
  archiveTimestamp: string;
  createTimestamp: string;
  invitable: boolean;
  /** user id -> join timestamp. */
  members: Map<string, string>;
  messageCount: number;
  totalMessageSent: number;
  appliedTags: string[];
}

export interface ForumTag {
  id: string;
  name: string;
}

export interface ChannelRecord {
  id: string;
  type: number;
  guildId: string | null;
  name: string;
  topic: string | null;
  position: number;
  parentId: string | null;
  nsfw: boolean;
  rateLimitPerUser: number;
  overwrites: Overwrite[];
  lastMessageId: string | null;
  /** DM only: the user on the other side. */
  recipientId?: string;
  thread?: ThreadState;
  availableTags?: ForumTag[];
  deleted?: boolean;
}

export interface AttachmentRecord {
  id: string;
  channelId: string;
  filename: string;
  contentType?: string;
  size: number;
  data: Buffer;
  description?: string;
  title?: string;
  width?: number;
  height?: number;
}

export interface ReactionRecord {
  emoji: { id: string | null; name: string };
  /** Who reacted, in order. */
  users: string[];
}

/** The persona a webhook message was posted with. */
export interface WebhookPersona {
  webhookId: string;
  username: string;
  avatar: string | null;
  avatarUrl?: string;
}

export interface MessageRecord {
  id: string;
  channelId: string;
  guildId: string | null;
  type: number;
  /** A user id; for webhook messages the webhook id. */
  authorId: string;
  webhook?: WebhookPersona;
  content: string;
  embeds: Array<Record<string, unknown>>;
  attachments: AttachmentRecord[];
  components: Array<Record<string, unknown>>;
  mentions: string[];
  mentionRoles: string[];
  mentionEveryone: boolean;
  tts: boolean;
  timestamp: string;
  editedTimestamp: string | null;
  flags: number;
  nonce?: string | number;
  pinned: boolean;
  reference?: { type: 0 | 1; channel_id: string; message_id?: string; guild_id?: string };
  reactions: ReactionRecord[];
  /** Stickers sent with the message (Discord's sticker_items). */
  stickers?: Array<{ id: string; name: string; format_type: number }>;
  /** Interaction responses: authored by the bot, "sent" by the application's webhook. */
  applicationId?: string;
  interactionMetadata?: Record<string, unknown>;
  /** The thread started from this message (thread id == message id). */
  threadId?: string;
  /** Index in its thread, which Discord reports as `position`. */
  position?: number;
  /** Ephemeral interaction responses live outside the channel's history. */
  ephemeral?: boolean;
}

export interface WebhookRecord {
  id: string;
  token: string;
  channelId: string;
  guildId: string;
  name: string;
  avatar: string | null;
  avatarData?: Buffer;
  creatorId: string;
  /** The application that created it (null for webhooks a person made in the client). */
  applicationId: string | null;
}

export interface CommandRecord {
  id: string;
  applicationId: string;
  guildId: string | null;
  name: string;
  description: string;
  type: number;
  options: Array<Record<string, unknown>>;
  version: string;
  defaultMemberPermissions: string | null;
  nsfw: boolean;
  contexts: number[] | null;
  integrationTypes: number[];
}

/** What the wire builders need to look up while building an object. */
export interface Lookup {
  user(id: string): UserRecord;
  findMessage(channelId: string, id: string): MessageRecord | undefined;
  findChannel(id: string): ChannelRecord | undefined;
  cdn: Cdn;
  botUserId: string;
}

export function userObject(u: UserRecord): DiscordUser {
  return {
    id: u.id,
    username: u.username,
    discriminator: u.discriminator,
    global_name: u.globalName,
    avatar: u.avatar,
    public_flags: 0,
    flags: 0,
    primary_guild: null,
    avatar_decoration_data: null,
    collectibles: null,
    banner: null,
    accent_color: null,
    ...(u.bot ? { bot: true } : {}),
  };
}

/** GET /users/@me: the user object plus the fields only the account itself sees. */
export function currentUserObject(u: UserRecord): DiscordUser {
  return {
    ...userObject(u),
    mfa_enabled: false,
    locale: "en-US",
    verified: true,
    email: null,
    premium_type: 0,
  };
}

export function memberObject(m: MemberRecord, user?: UserRecord): DiscordMember {
  return {
    ...(user ? { user: userObject(user) } : {}),
    nick: m.nick,
    avatar: m.avatar,
    banner: null,
    roles: [...m.roles],
    joined_at: m.joinedAt,
    premium_since: null,
    deaf: false,
    mute: false,
    pending: false,
    flags: 0,
    communication_disabled_until: null,
  };
}

export function roleObject(r: RoleRecord): DiscordRole {
  return {
    id: r.id,
    name: r.name,
    permissions: r.permissions.toString(),
    position: r.position,
    color: r.color,
    colors: { primary_color: r.color, secondary_color: null, tertiary_color: null },
    hoist: r.hoist,
    managed: r.managed,
    mentionable: r.mentionable,
    icon: null,
    unicode_emoji: null,
    flags: 0,
    ...(r.botId !== undefined ? { tags: { bot_id: r.botId } } : {}),
  };
}

export function emojiObject(e: EmojiRecord): Record<string, unknown> {
  return {
    id: e.id,
    name: e.name,
    roles: [],
    require_colons: true,
    managed: false,
    animated: false,
    available: true,
  };
}

/** The guild object of GET /guilds/{id} and GUILD_UPDATE. */
export function guildObject(g: GuildRecord): Record<string, unknown> {
  return {
    id: g.id,
    name: g.name,
    icon: null,
    description: null,
    home_header: null,
    splash: null,
    discovery_splash: null,
    features: [],
    banner: null,
    owner_id: g.ownerId,
    application_id: null,
    region: "deprecated",
    afk_channel_id: null,
    afk_timeout: 300,
    system_channel_id: g.systemChannelId,
    system_channel_flags: 0,
    widget_enabled: false,
    widget_channel_id: null,
    verification_level: 0,
    roles: [...g.roles.values()].map(roleObject),
    default_message_notifications: 0,
    mfa_level: 0,
    explicit_content_filter: 0,
    max_presences: null,
    max_members: 500000,
    max_stage_video_channel_users: 50,
    max_video_channel_users: 25,
    vanity_url_code: null,
    premium_tier: g.premiumTier,
    premium_subscription_count: 0,
    preferred_locale: "en-US",
    rules_channel_id: null,
    safety_alerts_channel_id: null,
    public_updates_channel_id: null,
    premium_progress_bar_enabled: false,
    nsfw: false,
    nsfw_level: 0,
    emojis: [...g.emojis.values()].map(emojiObject),
    stickers: [],
    incidents_data: null,
  };
}

function overwriteObjects(c: ChannelRecord): DiscordChannel["permission_overwrites"] {
  return c.overwrites.map((o) => ({
    id: o.id,
    type: o.type,
    allow: o.allow.toString(),
    deny: o.deny.toString(),
  }));
}

export function threadMemberObject(
  threadId: string,
  userId: string,
  joinedAt: string,
  member?: DiscordMember,
): DiscordThreadMember {
  return {
    id: threadId,
    user_id: userId,
    join_timestamp: joinedAt,
    flags: 1,
    ...(member ? { member } : {}),
  };
}

/** Any channel: guild channel, thread or DM, with the fields Discord sends for its type. */
export function channelObject(c: ChannelRecord, lk: Lookup): DiscordChannel {
  if (c.type === ChannelType.DM) {
    return {
      id: c.id,
      type: c.type,
      flags: 0,
      last_message_id: c.lastMessageId,
      recipients: c.recipientId !== undefined ? [userObject(lk.user(c.recipientId))] : [],
    };
  }
  const base: DiscordChannel = {
    id: c.id,
    type: c.type,
    flags: 0,
    guild_id: c.guildId ?? undefined,
    name: c.name,
  };
  const t = c.thread;
  if (isThreadType(c.type) && t) {
    const botJoined = t.members.get(lk.botUserId);
    return {
      ...base,
      parent_id: c.parentId,
      owner_id: t.ownerId,
      last_message_id: c.lastMessageId,
      rate_limit_per_user: c.rateLimitPerUser,
      thread_metadata: {
        archived: t.archived,
        archive_timestamp: t.archiveTimestamp,
        auto_archive_duration: t.autoArchiveDuration,
        locked: t.locked,
        create_timestamp: t.createTimestamp,
        ...(c.type === ChannelType.PRIVATE_THREAD ? { invitable: t.invitable } : {}),
      },
      message_count: t.messageCount,
      member_count: Math.min(t.members.size, 50),
      total_message_sent: t.totalMessageSent,
      ...(t.appliedTags.length > 0 || lk.findChannel(c.parentId ?? "")?.type === ChannelType.GUILD_FORUM
        ? { applied_tags: [...t.appliedTags] }
        : {}),
      ...(botJoined !== undefined ? { member: threadMemberObject(c.id, lk.botUserId, botJoined) } : {}),
    };
  }
  const guildChannel: DiscordChannel = {
    ...base,
    position: c.position,
    permission_overwrites: overwriteObjects(c),
    parent_id: c.parentId,
  };
  switch (c.type) {
    case ChannelType.GUILD_CATEGORY:
      return guildChannel;
    case ChannelType.GUILD_VOICE:
    case ChannelType.GUILD_STAGE_VOICE:
      return {
        ...guildChannel,
        last_message_id: c.lastMessageId,
        bitrate: 64000,
        user_limit: 0,
        rtc_region: null,
        rate_limit_per_user: c.rateLimitPerUser,
        nsfw: c.nsfw,
      };
    case ChannelType.GUILD_FORUM:
      return {
        ...guildChannel,
        topic: c.topic,
        nsfw: c.nsfw,
        last_message_id: c.lastMessageId,
        rate_limit_per_user: c.rateLimitPerUser,
        default_thread_rate_limit_per_user: 0,
        available_tags: (c.availableTags ?? []).map((tag) => ({
          id: tag.id,
          name: tag.name,
          moderated: false,
          emoji_id: null,
          emoji_name: null,
        })),
        default_reaction_emoji: null,
        default_sort_order: null,
        default_forum_layout: 0,
      };
    default:
      return {
        ...guildChannel,
        topic: c.topic,
        nsfw: c.nsfw,
        last_message_id: c.lastMessageId,
        rate_limit_per_user: c.rateLimitPerUser,
      };
  }
}

export function attachmentObject(a: AttachmentRecord, cdn: Cdn): DiscordAttachment {
  return {
    id: a.id,
    filename: a.filename,
    size: a.size,
    url: cdn.attachmentUrl(a.channelId, a.id, a.filename),
    proxy_url: cdn.proxyUrl(a.channelId, a.id, a.filename),
    ...(a.contentType !== undefined ? { content_type: a.contentType } : {}),
    ...(a.width !== undefined && a.height !== undefined ? { width: a.width, height: a.height } : {}),
    ...(a.description !== undefined ? { description: a.description } : {}),
    ...(a.title !== undefined ? { title: a.title } : {}),
  };
}

function reactionObjects(m: MessageRecord, botUserId: string): DiscordReaction[] {
  return m.reactions.map((r) => ({
    emoji: r.emoji,
    count: r.users.length,
    count_details: { burst: 0, normal: r.users.length },
    burst_colors: [],
    me_burst: false,
    me: r.users.includes(botUserId),
  }));
}

/** A webhook message's author: the webhook as a bot user with the per-message name and avatar. */
function webhookAuthor(p: WebhookPersona): DiscordUser {
  return {
    id: p.webhookId,
    username: p.username,
    discriminator: "0000",
    global_name: null,
    avatar: p.avatar,
    public_flags: 0,
    flags: 0,
    primary_guild: null,
    bot: true,
  };
}

export function messageObject(m: MessageRecord, lk: Lookup, depth = 0): DiscordMessage {
  const author = m.webhook ? webhookAuthor(m.webhook) : userObject(lk.user(m.authorId));
  const referenced =
    m.reference?.message_id !== undefined &&
    (m.type === MessageType.REPLY || m.type === MessageType.THREAD_STARTER_MESSAGE) &&
    depth === 0
      ? lk.findMessage(m.reference.channel_id, m.reference.message_id)
      : undefined;
  const thread = m.threadId !== undefined ? lk.findChannel(m.threadId) : undefined;
  return {
    type: m.type,
    content: m.content,
    mentions: m.mentions.map((id) => userObject(lk.user(id))),
    mention_roles: [...m.mentionRoles],
    attachments: m.attachments.map((a) => attachmentObject(a, lk.cdn)),
    embeds: structuredClone(m.embeds),
    timestamp: m.timestamp,
    edited_timestamp: m.editedTimestamp,
    flags: m.flags,
    components: structuredClone(m.components),
    id: m.id,
    channel_id: m.channelId,
    author,
    pinned: m.pinned,
    mention_everyone: m.mentionEveryone,
    tts: m.tts,
    ...(m.webhook ? { webhook_id: m.webhook.webhookId } : {}),
    ...(m.applicationId !== undefined
      ? { webhook_id: m.applicationId, application_id: m.applicationId }
      : {}),
    ...(m.nonce !== undefined ? { nonce: m.nonce } : {}),
    ...(m.reference ? { message_reference: { ...m.reference } } : {}),
    ...(m.reference && (m.type === MessageType.REPLY || m.type === MessageType.THREAD_STARTER_MESSAGE)
      ? { referenced_message: referenced ? messageObject(referenced, lk, depth + 1) : null }
      : {}),
    ...(m.reactions.length > 0 ? { reactions: reactionObjects(m, lk.botUserId) } : {}),
    ...(m.stickers?.length ? { sticker_items: structuredClone(m.stickers) } : {}),
    ...(thread && !thread.deleted && depth === 0 ? { thread: channelObject(thread, lk) } : {}),
    ...(m.position !== undefined ? { position: m.position } : {}),
    ...(m.interactionMetadata ? { interaction_metadata: structuredClone(m.interactionMetadata) } : {}),
  };
}

/** Webhook objects carry their token only for the application that created them. */
export function webhookObject(w: WebhookRecord, lk: Lookup, viewerApplicationId: string): DiscordWebhook {
  return {
    id: w.id,
    type: 1,
    name: w.name,
    avatar: w.avatar,
    channel_id: w.channelId,
    guild_id: w.guildId,
    application_id: w.applicationId,
    user: userObject(lk.user(w.creatorId)),
    ...(w.applicationId === viewerApplicationId ? { token: w.token } : {}),
  };
}

export function commandObject(c: CommandRecord): Record<string, unknown> {
  return {
    id: c.id,
    application_id: c.applicationId,
    version: c.version,
    default_member_permissions: c.defaultMemberPermissions,
    type: c.type,
    name: c.name,
    name_localizations: null,
    description: c.description,
    description_localizations: null,
    ...(c.guildId !== null ? { guild_id: c.guildId } : {}),
    ...(c.options.length > 0 ? { options: structuredClone(c.options) } : {}),
    nsfw: c.nsfw,
    contexts: c.contexts,
    integration_types: c.integrationTypes,
  };
}
