import {
  ChannelType,
  DEFAULT_BOT_PERMISSIONS,
  DEFAULT_EVERYONE_PERMISSIONS,
  Intent,
  isThreadType,
  MessageType,
  Permission,
  type PermissionName,
  type PrivilegedIntent,
} from "./bits.js";
import { Cdn } from "./cdn.js";
import {
  channelObject,
  emojiObject,
  guildObject,
  memberObject,
  roleObject,
  threadMemberObject,
  userObject,
  type AttachmentRecord,
  type ChannelRecord,
  type CommandRecord,
  type GuildRecord,
  type Lookup,
  type MemberRecord,
  type MessageRecord,
  type Overwrite,
  type StickerRecord,
  type UserRecord,
  type WebhookRecord,
} from "./discord-objects.js";
import { invalidForm, missingAccess, missingPermissions, unknown } from "./errors.js";
import { createMessage } from "./messages.js";
import { channelPermissions } from "./permissions.js";
import { imageHash, isoNow, SnowflakeMint } from "./snowflakes.js";

/**
 * The fake Discord's state: users, guilds, roles, members, channels (threads and DMs too), messages,
 * attachments, webhooks and application commands, with the lookups and the permission checks every
 * other module uses, and the structural changes (guilds, members, channels, thread membership).
 * Changes to messages, threads, webhooks and commands live in messages.ts, threads.ts, webhooks.ts
 * and commands.ts. Each change emits the gateway dispatch Discord would send, so the REST API (the
 * bridge acting) and the test-facing helpers (a person acting in Discord's client) produce the same
 * events. Which session hears a dispatch (intents, MESSAGE_CONTENT) is the gateway's business;
 * whether the bot may see the channel at all is decided here, because it is the same for every
 * session of the one bot.
 */

/** A dispatch as the model emits it; gateway.ts numbers it and filters it per session. */
export interface DispatchEvent {
  t: string;
  d: Record<string, unknown>;
  /** The intent a session needs to hear it; null: every session (READY-like and INTERACTION_CREATE). */
  intent: number | null;
  /** Message-bearing events: may a session without MESSAGE_CONTENT see the content? */
  contentExempt?: boolean;
  /** The same for the embedded referenced_message. */
  referencedExempt?: boolean;
  /** Payloads that depend on the session's intents (GUILD_CREATE's member list). */
  build?: (intents: number) => Record<string, unknown>;
  /** The guild it concerns when `d` does not say (`guild_id`), for shard routing. */
  guildId?: string;
}

export class Model implements Lookup {
  readonly mint = new SnowflakeMint();
  readonly cdn = new Cdn();
  readonly users = new Map<string, UserRecord>();
  readonly guilds = new Map<string, GuildRecord>();
  readonly channels = new Map<string, ChannelRecord>();
  /** Per channel, its messages in id order (ephemeral ones are kept in `ephemeral`). */
  readonly history = new Map<string, MessageRecord[]>();
  readonly ephemeral = new Map<string, MessageRecord>();
  readonly attachments = new Map<string, AttachmentRecord>();
  readonly webhooks = new Map<string, WebhookRecord>();
  readonly commands = new Map<string, CommandRecord>();
  /** avatar hash -> the avatar_url a webhook message was executed with. */
  readonly personaAvatars = new Map<string, string>();
  /** channel:author:nonce -> message id, for enforce_nonce. */
  readonly nonces = new Map<string, string>();
  readonly bot: { userId: string; applicationId: string; token: string };
  readonly grantedIntents = new Set<PrivilegedIntent>();
  sink: (event: DispatchEvent) => void = () => {};

  constructor(botName: string) {
    const userId = this.mint.next();
    this.users.set(userId, {
      id: userId,
      username: botName,
      discriminator: String(1000 + Math.floor(Math.random() * 9000)),
      globalName: null,
      avatar: null,
      bot: true,
    });
    // A bot's application id is its user id for every application made since 2016.
    this.bot = { userId, applicationId: userId, token: this.mint.botToken(userId) };
  }

  get botUserId(): string {
    return this.bot.userId;
  }

  /** Hands a dispatch to the gateway. */
  dispatch(event: DispatchEvent): void {
    this.sink(event);
  }

  // ---- lookups ---------------------------------------------------------------------------------

  user(id: string): UserRecord {
    const u = this.users.get(id);
    if (!u) throw unknown("user");
    return u;
  }

  guild(id: string): GuildRecord {
    const g = this.guilds.get(id);
    if (!g) throw unknown("guild");
    return g;
  }

  findChannel(id: string): ChannelRecord | undefined {
    const c = this.channels.get(id);
    return c && !c.deleted ? c : undefined;
  }

  channel(id: string): ChannelRecord {
    const c = this.findChannel(id);
    if (!c) throw unknown("channel");
    return c;
  }

  guildOf(c: ChannelRecord): GuildRecord | undefined {
    return c.guildId !== null ? this.guilds.get(c.guildId) : undefined;
  }

  findMessage(channelId: string, id: string): MessageRecord | undefined {
    return this.history.get(channelId)?.find((m) => m.id === id) ?? this.ephemeral.get(id);
  }

  message(channelId: string, id: string): MessageRecord {
    const m = this.history.get(channelId)?.find((x) => x.id === id);
    if (!m) throw unknown("message");
    return m;
  }

  messagesOf(channelId: string): MessageRecord[] {
    return this.history.get(channelId) ?? [];
  }

  // ---- permissions -----------------------------------------------------------------------------

  permissionsOf(userId: string, c: ChannelRecord): bigint {
    const guild = this.guildOf(c);
    if (!guild) return c.recipientId === userId || userId === this.bot.userId ? DM_PERMISSIONS : 0n;
    return channelPermissions(guild, c, (id) => this.channels.get(id), userId);
  }

  /** Can the user see the channel (and, for private threads, is in it or may manage threads)? */
  canView(userId: string, c: ChannelRecord): boolean {
    const bits = this.permissionsOf(userId, c);
    if (!(bits & Permission.VIEW_CHANNEL)) return false;
    if (c.type === ChannelType.PRIVATE_THREAD) {
      return Boolean(c.thread?.members.has(userId)) || Boolean(bits & Permission.MANAGE_THREADS);
    }
    return true;
  }

  /** 50001 when the channel is invisible to the user, 50013 when a permission is missing. */
  require(userId: string, c: ChannelRecord, ...perms: PermissionName[]): void {
    if (!this.canView(userId, c)) throw missingAccess();
    const bits = this.permissionsOf(userId, c);
    for (const p of perms) if (!(bits & Permission[p])) throw missingPermissions();
  }

  requireGuildPermission(userId: string, guild: GuildRecord, perm: PermissionName): void {
    if (!guild.members.has(userId)) throw missingAccess();
    const bits = channelPermissions(guild, pseudoChannel(guild), () => undefined, userId);
    if (!(bits & Permission[perm]) && guild.ownerId !== userId) throw missingPermissions();
  }

  // ---- users, guilds, roles, members -------------------------------------------------------------

  addUser(u: { username: string; globalName?: string; avatar?: Buffer; bot?: boolean }): UserRecord {
    const user: UserRecord = {
      id: this.mint.next(),
      username: u.username,
      discriminator: u.bot ? String(1000 + Math.floor(Math.random() * 9000)) : "0",
      globalName: u.globalName ?? null,
      avatar: u.avatar ? imageHash(u.avatar) : null,
      ...(u.avatar ? { avatarData: u.avatar } : {}),
      bot: u.bot ?? false,
    };
    this.users.set(user.id, user);
    return user;
  }

  addGuild(g: {
    name: string;
    ownerId?: string;
    botPermissions?: PermissionName[];
    everyonePermissions?: PermissionName[];
    systemChannel?: boolean;
    premiumTier?: 0 | 1 | 2 | 3;
  }): GuildRecord {
    const id = this.mint.next();
    const ownerId =
      g.ownerId ?? this.addUser({ username: `${g.name.toLowerCase().replace(/\W+/g, "")}-owner` }).id;
    this.user(ownerId);
    const botRoleId = this.mint.next();
    const guild: GuildRecord = {
      id,
      name: g.name,
      ownerId,
      roles: new Map(),
      members: new Map(),
      channels: [],
      systemChannelId: null,
      emojis: new Map(),
      stickers: new Map(),
      premiumTier: g.premiumTier ?? 0,
      botRoleId,
    };
    guild.roles.set(id, {
      id,
      name: "@everyone",
      permissions: g.everyonePermissions
        ? g.everyonePermissions.reduce((b, p) => b | Permission[p], 0n)
        : DEFAULT_EVERYONE_PERMISSIONS,
      position: 0,
      color: 0,
      hoist: false,
      managed: false,
      mentionable: false,
    });
    guild.roles.set(botRoleId, {
      id: botRoleId,
      name: this.user(this.bot.userId).username,
      permissions: g.botPermissions
        ? g.botPermissions.reduce((b, p) => b | Permission[p], 0n)
        : DEFAULT_BOT_PERMISSIONS,
      position: 1,
      color: 0,
      hoist: false,
      managed: true,
      mentionable: false,
      botId: this.bot.userId,
    });
    const joinedAt = isoNow();
    guild.members.set(ownerId, { userId: ownerId, nick: null, avatar: null, roles: [], joinedAt });
    guild.members.set(this.bot.userId, {
      userId: this.bot.userId,
      nick: null,
      avatar: null,
      roles: [botRoleId],
      joinedAt,
    });
    this.guilds.set(id, guild);
    if (g.systemChannel) {
      const general = this.createChannel(guild, { name: "general", type: ChannelType.GUILD_TEXT }, false);
      guild.systemChannelId = general.id;
    }
    // The bot being added to a guild while connected: Discord sends the whole guild.
    this.dispatch({
      t: "GUILD_CREATE",
      d: {},
      intent: Intent.GUILDS,
      build: (intents) => this.guildCreate(guild, intents),
      guildId: guild.id,
    });
    return guild;
  }

  /** GUILD_CREATE's payload: the guild, its channels and active threads, and members as intents allow. */
  guildCreate(guild: GuildRecord, intents: number): Record<string, unknown> {
    const channels = guild.channels.map((id) => this.channels.get(id)).filter((c) => c && !c.deleted);
    // Without GUILD_PRESENCES Discord only lists the bot itself (and users in voice) here.
    const members = [...guild.members.values()].filter(
      (m) => intents & Intent.GUILD_PRESENCES || m.userId === this.bot.userId,
    );
    return {
      ...guildObject(guild),
      joined_at: guild.members.get(this.bot.userId)?.joinedAt ?? isoNow(),
      large: false,
      unavailable: false,
      member_count: guild.members.size,
      voice_states: [],
      members: members.map((m) => memberObject(m, this.user(m.userId))),
      channels: channels
        .filter((c): c is ChannelRecord => c !== undefined && !isThreadType(c.type))
        .map((c) => channelObject(c, this)),
      threads: channels
        .filter(
          (c): c is ChannelRecord =>
            c !== undefined &&
            isThreadType(c.type) &&
            !c.thread?.archived &&
            this.canView(this.bot.userId, c),
        )
        .map((c) => channelObject(c, this)),
      presences: [],
      stage_instances: [],
      guild_scheduled_events: [],
      soundboard_sounds: [],
      lazy: true,
      hub_type: null,
    };
  }

  /** Guilds the bot is in, for READY (all "unavailable" until their GUILD_CREATE). */
  botGuilds(): GuildRecord[] {
    return [...this.guilds.values()].filter((g) => g.members.has(this.bot.userId));
  }

  renameGuild(guildId: string, name: string): void {
    const guild = this.guild(guildId);
    guild.name = name;
    this.dispatch({ t: "GUILD_UPDATE", d: guildObject(guild), intent: Intent.GUILDS, guildId: guild.id });
  }

  addRole(
    guildId: string,
    r: { name: string; permissions?: PermissionName[]; color?: number; mentionable?: boolean },
  ) {
    const guild = this.guild(guildId);
    const role = {
      id: this.mint.next(),
      name: r.name,
      permissions: (r.permissions ?? []).reduce((b, p) => b | Permission[p], 0n),
      position: guild.roles.size,
      color: r.color ?? 0,
      hoist: false,
      managed: false,
      mentionable: r.mentionable ?? false,
    };
    guild.roles.set(role.id, role);
    this.dispatch({
      t: "GUILD_ROLE_CREATE",
      d: { guild_id: guild.id, role: roleObject(role) },
      intent: Intent.GUILDS,
    });
    return role;
  }

  addSticker(guildId: string, name: string, image: Buffer, format: StickerRecord["format"]): string {
    const guild = this.guild(guildId);
    const id = this.mint.next();
    guild.stickers.set(id, { id, name, format, image });
    return id;
  }

  addEmoji(guildId: string, name: string, image?: Buffer): string {
    const guild = this.guild(guildId);
    const id = this.mint.next();
    guild.emojis.set(id, { id, name, ...(image ? { image } : {}) });
    this.dispatch({
      t: "GUILD_EMOJIS_UPDATE",
      d: { guild_id: guild.id, emojis: [...guild.emojis.values()].map(emojiObject) },
      intent: Intent.GUILD_EXPRESSIONS,
    });
    return id;
  }

  member(guild: GuildRecord, userId: string): MemberRecord {
    const m = guild.members.get(userId);
    if (!m) throw unknown("member");
    return m;
  }

  addMember(
    guildId: string,
    userId: string,
    m: { nick?: string; roles?: string[]; avatar?: Buffer } = {},
  ): void {
    const guild = this.guild(guildId);
    const user = this.user(userId);
    if (guild.members.has(userId))
      throw new Error(`Discord double: ${userId} is already in guild ${guildId}`);
    for (const r of m.roles ?? []) if (!guild.roles.has(r)) throw unknown("role");
    const member: MemberRecord = {
      userId,
      nick: m.nick ?? null,
      avatar: m.avatar ? imageHash(m.avatar) : null,
      ...(m.avatar ? { avatarData: m.avatar } : {}),
      roles: [...(m.roles ?? [])],
      joinedAt: isoNow(),
    };
    guild.members.set(userId, member);
    this.dispatch({
      t: "GUILD_MEMBER_ADD",
      d: { ...memberObject(member, user), guild_id: guild.id },
      intent: Intent.GUILD_MEMBERS,
    });
    // Discord's "wave to say hi" message in the system channel.
    const system = guild.systemChannelId !== null ? this.findChannel(guild.systemChannelId) : undefined;
    if (system)
      createMessage(this, userId, system, { type: MessageType.USER_JOIN, content: "" }, { system: true });
  }

  updateMember(
    guildId: string,
    userId: string,
    m: { nick?: string | null; roles?: string[]; avatar?: Buffer | null },
  ): void {
    const guild = this.guild(guildId);
    const member = this.member(guild, userId);
    if (m.nick !== undefined) member.nick = m.nick;
    if (m.roles !== undefined) {
      for (const r of m.roles) if (!guild.roles.has(r)) throw unknown("role");
      const managed = member.roles.filter((r) => guild.roles.get(r)?.managed);
      member.roles = [...new Set([...managed, ...m.roles])];
    }
    if (m.avatar !== undefined) {
      member.avatar = m.avatar ? imageHash(m.avatar) : null;
      if (m.avatar) member.avatarData = m.avatar;
      else delete member.avatarData;
    }
    this.dispatch({
      t: "GUILD_MEMBER_UPDATE",
      d: { ...memberObject(member, this.user(userId)), guild_id: guild.id },
      intent: Intent.GUILD_MEMBERS,
    });
  }

  removeMember(guildId: string, userId: string): void {
    const guild = this.guild(guildId);
    this.member(guild, userId);
    if (userId === this.bot.userId)
      throw new Error("Discord double: removing the bot from a guild is not modelled");
    guild.members.delete(userId);
    this.dispatch({
      t: "GUILD_MEMBER_REMOVE",
      d: { guild_id: guild.id, user: userObject(this.user(userId)) },
      intent: Intent.GUILD_MEMBERS,
    });
  }

  /** The member fields MESSAGE_CREATE and friends attach (no `user`: it is the author). */
  partialMember(guildId: string | null, userId: string): Record<string, unknown> | undefined {
    if (guildId === null) return undefined;
    const m = this.guilds.get(guildId)?.members.get(userId);
    return m ? { ...memberObject(m) } : undefined;
  }

  // ---- channels ----------------------------------------------------------------------------------

  createChannel(
    guild: GuildRecord,
    c: {
      name: string;
      type: number;
      parentId?: string | null;
      topic?: string | null;
      tags?: string[];
      nsfw?: boolean;
    },
    announce = true,
  ): ChannelRecord {
    let overwrites: Overwrite[] = [];
    if (c.parentId) {
      const parent = this.channel(c.parentId);
      if (parent.guildId !== guild.id || parent.type !== ChannelType.GUILD_CATEGORY) {
        throw invalidForm("parent_id", "CHANNEL_PARENT_INVALID_TYPE", "Not a category");
      }
      // A channel created in a category starts synced with it: a copy of its overwrites.
      overwrites = parent.overwrites.map((o) => ({ ...o }));
    }
    const siblings = guild.channels
      .map((id) => this.channels.get(id))
      .filter((x) => x && !isThreadType(x.type));
    const channel: ChannelRecord = {
      id: this.mint.next(),
      type: c.type,
      guildId: guild.id,
      name: c.name,
      topic: c.topic ?? null,
      position: siblings.length,
      parentId: c.parentId ?? null,
      nsfw: c.nsfw ?? false,
      rateLimitPerUser: 0,
      overwrites,
      lastMessageId: null,
      ...(c.type === ChannelType.GUILD_FORUM
        ? { availableTags: (c.tags ?? []).map((name) => ({ id: this.mint.next(), name })) }
        : {}),
    };
    this.channels.set(channel.id, channel);
    this.history.set(channel.id, []);
    guild.channels.push(channel.id);
    if (announce)
      this.dispatch({ t: "CHANNEL_CREATE", d: channelObject(channel, this), intent: Intent.GUILDS });
    return channel;
  }

  /** Renames, topics, archive state: CHANNEL_UPDATE for channels, THREAD_UPDATE for threads. */
  updateChannel(
    c: ChannelRecord,
    patch: {
      name?: string;
      topic?: string | null;
      nsfw?: boolean;
      rateLimitPerUser?: number;
      parentId?: string | null;
      archived?: boolean;
      locked?: boolean;
      autoArchiveDuration?: 60 | 1440 | 4320 | 10080;
      appliedTags?: string[];
    },
  ): void {
    const wasVisible = this.canView(this.bot.userId, c);
    if (patch.name !== undefined) c.name = patch.name;
    if (patch.topic !== undefined) c.topic = patch.topic;
    if (patch.nsfw !== undefined) c.nsfw = patch.nsfw;
    if (patch.rateLimitPerUser !== undefined) c.rateLimitPerUser = patch.rateLimitPerUser;
    if (patch.parentId !== undefined) c.parentId = patch.parentId;
    if (c.thread) {
      if (patch.archived !== undefined && patch.archived !== c.thread.archived) {
        c.thread.archived = patch.archived;
        c.thread.archiveTimestamp = isoNow();
      }
      if (patch.locked !== undefined) c.thread.locked = patch.locked;
      if (patch.autoArchiveDuration !== undefined) c.thread.autoArchiveDuration = patch.autoArchiveDuration;
      if (patch.appliedTags !== undefined) c.thread.appliedTags = [...patch.appliedTags];
      if (wasVisible) this.dispatch({ t: "THREAD_UPDATE", d: channelObject(c, this), intent: Intent.GUILDS });
      return;
    }
    this.dispatch({ t: "CHANNEL_UPDATE", d: channelObject(c, this), intent: Intent.GUILDS });
  }

  deleteChannel(c: ChannelRecord): void {
    c.deleted = true;
    const guild = this.guildOf(c);
    if (guild) guild.channels = guild.channels.filter((id) => id !== c.id);
    if (c.thread) {
      this.dispatch({
        t: "THREAD_DELETE",
        d: { id: c.id, guild_id: c.guildId, parent_id: c.parentId, type: c.type },
        intent: Intent.GUILDS,
      });
      return;
    }
    // Deleting a channel takes its threads and webhooks with it.
    for (const t of [...this.channels.values()])
      if (t.parentId === c.id && t.thread && !t.deleted) t.deleted = true;
    for (const w of [...this.webhooks.values()]) if (w.channelId === c.id) this.webhooks.delete(w.id);
    this.dispatch({ t: "CHANNEL_DELETE", d: channelObject(c, this), intent: Intent.GUILDS });
  }

  /** An admin edits a channel's overwrite for the bot's member. Gaining sight of a channel syncs its threads. */
  setBotOverwrite(c: ChannelRecord, allow: bigint, deny: bigint): void {
    if (c.thread)
      throw new Error("Discord double: threads take their parent's permissions; set them on the parent");
    const sawBefore = this.canView(this.bot.userId, c);
    c.overwrites = c.overwrites.filter((o) => !(o.type === 1 && o.id === this.bot.userId));
    if (allow !== 0n || deny !== 0n) c.overwrites.push({ id: this.bot.userId, type: 1, allow, deny });
    this.dispatch({ t: "CHANNEL_UPDATE", d: channelObject(c, this), intent: Intent.GUILDS });
    if (!sawBefore && this.canView(this.bot.userId, c)) {
      const threads = this.activeThreads(c.guildId ?? "").filter((t) => t.parentId === c.id);
      this.dispatch({
        t: "THREAD_LIST_SYNC",
        d: {
          guild_id: c.guildId,
          channel_ids: [c.id],
          threads: threads.map((t) => channelObject(t, this)),
          members: this.botThreadMembers(threads),
        },
        intent: Intent.GUILDS,
      });
    }
  }

  openDm(userId: string): ChannelRecord {
    this.user(userId);
    for (const c of this.channels.values())
      if (c.type === ChannelType.DM && c.recipientId === userId) return c;
    const dm: ChannelRecord = {
      id: this.mint.next(),
      type: ChannelType.DM,
      guildId: null,
      name: "",
      topic: null,
      position: 0,
      parentId: null,
      nsfw: false,
      rateLimitPerUser: 0,
      overwrites: [],
      lastMessageId: null,
      recipientId: userId,
    };
    this.channels.set(dm.id, dm);
    this.history.set(dm.id, []);
    return dm;
  }

  addThreadMember(thread: ChannelRecord, userId: string): void {
    if (!thread.thread || thread.thread.members.has(userId)) return;
    const joinedAt = isoNow();
    thread.thread.members.set(userId, joinedAt);
    this.emitThreadMembers(thread, { added: [userId] });
  }

  removeThreadMember(thread: ChannelRecord, userId: string): void {
    if (!thread.thread?.members.delete(userId)) return;
    this.emitThreadMembers(thread, { removed: [userId] });
  }

  private emitThreadMembers(thread: ChannelRecord, change: { added?: string[]; removed?: string[] }): void {
    const t = thread.thread;
    if (!t) return;
    const aboutBot = [...(change.added ?? []), ...(change.removed ?? [])].includes(this.bot.userId);
    if (!this.canView(this.bot.userId, thread) && !aboutBot) return;
    const guild = this.guildOf(thread);
    this.dispatch({
      t: "THREAD_MEMBERS_UPDATE",
      d: {
        id: thread.id,
        guild_id: thread.guildId,
        member_count: Math.min(t.members.size, 50),
        ...(change.added
          ? {
              added_members: change.added.map((u) => {
                const m = guild?.members.get(u);
                return {
                  ...threadMemberObject(
                    thread.id,
                    u,
                    t.members.get(u) ?? isoNow(),
                    m ? memberObject(m, this.user(u)) : undefined,
                  ),
                  presence: null,
                };
              }),
            }
          : {}),
        ...(change.removed ? { removed_member_ids: change.removed } : {}),
      },
      // Others joining or leaving needs GUILD_MEMBERS; the bot's own membership does not.
      intent: aboutBot ? Intent.GUILDS : Intent.GUILD_MEMBERS,
    });
  }

  activeThreads(guildId: string): ChannelRecord[] {
    return [...this.channels.values()].filter(
      (c) =>
        c.guildId === guildId &&
        c.thread &&
        !c.deleted &&
        !c.thread.archived &&
        this.canView(this.bot.userId, c),
    );
  }

  botThreadMembers(threads: ChannelRecord[]): Array<Record<string, unknown>> {
    return threads.flatMap((t) => {
      const joined = t.thread?.members.get(this.bot.userId);
      return joined !== undefined ? [{ ...threadMemberObject(t.id, this.bot.userId, joined) }] : [];
    });
  }
}

/** In DMs everyone may do what a DM allows. */
const DM_PERMISSIONS =
  Permission.VIEW_CHANNEL |
  Permission.SEND_MESSAGES |
  Permission.READ_MESSAGE_HISTORY |
  Permission.ADD_REACTIONS |
  Permission.EMBED_LINKS |
  Permission.ATTACH_FILES;

/** A channel with no overwrites, for guild-level permission checks through the channel algorithm. */
function pseudoChannel(guild: GuildRecord): ChannelRecord {
  return {
    id: guild.id,
    type: ChannelType.GUILD_TEXT,
    guildId: guild.id,
    name: "",
    topic: null,
    position: 0,
    parentId: null,
    nsfw: false,
    rateLimitPerUser: 0,
    overwrites: [],
    lastMessageId: null,
  };
}
