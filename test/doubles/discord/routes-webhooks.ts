import { ChannelType, isThreadType } from "./bits.js";
import {
  commandObject,
  messageObject,
  webhookObject,
  type ChannelRecord,
  type WebhookRecord,
} from "./discord-objects.js";
import { badRequest, DiscordApiError, invalidForm, missingAccess, unknown } from "./errors.js";
import type { InteractionRecord } from "./interactions.js";
import { overwriteCommands } from "./commands.js";
import { createMessage, deleteMessage, editMessage, type MessageInput } from "./messages.js";
import { createThread } from "./threads.js";
import { createWebhook, deleteWebhook, updateWebhook, webhookPersona } from "./webhooks.js";
import {
  messageEdit,
  messageInput,
  noContent,
  objectBody,
  ok,
  optString,
  queryBool,
  querySnowflake,
  requireString,
  type Json,
  type Route,
  type RouteContext,
  type RouteResult,
} from "./rest-api.js";
import { tokenMatches } from "./token-check.js";

/**
 * Webhooks (managed with the bot token, executed with their own token), interaction callbacks and
 * the interaction-token webhook routes (followups, @original), and application commands.
 */

const invalidToken = () => new DiscordApiError(401, 50027, "Invalid Webhook Token");

/** `data:image/png;base64,…`, how Discord takes avatars in JSON. */
function dataUri(o: Json, key: string): Buffer | null | undefined {
  if (!(key in o)) return undefined;
  const v = o[key];
  if (v === null) return null;
  const m =
    typeof v === "string" ? /^data:image\/(png|jpeg|gif|webp);base64,([A-Za-z0-9+/=]+)$/.exec(v) : null;
  if (!m) throw invalidForm(key, "IMAGE_INVALID", "Invalid image data");
  return Buffer.from(m[2]!, "base64");
}

function botWebhook(ctx: RouteContext): WebhookRecord {
  const w = ctx.model.webhooks.get(ctx.params.webhook_id ?? "");
  if (!w) throw unknown("webhook");
  // Managing someone else's webhook needs MANAGE_WEBHOOKS in its channel.
  if (w.applicationId !== ctx.model.bot.applicationId) {
    ctx.model.require(ctx.model.bot.userId, ctx.model.channel(w.channelId), "MANAGE_WEBHOOKS");
  }
  return w;
}

/** A webhook addressed by id and token, or an interaction addressed by application id and token. */
type TokenTarget =
  { kind: "webhook"; webhook: WebhookRecord } | { kind: "interaction"; interaction: InteractionRecord };

function tokenTarget(ctx: RouteContext): TokenTarget {
  const id = ctx.params.webhook_id ?? "";
  const token = ctx.params.webhook_token ?? "";
  if (id === ctx.model.bot.applicationId) {
    const interaction = ctx.interactions.byToken(token);
    if (!interaction) throw unknown("webhook");
    return { kind: "interaction", interaction };
  }
  const webhook = ctx.model.webhooks.get(id);
  if (!webhook) throw unknown("webhook");
  if (!tokenMatches(token, webhook.token)) throw invalidToken();
  return { kind: "webhook", webhook };
}

/** `thread_id` must name a thread of the webhook's channel. */
function targetChannel(ctx: RouteContext, w: WebhookRecord): ChannelRecord {
  const channel = ctx.model.channel(w.channelId);
  const threadId = querySnowflake(ctx.query, "thread_id");
  if (threadId === undefined) return channel;
  const thread = ctx.model.findChannel(threadId);
  if (!thread || !isThreadType(thread.type) || thread.parentId !== channel.id) throw unknown("channel");
  return thread;
}

function execute(ctx: RouteContext): RouteResult {
  const { model } = ctx;
  const target = tokenTarget(ctx);
  const o = objectBody(ctx.body);
  const input = messageInput(o, ctx.files);
  if (target.kind === "interaction") {
    return ok(messageObject(ctx.interactions.followup(target.interaction, input), model));
  }
  const w = target.webhook;
  const persona = webhookPersona(model, w, optString(o, "username"), optString(o, "avatar_url"));
  const withPersona: MessageInput = { ...input, webhook: persona };
  const channel = targetChannel(ctx, w);
  const threadName = optString(o, "thread_name");
  if (channel.type === ChannelType.GUILD_FORUM) {
    if (threadName === undefined) {
      throw badRequest(220001, "Webhooks posted to forum channels must have a thread_name or thread_id");
    }
    const tags = Array.isArray(o.applied_tags) ? o.applied_tags.map(String) : [];
    const { starter } = createThread(model, w.id, channel, {
      name: threadName,
      starter: withPersona,
      appliedTags: tags,
    });
    return queryBool(ctx.query, "wait") && starter ? ok(messageObject(starter, model)) : noContent();
  }
  const msg = createMessage(model, w.id, channel, withPersona);
  return queryBool(ctx.query, "wait") ? ok(messageObject(msg, model)) : noContent();
}

function tokenMessage(ctx: RouteContext) {
  const target = tokenTarget(ctx);
  const messageId = ctx.params.message_id ?? "@original";
  if (target.kind === "interaction") {
    const msg = ctx.interactions.messageOf(target.interaction, messageId);
    return { msg, channel: ctx.model.channel(msg.channelId) };
  }
  if (messageId === "@original") throw unknown("message");
  const channel = targetChannel(ctx, target.webhook);
  const msg = ctx.model.message(channel.id, messageId);
  if (msg.webhook?.webhookId !== target.webhook.id) throw unknown("message");
  return { msg, channel };
}

const tokenMessageRoutes = (path: string): Route[] => [
  {
    method: "GET",
    path,
    auth: "none",
    run: (ctx) => ok(messageObject(tokenMessage(ctx).msg, ctx.model)),
  },
  {
    method: "PATCH",
    path,
    auth: "none",
    run: (ctx) => {
      const { msg, channel } = tokenMessage(ctx);
      editMessage(
        ctx.model,
        channel,
        msg,
        messageEdit(
          objectBody(ctx.body),
          ctx.files,
          msg.attachments.map((a) => a.id),
        ),
      );
      return ok(messageObject(msg, ctx.model));
    },
  },
  {
    method: "DELETE",
    path,
    auth: "none",
    run: (ctx) => {
      const { msg, channel } = tokenMessage(ctx);
      deleteMessage(ctx.model, channel, msg.id);
      return noContent();
    },
  },
];

function requireOwnApplication(ctx: RouteContext): void {
  if (ctx.params.application_id !== ctx.model.bot.applicationId) {
    throw new DiscordApiError(
      403,
      20012,
      "You are not authorized to perform this action on this application",
    );
  }
}

function commandGuild(ctx: RouteContext): string {
  requireOwnApplication(ctx);
  const guild = ctx.model.guild(ctx.params.guild_id ?? "");
  if (!guild.members.has(ctx.model.bot.userId)) throw missingAccess();
  return guild.id;
}

function commandList(body: unknown): Json[] {
  if (!Array.isArray(body)) throw invalidForm("_root", "LIST_TYPE_CONVERT", "Must be an array.");
  return body.map((x) => {
    const o = objectBody(x);
    const perms = o.default_member_permissions;
    return typeof perms === "number" ? { ...o, default_member_permissions: String(perms) } : o;
  });
}

export const webhookRoutes: Route[] = [
  {
    method: "POST",
    path: "/channels/{channel_id}/webhooks",
    auth: "bot",
    run: (ctx) => {
      const { model } = ctx;
      const c = model.channel(ctx.params.channel_id ?? "");
      model.require(model.bot.userId, c, "MANAGE_WEBHOOKS");
      const o = objectBody(ctx.body);
      const avatar = dataUri(o, "avatar");
      const w = createWebhook(
        model,
        c,
        { name: requireString(o, "name"), ...(avatar ? { avatarData: avatar } : {}) },
        model.bot.userId,
        model.bot.applicationId,
      );
      return ok(webhookObject(w, model, model.bot.applicationId));
    },
  },
  {
    method: "GET",
    path: "/channels/{channel_id}/webhooks",
    auth: "bot",
    run: (ctx) => {
      const { model } = ctx;
      const c = model.channel(ctx.params.channel_id ?? "");
      model.require(model.bot.userId, c, "MANAGE_WEBHOOKS");
      const hooks = [...model.webhooks.values()].filter((w) => w.channelId === c.id);
      return ok(hooks.map((w) => webhookObject(w, model, model.bot.applicationId)));
    },
  },
  {
    method: "GET",
    path: "/webhooks/{webhook_id}",
    auth: "bot",
    run: (ctx) => ok(webhookObject(botWebhook(ctx), ctx.model, ctx.model.bot.applicationId)),
  },
  {
    method: "PATCH",
    path: "/webhooks/{webhook_id}",
    auth: "bot",
    run: (ctx) => {
      const w = botWebhook(ctx);
      const o = objectBody(ctx.body);
      const channelId = optString(o, "channel_id");
      if (channelId !== undefined)
        ctx.model.require(ctx.model.bot.userId, ctx.model.channel(channelId), "MANAGE_WEBHOOKS");
      const avatar = dataUri(o, "avatar");
      const name = optString(o, "name");
      updateWebhook(ctx.model, w, {
        ...(name !== undefined ? { name } : {}),
        ...(avatar !== undefined ? { avatarData: avatar } : {}),
        ...(channelId !== undefined ? { channelId } : {}),
      });
      return ok(webhookObject(w, ctx.model, ctx.model.bot.applicationId));
    },
  },
  {
    method: "DELETE",
    path: "/webhooks/{webhook_id}",
    auth: "bot",
    run: (ctx) => {
      deleteWebhook(ctx.model, botWebhook(ctx));
      return noContent();
    },
  },
  {
    method: "GET",
    path: "/webhooks/{webhook_id}/{webhook_token}",
    auth: "none",
    run: (ctx) => {
      const t = tokenTarget(ctx);
      if (t.kind === "interaction") throw unknown("webhook");
      // Fetched by token, a webhook object has no `user`.
      const { user: _user, ...rest } = webhookObject(t.webhook, ctx.model, ctx.model.bot.applicationId);
      return ok({ ...rest, token: t.webhook.token });
    },
  },
  { method: "POST", path: "/webhooks/{webhook_id}/{webhook_token}", auth: "none", run: execute },
  {
    method: "DELETE",
    path: "/webhooks/{webhook_id}/{webhook_token}",
    auth: "none",
    run: (ctx) => {
      const t = tokenTarget(ctx);
      if (t.kind === "interaction") throw unknown("webhook");
      deleteWebhook(ctx.model, t.webhook);
      return noContent();
    },
  },
  ...tokenMessageRoutes("/webhooks/{webhook_id}/{webhook_token}/messages/@original"),
  ...tokenMessageRoutes("/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}"),
  {
    method: "POST",
    path: "/interactions/{interaction_id}/{interaction_token}/callback",
    auth: "none",
    run: (ctx) => {
      const o = objectBody(ctx.body);
      const type = o.type;
      if (typeof type !== "number") throw invalidForm("type", "BASE_TYPE_REQUIRED", "This field is required");
      const data = o.data === undefined || o.data === null ? {} : objectBody(o.data);
      const input = { ...messageInput(data, ctx.files), ...(type === 9 ? { modal: data } : {}) };
      const answer = ctx.interactions.callback(
        ctx.params.interaction_id ?? "",
        ctx.params.interaction_token ?? "",
        type,
        input,
        queryBool(ctx.query, "with_response"),
      );
      return answer ? ok(answer) : noContent();
    },
  },
  {
    method: "GET",
    path: "/applications/{application_id}/commands",
    auth: "bot",
    run: (ctx) => {
      requireOwnApplication(ctx);
      return ok([...ctx.model.commands.values()].filter((c) => c.guildId === null).map(commandObject));
    },
  },
  {
    method: "PUT",
    path: "/applications/{application_id}/commands",
    auth: "bot",
    run: (ctx) => {
      requireOwnApplication(ctx);
      return ok(overwriteCommands(ctx.model, null, commandList(ctx.body)).map(commandObject));
    },
  },
  {
    method: "GET",
    path: "/applications/{application_id}/guilds/{guild_id}/commands",
    auth: "bot",
    run: (ctx) => {
      const guildId = commandGuild(ctx);
      return ok([...ctx.model.commands.values()].filter((c) => c.guildId === guildId).map(commandObject));
    },
  },
  {
    method: "PUT",
    path: "/applications/{application_id}/guilds/{guild_id}/commands",
    auth: "bot",
    run: (ctx) =>
      ok(overwriteCommands(ctx.model, commandGuild(ctx), commandList(ctx.body)).map(commandObject)),
  },
  {
    method: "POST",
    path: "/applications/{application_id}/guilds/{guild_id}/commands",
    auth: "bot",
    run: (ctx) => {
      const guildId = commandGuild(ctx);
      const body = commandList([ctx.body])[0]!;
      const others = [...ctx.model.commands.values()]
        .filter((c) => c.guildId === guildId && !(c.name === body.name && c.type === (body.type ?? 1)))
        .map((c) => ({ ...commandObject(c) }));
      const existed =
        others.length !== [...ctx.model.commands.values()].filter((c) => c.guildId === guildId).length;
      const all = overwriteCommands(ctx.model, guildId, [...others, body]);
      // Creating returns 201, upserting an existing name 200.
      return ok(commandObject(all.at(-1)!), existed ? 200 : 201);
    },
  },
  {
    method: "DELETE",
    path: "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}",
    auth: "bot",
    run: (ctx) => {
      const guildId = commandGuild(ctx);
      const cmd = ctx.model.commands.get(ctx.params.command_id ?? "");
      if (!cmd || cmd.guildId !== guildId) throw unknown("command");
      ctx.model.commands.delete(cmd.id);
      return noContent();
    },
  },
];
