import { ChannelType, hasMessages, Intent, MessageFlag, MessageType, Permission } from "./bits.js";
import { contentTypeFromName, imageSize } from "./cdn.js";
import {
  messageObject,
  userObject,
  type AttachmentRecord,
  type ChannelRecord,
  type MessageRecord,
  type ReactionRecord,
  type WebhookPersona,
} from "./discord-objects.js";
import { badRequest, DiscordApiError, invalidForm, unknown } from "./errors.js";
import { parseMentions, type AllowedMentions } from "./mentions.js";
import type { Model } from "./model.js";
import { compareSnowflakes, isoNow } from "./snowflakes.js";

/**
 * Messages and what happens to them: posting (as a person, the bot, a webhook or an interaction
 * answer) with Discord's validation, mentions, replies, attachments and thread bookkeeping; edits,
 * deletions, history pages, reactions and typing. Each change emits the dispatch Discord sends.
 */

export interface NewAttachment {
  filename: string;
  data: Buffer;
  contentType?: string;
  description?: string;
  title?: string;
}

export interface MessageInput {
  content?: string;
  embeds?: Array<Record<string, unknown>>;
  components?: Array<Record<string, unknown>>;
  files?: NewAttachment[];
  replyTo?: { messageId: string; channelId?: string; failIfNotExists?: boolean };
  allowedMentions?: AllowedMentions | null;
  tts?: boolean;
  flags?: number;
  nonce?: string | number;
  enforceNonce?: boolean;
  type?: number;
  webhook?: WebhookPersona;
  applicationId?: string;
  interactionMetadata?: Record<string, unknown>;
  ephemeral?: boolean;
  /** System messages set their reference themselves (THREAD_CREATED points at the thread). */
  reference?: MessageRecord["reference"];
  /** Forum starter messages take the thread's id. */
  id?: string;
  stickers?: Array<{ id: string; name: string; format_type: number }>;
}

export interface MessageEdit {
  content?: string | null;
  embeds?: Array<Record<string, unknown>> | null;
  components?: Array<Record<string, unknown>> | null;
  flags?: number | null;
  /** Ids of existing attachments to keep; undefined keeps all. */
  keepAttachments?: string[];
  files?: NewAttachment[];
  allowedMentions?: AllowedMentions | null;
}

const MAX_CONTENT = 2000;
const EMOJI = /\p{Extended_Pictographic}|\p{Regional_Indicator}|[#*0-9]\u20e3/u;

/**
 * Posts a message as `authorId` (a user, or the bot for REST and interaction answers; webhooks pass
 * their persona). Validates like Discord, updates thread bookkeeping and emits MESSAGE_CREATE.
 */
export function createMessage(
  model: Model,
  authorId: string,
  c: ChannelRecord,
  input: MessageInput,
  opts: { system?: boolean } = {},
): MessageRecord {
  if (!hasMessages(c.type)) {
    throw badRequest(
      c.type === ChannelType.GUILD_FORUM ? 40058 : 50008,
      c.type === ChannelType.GUILD_FORUM
        ? "Cannot send a message in a forum channel"
        : "Cannot send messages in a non-text channel",
    );
  }
  const content = input.content ?? "";
  if (content.length > MAX_CONTENT) {
    throw invalidForm("content", "BASE_TYPE_MAX_LENGTH", `Must be ${MAX_CONTENT} or fewer in length.`);
  }
  const files = input.files ?? [];
  const guild = model.guildOf(c);
  // Discord's per-file limit by boost level.
  const limit = (guild && guild.premiumTier >= 2 ? (guild.premiumTier === 3 ? 100 : 50) : 10) * 1024 * 1024;
  if (files.some((f) => f.data.length > limit))
    throw new DiscordApiError(413, 40005, "Request entity too large");
  if (
    !opts.system &&
    content.trim() === "" &&
    (input.embeds ?? []).length === 0 &&
    files.length === 0 &&
    (input.stickers ?? []).length === 0 &&
    (input.components ?? []).length === 0 &&
    !(input.flags !== undefined && input.flags & MessageFlag.LOADING)
  ) {
    throw badRequest(50006, "Cannot send an empty message");
  }
  if (input.nonce !== undefined && input.enforceNonce) {
    const existing = model.nonces.get(`${c.id}:${authorId}:${input.nonce}`);
    const previous = existing !== undefined ? model.findMessage(c.id, existing) : undefined;
    if (previous) return previous;
  }
  if (c.thread?.archived) {
    if (c.thread.locked && !(model.permissionsOf(authorId, c) & Permission.MANAGE_THREADS)) {
      throw badRequest(50083, "Thread is archived");
    }
    // Writing in an archived (unlocked) thread brings it back, as in Discord.
    model.updateChannel(c, { archived: false });
  }

  let reference = input.reference;
  let type = input.type ?? MessageType.DEFAULT;
  let repliedUser: string | undefined;
  if (input.replyTo) {
    const refChannel = input.replyTo.channelId ?? c.id;
    const target = refChannel === c.id ? model.findMessage(c.id, input.replyTo.messageId) : undefined;
    if (!target || target.ephemeral) {
      if (input.replyTo.failIfNotExists !== false) {
        throw invalidForm("message_reference", "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message");
      }
    } else {
      type = MessageType.REPLY;
      reference = {
        type: 0,
        channel_id: c.id,
        message_id: target.id,
        ...(c.guildId !== null ? { guild_id: c.guildId } : {}),
      };
      repliedUser = target.webhook ? undefined : target.authorId;
    }
  }

  const mentions = parseMentions(content, input.allowedMentions, {
    isUser: (id) => model.users.has(id) && (guild ? guild.members.has(id) : true),
    isRole: (id) => Boolean(guild?.roles.get(id)),
    mayMentionEveryone: guild
      ? input.webhook !== undefined || Boolean(model.permissionsOf(authorId, c) & Permission.MENTION_EVERYONE)
      : false,
    ...(repliedUser !== undefined ? { repliedUser } : {}),
  });

  const id = input.id ?? model.mint.next();
  const msg: MessageRecord = {
    id,
    channelId: c.id,
    guildId: c.guildId,
    type,
    authorId: input.webhook?.webhookId ?? authorId,
    ...(input.webhook ? { webhook: input.webhook } : {}),
    content,
    embeds: (input.embeds ?? []).map(normaliseEmbed),
    ...(input.stickers?.length ? { stickers: structuredClone(input.stickers) } : {}),
    attachments: files.map((f) => storeAttachment(model, c.id, f)),
    components: structuredClone(input.components ?? []),
    mentions: mentions.users,
    mentionRoles: mentions.roles,
    mentionEveryone: mentions.everyone,
    tts: input.tts ?? false,
    timestamp: isoNow(),
    editedTimestamp: null,
    flags:
      (input.flags ?? 0) &
      (MessageFlag.SUPPRESS_EMBEDS |
        MessageFlag.SUPPRESS_NOTIFICATIONS |
        MessageFlag.EPHEMERAL |
        MessageFlag.LOADING),
    ...(input.nonce !== undefined ? { nonce: input.nonce } : {}),
    pinned: false,
    ...(reference ? { reference } : {}),
    reactions: [],
    ...(input.applicationId !== undefined ? { applicationId: input.applicationId } : {}),
    ...(input.interactionMetadata ? { interactionMetadata: input.interactionMetadata } : {}),
    ...(input.ephemeral ? { ephemeral: true } : {}),
  };
  if (input.ephemeral) {
    model.ephemeral.set(msg.id, msg);
    return msg;
  }
  if (c.thread) {
    // Forum starter messages (id == thread id) are not counted, like Discord's message_count.
    if (msg.id !== c.id) {
      msg.position = c.thread.totalMessageSent;
      c.thread.messageCount += 1;
      c.thread.totalMessageSent += 1;
    } else {
      msg.position = 0;
    }
    if (!input.webhook && !c.thread.members.has(authorId) && model.users.has(authorId)) {
      model.addThreadMember(c, authorId);
    }
  }
  model.history.get(c.id)?.push(msg);
  c.lastMessageId = msg.id;
  if (input.nonce !== undefined) model.nonces.set(`${c.id}:${authorId}:${input.nonce}`, msg.id);
  emitMessage(model, "MESSAGE_CREATE", c, msg);
  return msg;
}

function storeAttachment(model: Model, channelId: string, f: NewAttachment): AttachmentRecord {
  const size = imageSize(f.data);
  const att: AttachmentRecord = {
    id: model.mint.next(),
    channelId,
    filename: f.filename.replace(/[/\\]/g, "_").replace(/\s/g, "_"),
    size: f.data.length,
    data: Buffer.from(f.data),
    ...((f.contentType ?? contentTypeFromName(f.filename)) !== undefined
      ? { contentType: f.contentType ?? contentTypeFromName(f.filename) }
      : {}),
    ...(f.description !== undefined ? { description: f.description } : {}),
    ...(f.title !== undefined ? { title: f.title } : {}),
    ...(size ?? {}),
  };
  model.attachments.set(att.id, att);
  return att;
}

/** Content is visible without MESSAGE_CONTENT in DMs, in the bot's own messages and where it is pinged. */
export function contentExempt(model: Model, m: MessageRecord): boolean {
  return m.guildId === null || m.authorId === model.bot.userId || m.mentions.includes(model.bot.userId);
}

/** MESSAGE_CREATE/UPDATE: the message plus guild_id, the author's member and the mentioned members. */
function emitMessage(
  model: Model,
  t: "MESSAGE_CREATE" | "MESSAGE_UPDATE",
  c: ChannelRecord,
  msg: MessageRecord,
): void {
  if (!model.canView(model.bot.userId, c)) return;
  const wire = messageObject(msg, model);
  const member = msg.webhook ? undefined : model.partialMember(msg.guildId, msg.authorId);
  const ref =
    msg.reference?.message_id !== undefined
      ? model.findMessage(msg.reference.channel_id, msg.reference.message_id)
      : undefined;
  model.dispatch({
    t,
    d: {
      ...wire,
      mentions: wire.mentions.map((u) => {
        const pm = model.partialMember(msg.guildId, u.id);
        return pm ? { ...u, member: pm } : u;
      }),
      ...(msg.guildId !== null ? { guild_id: msg.guildId } : {}),
      ...(member ? { member } : {}),
      // Lets a client place a message of a channel it has not cached (DMs, above all).
      channel_type: c.type,
    },
    intent: msg.guildId !== null ? Intent.GUILD_MESSAGES : Intent.DIRECT_MESSAGES,
    contentExempt: contentExempt(model, msg),
    referencedExempt: ref ? contentExempt(model, ref) : true,
  });
}

export function editMessage(model: Model, c: ChannelRecord, msg: MessageRecord, edit: MessageEdit): void {
  if (edit.content !== undefined) {
    const content = edit.content ?? "";
    if (content.length > MAX_CONTENT) {
      throw invalidForm("content", "BASE_TYPE_MAX_LENGTH", `Must be ${MAX_CONTENT} or fewer in length.`);
    }
    msg.content = content;
    const guild = model.guildOf(c);
    const mentions = parseMentions(content, edit.allowedMentions, {
      isUser: (id) => model.users.has(id) && (guild ? guild.members.has(id) : true),
      isRole: (id) => Boolean(guild?.roles.get(id)),
      mayMentionEveryone: false,
    });
    // A reply keeps pinging whom it pinged; the content's own mentions are re-parsed.
    const replied =
      msg.reference?.message_id !== undefined ? msg.mentions.filter((u) => !content.includes(u)) : [];
    msg.mentions = [...new Set([...mentions.users, ...replied])];
    msg.mentionRoles = mentions.roles;
  }
  if (edit.embeds !== undefined) msg.embeds = (edit.embeds ?? []).map(normaliseEmbed);
  if (edit.components !== undefined) msg.components = structuredClone(edit.components ?? []);
  if (edit.flags !== undefined && edit.flags !== null) {
    msg.flags = (msg.flags & ~MessageFlag.SUPPRESS_EMBEDS) | (edit.flags & MessageFlag.SUPPRESS_EMBEDS);
  }
  if (edit.keepAttachments !== undefined) {
    const keep = new Set(edit.keepAttachments);
    msg.attachments = msg.attachments.filter((a) => keep.has(a.id));
  }
  for (const f of edit.files ?? []) msg.attachments.push(storeAttachment(model, c.id, f));
  if (
    msg.content.trim() === "" &&
    msg.embeds.length === 0 &&
    msg.attachments.length === 0 &&
    msg.components.length === 0 &&
    !(msg.flags & MessageFlag.LOADING) &&
    msg.type !== MessageType.USER_JOIN
  ) {
    throw badRequest(50006, "Cannot send an empty message");
  }
  msg.flags &= ~MessageFlag.LOADING;
  msg.editedTimestamp = isoNow();
  if (!msg.ephemeral) emitMessage(model, "MESSAGE_UPDATE", c, msg);
}

export function deleteMessage(model: Model, c: ChannelRecord, messageId: string): void {
  const list = model.history.get(c.id) ?? [];
  const index = list.findIndex((m) => m.id === messageId);
  if (index < 0) {
    if (model.ephemeral.delete(messageId)) return;
    throw unknown("message");
  }
  list.splice(index, 1);
  if (c.thread && messageId !== c.id) c.thread.messageCount = Math.max(0, c.thread.messageCount - 1);
  if (!model.canView(model.bot.userId, c)) return;
  model.dispatch({
    t: "MESSAGE_DELETE",
    d: { id: messageId, channel_id: c.id, ...(c.guildId !== null ? { guild_id: c.guildId } : {}) },
    intent: c.guildId !== null ? Intent.GUILD_MESSAGES : Intent.DIRECT_MESSAGES,
  });
}

export function bulkDelete(model: Model, c: ChannelRecord, ids: string[]): void {
  const list = model.history.get(c.id) ?? [];
  for (const id of ids) if (!list.some((m) => m.id === id)) throw unknown("message");
  model.history.set(
    c.id,
    list.filter((m) => !ids.includes(m.id)),
  );
  if (!model.canView(model.bot.userId, c)) return;
  model.dispatch({
    t: "MESSAGE_DELETE_BULK",
    d: { ids, channel_id: c.id, guild_id: c.guildId },
    intent: Intent.GUILD_MESSAGES,
  });
}

/** Newest first like Discord: `limit` around/before/after a message id, or the latest. */
export function listMessages(
  model: Model,
  c: ChannelRecord,
  q: { before?: string; after?: string; around?: string; limit: number },
): MessageRecord[] {
  const all = model.messagesOf(c.id);
  let picked: MessageRecord[];
  if (q.around !== undefined) {
    const around = q.around;
    const older = all.filter((m) => compareSnowflakes(m.id, around) < 0).slice(-Math.floor(q.limit / 2));
    const newer = all.filter((m) => compareSnowflakes(m.id, around) >= 0).slice(0, q.limit - older.length);
    picked = [...older, ...newer];
  } else if (q.after !== undefined) {
    const after = q.after;
    picked = all.filter((m) => compareSnowflakes(m.id, after) > 0).slice(0, q.limit);
  } else {
    const before = q.before;
    picked = all.filter((m) => before === undefined || compareSnowflakes(m.id, before) < 0).slice(-q.limit);
  }
  return picked.reverse();
}

/** Unicode emoji, or `name:id` of an emoji of this guild. Anything else is 10014 Unknown Emoji. */
export function parseEmoji(model: Model, c: ChannelRecord, raw: string): ReactionRecord["emoji"] {
  const custom = /^<?a?:?([\w~]{2,32}):(\d{1,20})>?$/.exec(raw);
  if (custom) {
    const guild = model.guildOf(c);
    const emoji = guild?.emojis.get(custom[2]!);
    if (!emoji) throw unknown("emoji");
    return { id: emoji.id, name: emoji.name };
  }
  if (!EMOJI.test(raw) || raw.length > 32) throw unknown("emoji");
  return { id: null, name: raw };
}

function reactionEvent(
  model: Model,
  c: ChannelRecord,
  msg: MessageRecord,
  userId: string,
  emoji: ReactionRecord["emoji"],
) {
  return {
    user_id: userId,
    channel_id: c.id,
    message_id: msg.id,
    ...(c.guildId !== null ? { guild_id: c.guildId } : {}),
    emoji,
    burst: false,
    type: 0,
  };
}

export function addReaction(
  model: Model,
  userId: string,
  c: ChannelRecord,
  msg: MessageRecord,
  emoji: ReactionRecord["emoji"],
): void {
  let reaction = msg.reactions.find((r) => sameEmoji(r.emoji, emoji));
  if (reaction?.users.includes(userId)) return;
  if (!reaction) {
    if (msg.reactions.length >= 20) throw badRequest(30010, "Maximum number of reactions reached (20)");
    reaction = { emoji, users: [] };
    msg.reactions.push(reaction);
  }
  reaction.users.push(userId);
  if (!model.canView(model.bot.userId, c)) return;
  const member = model.partialMember(c.guildId, userId);
  model.dispatch({
    t: "MESSAGE_REACTION_ADD",
    d: {
      ...reactionEvent(model, c, msg, userId, emoji),
      ...(member ? { member: { ...member, user: userObject(model.user(userId)) } } : {}),
      message_author_id: msg.authorId,
      burst_colors: [],
    },
    intent: c.guildId !== null ? Intent.GUILD_MESSAGE_REACTIONS : Intent.DIRECT_MESSAGE_REACTIONS,
  });
}

export function removeReaction(
  model: Model,
  userId: string,
  c: ChannelRecord,
  msg: MessageRecord,
  emoji: ReactionRecord["emoji"],
): void {
  const reaction = msg.reactions.find((r) => sameEmoji(r.emoji, emoji));
  if (!reaction?.users.includes(userId)) return;
  reaction.users = reaction.users.filter((u) => u !== userId);
  if (reaction.users.length === 0) msg.reactions = msg.reactions.filter((r) => r !== reaction);
  if (!model.canView(model.bot.userId, c)) return;
  model.dispatch({
    t: "MESSAGE_REACTION_REMOVE",
    d: reactionEvent(model, c, msg, userId, emoji),
    intent: c.guildId !== null ? Intent.GUILD_MESSAGE_REACTIONS : Intent.DIRECT_MESSAGE_REACTIONS,
  });
}

export function typing(model: Model, userId: string, c: ChannelRecord): void {
  if (!model.canView(model.bot.userId, c) || userId === model.bot.userId) return;
  const member = model.partialMember(c.guildId, userId);
  model.dispatch({
    t: "TYPING_START",
    d: {
      channel_id: c.id,
      ...(c.guildId !== null ? { guild_id: c.guildId } : {}),
      user_id: userId,
      timestamp: Math.floor(Date.now() / 1000),
      ...(member ? { member: { ...member, user: userObject(model.user(userId)) } } : {}),
    },
    intent: c.guildId !== null ? Intent.GUILD_MESSAGE_TYPING : Intent.DIRECT_MESSAGE_TYPING,
  });
}

function sameEmoji(a: ReactionRecord["emoji"], b: ReactionRecord["emoji"]): boolean {
  return a.id !== null || b.id !== null ? a.id === b.id : a.name === b.name;
}

/** Discord fills in `type: "rich"` and drops unknown keys; we only fill in the type. */
function normaliseEmbed(e: Record<string, unknown>): Record<string, unknown> {
  return { type: "rich", ...structuredClone(e) };
}
