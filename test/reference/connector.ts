import { randomBytes } from "node:crypto";
import { setMaxListeners } from "node:events";
import { Agent, request } from "undici";
import { setTimeout as sleep } from "node:timers/promises";
import { Type, type Static } from "@sinclair/typebox";
import type {
  BridgeContent,
  BridgeContext,
  ChatCapabilities,
  ChatInfo,
  ChatRef,
  Connector,
  DeletesMessages,
  DetectsForeignBridges,
  EditsMessages,
  FetchesMedia,
  HasLogins,
  ListsMembers,
  LoginClient,
  LoginProcess,
  MarksRead,
  MatrixMessage,
  MediaRef,
  MessageRef,
  NetworkClient,
  Reacts,
  RemoteSender,
  RemoteUser,
  SendResult,
  SendsTyping,
} from "@switchboard/framework";
import {
  BridgeSectionCommon,
  fetchUrl,
  PermanentError,
  RateLimitedError,
  UnsupportedError,
} from "@switchboard/framework";
import type { ToyEvent } from "./toy-network.js";

/**
 * The reference connector: the framework's contract implemented for the toy network, in
 * the shape a real bridge takes (a connector, a client per account, translation; nothing
 * Matrix-specific). The framework's end-to-end tests and benchmarks run on it; it is not
 * shipped. With `bot: false` it is a network without a bot account (like Signal): rooms
 * relay through a login a room admin chose.
 */

export const ReferenceConfigSchema = Type.Object(
  {
    ...BridgeSectionCommon,
    url: Type.String({ format: "uri", description: "The toy network's base URL" }),
    token: Type.String({ minLength: 1, description: "The bridge's relay account token on the toy network" }),
    bot: Type.Boolean({
      default: true,
      description: "Act as a bot that relays; false: a network without a bot (reads events only)",
    }),
  },
  { additionalProperties: false },
);
type ReferenceConfig = Static<typeof ReferenceConfigSchema>;

const CAPABILITIES: ChatCapabilities = {
  edits: true,
  replies: true,
  threads: true,
  reactions: true,
  redactions: true,
  typing: true,
  readReceipts: true,
  media: true,
};

type Api = <T>(path: string, body?: unknown, token?: string) => Promise<T>;

/**
 * One toy account acting for Matrix users: the bridge's relay account (the bot) or a user's
 * login. What a relayed message looks like differs: the bot account may set a display name
 * per message (`relayName`, like a Slack bot's username); a login can only write the name in.
 */
class ToyClient implements NetworkClient, EditsMessages, DeletesMessages, Reacts, ListsMembers {
  constructor(
    protected readonly api: Api,
    protected readonly baseUrl: string,
    readonly token: string,
    private readonly isBot: boolean,
    protected readonly describe: (chat: ChatRef, viewer: string | null) => Promise<ChatInfo | null>,
  ) {}

  capabilities(_chat: ChatRef): ChatCapabilities {
    return CAPABILITIES;
  }

  getChat(chat: ChatRef): Promise<ChatInfo | null> {
    return this.describe(chat, null);
  }

  async getMembers(chat: ChatRef): Promise<RemoteUser[]> {
    const { members } = await this.api<{ members: Array<{ id: string; name: string }> }>(
      `/channels/${encodeURIComponent(chat.channelId)}/members`,
      undefined,
      this.token,
    );
    return members.filter((m) => m.id !== "bridge").map((m) => ({ id: m.id, displayname: m.name }));
  }

  async sendMessage(msg: MatrixMessage): Promise<SendResult> {
    const relayed = msg.sender.relayed;
    let text = msg.content.text;
    let html = msg.content.html;
    if (msg.content.kind === "emote") {
      text = `* ${msg.sender.displayname} ${text}`;
      html = undefined;
    } else if (relayed && !this.isBot) {
      // A person's account relaying for someone else says who wrote it.
      text = `${msg.sender.displayname}: ${text}`;
      html = html === undefined ? undefined : `<b>${escapeHtml(msg.sender.displayname)}</b>: ${html}`;
    }
    let file: string | undefined;
    if (msg.content.media?.download) {
      const data = await msg.content.media.download();
      const up = await fetch(`${this.baseUrl}/upload?name=${encodeURIComponent(msg.content.media.name)}`, {
        method: "POST",
        headers: { authorization: `Bearer ${this.token}`, "content-type": msg.content.media.mimetype },
        body: data,
      });
      file = ((await up.json()) as { id: string }).id;
    }
    const res = await this.api<{ id: string; ts: number }>(
      "/send",
      {
        channel: msg.chat.channelId,
        text,
        html,
        kind: msg.content.kind === "notice" ? "notice" : msg.content.kind === "emote" ? "emote" : undefined,
        relayName: relayed && this.isBot ? msg.sender.displayname : undefined,
        replyTo: msg.replyTo?.remoteId,
        threadRoot: msg.threadRoot?.remoteId,
        file,
        // The Matrix event id makes the send idempotent: a replay after a crash cannot post twice.
        txn: msg.eventId,
      },
      this.token,
    );
    return { remoteId: res.id, timestamp: res.ts, meta: { channel: msg.chat.channelId } };
  }

  async editMessage(edit: { target: MessageRef; content: BridgeContent; eventId: string }): Promise<void> {
    await this.api(
      "/edit",
      { id: edit.target.remoteId, text: edit.content.text, html: edit.content.html, txn: edit.eventId },
      this.token,
    );
  }

  async deleteMessage(r: { target: MessageRef; eventId: string }): Promise<void> {
    await this.api("/delete", { id: r.target.remoteId, txn: r.eventId }, this.token);
  }

  async react(r: { target: MessageRef; key: string; eventId: string }): Promise<SendResult> {
    await this.api("/react", { id: r.target.remoteId, key: r.key, txn: r.eventId }, this.token);
    return {};
  }

  async unreact(r: { target: MessageRef; key: string }): Promise<void> {
    await this.api("/unreact", { id: r.target.remoteId, key: r.key }, this.token);
  }
}

/** A Matrix user's toy account: sends as them, marks read, shows typing, sees their DMs. */
class ToyLogin extends ToyClient implements LoginClient, MarksRead, SendsTyping {
  constructor(
    api: Api,
    baseUrl: string,
    token: string,
    describe: (chat: ChatRef, viewer: string | null) => Promise<ChatInfo | null>,
    readonly loginId: string,
    readonly matrixUserId: string,
    readonly remoteName: string,
    private readonly onClose: (login: ToyLogin) => void,
  ) {
    super(api, baseUrl, token, false, describe);
  }

  override getChat(chat: ChatRef): Promise<ChatInfo | null> {
    return this.describe(chat, this.loginId);
  }

  /** The toy network lets any account post in any channel; a DM is its receiver's alone. */
  inChat(chat: ChatRef): boolean {
    return !chat.receiver || chat.receiver === this.loginId;
  }

  async markRead(chat: ChatRef, target: MessageRef): Promise<void> {
    await this.api("/read", { channel: chat.channelId, upTo: target.remoteId }, this.token);
  }

  async setTyping(chat: ChatRef, typing: boolean): Promise<void> {
    await this.api("/typing", { channel: chat.channelId, typing: String(typing) }, this.token);
  }

  async disconnect(): Promise<void> {
    this.onClose(this);
  }
}

function escapeHtml(s: string): string {
  return s.replace(/[<>&"]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;" })[c] ?? c);
}

export class ReferenceConnector implements Connector, HasLogins, DetectsForeignBridges, FetchesMedia {
  readonly id = "reference";
  readonly displayName = "Toy network";
  readonly configSchema = ReferenceConfigSchema;
  readonly loginFlows = [
    { id: "token", name: "Token", description: "paste your toy network token" },
    {
      id: "qr",
      name: "QR code",
      description: "scan a QR code with the toy app (like linking a Signal device)",
    },
  ];
  bot?: NetworkClient;

  private ctx!: BridgeContext;
  private config!: ReferenceConfig;
  /** Marks our own API calls so their echoes in the event log are skipped. */
  private readonly origin = `bridge-${randomBytes(6).toString("hex")}`;
  private readonly logins = new Map<string, ToyLogin>();
  private readonly dmMembers = new Map<string, [string, string]>();
  /** Remote profiles by id; renames update it. */
  private readonly users = new Map<string, RemoteUser>();
  private pool = new Agent({ connections: 64, keepAliveTimeout: 30_000 });
  /** Toy users that are another Matrix bridge's puppets, learnt from their profiles. */
  private readonly puppetsOf = new Map<string, string>();
  private stopping = false;
  private poller: Promise<void> | null = null;
  private abort = new AbortController();
  private readonly callApi: Api = (path, body, token) => this.api(path, body, token);

  async start(ctx: BridgeContext): Promise<void> {
    this.ctx = ctx;
    this.config = ctx.config as unknown as ReferenceConfig;
    this.stopping = false;
    this.abort = new AbortController();
    // Every in-flight call listens on this one signal; hundreds at once are expected.
    setMaxListeners(0, this.abort.signal);
    this.bot =
      this.config.bot === false
        ? undefined
        : new ToyClient(this.callApi, this.config.url, this.config.token, true, (chat, viewer) =>
            this.describe(chat, viewer),
          );
    this.poller = this.poll();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.abort.abort();
    await this.poller?.catch(() => undefined);
    await this.pool.close();
    this.pool = new Agent({ connections: 64, keepAliveTimeout: 30_000 });
  }

  /** undici with a keep-alive pool: a fraction of fetch's cost per call. Only the long poll is abortable. */
  private async api<T>(path: string, body?: unknown, token = this.config.token): Promise<T> {
    const res = await request(`${this.config.url}${path}`, {
      method: body === undefined ? "GET" : "POST",
      headers: {
        authorization: `Bearer ${token}`,
        "content-type": "application/json",
        "x-toy-origin": this.origin,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      dispatcher: this.pool,
      signal: path.startsWith("/events") ? this.abort.signal : undefined,
    });
    const json = (await res.body.json()) as T & { error?: string; retry_after_ms?: number };
    if (res.statusCode < 300) return json;
    // The toy network's answers as the framework's decisions (errors.ts), as a real connector maps its API's.
    const what = `toy network ${path}: ${json.error ?? res.statusCode}`;
    if (res.statusCode === 429) throw new RateLimitedError(json.retry_after_ms ?? 1000, what);
    if (res.statusCode === 501)
      throw new UnsupportedError(`The toy network cannot do this (${json.error ?? path}).`);
    if (res.statusCode === 403 || res.statusCode === 404) throw new PermanentError(what);
    throw new Error(what);
  }

  /** Reads the event log from the last acknowledged position; acks only after the framework has it durably. */
  private async poll(): Promise<void> {
    let cursor: number | null = null;
    let backoff = 200;
    let savedAt = 0;
    while (!this.stopping) {
      try {
        // Read inside the retry loop: a store that fails this once must not end polling for good.
        const after: number = (cursor ??= (await this.ctx.kvGet<number>("cursor")) ?? 0);
        const { events }: { events: Array<{ seq: number; event: ToyEvent }> } = await this.api(
          `/events?after=${after}&wait=20000`,
        );
        for (const { seq, event } of events) {
          await this.translate(event, seq);
          cursor = seq;
        }
        // The cursor is a hint (replays are deduplicated by key): write it at most once a second.
        if (events.length > 0 && Date.now() - savedAt > 1000) {
          await this.ctx.kvSet("cursor", cursor);
          savedAt = Date.now();
        }
        backoff = 200;
      } catch (err) {
        if (this.stopping) break;
        this.ctx.log.warn({ err: String(err) }, "toy network unreachable; retrying");
        await sleep(backoff).catch(() => undefined);
        backoff = Math.min(backoff * 2, 10_000);
      }
    }
    if (cursor !== null) await this.ctx.kvSet("cursor", cursor).catch(() => undefined);
  }

  private sender(userId: string): RemoteSender {
    const login = [...this.logins.values()].find((l) => l.loginId === userId);
    return { userId, fromLogin: login?.loginId };
  }

  /** DMs are scoped to the logged-in Matrix user who is in them (the chat's receiver). */
  private async chat(channel: string): Promise<ChatRef> {
    if (!channel.startsWith("dm-")) return { channelId: channel };
    let pair = this.dmMembers.get(channel);
    if (!pair) {
      const info = await this.api<{ dm: [string, string] | null }>(
        `/channels/${encodeURIComponent(channel)}`,
      );
      pair = info.dm ?? ["", ""];
      this.dmMembers.set(channel, pair);
    }
    const login = [...this.logins.values()].find((l) => pair.includes(l.loginId));
    return login ? { channelId: channel, receiver: login.loginId } : { channelId: channel };
  }

  private async translate(event: ToyEvent, seq: number): Promise<void> {
    const key = `toy:${seq}`;
    const isEcho = "origin" in event && event.origin === this.origin;
    if (isEcho) return;
    switch (event.type) {
      case "message": {
        if (event.sender === "bridge") return;
        const content: BridgeContent = {
          kind: event.kind === "file" ? "file" : event.kind,
          text: event.text,
          html: event.html,
        };
        if (event.file) {
          const file = event.file;
          content.kind = file.mimetype.startsWith("image/") ? "image" : "file";
          // Only the address crosses the journal; fetchMedia adds the token when it is bridged.
          content.media = {
            name: file.name,
            mimetype: file.mimetype,
            remote: { url: `${this.config.url}/files/${encodeURIComponent(file.id)}` },
          };
        }
        const user = await this.getUser(event.sender);
        await this.ctx.emit(
          {
            type: "message",
            chat: await this.chat(event.channel),
            id: event.id,
            sender: { ...this.sender(event.sender), displayname: user?.displayname },
            timestamp: event.ts,
            content,
            replyTo: event.replyTo,
            threadRoot: event.threadRoot,
          },
          { key },
        );
        return;
      }
      case "edit":
        return this.ctx.emit(
          {
            type: "edit",
            chat: await this.chat(event.channel),
            id: event.id,
            sender: this.sender(event.sender),
            timestamp: event.ts,
            content: { kind: "text", text: event.text, html: event.html },
          },
          { key },
        );
      case "delete":
        return this.ctx.emit(
          {
            type: "delete",
            chat: await this.chat(event.channel),
            id: event.id,
            sender: this.sender(event.sender),
          },
          { key },
        );
      case "react":
        return this.ctx.emit(
          {
            type: "reaction",
            chat: await this.chat(event.channel),
            id: event.id,
            sender: this.sender(event.sender),
            key: event.key,
            timestamp: event.ts,
          },
          { key },
        );
      case "unreact":
        return this.ctx.emit(
          {
            type: "reaction-remove",
            chat: await this.chat(event.channel),
            id: event.id,
            sender: this.sender(event.sender),
            key: event.key,
          },
          { key },
        );
      case "join":
      case "leave": {
        const user = (await this.getUser(event.user)) ?? { id: event.user };
        const chat = await this.chat(event.channel);
        if (this.logins.has(event.user)) {
          // One of our logins joined or left: its portal follows (see the framework's login-membership).
          await this.ctx.emit(
            { type: "login-membership", chat, loginId: event.user, membership: event.type },
            { key: `${key}:login` },
          );
        }
        return this.ctx.emit({ type: "member", chat, user, membership: event.type }, { key });
      }
      case "rename":
        this.users.set(event.user, { id: event.user, displayname: event.name });
        return this.ctx.emit({ type: "profile", user: { id: event.user, displayname: event.name } }, { key });
      case "read":
        return this.ctx.emit(
          {
            type: "read",
            chat: await this.chat(event.channel),
            userId: event.user,
            upTo: event.upTo,
            fromLogin: this.sender(event.user).fromLogin,
          },
          { key },
        );
      case "typing":
        return this.ctx.emit(
          { type: "typing", chat: await this.chat(event.channel), userId: event.user, typing: event.typing },
          { key },
        );
    }
  }

  async fetchMedia(ref: MediaRef): Promise<{ data: Buffer; mimetype?: string }> {
    if (!ref.url.startsWith(`${this.config.url}/`))
      throw new PermanentError(`not a toy network file: ${ref.url}`);
    return fetchUrl(ref.url, { authorization: `Bearer ${this.config.token}` });
  }

  /** A chat as an account sees it; `viewer` (a login id) decides who "the other side" of a DM is. */
  private async describe(chat: ChatRef, viewer: string | null): Promise<ChatInfo | null> {
    try {
      const c = await this.api<{ id: string; name: string; topic: string; dm: [string, string] | null }>(
        `/channels/${encodeURIComponent(chat.channelId)}`,
      );
      if (c.dm) {
        const me = viewer ?? chat.receiver;
        const other = c.dm.find((u) => u !== me) ?? c.dm[0];
        return { name: c.name, isDirect: true, otherUser: (await this.getUser(other)) ?? { id: other } };
      }
      return { name: c.name, topic: c.topic || undefined };
    } catch {
      return null;
    }
  }

  async getUser(userId: string): Promise<RemoteUser | null> {
    const known = this.users.get(userId);
    if (known) return known;
    try {
      const u = await this.api<{ id: string; name: string; matrixId: string | null }>(
        `/users/${encodeURIComponent(userId)}`,
      );
      if (u.matrixId) this.puppetsOf.set(u.id, u.matrixId);
      const user = { id: u.id, displayname: u.name };
      this.users.set(u.id, user);
      return user;
    } catch {
      return null;
    }
  }

  chatFromAlias(aliasSuffix: string): ChatRef | null {
    return /^[a-z0-9-]+$/.test(aliasSuffix) && !aliasSuffix.startsWith("dm-")
      ? { channelId: aliasSuffix }
      : null;
  }

  aliasFor(chat: ChatRef): string | null {
    return chat.receiver ? null : chat.channelId;
  }

  /** Toy users who are puppets of Matrix users (another bridge's "alice[m]"). */
  foreignPuppetOf(user: RemoteSender): string | true | null {
    return this.puppetsOf.get(user.userId) ?? (user.userId.endsWith("[m]") ? true : null);
  }

  createLogin(flowId: string, _matrixUserId: string): LoginProcess {
    const complete = async (token: string) => {
      const who = await this.api<{ id: string; name: string }>("/whoami", undefined, token);
      return { type: "complete" as const, loginId: who.id, remoteName: who.name, credentials: { token } };
    };
    if (flowId === "qr") {
      const abort = new AbortController();
      let code = "";
      return {
        start: async () => {
          ({ code } = await this.api<{ code: string }>("/link/start", {}));
          return {
            type: "display",
            instructions: "Scan this QR code with the toy app.",
            qr: `toy://link/${code}`,
          };
        },
        wait: async () => {
          const res = await fetch(`${this.config.url}/link/wait?code=${code}`, { signal: abort.signal });
          const { token } = (await res.json()) as { token: string };
          return complete(token);
        },
        cancel: () => abort.abort(),
      };
    }
    return {
      start: async () => ({
        type: "input",
        instructions: "Log in to the toy network with your token.",
        fields: [{ id: "token", name: "token", secret: true }],
      }),
      submit: async (values) => complete(values.token ?? ""),
      cancel: () => undefined,
    };
  }

  async loadLogin(login: {
    loginId: string;
    matrixUserId: string;
    remoteName: string;
    credentials: unknown;
  }): Promise<LoginClient> {
    const { token } = login.credentials as { token: string };
    await this.api("/whoami", undefined, token);
    const loaded = new ToyLogin(
      this.callApi,
      this.config.url,
      token,
      (chat, viewer) => this.describe(chat, viewer),
      login.loginId,
      login.matrixUserId,
      login.remoteName,
      (l) => this.logins.delete(l.loginId),
    );
    this.logins.set(login.loginId, loaded);
    return loaded;
  }
}
