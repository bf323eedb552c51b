import { ChannelType, isThreadType } from "./bits.js";
import {
  channelObject,
  currentUserObject,
  guildObject,
  memberObject,
  roleObject,
  userObject,
  webhookObject,
  type GuildRecord,
} from "./discord-objects.js";
import { invalidForm, missingAccess, unknown } from "./errors.js";
import { compareSnowflakes } from "./snowflakes.js";
import {
  objectBody,
  ok,
  optInt,
  optString,
  queryLimit,
  querySnowflake,
  requireString,
  type Route,
  type RouteContext,
} from "./rest-api.js";

/** Users, the gateway URL, guilds and what hangs off them (channels, members, roles, threads, webhooks), DMs. */

/** Guilds the bot is not in are 10004 Unknown Guild to it, as on Discord. */
function botGuild(ctx: RouteContext): GuildRecord {
  const guild = ctx.model.guild(ctx.params.guild_id ?? "");
  if (!guild.members.has(ctx.model.bot.userId)) throw unknown("guild");
  return guild;
}

const CHANNEL_KINDS: Record<number, true> = {
  [ChannelType.GUILD_TEXT]: true,
  [ChannelType.GUILD_VOICE]: true,
  [ChannelType.GUILD_CATEGORY]: true,
  [ChannelType.GUILD_ANNOUNCEMENT]: true,
  [ChannelType.GUILD_FORUM]: true,
};

export const guildRoutes: Route[] = [
  {
    method: "GET",
    path: "/users/@me",
    auth: "bot",
    run: ({ model }) => ok(currentUserObject(model.user(model.bot.userId))),
  },
  {
    method: "GET",
    path: "/users/{user_id}",
    auth: "bot",
    run: ({ model, params }) => ok(userObject(model.user(params.user_id ?? ""))),
  },
  {
    method: "GET",
    path: "/gateway",
    auth: "none",
    run: ({ gatewayUrl }) => ok({ url: gatewayUrl }),
  },
  {
    method: "GET",
    path: "/gateway/bot",
    auth: "bot",
    run: ({ gatewayUrl }) =>
      ok({
        url: gatewayUrl,
        shards: 1,
        session_start_limit: { total: 1000, remaining: 999, reset_after: 14400000, max_concurrency: 1 },
      }),
  },
  {
    method: "POST",
    path: "/users/@me/channels",
    auth: "bot",
    run: ({ model, body }) => {
      const recipient = requireString(objectBody(body), "recipient_id");
      return ok(channelObject(model.openDm(model.user(recipient).id), model));
    },
  },
  {
    method: "GET",
    path: "/guilds/{guild_id}",
    auth: "bot",
    run: (ctx) => {
      const guild = botGuild(ctx);
      const counts = ctx.query.get("with_counts") === "true";
      return ok({
        ...guildObject(guild),
        ...(counts ? { approximate_member_count: guild.members.size, approximate_presence_count: 0 } : {}),
      });
    },
  },
  {
    method: "GET",
    path: "/guilds/{guild_id}/channels",
    auth: "bot",
    run: (ctx) => {
      const guild = botGuild(ctx);
      // Threads are not guild channels here: they come from /threads/active.
      const channels = guild.channels
        .map((id) => ctx.model.findChannel(id))
        .filter((c) => c !== undefined && !isThreadType(c.type));
      return ok(channels.map((c) => channelObject(c!, ctx.model)));
    },
  },
  {
    method: "POST",
    path: "/guilds/{guild_id}/channels",
    auth: "bot",
    run: (ctx) => {
      const guild = botGuild(ctx);
      ctx.model.requireGuildPermission(ctx.model.bot.userId, guild, "MANAGE_CHANNELS");
      const o = objectBody(ctx.body);
      const name = requireString(o, "name");
      if (name.length < 1 || name.length > 100) {
        throw invalidForm("name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.");
      }
      const type = optInt(o, "type") ?? ChannelType.GUILD_TEXT;
      if (!CHANNEL_KINDS[type])
        throw invalidForm("type", "BASE_TYPE_CHOICES", `Value must be one of {0, 2, 4, 5, 15}.`);
      const channel = ctx.model.createChannel(guild, {
        // Text channel names are lower-cased with dashes for spaces, as the client shows them.
        name:
          type === ChannelType.GUILD_VOICE || type === ChannelType.GUILD_CATEGORY
            ? name
            : name.toLowerCase().replace(/\s+/g, "-"),
        type,
        parentId: optString(o, "parent_id") ?? null,
        topic: optString(o, "topic") ?? null,
      });
      return ok(channelObject(channel, ctx.model), 201);
    },
  },
  {
    method: "GET",
    path: "/guilds/{guild_id}/members",
    auth: "bot",
    run: (ctx) => {
      const guild = botGuild(ctx);
      // Listing members needs the privileged GUILD_MEMBERS intent switched on for the app.
      if (!ctx.model.grantedIntents.has("GUILD_MEMBERS")) throw missingAccess();
      const limit = queryLimit(ctx.query, 1, 1, 1000);
      const after = querySnowflake(ctx.query, "after") ?? "0";
      const members = [...guild.members.values()]
        .filter((m) => compareSnowflakes(m.userId, after) > 0)
        .sort((a, b) => compareSnowflakes(a.userId, b.userId))
        .slice(0, limit);
      return ok(members.map((m) => memberObject(m, ctx.model.user(m.userId))));
    },
  },
  {
    method: "GET",
    path: "/guilds/{guild_id}/members/{user_id}",
    auth: "bot",
    run: (ctx) => {
      const guild = botGuild(ctx);
      const m = ctx.model.member(guild, ctx.params.user_id ?? "");
      return ok(memberObject(m, ctx.model.user(m.userId)));
    },
  },
  {
    method: "GET",
    path: "/guilds/{guild_id}/roles",
    auth: "bot",
    run: (ctx) => ok([...botGuild(ctx).roles.values()].map(roleObject)),
  },
  {
    method: "GET",
    path: "/guilds/{guild_id}/threads/active",
    auth: "bot",
    run: (ctx) => {
      const guild = botGuild(ctx);
      const threads = ctx.model.activeThreads(guild.id);
      return ok({
        threads: threads.map((t) => channelObject(t, ctx.model)),
        members: ctx.model.botThreadMembers(threads),
        has_more: false,
      });
    },
  },
  {
    method: "GET",
    path: "/guilds/{guild_id}/webhooks",
    auth: "bot",
    run: (ctx) => {
      const guild = botGuild(ctx);
      ctx.model.requireGuildPermission(ctx.model.bot.userId, guild, "MANAGE_WEBHOOKS");
      const hooks = [...ctx.model.webhooks.values()].filter((w) => w.guildId === guild.id);
      return ok(hooks.map((w) => webhookObject(w, ctx.model, ctx.model.bot.applicationId)));
    },
  },
];
