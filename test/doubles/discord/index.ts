import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ChannelType, isThreadType, MessageType, permissionBits, type PrivilegedIntent } from "./bits.js";
import {
  channelObject,
  commandObject,
  messageObject,
  webhookObject,
  type ChannelRecord,
} from "./discord-objects.js";
import { Gateway } from "./gateway.js";
import { DiscordHttpServer, type RateLimitRule } from "./http-server.js";
import { Interactions } from "./interactions.js";
import {
  addReaction,
  createMessage,
  bulkDelete,
  deleteMessage,
  editMessage,
  parseEmoji,
  removeReaction,
  typing,
} from "./messages.js";
import { Model } from "./model.js";
import { createThread } from "./threads.js";
import { createWebhook } from "./webhooks.js";
import { guildRoutes } from "./routes-guilds.js";
import { channelRoutes } from "./routes-channels.js";
import { webhookRoutes } from "./routes-webhooks.js";
import { loadSpecChecker } from "./spec-check.js";
import type { ApiCall, ChannelKind, DiscordDouble, DiscordDoubleOptions, WebhookMessage } from "./types.js";

/**
 * An in-process fake Discord on 127.0.0.1 for end-to-end tests: REST v10, the gateway and the CDN,
 * driven by the real discord.js v14, unchanged. See README.md.
 */

export type * from "./types.js";
export { DiscordApiError } from "./errors.js";
export { KNOWN_SPEC_BUGS } from "./spec-check.js";
export { Intent, Permission, PRIVILEGED_INTENTS } from "./bits.js";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const DEFAULT_SPEC_PATH = resolve(repoRoot, "../shared/specs/discord/specs/openapi.json");

const CHANNEL_TYPES: Record<ChannelKind, number> = {
  text: ChannelType.GUILD_TEXT,
  announcement: ChannelType.GUILD_ANNOUNCEMENT,
  category: ChannelType.GUILD_CATEGORY,
  forum: ChannelType.GUILD_FORUM,
  voice: ChannelType.GUILD_VOICE,
};

const STICKER_FORMATS = { png: 1, apng: 2, lottie: 3, gif: 4 } as const;

export async function startDiscordDouble(opts: DiscordDoubleOptions = {}): Promise<DiscordDouble> {
  const model = new Model(opts.botName ?? "Switchboard");
  for (const p of opts.privilegedIntents ?? []) model.grantedIntents.add(p);
  const spec = await loadSpecChecker(opts.specPath ?? DEFAULT_SPEC_PATH);
  const violations: string[] = [];
  const calls: ApiCall[] = [];
  const rateLimits: RateLimitRule[] = [];
  const interactions = new Interactions(model, opts.interactionResponseTimeoutMs ?? 3000);
  const gateway = new Gateway({
    model,
    heartbeatIntervalMs: opts.heartbeatIntervalMs ?? 41250,
    resumeWindowMs: opts.resumeWindowMs ?? 120_000,
    violations,
  });
  model.sink = (event) => gateway.publish(event);
  const http = new DiscordHttpServer({
    model,
    interactions,
    gateway,
    routes: [...guildRoutes, ...channelRoutes, ...webhookRoutes],
    spec,
    violations,
    calls,
    rateLimits,
    bucket: opts.rateLimitBucket ?? { limit: 50, windowMs: 1000 },
  });
  const port = await http.listen();
  model.cdn.origin = `http://127.0.0.1:${port}`;
  gateway.origin = `ws://127.0.0.1:${port}`;

  /** Test helpers take ids; a wrong one is a test bug, so say which. */
  const channel = (id: string): ChannelRecord => {
    const c = model.findChannel(id);
    if (!c) throw new Error(`Discord double: no channel ${id}`);
    return c;
  };
  /** Where a person can act: a member of the channel's guild who can see it, or the DM's recipient. */
  const reachable = (userId: string, id: string): ChannelRecord => {
    const c = channel(id);
    model.user(userId);
    if (c.type === ChannelType.DM) {
      if (c.recipientId !== userId) throw new Error(`Discord double: ${userId} is not in DM ${id}`);
      return c;
    }
    if (!model.guildOf(c)?.members.has(userId))
      throw new Error(`Discord double: ${userId} is not in channel ${id}'s guild`);
    if (!model.canView(userId, c)) throw new Error(`Discord double: ${userId} cannot see channel ${id}`);
    return c;
  };
  const messageIn = (c: ChannelRecord, id: string) => {
    const m = model.findMessage(c.id, id);
    if (!m) throw new Error(`Discord double: no message ${id} in channel ${c.id}`);
    return m;
  };

  const double: DiscordDouble = {
    restUrl: `${model.cdn.origin}/api`,
    cdnUrl: model.cdn.cdnBase,
    gatewayUrl: gateway.url,
    botToken: model.bot.token,
    botUserId: model.bot.userId,
    applicationId: model.bot.applicationId,

    addUser: (u) => ({ id: model.addUser(u).id }),
    addGuild(g) {
      const guild = model.addGuild(g);
      return {
        id: guild.id,
        everyoneRoleId: guild.id,
        botRoleId: guild.botRoleId,
        ...(guild.systemChannelId !== null ? { systemChannelId: guild.systemChannelId } : {}),
      };
    },
    renameGuild: (guildId, name) => model.renameGuild(guildId, name),
    addRole: (guildId, r) => ({ id: model.addRole(guildId, r).id }),
    addChannel(guildId, c) {
      const type = CHANNEL_TYPES[c.type ?? "text"];
      return {
        id: model.createChannel(model.guild(guildId), {
          name: c.name,
          type,
          parentId: c.parentId ?? null,
          topic: c.topic ?? null,
          ...(c.tags ? { tags: c.tags } : {}),
        }).id,
      };
    },
    renameChannel: (id, name) => model.updateChannel(channel(id), { name }),
    setTopic: (id, topic) => model.updateChannel(channel(id), { topic }),
    deleteChannel: (id) => model.deleteChannel(channel(id)),
    setBotPermissions: (id, p) =>
      model.setBotOverwrite(channel(id), permissionBits(p.allow ?? []), permissionBits(p.deny ?? [])),
    addEmoji: (guildId, name, image) => ({ id: model.addEmoji(guildId, name, image) }),
    addSticker: (guildId, s) => ({
      id: model.addSticker(guildId, s.name, s.image, STICKER_FORMATS[s.format ?? "png"]),
    }),
    addMember: (guildId, userId, m) => model.addMember(guildId, userId, m),
    updateMember: (guildId, userId, m) => model.updateMember(guildId, userId, m),
    removeMember: (guildId, userId) => model.removeMember(guildId, userId),
    addWebhookAs(userId, channelId, name) {
      const c = reachable(userId, channelId);
      model.require(userId, c, "MANAGE_WEBHOOKS");
      const hook = createWebhook(model, c, { name }, userId, null);
      return { id: hook.id, token: hook.token };
    },
    openDm: (userId) => ({ id: model.openDm(userId).id }),

    postAs(userId, channelId, content, o = {}) {
      let c = reachable(userId, channelId);
      if (o.thread !== undefined) {
        const thread = channel(o.thread);
        if (thread.parentId !== c.id)
          throw new Error(`Discord double: ${o.thread} is not a thread of ${c.id}`);
        c = reachable(userId, thread.id);
      }
      if (c.guildId !== null)
        model.require(userId, c, isThreadType(c.type) ? "SEND_MESSAGES_IN_THREADS" : "SEND_MESSAGES");
      if ((o.attachments ?? []).length > 0 && c.guildId !== null) model.require(userId, c, "ATTACH_FILES");
      return createMessage(model, userId, c, {
        content,
        // Discord's client sends a nonce with every message.
        nonce: model.mint.next(),
        ...(o.embeds ? { embeds: o.embeds } : {}),
        ...(o.stickers
          ? {
              stickers: o.stickers.map((id) => {
                const s = model.guildOf(c)?.stickers.get(id);
                if (!s) throw new Error(`Discord double: no sticker ${id} in this guild`);
                return { id: s.id, name: s.name, format_type: s.format };
              }),
            }
          : {}),
        files: (o.attachments ?? []).map((a) => ({
          filename: a.name,
          data: a.data,
          ...(a.contentType !== undefined ? { contentType: a.contentType } : {}),
          ...(a.description !== undefined ? { description: a.description } : {}),
        })),
        ...(o.replyTo !== undefined ? { replyTo: { messageId: o.replyTo } } : {}),
        ...(o.mentionRepliedUser === false
          ? { allowedMentions: { parse: ["users", "roles", "everyone"], replied_user: false } }
          : {}),
      }).id;
    },
    editAs(userId, channelId, messageId, content) {
      const c = reachable(userId, channelId);
      const msg = messageIn(c, messageId);
      if (msg.authorId !== userId)
        throw new Error(`Discord double: ${userId} cannot edit ${messageId}, written by someone else`);
      editMessage(model, c, msg, { content });
    },
    deleteAs(userId, channelId, messageId) {
      const c = reachable(userId, channelId);
      const msg = messageIn(c, messageId);
      if (msg.authorId !== userId) model.require(userId, c, "MANAGE_MESSAGES");
      deleteMessage(model, c, msg.id);
    },
    pinAs(userId, channelId, messageId) {
      const c = reachable(userId, channelId);
      const msg = messageIn(c, messageId);
      model.require(userId, c, "MANAGE_MESSAGES");
      msg.pinned = true;
      // Discord's own notice in the channel, pointing at what was pinned.
      createMessage(
        model,
        userId,
        c,
        {
          type: MessageType.CHANNEL_PINNED_MESSAGE,
          content: "",
          reference: {
            type: 0,
            channel_id: c.id,
            message_id: msg.id,
            ...(c.guildId ? { guild_id: c.guildId } : {}),
          },
        },
        { system: true },
      );
    },
    bulkDeleteAs(userId, channelId, messageIds) {
      const c = reachable(userId, channelId);
      model.require(userId, c, "MANAGE_MESSAGES");
      bulkDelete(model, c, messageIds);
    },
    reactAs(userId, channelId, messageId, emoji) {
      const c = reachable(userId, channelId);
      const msg = messageIn(c, messageId);
      const parsed = parseEmoji(model, c, emoji);
      const exists = msg.reactions.some((r) => r.emoji.name === parsed.name && r.emoji.id === parsed.id);
      if (!exists && c.guildId !== null) model.require(userId, c, "ADD_REACTIONS");
      addReaction(model, userId, c, msg, parsed);
    },
    unreactAs(userId, channelId, messageId, emoji) {
      const c = reachable(userId, channelId);
      removeReaction(model, userId, c, messageIn(c, messageId), parseEmoji(model, c, emoji));
    },
    typingAs: (userId, channelId) => typing(model, userId, reachable(userId, channelId)),
    createThreadAs(userId, channelId, t) {
      const c = reachable(userId, channelId);
      if (c.type === ChannelType.GUILD_FORUM) {
        model.require(userId, c, "SEND_MESSAGES");
        const tags = (t.tags ?? []).map((name) => {
          const tag = c.availableTags?.find((x) => x.name === name);
          if (!tag) throw new Error(`Discord double: forum ${c.id} has no tag "${name}"`);
          return tag.id;
        });
        const { thread, starter } = createThread(model, userId, c, {
          name: t.name,
          starter: { content: t.content ?? "", nonce: model.mint.next() },
          appliedTags: tags,
        });
        return { id: thread.id, ...(starter ? { starterMessageId: starter.id } : {}) };
      }
      model.require(userId, c, t.private ? "CREATE_PRIVATE_THREADS" : "CREATE_PUBLIC_THREADS");
      const { thread } = createThread(model, userId, c, {
        name: t.name,
        ...(t.messageId !== undefined
          ? { messageId: messageIn(c, t.messageId).id }
          : { type: t.private ? ChannelType.PRIVATE_THREAD : ChannelType.PUBLIC_THREAD }),
      });
      return { id: thread.id };
    },
    archiveThread(threadId, archived = true, locked = false) {
      const t = channel(threadId);
      if (!t.thread) throw new Error(`Discord double: ${threadId} is not a thread`);
      model.updateChannel(t, { archived, locked });
    },
    invokeCommand: (userId, channelId, name, options) =>
      interactions.invokeCommand(userId, reachable(userId, channelId), name, options).id,
    clickButton(userId, channelId, messageId, customId) {
      const c = reachable(userId, channelId);
      return interactions.clickButton(userId, c, messageIn(c, messageId), customId).id;
    },
    interaction: (id) => interactions.outcome(id),

    messages: (id) => model.messagesOf(channel(id).id).map((m) => messageObject(m, model)),
    message(channelId, messageId) {
      const m = model.findMessage(channel(channelId).id, messageId);
      return m && messageObject(m, model);
    },
    webhookMessages(channelId) {
      const c = channel(channelId);
      const inside = [c, ...[...model.channels.values()].filter((t) => t.parentId === c.id && t.thread)];
      const out: WebhookMessage[] = [];
      for (const ch of inside) {
        for (const m of model.messagesOf(ch.id)) {
          if (!m.webhook) continue;
          out.push({
            id: m.id,
            channelId: c.id,
            ...(ch.id !== c.id ? { threadId: ch.id } : {}),
            webhookId: m.webhook.webhookId,
            username: m.webhook.username,
            ...(m.webhook.avatarUrl !== undefined ? { avatarUrl: m.webhook.avatarUrl } : {}),
            content: m.content,
          });
        }
      }
      return out.sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
    },
    webhooks: (channelId) =>
      [...model.webhooks.values()]
        .filter((w) => w.channelId === channel(channelId).id)
        .map((w) => ({ ...webhookObject(w, model, model.bot.applicationId), token: w.token })),
    channel(id) {
      const c = model.findChannel(id);
      return c && channelObject(c, model);
    },
    attachmentContent(idOrUrl) {
      const id = /\/attachments\/\d+\/(\d+)\//.exec(idOrUrl)?.[1] ?? idOrUrl;
      const a = model.attachments.get(id);
      return a && Buffer.from(a.data);
    },
    commands: (guildId) =>
      [...model.commands.values()]
        .filter((c) => guildId === undefined || c.guildId === guildId)
        .map(commandObject),
    calls: (route) =>
      calls
        .filter((c) => route === undefined || c.route === route || c.operationId === route)
        .map((c) => structuredClone(c)),
    dispatches: (t) => gateway.log.filter((r) => t === undefined || r.t === t).map((r) => structuredClone(r)),
    gatewaySessions: () => gateway.sessionInfo(),

    setPrivilegedIntents(intents: PrivilegedIntent[]) {
      model.grantedIntents.clear();
      for (const p of intents) model.grantedIntents.add(p);
    },
    dropGatewayConnections: () => gateway.dropAll(),
    requestReconnect: () => gateway.requestReconnect(),
    invalidateSessions: (resumable) => gateway.invalidateSessions(resumable),
    rateLimit(o) {
      rateLimits.push({
        route: o.route,
        remaining: o.count,
        retryAfterSeconds: o.retryAfterSeconds ?? 1,
        global: o.global ?? false,
      });
    },

    specViolations: violations,
    assertNoSpecViolations() {
      if (violations.length > 0) {
        throw new Error(
          `Discord double saw ${violations.length} spec violation(s):\n${violations.map((v) => `  - ${v}`).join("\n")}`,
        );
      }
    },
    async close() {
      await gateway.close();
      await http.close();
    },
  };
  return double;
}
