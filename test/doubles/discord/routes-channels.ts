import { ChannelType, isThreadType, Permission } from "./bits.js";
import {
  channelObject,
  messageObject,
  userObject,
  type ChannelRecord,
  type MessageRecord,
} from "./discord-objects.js";
import { badRequest, DiscordApiError, invalidForm, missingPermissions, unknown } from "./errors.js";
import { allowedMentionsConflict } from "./mentions.js";
import {
  addReaction,
  bulkDelete,
  contentExempt,
  createMessage,
  deleteMessage,
  editMessage,
  listMessages,
  parseEmoji,
  removeReaction,
  typing,
  type MessageInput,
} from "./messages.js";
import type { Model } from "./model.js";
import { createThread } from "./threads.js";
import { compareSnowflakes, snowflakeAt } from "./snowflakes.js";
import {
  messageEdit,
  messageInput,
  noContent,
  objectBody,
  ok,
  optBool,
  optInt,
  optString,
  queryLimit,
  querySnowflake,
  requireString,
  type Route,
  type RouteContext,
} from "./rest-api.js";
import type { DiscordMessage } from "./types.js";

/** Channels, messages, reactions, typing and threads, as the bot sees them through REST. */

const AUTO_ARCHIVE = [60, 1440, 4320, 10080] as const;
type AutoArchive = (typeof AUTO_ARCHIVE)[number];

function channelOf(ctx: RouteContext): ChannelRecord {
  const c = ctx.model.channel(ctx.params.channel_id ?? "");
  // A DM of someone else, or a guild the bot left, does not exist for the bot.
  if (c.type === ChannelType.DM) return c;
  const guild = ctx.model.guildOf(c);
  if (!guild?.members.has(ctx.model.bot.userId)) throw unknown("channel");
  return c;
}

function messageOf(ctx: RouteContext, c: ChannelRecord): MessageRecord {
  return ctx.model.message(c.id, ctx.params.message_id ?? "");
}

/** What the bot may read of a message: without MESSAGE_CONTENT, REST hides content like the gateway does. */
export function visibleMessage(model: Model, m: MessageRecord): DiscordMessage {
  const wire = messageObject(m, model);
  if (model.grantedIntents.has("MESSAGE_CONTENT")) return wire;
  const hide = (x: DiscordMessage): DiscordMessage => ({
    ...x,
    content: "",
    embeds: [],
    attachments: [],
    components: [],
  });
  let out = contentExempt(model, m) ? wire : hide(wire);
  const ref =
    m.reference?.message_id !== undefined
      ? model.findMessage(m.reference.channel_id, m.reference.message_id)
      : undefined;
  if (out.referenced_message && ref && !contentExempt(model, ref))
    out = { ...out, referenced_message: hide(out.referenced_message) };
  return out;
}

function sendPermissions(model: Model, c: ChannelRecord, input: MessageInput): void {
  const bot = model.bot.userId;
  model.require(bot, c, isThreadType(c.type) ? "SEND_MESSAGES_IN_THREADS" : "SEND_MESSAGES");
  if ((input.files ?? []).length > 0) model.require(bot, c, "ATTACH_FILES");
  if (input.replyTo) model.require(bot, c, "READ_MESSAGE_HISTORY");
  // TTS without SEND_TTS_MESSAGES is silently sent as a normal message.
  if (input.tts && !(model.permissionsOf(bot, c) & Permission.SEND_TTS_MESSAGES)) input.tts = false;
  const conflict = allowedMentionsConflict(input.allowedMentions);
  if (conflict) {
    throw invalidForm(
      `allowed_mentions.parse`,
      "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
      `parse:["${conflict}"] and ${conflict}: [ids...] are mutually exclusive.`,
    );
  }
}

function autoArchive(o: Record<string, unknown>): AutoArchive | undefined {
  const v = optInt(o, "auto_archive_duration");
  if (v === undefined) return undefined;
  if (!(AUTO_ARCHIVE as readonly number[]).includes(v)) {
    throw invalidForm(
      "auto_archive_duration",
      "BASE_TYPE_CHOICES",
      "Value must be one of {60, 1440, 4320, 10080}.",
    );
  }
  return v as AutoArchive;
}

export const channelRoutes: Route[] = [
  {
    method: "GET",
    path: "/channels/{channel_id}",
    auth: "bot",
    run: (ctx) => {
      const c = channelOf(ctx);
      ctx.model.require(ctx.model.bot.userId, c);
      return ok(channelObject(c, ctx.model));
    },
  },
  {
    method: "PATCH",
    path: "/channels/{channel_id}",
    auth: "bot",
    run: (ctx) => {
      const { model } = ctx;
      const c = channelOf(ctx);
      const o = objectBody(ctx.body);
      const bot = model.bot.userId;
      if (c.thread) {
        // The thread's owner may rename it and (un)archive it; anything else needs MANAGE_THREADS.
        const owner = c.thread.ownerId === bot;
        const manages = Boolean(model.permissionsOf(bot, c) & Permission.MANAGE_THREADS);
        model.require(bot, c);
        if (!manages && (!owner || "locked" in o)) throw missingPermissions();
        if (c.thread.locked && !manages) throw badRequest(50083, "Thread is archived");
      } else {
        model.require(bot, c, "MANAGE_CHANNELS");
      }
      const name = optString(o, "name");
      if (name !== undefined && (name.length < 1 || name.length > 100)) {
        throw invalidForm("name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.");
      }
      const topic = "topic" in o ? (optString(o, "topic") ?? null) : undefined;
      const archived = optBool(o, "archived");
      const locked = optBool(o, "locked");
      const duration = autoArchive(o);
      const tags = Array.isArray(o.applied_tags) ? o.applied_tags.map(String) : undefined;
      model.updateChannel(c, {
        ...(name !== undefined
          ? { name: c.type === ChannelType.GUILD_TEXT ? name.toLowerCase().replace(/\s+/g, "-") : name }
          : {}),
        ...(topic !== undefined ? { topic } : {}),
        ...(optBool(o, "nsfw") !== undefined ? { nsfw: optBool(o, "nsfw")! } : {}),
        ...(optInt(o, "rate_limit_per_user") !== undefined
          ? { rateLimitPerUser: optInt(o, "rate_limit_per_user")! }
          : {}),
        ...(archived !== undefined ? { archived } : {}),
        ...(locked !== undefined ? { locked } : {}),
        ...(duration !== undefined ? { autoArchiveDuration: duration } : {}),
        ...(tags ? { appliedTags: tags } : {}),
      });
      return ok(channelObject(c, model));
    },
  },
  {
    method: "DELETE",
    path: "/channels/{channel_id}",
    auth: "bot",
    run: (ctx) => {
      const c = channelOf(ctx);
      if (c.type === ChannelType.DM) throw badRequest(50003, "Cannot execute action on a DM channel");
      ctx.model.require(ctx.model.bot.userId, c, c.thread ? "MANAGE_THREADS" : "MANAGE_CHANNELS");
      const wire = channelObject(c, ctx.model);
      ctx.model.deleteChannel(c);
      return ok(wire);
    },
  },
  {
    method: "GET",
    path: "/channels/{channel_id}/messages",
    auth: "bot",
    run: (ctx) => {
      const { model, query } = ctx;
      const c = channelOf(ctx);
      model.require(model.bot.userId, c);
      const limit = queryLimit(query, 50, 1, 100);
      const around = querySnowflake(query, "around");
      const before = querySnowflake(query, "before");
      const after = querySnowflake(query, "after");
      // Without READ_MESSAGE_HISTORY the answer is simply empty.
      if (!(model.permissionsOf(model.bot.userId, c) & Permission.READ_MESSAGE_HISTORY)) return ok([]);
      const list = listMessages(model, c, {
        limit,
        ...(around !== undefined
          ? { around }
          : before !== undefined
            ? { before }
            : after !== undefined
              ? { after }
              : {}),
      });
      return ok(list.map((m) => visibleMessage(model, m)));
    },
  },
  {
    method: "POST",
    path: "/channels/{channel_id}/messages",
    auth: "bot",
    run: (ctx) => {
      const { model } = ctx;
      const c = channelOf(ctx);
      const input = messageInput(objectBody(ctx.body), ctx.files);
      sendPermissions(model, c, input);
      const msg = createMessage(model, model.bot.userId, c, input);
      return ok(messageObject(msg, model));
    },
  },
  {
    method: "GET",
    path: "/channels/{channel_id}/messages/{message_id}",
    auth: "bot",
    run: (ctx) => {
      const c = channelOf(ctx);
      ctx.model.require(ctx.model.bot.userId, c, "READ_MESSAGE_HISTORY");
      return ok(visibleMessage(ctx.model, messageOf(ctx, c)));
    },
  },
  {
    method: "PATCH",
    path: "/channels/{channel_id}/messages/{message_id}",
    auth: "bot",
    run: (ctx) => {
      const { model } = ctx;
      const c = channelOf(ctx);
      model.require(model.bot.userId, c);
      const msg = messageOf(ctx, c);
      const o = objectBody(ctx.body);
      if (msg.authorId !== model.bot.userId || msg.applicationId !== undefined) {
        // Others' messages: only their embeds may be suppressed, with MANAGE_MESSAGES.
        const onlyFlags = Object.keys(o).every((k) => k === "flags");
        if (!onlyFlags)
          throw new DiscordApiError(403, 50005, "Cannot edit a message authored by another user");
        model.require(model.bot.userId, c, "MANAGE_MESSAGES");
      }
      editMessage(
        model,
        c,
        msg,
        messageEdit(
          o,
          ctx.files,
          msg.attachments.map((a) => a.id),
        ),
      );
      return ok(messageObject(msg, model));
    },
  },
  {
    method: "DELETE",
    path: "/channels/{channel_id}/messages/{message_id}",
    auth: "bot",
    run: (ctx) => {
      const { model } = ctx;
      const c = channelOf(ctx);
      model.require(model.bot.userId, c);
      const msg = messageOf(ctx, c);
      if (msg.authorId !== model.bot.userId || msg.applicationId !== undefined)
        model.require(model.bot.userId, c, "MANAGE_MESSAGES");
      deleteMessage(model, c, msg.id);
      return noContent();
    },
  },
  {
    method: "POST",
    path: "/channels/{channel_id}/messages/bulk-delete",
    auth: "bot",
    run: (ctx) => {
      const { model } = ctx;
      const c = channelOf(ctx);
      model.require(model.bot.userId, c, "MANAGE_MESSAGES");
      const raw = objectBody(ctx.body).messages;
      if (!Array.isArray(raw) || raw.length < 2 || raw.length > 100) {
        throw invalidForm("messages", "BASE_TYPE_BAD_LENGTH", "Must be between 2 and 100 in length.");
      }
      const ids = [...new Set(raw.map(String))];
      const twoWeeksAgo = snowflakeAt(Date.now() - 14 * 24 * 3600 * 1000);
      if (ids.some((id) => BigInt(id) < twoWeeksAgo)) {
        throw badRequest(50034, "You can only bulk delete messages that are under 14 days old.");
      }
      bulkDelete(model, c, ids);
      return noContent();
    },
  },
  {
    method: "PUT",
    path: "/channels/{channel_id}/messages/{message_id}/reactions/{emoji_name}/@me",
    auth: "bot",
    run: (ctx) => {
      const { model } = ctx;
      const c = channelOf(ctx);
      model.require(model.bot.userId, c, "READ_MESSAGE_HISTORY");
      const msg = messageOf(ctx, c);
      const emoji = parseEmoji(model, c, ctx.params.emoji_name ?? "");
      const exists = msg.reactions.some((r) =>
        emoji.id !== null ? r.emoji.id === emoji.id : r.emoji.name === emoji.name,
      );
      // Joining an existing reaction needs no ADD_REACTIONS; starting one does.
      if (!exists) model.require(model.bot.userId, c, "ADD_REACTIONS");
      addReaction(model, model.bot.userId, c, msg, emoji);
      return noContent();
    },
  },
  {
    method: "DELETE",
    path: "/channels/{channel_id}/messages/{message_id}/reactions/{emoji_name}/@me",
    auth: "bot",
    run: (ctx) => {
      const { model } = ctx;
      const c = channelOf(ctx);
      model.require(model.bot.userId, c);
      const msg = messageOf(ctx, c);
      removeReaction(model, model.bot.userId, c, msg, parseEmoji(model, c, ctx.params.emoji_name ?? ""));
      return noContent();
    },
  },
  {
    method: "DELETE",
    path: "/channels/{channel_id}/messages/{message_id}/reactions/{emoji_name}/{user_id}",
    auth: "bot",
    run: (ctx) => {
      const { model } = ctx;
      const c = channelOf(ctx);
      model.require(model.bot.userId, c, "MANAGE_MESSAGES");
      const msg = messageOf(ctx, c);
      removeReaction(
        model,
        ctx.params.user_id ?? "",
        c,
        msg,
        parseEmoji(model, c, ctx.params.emoji_name ?? ""),
      );
      return noContent();
    },
  },
  {
    method: "GET",
    path: "/channels/{channel_id}/messages/{message_id}/reactions/{emoji_name}",
    auth: "bot",
    run: (ctx) => {
      const { model, query } = ctx;
      const c = channelOf(ctx);
      model.require(model.bot.userId, c, "READ_MESSAGE_HISTORY");
      const msg = messageOf(ctx, c);
      const emoji = parseEmoji(model, c, ctx.params.emoji_name ?? "");
      const limit = queryLimit(query, 25, 1, 100);
      const after = querySnowflake(query, "after") ?? "0";
      const reaction = msg.reactions.find((r) =>
        emoji.id !== null ? r.emoji.id === emoji.id : r.emoji.name === emoji.name,
      );
      const users = [...(reaction?.users ?? [])]
        .filter((u) => compareSnowflakes(u, after) > 0)
        .sort(compareSnowflakes)
        .slice(0, limit);
      return ok(users.map((u) => userObject(model.user(u))));
    },
  },
  {
    method: "POST",
    path: "/channels/{channel_id}/typing",
    auth: "bot",
    run: (ctx) => {
      const c = channelOf(ctx);
      ctx.model.require(
        ctx.model.bot.userId,
        c,
        isThreadType(c.type) ? "SEND_MESSAGES_IN_THREADS" : "SEND_MESSAGES",
      );
      typing(ctx.model, ctx.model.bot.userId, c);
      return noContent();
    },
  },
  {
    method: "POST",
    path: "/channels/{channel_id}/messages/{message_id}/threads",
    auth: "bot",
    run: (ctx) => {
      const { model } = ctx;
      const c = channelOf(ctx);
      model.require(model.bot.userId, c, "CREATE_PUBLIC_THREADS", "READ_MESSAGE_HISTORY");
      const o = objectBody(ctx.body);
      const duration = autoArchive(o);
      const rate = optInt(o, "rate_limit_per_user");
      const { thread } = createThread(model, model.bot.userId, c, {
        name: requireString(o, "name"),
        messageId: messageOf(ctx, c).id,
        ...(duration !== undefined ? { autoArchiveDuration: duration } : {}),
        ...(rate !== undefined ? { rateLimitPerUser: rate } : {}),
      });
      return ok(channelObject(thread, model), 201);
    },
  },
  {
    method: "POST",
    path: "/channels/{channel_id}/threads",
    auth: "bot",
    run: (ctx) => {
      const { model } = ctx;
      const c = channelOf(ctx);
      const o = objectBody(ctx.body);
      const duration = autoArchive(o);
      const rate = optInt(o, "rate_limit_per_user");
      const common = {
        name: requireString(o, "name"),
        ...(duration !== undefined ? { autoArchiveDuration: duration } : {}),
        ...(rate !== undefined ? { rateLimitPerUser: rate } : {}),
      };
      if (c.type === ChannelType.GUILD_FORUM) {
        // A forum post: the thread and its first message in one call (Start Thread in Forum Channel).
        const starter = messageInput(objectBody(o.message), ctx.files);
        sendPermissions(model, c, starter);
        const tags = Array.isArray(o.applied_tags) ? o.applied_tags.map(String) : [];
        const { thread, starter: first } = createThread(model, model.bot.userId, c, {
          ...common,
          starter,
          appliedTags: tags,
        });
        return ok(
          { ...channelObject(thread, model), ...(first ? { message: messageObject(first, model) } : {}) },
          201,
        );
      }
      const type = optInt(o, "type");
      if (type !== undefined && !isThreadType(type))
        throw invalidForm("type", "BASE_TYPE_CHOICES", "Value must be one of {10, 11, 12}.");
      const privateThread =
        (type ?? ChannelType.PRIVATE_THREAD) === ChannelType.PRIVATE_THREAD &&
        c.type === ChannelType.GUILD_TEXT;
      model.require(model.bot.userId, c, privateThread ? "CREATE_PRIVATE_THREADS" : "CREATE_PUBLIC_THREADS");
      const invitable = optBool(o, "invitable");
      const { thread } = createThread(model, model.bot.userId, c, {
        ...common,
        ...(type !== undefined ? { type } : {}),
        ...(invitable !== undefined ? { invitable } : {}),
      });
      return ok(channelObject(thread, model), 201);
    },
  },
  {
    method: "GET",
    path: "/channels/{channel_id}/threads/archived/public",
    auth: "bot",
    run: (ctx) => {
      const { model, query } = ctx;
      const c = channelOf(ctx);
      model.require(model.bot.userId, c, "READ_MESSAGE_HISTORY");
      const limit = queryLimit(query, 50, 2, 100);
      const beforeRaw = query.get("before");
      const before = beforeRaw ? Date.parse(beforeRaw) : Number.POSITIVE_INFINITY;
      if (Number.isNaN(before))
        throw invalidForm("before", "DATE_TIME_TYPE_PARSE", "Could not parse the timestamp.");
      const archived = [...model.channels.values()]
        .filter(
          (t) =>
            t.parentId === c.id &&
            !t.deleted &&
            t.thread?.archived &&
            t.type !== ChannelType.PRIVATE_THREAD &&
            Date.parse(t.thread.archiveTimestamp) < before,
        )
        .sort((a, b) => Date.parse(b.thread!.archiveTimestamp) - Date.parse(a.thread!.archiveTimestamp));
      const page = archived.slice(0, limit);
      return ok({
        threads: page.map((t) => channelObject(t, model)),
        members: model.botThreadMembers(page),
        has_more: archived.length > page.length,
      });
    },
  },
  {
    method: "PUT",
    path: "/channels/{channel_id}/thread-members/@me",
    auth: "bot",
    run: (ctx) => {
      const c = channelOf(ctx);
      if (!c.thread) throw badRequest(50024, "Cannot execute action on this channel type");
      ctx.model.require(ctx.model.bot.userId, c);
      if (c.thread.archived) throw badRequest(50083, "Thread is archived");
      ctx.model.addThreadMember(c, ctx.model.bot.userId);
      return noContent();
    },
  },
  {
    method: "DELETE",
    path: "/channels/{channel_id}/thread-members/@me",
    auth: "bot",
    run: (ctx) => {
      const c = channelOf(ctx);
      if (!c.thread) throw badRequest(50024, "Cannot execute action on this channel type");
      ctx.model.removeThreadMember(c, ctx.model.bot.userId);
      return noContent();
    },
  },
];
