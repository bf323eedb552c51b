import { ChannelType, Intent, MessageFlag, MessageType } from "./bits.js";
import { channelObject, type ChannelRecord, type MessageRecord } from "./discord-objects.js";
import { badRequest, invalidForm } from "./errors.js";
import { createMessage, type MessageInput } from "./messages.js";
import type { Model } from "./model.js";
import { isoNow } from "./snowflakes.js";

/** Starting threads: from a message, without one, and forum posts with their first message. */

/**
 * A thread from a message (id = the message's), a thread without one (public threads announce
 * themselves with a THREAD_CREATED message in the parent), or a forum post with its first message.
 */
export function createThread(
  model: Model,
  creatorId: string,
  parent: ChannelRecord,
  t: {
    name: string;
    messageId?: string;
    type?: number;
    autoArchiveDuration?: 60 | 1440 | 4320 | 10080;
    invitable?: boolean;
    rateLimitPerUser?: number;
    starter?: MessageInput;
    appliedTags?: string[];
  },
): { thread: ChannelRecord; starter?: MessageRecord } {
  const guild = model.guildOf(parent);
  if (!guild) throw badRequest(50024, "Cannot execute action on this channel type");
  const forum = parent.type === ChannelType.GUILD_FORUM;
  if (!forum && parent.type !== ChannelType.GUILD_TEXT && parent.type !== ChannelType.GUILD_ANNOUNCEMENT) {
    throw badRequest(50024, "Cannot execute action on this channel type");
  }
  if (t.name.length < 1 || t.name.length > 100) {
    throw invalidForm("name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.");
  }
  let type: number;
  let id: string;
  if (forum) {
    if (!t.starter) throw invalidForm("message", "BASE_TYPE_REQUIRED", "This field is required");
    for (const tag of t.appliedTags ?? []) {
      if (!parent.availableTags?.some((x) => x.id === tag)) {
        throw invalidForm("applied_tags", "FORUM_TAG_UNKNOWN", "Unknown tag");
      }
    }
    type = ChannelType.PUBLIC_THREAD;
    id = model.mint.next();
  } else if (t.messageId !== undefined) {
    const msg = model.message(parent.id, t.messageId);
    if (msg.threadId !== undefined)
      throw badRequest(160004, "A thread has already been created for this message");
    type =
      parent.type === ChannelType.GUILD_ANNOUNCEMENT
        ? ChannelType.ANNOUNCEMENT_THREAD
        : ChannelType.PUBLIC_THREAD;
    id = msg.id;
  } else {
    // API v10 still defaults to a private thread when the type is left out.
    type =
      parent.type === ChannelType.GUILD_ANNOUNCEMENT
        ? ChannelType.ANNOUNCEMENT_THREAD
        : (t.type ?? ChannelType.PRIVATE_THREAD);
    id = model.mint.next();
  }
  const now = isoNow();
  const thread: ChannelRecord = {
    id,
    type,
    guildId: guild.id,
    name: t.name,
    topic: null,
    position: 0,
    parentId: parent.id,
    nsfw: false,
    rateLimitPerUser: t.rateLimitPerUser ?? 0,
    overwrites: [],
    lastMessageId: null,
    thread: {
      ownerId: creatorId,
      archived: false,
      locked: false,
      autoArchiveDuration: t.autoArchiveDuration ?? 4320,
      archiveTimestamp: now,
      createTimestamp: now,
      invitable: t.invitable ?? true,
      // A webhook can open a forum post (it owns it) but is no member of it.
      members: new Map(model.users.has(creatorId) ? [[creatorId, now]] : []),
      messageCount: 0,
      totalMessageSent: 0,
      appliedTags: [...(t.appliedTags ?? [])],
    },
  };
  model.channels.set(thread.id, thread);
  model.history.set(thread.id, []);
  guild.channels.push(thread.id);
  if (t.messageId !== undefined) {
    const msg = model.message(parent.id, t.messageId);
    msg.threadId = thread.id;
    msg.flags |= MessageFlag.HAS_THREAD;
  }
  if (model.canView(model.bot.userId, thread)) {
    model.dispatch({
      t: "THREAD_CREATE",
      d: { ...channelObject(thread, model), newly_created: true },
      intent: Intent.GUILDS,
    });
  }
  let starter: MessageRecord | undefined;
  if (forum && t.starter) {
    starter = createMessage(model, creatorId, thread, { ...t.starter, id: thread.id });
  } else if (t.messageId === undefined && type !== ChannelType.PRIVATE_THREAD) {
    createMessage(
      model,
      creatorId,
      parent,
      {
        type: MessageType.THREAD_CREATED,
        content: t.name,
        reference: { type: 0, channel_id: thread.id, guild_id: guild.id },
      },
      { system: true },
    );
  }
  return { thread, ...(starter ? { starter } : {}) };
}
