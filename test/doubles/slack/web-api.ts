import {
  botInfo,
  conversationObject,
  fileInfoObject,
  userObject,
  userProfile,
  type ChannelRecord,
  type FileRecord,
} from "./slack-objects.js";
import type { OAuthApp } from "./oauth.js";
import type { SlackMessage } from "./types.js";
import { SlackApiError, type Persona, type TokenKind, type Workspace } from "./workspace.js";

/**
 * The Web API methods the double serves, one small handler each. A handler gets parsed
 * parameters and an authenticated caller, changes the workspace (which emits events) and returns
 * the response fields besides `ok`; it throws SlackApiError for `{ok:false,error}`. HTTP, rate
 * limits and event timing are http-server.ts's business.
 */

export type Params = Record<string, unknown>;

export interface Caller {
  token: string;
  /** "client": a method authenticated by the app's client_id/client_secret, not a token. */
  kind: TokenKind | "client";
  /** The bot user for bot tokens; undefined for the app-level token and client credentials. */
  userId: string | undefined;
}

export interface MethodContext {
  ws: Workspace;
  caller: Caller;
  params: Params;
  /** apps.connections.open: a fresh one-time WebSocket URL. */
  openSocketUrl(): string;
  /** files.getUploadURLExternal: where to POST the bytes of an upload. */
  uploadUrl(uploadId: string): string;
  oauth: OAuthApp;
  /** Credentials of an `Authorization: Basic` header (how oauth.v2.access prefers its client to log in). */
  basicAuth: { user: string; password: string } | undefined;
}

interface Method {
  tokens: TokenKind[];
  /** Authenticated by client_id/client_secret (oauth.v2.access), so no token is needed. */
  clientAuth?: boolean;
  run(ctx: MethodContext): Record<string, unknown>;
}

const HUMAN_OR_BOT: TokenKind[] = ["bot", "user"];

// ---- parameter reading ---------------------------------------------------------------------

function str(p: Params, name: string): string | undefined {
  const v = p[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return JSON.stringify(v);
}

function need(p: Params, name: string, error: string): string {
  const v = str(p, name);
  if (v === undefined || v === "") throw new SlackApiError(error, `missing ${name}`);
  return v;
}

function bool(p: Params, name: string): boolean {
  const v = str(p, name);
  return v === "true" || v === "1";
}

function int(p: Params, name: string, fallback: number, max: number): number {
  const v = str(p, name);
  if (v === undefined || v === "") return fallback;
  const n = Number.parseInt(v, 10);
  if (Number.isNaN(n)) throw new SlackApiError("invalid_arguments", `${name} is not a number`);
  return n <= 0 ? fallback : Math.min(n, max);
}

/** Form bodies carry blocks/attachments/metadata as JSON text, JSON bodies as real JSON. */
function json(p: Params, name: string, error: string): unknown {
  const v = p[name];
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v !== "string") return v;
  try {
    return JSON.parse(v) as unknown;
  } catch {
    throw new SlackApiError(error, `${name} is not JSON`);
  }
}

function blocksParam(p: Params): unknown[] | undefined {
  const blocks = json(p, "blocks", "invalid_blocks_format");
  if (blocks === undefined) return undefined;
  if (!Array.isArray(blocks) || !blocks.every((b) => typeof b === "object" && b !== null && "type" in b)) {
    throw new SlackApiError("invalid_blocks_format");
  }
  return blocks;
}

// ---- pagination ----------------------------------------------------------------------------

function encodeCursor(kind: string, key: string): string {
  return Buffer.from(`${kind}:${key}`).toString("base64");
}

function decodeCursor(kind: string, cursor: string | undefined): string | undefined {
  if (cursor === undefined || cursor === "") return undefined;
  const text = Buffer.from(cursor, "base64").toString();
  if (!text.startsWith(`${kind}:`)) throw new SlackApiError("invalid_cursor");
  return text.slice(kind.length + 1);
}

/** Slack's cursor pagination: next_cursor names the first item of the next page, "" at the end. */
function paginate<T>(
  items: T[],
  keyOf: (item: T) => string,
  p: Params,
  kind: string,
  defaultLimit: number,
  maxLimit: number,
): { page: T[]; nextCursor: string } {
  const limit = int(p, "limit", defaultLimit, maxLimit);
  const from = decodeCursor(kind, str(p, "cursor"));
  let start = 0;
  if (from !== undefined) {
    start = items.findIndex((item) => keyOf(item) === from);
    if (start < 0) throw new SlackApiError("invalid_cursor");
  }
  const page = items.slice(start, start + limit);
  const next = items[start + limit];
  return { page, nextCursor: next === undefined ? "" : encodeCursor(kind, keyOf(next)) };
}

// ---- helpers -------------------------------------------------------------------------------

function callerUser(ctx: MethodContext): string {
  if (ctx.caller.userId === undefined) throw new SlackApiError("not_allowed_token_type");
  return ctx.caller.userId;
}

function copy(m: SlackMessage): SlackMessage {
  return structuredClone(m);
}

/**
 * A conversation the caller may read. Bots get not_in_channel for public channels they have not
 * joined; private conversations are invisible to non-members.
 */
function readable(ctx: MethodContext, ref: string | undefined): ChannelRecord {
  if (ref === undefined || ref === "") throw new SlackApiError("channel_not_found", "missing channel");
  const me = callerUser(ctx);
  const ch = ctx.ws.visibleChannel(ref, me);
  if (ctx.caller.kind === "bot" && !ch.members.includes(me)) throw new SlackApiError("not_in_channel");
  return ch;
}

/** chat.postMessage's `channel` may also be a user id: a bot then writes in its DM with that user. */
function postTarget(ctx: MethodContext, ref: string): ChannelRecord {
  const me = callerUser(ctx);
  if (/^[UW]/.test(ref) && ctx.ws.users.has(ref)) return ctx.ws.openDm([me, ref]);
  const ch = ctx.ws.visibleChannel(ref, me);
  if (!ch.members.includes(me)) throw new SlackApiError("not_in_channel");
  return ch;
}

/** Whose message is it: a user's own, or one our bot posted (also under a persona). */
function ownsMessage(ctx: MethodContext, msg: SlackMessage): boolean {
  const me = callerUser(ctx);
  if (msg.user === me) return true;
  return ctx.caller.kind === "bot" && msg.bot_id !== undefined && msg.bot_id === ctx.ws.user(me).botId;
}

function parseTs(value: string | undefined, error: string): number | undefined {
  if (value === undefined || value === "") return undefined;
  if (!/^\d+(\.\d+)?$/.test(value)) throw new SlackApiError(error);
  return Number(value);
}

function inWindow(ts: string, p: Params): boolean {
  const t = Number(ts);
  const oldest = parseTs(str(p, "oldest"), "invalid_ts_oldest") ?? 0;
  const latest = parseTs(str(p, "latest"), "invalid_ts_latest") ?? Number.POSITIVE_INFINITY;
  const inclusive = bool(p, "inclusive");
  const afterOldest = inclusive ? t >= oldest : t > oldest;
  const beforeLatest = inclusive ? t <= latest : t < latest;
  return afterOldest && beforeLatest;
}

function conversationTypes(p: Params): Set<string> {
  const types = (str(p, "types") ?? "public_channel").split(",").map((t) => t.trim());
  const kinds = new Set<string>();
  for (const t of types) {
    if (t === "public_channel") kinds.add("public");
    else if (t === "private_channel") kinds.add("private");
    else if (t === "im" || t === "mpim") kinds.add(t);
    else if (t !== "") throw new SlackApiError("invalid_types", t);
  }
  return kinds;
}

function findFile(ctx: MethodContext, id: string): FileRecord {
  const file = ctx.ws.files.get(id);
  const me = callerUser(ctx);
  const visible =
    file !== undefined &&
    (file.user === me ||
      file.shares.some((s) => {
        const ch = ctx.ws.channels.get(s.channel);
        return ch !== undefined && (ch.kind === "public" || ch.members.includes(me));
      }));
  if (!file || !visible) throw new SlackApiError("file_not_found", id);
  return file;
}

// ---- the methods ---------------------------------------------------------------------------

export const METHODS: Record<string, Method> = {
  "auth.test": {
    tokens: HUMAN_OR_BOT,
    run(ctx) {
      const user = ctx.ws.user(callerUser(ctx));
      return {
        url: `https://${ctx.ws.team.domain}.slack.com/`,
        team: ctx.ws.team.name,
        user: user.name,
        team_id: ctx.ws.team.id,
        user_id: user.id,
        ...(ctx.caller.kind === "bot" && user.botId !== undefined ? { bot_id: user.botId } : {}),
        is_enterprise_install: false,
      };
    },
  },

  "auth.revoke": {
    tokens: HUMAN_OR_BOT,
    run(ctx) {
      // test=true checks the token without revoking it.
      if (bool(ctx.params, "test")) return { revoked: false };
      ctx.ws.revokeToken(ctx.caller.token);
      return { revoked: true };
    },
  },

  "oauth.v2.access": {
    tokens: [],
    clientAuth: true,
    run(ctx) {
      const p = ctx.params;
      return ctx.oauth.exchange({
        clientId: ctx.basicAuth?.user ?? str(p, "client_id"),
        clientSecret: ctx.basicAuth?.password ?? str(p, "client_secret"),
        code: str(p, "code"),
        redirectUri: str(p, "redirect_uri"),
        grantType: str(p, "grant_type"),
      });
    },
  },

  "team.info": {
    tokens: HUMAN_OR_BOT,
    run(ctx) {
      const { id, name, domain } = ctx.ws.team;
      return { team: { id, name, domain, email_domain: "", icon: { image_default: true } } };
    },
  },

  "apps.connections.open": {
    tokens: ["app"],
    run(ctx) {
      return { url: ctx.openSocketUrl() };
    },
  },

  "users.info": {
    tokens: HUMAN_OR_BOT,
    run(ctx) {
      const user = ctx.ws.user(need(ctx.params, "user", "user_not_found"));
      return { user: userObject(user, ctx.ws.team, ctx.ws.urls) };
    },
  },

  "users.list": {
    tokens: HUMAN_OR_BOT,
    run(ctx) {
      const all = [...ctx.ws.users.values()];
      const { page, nextCursor } = paginate(
        all,
        (u) => u.id,
        ctx.params,
        "user",
        Math.max(all.length, 1),
        1000,
      );
      return {
        members: page.map((u) => userObject(u, ctx.ws.team, ctx.ws.urls)),
        cache_ts: Math.floor(Date.now() / 1000),
        response_metadata: { next_cursor: nextCursor },
      };
    },
  },

  "users.profile.get": {
    tokens: HUMAN_OR_BOT,
    run(ctx) {
      const user = ctx.ws.user(str(ctx.params, "user") ?? callerUser(ctx));
      return { profile: userProfile(user, ctx.ws.team, ctx.ws.urls) };
    },
  },

  "users.conversations": {
    tokens: HUMAN_OR_BOT,
    run(ctx) {
      const me = callerUser(ctx);
      const who = str(ctx.params, "user") ?? me;
      ctx.ws.user(who);
      const kinds = conversationTypes(ctx.params);
      const list = [...ctx.ws.channels.values()].filter(
        (ch) =>
          kinds.has(ch.kind) && ch.members.includes(who) && (ch.kind === "public" || ch.members.includes(me)),
      );
      const { page, nextCursor } = paginate(list, (c) => c.id, ctx.params, "channel", 100, 1000);
      return {
        channels: page.map((ch) => conversationObject(ch, ctx.ws.team, me)),
        response_metadata: { next_cursor: nextCursor },
      };
    },
  },

  "bots.info": {
    tokens: HUMAN_OR_BOT,
    run(ctx) {
      const id = need(ctx.params, "bot", "bot_not_found");
      const user = [...ctx.ws.users.values()].find((u) => u.botId === id);
      if (!user) throw new SlackApiError("bot_not_found", id);
      return { bot: botInfo(user, ctx.ws.team, ctx.ws.urls) };
    },
  },

  "conversations.info": {
    tokens: HUMAN_OR_BOT,
    run(ctx) {
      const me = callerUser(ctx);
      const ch = ctx.ws.visibleChannel(need(ctx.params, "channel", "channel_not_found"), me);
      return { channel: conversationObject(ch, ctx.ws.team, me) };
    },
  },

  "conversations.list": {
    tokens: HUMAN_OR_BOT,
    run(ctx) {
      const me = callerUser(ctx);
      const kinds = conversationTypes(ctx.params);
      const list = [...ctx.ws.channels.values()].filter(
        (ch) => kinds.has(ch.kind) && (ch.kind === "public" || ch.members.includes(me)),
      );
      const { page, nextCursor } = paginate(list, (c) => c.id, ctx.params, "channel", 100, 1000);
      return {
        channels: page.map((ch) => conversationObject(ch, ctx.ws.team, me)),
        response_metadata: { next_cursor: nextCursor },
      };
    },
  },

  "conversations.members": {
    tokens: HUMAN_OR_BOT,
    run(ctx) {
      const ch = ctx.ws.visibleChannel(need(ctx.params, "channel", "channel_not_found"), callerUser(ctx));
      const { page, nextCursor } = paginate(ch.members, (m) => m, ctx.params, "member", 100, 1000);
      return { members: page, response_metadata: { next_cursor: nextCursor } };
    },
  },

  "conversations.history": {
    tokens: HUMAN_OR_BOT,
    run(ctx) {
      const ch = readable(ctx, str(ctx.params, "channel"));
      const newestFirst = ctx.ws
        .messagesOf(ch)
        .filter((m) => ctx.ws.isTopLevel(m) && inWindow(m.ts, ctx.params))
        .reverse();
      const { page, nextCursor } = paginate(newestFirst, (m) => m.ts, ctx.params, "next_ts", 100, 999);
      return {
        messages: page.map(copy),
        has_more: nextCursor !== "",
        pin_count: 0,
        channel_actions_ts: null,
        channel_actions_count: 0,
        ...(nextCursor !== "" ? { response_metadata: { next_cursor: nextCursor } } : {}),
      };
    },
  },

  "conversations.replies": {
    tokens: HUMAN_OR_BOT,
    run(ctx) {
      const ch = readable(ctx, str(ctx.params, "channel"));
      const thread = ctx.ws.thread(ch, need(ctx.params, "ts", "thread_not_found"));
      const [root, ...replies] = thread;
      // Slack tells the reader whether they follow the thread; the double's readers never do.
      const head = root ? [{ ...root, subscribed: false }] : [];
      const window = [...head, ...replies.filter((m) => inWindow(m.ts, ctx.params))];
      const { page, nextCursor } = paginate(window, (m) => m.ts, ctx.params, "next_ts", 1000, 1000);
      return {
        messages: page.map(copy),
        has_more: nextCursor !== "",
        ...(nextCursor !== "" ? { response_metadata: { next_cursor: nextCursor } } : {}),
      };
    },
  },

  "conversations.open": {
    tokens: HUMAN_OR_BOT,
    run(ctx) {
      const me = callerUser(ctx);
      const existing = str(ctx.params, "channel");
      let ch: ChannelRecord;
      let fresh = false;
      if (existing !== undefined && existing !== "") {
        ch = ctx.ws.visibleChannel(existing, me);
      } else {
        const users = need(ctx.params, "users", "users_list_not_supplied")
          .split(",")
          .map((u) => u.trim());
        for (const u of users) if (!ctx.ws.users.has(u)) throw new SlackApiError("user_not_found", u);
        const before = ctx.ws.channels.size;
        ch = ctx.ws.openDm([me, ...users.filter((u) => u !== me)]);
        fresh = ctx.ws.channels.size > before;
      }
      const full = bool(ctx.params, "return_im");
      return {
        ...(fresh ? {} : { no_op: true, already_open: true }),
        channel: full ? conversationObject(ch, ctx.ws.team, me) : { id: ch.id },
      };
    },
  },

  "conversations.join": {
    tokens: HUMAN_OR_BOT,
    run(ctx) {
      const me = callerUser(ctx);
      const ch = ctx.ws.visibleChannel(need(ctx.params, "channel", "channel_not_found"), me);
      if (ch.kind !== "public") throw new SlackApiError("method_not_supported_for_channel_type");
      const joined = ctx.ws.join(me, ch.id);
      return {
        channel: conversationObject(ch, ctx.ws.team, me),
        ...(joined
          ? {}
          : { warning: "already_in_channel", response_metadata: { warnings: ["already_in_channel"] } }),
      };
    },
  },

  "conversations.mark": {
    // Read markers belong to people; Slack refuses bot tokens here.
    tokens: ["user"],
    run(ctx) {
      const me = callerUser(ctx);
      const ch = ctx.ws.visibleChannel(need(ctx.params, "channel", "channel_not_found"), me);
      const ts = need(ctx.params, "ts", "invalid_timestamp");
      if (!/^\d{10}\.\d{6}$/.test(ts)) throw new SlackApiError("invalid_timestamp", ts);
      ctx.ws.markRead(me, ch, ts);
      return {};
    },
  },

  "chat.postMessage": {
    tokens: HUMAN_OR_BOT,
    run(ctx) {
      const p = ctx.params;
      const ch = postTarget(ctx, need(p, "channel", "channel_not_found"));
      const text = str(p, "text") ?? "";
      const blocks = blocksParam(p);
      const attachments = json(p, "attachments", "invalid_attachments");
      if (attachments !== undefined && !Array.isArray(attachments))
        throw new SlackApiError("invalid_attachments");
      if (text === "" && blocks === undefined && attachments === undefined)
        throw new SlackApiError("no_text");
      const clientMsgId = str(p, "client_msg_id");
      const metadata = json(p, "metadata", "invalid_metadata_format");
      const msg = ctx.ws.post({ userId: callerUser(ctx), ...personaOf(ctx) }, ch, {
        text,
        ...(blocks !== undefined ? { blocks } : {}),
        ...(attachments !== undefined ? { attachments } : {}),
        ...threadOf(p),
        ...(clientMsgId !== undefined ? { clientMsgId } : {}),
        ...(metadata !== undefined ? { metadata } : {}),
      });
      return { channel: ch.id, ts: msg.ts, message: copy(msg) };
    },
  },

  "chat.meMessage": {
    tokens: HUMAN_OR_BOT,
    run(ctx) {
      const ch = postTarget(ctx, need(ctx.params, "channel", "channel_not_found"));
      const text = need(ctx.params, "text", "no_text");
      const msg = ctx.ws.post({ userId: callerUser(ctx) }, ch, { text, subtype: "me_message" });
      return { channel: ch.id, ts: msg.ts };
    },
  },

  "chat.update": {
    tokens: HUMAN_OR_BOT,
    run(ctx) {
      const p = ctx.params;
      const ch = readable(ctx, str(p, "channel"));
      const msg = ctx.ws.message(ch, need(p, "ts", "message_not_found"));
      if (!ownsMessage(ctx, msg)) throw new SlackApiError("cant_update_message");
      const blocks = blocksParam(p);
      const text = str(p, "text");
      if ((text === undefined || text === "") && blocks === undefined) throw new SlackApiError("no_text");
      const updated = ctx.ws.edit(callerUser(ctx), ch, msg.ts, {
        text: text ?? "",
        ...(blocks !== undefined ? { blocks } : {}),
      });
      const { ts: _ts, ...message } = copy(updated);
      return { channel: ch.id, ts: updated.ts, text: updated.text, message };
    },
  },

  "chat.delete": {
    tokens: HUMAN_OR_BOT,
    run(ctx) {
      const ch = readable(ctx, str(ctx.params, "channel"));
      const msg = ctx.ws.message(ch, need(ctx.params, "ts", "message_not_found"));
      if (!ownsMessage(ctx, msg)) throw new SlackApiError("cant_delete_message");
      ctx.ws.delete(ch, msg.ts);
      return { channel: ch.id, ts: msg.ts };
    },
  },

  "chat.getPermalink": {
    tokens: HUMAN_OR_BOT,
    run(ctx) {
      const ch = ctx.ws.visibleChannel(need(ctx.params, "channel", "channel_not_found"), callerUser(ctx));
      const msg = ctx.ws.message(ch, need(ctx.params, "message_ts", "message_not_found"));
      const base = `https://${ctx.ws.team.domain}.slack.com/archives/${ch.id}/p${msg.ts.replace(".", "")}`;
      const reply = msg.thread_ts !== undefined && msg.thread_ts !== msg.ts;
      return { channel: ch.id, permalink: reply ? `${base}?thread_ts=${msg.thread_ts}&cid=${ch.id}` : base };
    },
  },

  "reactions.add": {
    tokens: HUMAN_OR_BOT,
    run(ctx) {
      const ch = readable(ctx, str(ctx.params, "channel"));
      const ts = need(ctx.params, "timestamp", "no_item_specified");
      ctx.ws.react(callerUser(ctx), ch, ts, need(ctx.params, "name", "invalid_name"));
      return {};
    },
  },

  "reactions.remove": {
    tokens: HUMAN_OR_BOT,
    run(ctx) {
      const ch = readable(ctx, str(ctx.params, "channel"));
      const ts = need(ctx.params, "timestamp", "no_item_specified");
      ctx.ws.unreact(callerUser(ctx), ch, ts, need(ctx.params, "name", "invalid_name"));
      return {};
    },
  },

  "reactions.get": {
    tokens: HUMAN_OR_BOT,
    run(ctx) {
      const ch = readable(ctx, str(ctx.params, "channel"));
      const msg = ctx.ws.message(ch, need(ctx.params, "timestamp", "no_item_specified"));
      return { type: "message", channel: ch.id, message: copy(msg) };
    },
  },

  "emoji.list": {
    tokens: HUMAN_OR_BOT,
    run(ctx) {
      return { emoji: Object.fromEntries(ctx.ws.emoji), cache_ts: `${Math.floor(Date.now() / 1000)}.000000` };
    },
  },

  "files.info": {
    tokens: HUMAN_OR_BOT,
    run(ctx) {
      const file = findFile(ctx, need(ctx.params, "file", "file_not_found"));
      return {
        file: fileInfoObject(file, ctx.ws.team, ctx.ws.urls, ctx.ws.channels),
        comments: [],
        response_metadata: { next_cursor: "" },
      };
    },
  },

  "files.upload": {
    tokens: HUMAN_OR_BOT,
    run() {
      // Retired by Slack on 2025-11-12; clients must use the external upload flow (files.uploadV2).
      throw new SlackApiError("method_deprecated");
    },
  },

  "files.getUploadURLExternal": {
    tokens: HUMAN_OR_BOT,
    run(ctx) {
      const filename = need(ctx.params, "filename", "invalid_arguments");
      const length = Number(need(ctx.params, "length", "invalid_arguments"));
      if (!Number.isInteger(length) || length < 0) throw new SlackApiError("invalid_arguments", "length");
      const { file, uploadId } = ctx.ws.reserveUpload(callerUser(ctx), filename, length);
      return { upload_url: ctx.uploadUrl(uploadId), file_id: file.id };
    },
  },

  "files.completeUploadExternal": {
    tokens: HUMAN_OR_BOT,
    run(ctx) {
      const p = ctx.params;
      const me = callerUser(ctx);
      const list = json(p, "files", "invalid_arguments");
      if (!Array.isArray(list) || list.length === 0) throw new SlackApiError("invalid_arguments", "files");
      const files = list.map((entry: unknown) => {
        const { id, title } = (entry ?? {}) as { id?: unknown; title?: unknown };
        const file = typeof id === "string" ? ctx.ws.files.get(id) : undefined;
        if (!file || file.user !== me) throw new SlackApiError("file_not_found", String(id));
        if (file.data === undefined) throw new SlackApiError("file_upload_not_completed", file.id);
        if (typeof title === "string" && title !== "") file.title = title;
        return file;
      });
      const channelId = str(p, "channel_id") ?? str(p, "channels");
      if (channelId !== undefined && channelId !== "") {
        const ch = postTarget(ctx, channelId);
        const blocks = blocksParam(p);
        const threadTs = str(p, "thread_ts");
        ctx.ws.shareFiles({ userId: me }, ch, files, {
          text: str(p, "initial_comment") ?? "",
          ...(threadTs !== undefined && threadTs !== "" ? { threadTs } : {}),
          ...(blocks !== undefined ? { blocks } : {}),
        });
      }
      return { files: files.map((f) => ({ id: f.id, title: f.title ?? f.name })) };
    },
  },
};

function personaOf(ctx: MethodContext): { persona?: Persona } {
  const p = ctx.params;
  if (ctx.caller.kind !== "bot" || bool(p, "as_user")) return {};
  const username = str(p, "username");
  const iconUrl = str(p, "icon_url");
  const iconEmoji = str(p, "icon_emoji");
  if (username === undefined && iconUrl === undefined && iconEmoji === undefined) return {};
  return {
    persona: {
      ...(username !== undefined ? { username } : {}),
      ...(iconUrl !== undefined ? { iconUrl } : {}),
      ...(iconEmoji !== undefined ? { iconEmoji } : {}),
    },
  };
}

function threadOf(p: Params): { threadTs?: string; broadcast?: boolean } {
  const threadTs = str(p, "thread_ts");
  if (threadTs === undefined || threadTs === "") return {};
  return { threadTs, broadcast: bool(p, "reply_broadcast") };
}
