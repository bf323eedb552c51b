import { createHash } from "node:crypto";
import { foreignBotMessage } from "./foreign-bots.js";
import type { BridgeContent, BridgeContext, ChatRef, RemoteSender } from "@switchboard/framework";
import type { EchoTable } from "./echoes.js";
import type { ThreadIndex } from "./threads.js";
import { emojiToUnicode, slackToMatrix } from "./format/index.js";
import * as ids from "./ids.js";
import type { SlackLogin } from "./logins.js";
import type { SlackEventBody, SlackWorkspace } from "./workspace.js";

/**
 * Slack → framework. Each Slack event becomes zero or more remote events, emitted with a
 * key derived from Slack's own ids so a redelivered or caught-up event is dropped by the
 * framework rather than bridged twice.
 */

type SlackEvent = Record<string, unknown>;

interface SlackFile {
  id: string;
  name?: string;
  title?: string;
  mimetype?: string;
  size?: number;
  url_private_download?: string;
  url_private?: string;
}

/** Message subtypes that are not something a person said. */
const IGNORED_SUBTYPES = new Set([
  "channel_join",
  "channel_leave",
  "group_join",
  "group_leave",
  "channel_purpose",
  "channel_name",
  "message_replied",
  "ekm_access_denied",
  // A deleted thread root that still has replies, as history shows it ("This message was deleted.").
  "tombstone",
]);

export function tsToMs(ts: string): number {
  return Math.round(Number.parseFloat(ts) * 1000);
}

/** Formatting is synchronous: the users a message mentions are looked up first. */
async function warmMentions(ws: SlackWorkspace, text: string): Promise<void> {
  for (const m of text.matchAll(/<@([UW][A-Z0-9]+)/g)) await ws.user(m[1]!);
}

/** The framework could not store an event: the Slack event must stay unacknowledged. */
export class EmitFailed extends Error {
  constructor(override readonly cause: unknown) {
    super(`could not store a Slack event: ${String(cause)}`);
  }
}

export class SlackInbound {
  constructor(
    private readonly ctx: BridgeContext,
    private readonly echoes: EchoTable,
    private readonly threads: ThreadIndex,
    private readonly loginsOf: (team: string) => SlackLogin[],
    /**
     * Where the events go: the framework (live, and catch-up), or a history page being put
     * together (history.ts), which also leaves the catch-up mark (`since:`) alone.
     */
    private readonly sink: { emit: BridgeContext["emit"]; live: boolean } = {
      emit: ctx.emit.bind(ctx),
      live: true,
    },
  ) {}

  private async emit(...args: Parameters<BridgeContext["emit"]>): Promise<void> {
    try {
      await this.sink.emit(...args);
    } catch (err) {
      throw new EmitFailed(err);
    }
  }

  /** The framework chats a Slack conversation is: one, or one per logged-in member for DMs (receiver: the login). */
  async chatsFor(ws: SlackWorkspace, channel: string): Promise<ChatRef[]> {
    const id = ids.chatId(ws.teamId, channel);
    if (!channel.startsWith("D") && !channel.startsWith("G")) return [{ channelId: id }];
    const info = await ws.channel(channel);
    if (info && !info.isIm && !info.isMpim) return [{ channelId: id }];
    const chats: ChatRef[] = [];
    for (const login of this.loginsOf(ws.teamId)) {
      const seen = await ws.channel(channel, login.web);
      if (!seen) continue;
      if (await login.isMember(channel)) chats.push({ channelId: id, receiver: login.loginId });
    }
    return chats;
  }

  private sender(ws: SlackWorkspace, slackUser: string): RemoteSender {
    const login = this.loginsOf(ws.teamId).find((l) => l.slackUserId === slackUser);
    return { userId: ids.userId(ws.teamId, slackUser), fromLogin: login?.loginId };
  }

  async handle(ws: SlackWorkspace, body: SlackEventBody): Promise<void> {
    const event = body.event;
    if (!event || typeof event.type !== "string") return;
    // Slack gives every delivery an event_id; without one (never seen), the content is the identity.
    const key = `slack:${ws.teamId}:${body.event_id ?? createHash("sha256").update(JSON.stringify(event)).digest("hex")}`;
    switch (event.type) {
      case "message":
        return this.message(ws, event);
      case "reaction_added":
      case "reaction_removed":
        return this.reaction(ws, event, key);
      case "member_joined_channel":
      case "member_left_channel":
        return this.member(ws, event, key);
      case "channel_rename":
      case "group_rename": {
        const c = event.channel as { id: string; name: string };
        const known = ws.channels.get(c.id);
        if (known) known.name = c.name;
        return this.emitAll(ws, c.id, (chat) => ({ type: "chat-update", chat, name: c.name }), key);
      }
      case "channel_created":
        ws.remember(event.channel as SlackEvent);
        return;
      case "user_change":
      case "user_profile_changed": {
        const user = ws.userFrom(event.user as SlackEvent);
        await this.emit({ type: "profile", user }, { key });
        return;
      }
      case "tokens_revoked": {
        const revoked = ((event.tokens as { oauth?: string[] } | undefined)?.oauth ?? []).map(String);
        for (const login of this.loginsOf(ws.teamId))
          if (revoked.includes(login.slackUserId)) await login.fail("Slack says your token was revoked");
        return;
      }
      default:
        return;
    }
  }

  private async emitAll(
    ws: SlackWorkspace,
    channel: string,
    make: (chat: ChatRef) => Parameters<BridgeContext["emit"]>[0],
    key: string,
  ): Promise<void> {
    for (const chat of await this.chatsFor(ws, channel))
      await this.emit(make(chat), { key: chat.receiver ? `${key}:${chat.receiver}` : key });
  }

  /** Bridges one Slack message event (live or from history). */
  async message(ws: SlackWorkspace, event: SlackEvent): Promise<void> {
    const channel = String(event.channel ?? "");
    const subtype = typeof event.subtype === "string" ? event.subtype : undefined;
    const chatKey = ids.chatId(ws.teamId, channel);
    if (subtype && IGNORED_SUBTYPES.has(subtype)) return;
    if (subtype === "message_changed") return this.edit(ws, channel, event);
    if (subtype === "message_deleted") {
      const ts = String(event.deleted_ts);
      if (this.echoes.consume(`delete ${chatKey} ${ts}`)) return;
      return this.emitAll(
        ws,
        channel,
        (chat) => ({ type: "delete", chat, id: ts }),
        `slack:del:${chatKey}:${ts}`,
      );
    }
    if (subtype === "channel_topic" || subtype === "group_topic") {
      const topic = String(event.topic ?? "");
      const known = ws.channels.get(channel);
      if (known) known.topic = topic;
      return this.emitAll(
        ws,
        channel,
        (chat) => ({ type: "chat-update", chat, topic }),
        `slack:topic:${chatKey}:${String(event.ts)}`,
      );
    }
    const ts = String(event.ts);
    const files = (Array.isArray(event.files) ? event.files : []) as SlackFile[];
    // Our relays come from our bot; a puppet's sends from its user, matched by the ts Slack returned.
    if (event.bot_id && event.bot_id === ws.botId) return;
    if (
      await this.echoes.isOwnMessage(
        chatKey,
        ts,
        files.map((f) => f.id),
      )
    )
      return;
    const slackUser = typeof event.user === "string" ? event.user : String(event.bot_id ?? "");
    if (!slackUser) return;
    const profile = await ws.user(slackUser);
    const foreign = foreignBotMessage(event, ws.botId, ws.config.foreign_bridge_bots);
    const sender: RemoteSender = {
      ...this.sender(ws, slackUser),
      displayname: typeof event.username === "string" ? event.username : profile?.displayname,
      avatar: profile?.avatar ?? null,
      ...(foreign ? { foreign } : {}),
    };
    const threadTs =
      typeof event.thread_ts === "string" && event.thread_ts !== ts ? event.thread_ts : undefined;
    if (threadTs) this.threads.remember(chatKey, ts, threadTs);
    await warmMentions(ws, String(event.text ?? ""));
    const parts = this.contents(ws, event, files, subtype);
    for (const [index, { content, fileId }] of parts.entries()) {
      // The first part carries the message's ts, so replies, reactions and edits find it.
      const id = index === 0 ? ts : `${ts}:${fileId ?? index}`;
      await this.emitAll(
        ws,
        channel,
        (chat) => ({
          type: "message",
          chat,
          id,
          sender,
          timestamp: tsToMs(ts),
          content,
          threadRoot: threadTs,
        }),
        `slack:msg:${chatKey}:${id}`,
      );
    }
    if (this.sink.live) await this.ctx.kvSet(`since:${chatKey}`, ts);
  }

  private contents(
    ws: SlackWorkspace,
    event: SlackEvent,
    files: SlackFile[],
    subtype?: string,
  ): Array<{ content: BridgeContent; fileId?: string }> {
    const out: Array<{ content: BridgeContent; fileId?: string }> = [];
    const text = String(event.text ?? "");
    if (text) {
      const { text: plain, html } = slackToMatrix(text, this.refs(ws));
      out.push({ content: { kind: subtype === "me_message" ? "emote" : "text", text: plain, html } });
    }
    for (const file of files) {
      const url = file.url_private_download ?? file.url_private;
      if (!url) continue;
      const mimetype = file.mimetype ?? "application/octet-stream";
      const media = ws.media(url);
      const content: BridgeContent = {
        kind: mimetype.startsWith("image/")
          ? "image"
          : mimetype.startsWith("video/")
            ? "video"
            : mimetype.startsWith("audio/")
              ? "audio"
              : "file",
        text: file.title ?? file.name ?? "file",
        media: {
          name: file.name ?? file.title ?? "file",
          mimetype,
          size: file.size,
          remote: media.ref,
        },
      };
      out.push({ content, fileId: file.id });
    }
    return out;
  }

  private refs(ws: SlackWorkspace) {
    return {
      userName: (id: string) => ws.cachedUser(id)?.displayname,
      channelName: (id: string) => ws.channels.get(id)?.name,
      mentionHtml: (id: string, name: string) => this.ctx.mentionHtml(ids.userId(ws.teamId, id), name),
    };
  }

  private async edit(ws: SlackWorkspace, channel: string, event: SlackEvent): Promise<void> {
    const message = (event.message ?? {}) as SlackEvent;
    const previous = (event.previous_message ?? {}) as SlackEvent;
    const ts = String(message.ts);
    const chatKey = ids.chatId(ws.teamId, channel);
    const text = String(message.text ?? "");
    // Link unfurls and thread bookkeeping also arrive as message_changed: only a new text is an edit.
    if (text === String(previous.text ?? "")) return;
    if (this.echoes.consume(`edit ${chatKey} ${ts} ${text}`)) return;
    if (message.bot_id && message.bot_id === ws.botId) return;
    const slackUser = String(message.user ?? message.bot_id ?? "");
    await warmMentions(ws, text);
    const { text: plain, html } = slackToMatrix(text, this.refs(ws));
    const editedTs = String((message.edited as { ts?: string } | undefined)?.ts ?? event.ts);
    await this.emitAll(
      ws,
      channel,
      (chat) => ({
        type: "edit",
        chat,
        id: ts,
        sender: this.sender(ws, slackUser),
        timestamp: tsToMs(editedTs),
        content: { kind: "text", text: plain, html },
      }),
      `slack:edit:${chatKey}:${ts}:${editedTs}`,
    );
  }

  private async reaction(ws: SlackWorkspace, event: SlackEvent, key: string): Promise<void> {
    const item = (event.item ?? {}) as { channel?: string; ts?: string };
    if (!item.channel || !item.ts) return;
    const name = String(event.reaction);
    const user = String(event.user);
    const added = event.type === "reaction_added";
    const chatKey = ids.chatId(ws.teamId, item.channel);
    if (this.echoes.consume(`${added ? "react" : "unreact"} ${chatKey} ${item.ts} ${user} ${name}`)) return;
    const emoji = emojiToUnicode(name) ?? `:${name}:`;
    const sender = this.sender(ws, user);
    await this.emitAll(
      ws,
      item.channel,
      (chat) =>
        added
          ? {
              type: "reaction",
              chat,
              id: item.ts!,
              sender,
              key: emoji,
              timestamp: tsToMs(String(event.event_ts)),
            }
          : { type: "reaction-remove", chat, id: item.ts!, sender, key: emoji },
      key,
    );
  }

  /**
   * Someone joined or left a channel: their ghost follows, and when they are one of our logins the
   * framework also hears it as that login's membership (it invites or removes its Matrix user).
   */
  private async member(ws: SlackWorkspace, event: SlackEvent, key: string): Promise<void> {
    const user = String(event.user);
    const channel = String(event.channel);
    if (user === ws.botUserId) {
      // The bot was added to a channel: it can be linked by name from now on.
      if (event.type === "member_joined_channel") await ws.channel(channel);
      return;
    }
    const profile = (await ws.user(user)) ?? { id: ids.userId(ws.teamId, user) };
    const membership = event.type === "member_joined_channel" ? "join" : "leave";
    const logins = this.loginsOf(ws.teamId).filter((l) => l.slackUserId === user);
    for (const login of logins) login.noteMembership(channel, membership === "join");
    await this.emitAll(ws, channel, (chat) => ({ type: "member", chat, user: profile, membership }), key);
    const chat = { channelId: ids.chatId(ws.teamId, channel) };
    for (const login of logins)
      await this.emit(
        { type: "login-membership", chat, loginId: login.loginId, membership },
        { key: `${key}:login:${login.loginId}` },
      );
  }
}
