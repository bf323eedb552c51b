import type { Logger } from "pino";
import type { BridgeContext, ChatRef, MatrixSender, RemoteUser } from "@switchboard/framework";
import { BridgeStoppingError } from "@switchboard/framework";
import type { IrcErrorEvent, MessageEvent } from "irc-framework";
import type { IrcNetworkConfig } from "./config.js";
import { IrcConnection } from "./connection.js";
import { maskMatches } from "./masks.js";
import { OperatorMirror } from "./operators.js";
import { ConnectLimiter, ServerReachability } from "./pacing.js";
import { JOIN_REFUSALS, refusalNotice, type Refused } from "./refusals.js";
import {
  ircToMatrix,
  nickCandidates,
  nickFromDisplayName,
  nickTemplateSuffix,
  sanitizeIrcText,
} from "./format/index.js";
import { channelId, userId } from "./ids.js";

/**
 * One IRC network: the bridge bot's connection, which sits in every bridged channel and
 * hears everything, and a puppet connection per Matrix user who speaks there. IRC →
 * Matrix comes only from the bot's connection (one copy of each line); Matrix → IRC goes
 * out through the sender's puppet, or the bot when puppets are not possible.
 */

export interface Puppet {
  conn: IrcConnection;
  matrixUserId: string;
  displayname: string;
}

export interface NetworkStats {
  network: string;
  botReady: boolean;
  /** TCP connections the bot's connection opened since start. */
  botAttempts: number;
  puppets: number;
  puppetsReady: number;
  /** TCP connections all puppets opened since start, and the most one puppet opened. */
  puppetAttempts: number;
  maxPuppetAttempts: number;
}

interface SavedPuppet {
  userId: string;
  displayname: string;
  channels: string[];
}

export class IrcNetwork {
  readonly limiter: ConnectLimiter;
  /** Whether the server answers (the bot's connection tells); puppets wait on it after an outage. */
  readonly server = new ServerReachability();
  bot!: IrcConnection;
  private readonly puppets = new Map<string, Puppet>();
  /** Lower-cased nicks of our puppets: their lines are echoes, not remote messages. */
  private readonly puppetNicks = new Map<string, string>();
  /** Channel → members from NAMES and joins (lower-cased nick → nick), kept by the bot's connection. */
  readonly members = new Map<string, Map<string, string>>();
  readonly topics = new Map<string, string>();
  /** Channel modes without a member or list behind them (n, t, i, k, s, p, …). */
  readonly modes = new Map<string, Set<string>>();
  /** Channels the bot was refused (lower-cased → the IRC error): told to each Matrix user who joins. */
  private readonly refused = new Map<string, { error: string; reason?: string }>();
  private readonly namesWaiters = new Map<string, Array<(joined: boolean) => void>>();
  private idleSweep: NodeJS.Timeout | null = null;
  private readonly told = new Set<string>();
  readonly operators: OperatorMirror;

  constructor(
    readonly name: string,
    readonly config: IrcNetworkConfig,
    private readonly ctx: BridgeContext,
    private readonly log: Logger,
    /** Stored NickServ/SASL passwords, per Matrix user. */
    private readonly passwordFor: (matrixUserId: string) => Promise<string | null>,
    private readonly nickFor: (matrixUserId: string) => Promise<string | null>,
  ) {
    this.limiter = new ConnectLimiter(config.connect_concurrency);
    this.operators = new OperatorMirror(this, ctx);
    const where = `${config.host}:${config.port}`;
    this.server.onSet = (up) =>
      ctx.reportState({
        connection: name,
        state: up ? "CONNECTED" : "TRANSIENT_DISCONNECT",
        message: up ? `connected to ${where}` : `no connection to ${where}; reconnecting`,
      });
  }

  /** The configured key of a +k channel (keys are looked up case-insensitively, like channels). */
  keyFor(channel: string): string | undefined {
    const k = this.lower(channel);
    for (const [name, key] of Object.entries(this.config.channel_keys))
      if (this.lower(name) === k) return key;
    return undefined;
  }

  lower(s: string): string {
    return this.bot.lower(s);
  }

  async start(): Promise<void> {
    const c = this.config;
    this.ctx.reportState({
      connection: this.name,
      state: "CONNECTING",
      message: `connecting to ${c.host}:${c.port}`,
    });
    this.bot = new IrcConnection({
      config: c,
      nick: c.bot_nick,
      username: "switchboard",
      realname: "Switchboard Matrix bridge",
      nextNick: (n) => `${c.bot_nick}${n}`,
      sasl: c.sasl ? { account: c.sasl.username, password: c.sasl.password } : undefined,
      limiter: this.limiter,
      leads: true,
      server: this.server,
      log: this.log.child({ conn: "bot" }),
    });
    this.listen(this.bot);
    await this.bot.start();
    for (const chat of await this.ctx.linkedChats()) {
      const channel = this.channelOf(chat);
      if (channel && !chat.receiver) this.bot.join(channel, this.keyFor(channel));
    }
    void this.restorePuppets();
    if (c.idle_timeout_seconds > 0) {
      // One sweep for all puppets instead of a timer each.
      this.idleSweep = setInterval(() => this.sweepIdle(), Math.min(60_000, c.idle_timeout_seconds * 500));
      this.idleSweep.unref();
    }
  }

  /** Puppets that were connected before a restart come back, paced by the connect limiter. */
  private async restorePuppets(): Promise<void> {
    const saved = (await this.ctx.kvGet<SavedPuppet[]>(`puppets:${this.name}`)) ?? [];
    await Promise.all(
      saved.map(async (p) => {
        try {
          const conn = await this.puppetFor({ userId: p.userId, displayname: p.displayname });
          for (const channel of p.channels) conn?.join(channel, this.keyFor(channel));
        } catch (err) {
          this.log.warn({ err: String(err), userId: p.userId }, "could not restore a puppet connection");
        }
      }),
    );
    if (saved.length > 0) this.log.info({ puppets: saved.length }, "puppet connections restored");
  }

  private saveTimer: NodeJS.Timeout | null = null;
  /** Remembers which puppets are connected where (debounced), for the next start. */
  private savePuppets(): void {
    if (this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = null;
      const list: SavedPuppet[] = [...this.puppets.values()].map((p) => ({
        userId: p.matrixUserId,
        displayname: p.displayname,
        channels: p.conn.channels(),
      }));
      void this.ctx.kvSet(`puppets:${this.name}`, list).catch(() => undefined);
    }, 1000);
    this.saveTimer.unref();
  }

  stop(): void {
    if (this.idleSweep) clearInterval(this.idleSweep);
    if (this.saveTimer) clearTimeout(this.saveTimer);
    for (const p of this.puppets.values()) p.conn.stop("Bridge shutting down");
    this.puppets.clear();
    this.bot?.stop("Bridge shutting down");
  }

  channelOf(chat: ChatRef): string | null {
    const prefix = `${this.name}/`;
    return chat.channelId.startsWith(prefix) ? chat.channelId.slice(prefix.length) : null;
  }

  isOurNick(nick: string): boolean {
    return this.bot.isMe(nick) || this.puppetNicks.has(this.lower(nick));
  }

  /**
   * The bot joins the channel and waits for NAMES, so topic and members are known. False when
   * it could not join: `refusal` then says why if the server said so (a timeout says nothing).
   */
  async ensureBotIn(channel: string, timeoutMs = 10_000): Promise<boolean> {
    const k = this.lower(channel);
    if (this.bot.inChannel(channel) && this.members.has(k)) return true;
    const names = new Promise<boolean>((resolve) => {
      const list = this.namesWaiters.get(k) ?? [];
      list.push(resolve);
      this.namesWaiters.set(k, list);
      setTimeout(() => resolve(false), timeoutMs).unref();
    });
    const asked = this.bot.join(channel, this.keyFor(channel));
    // Refused moments ago and not asked again yet: no other answer is coming.
    if (!asked && this.refused.has(k)) this.settleNames(k, false);
    return names;
  }

  /** Why the bot is kept out of a channel (banned, +i, +k, full), in words for the room; null if it is not. */
  refusal(channel: string): string | null {
    const r = this.refused.get(this.lower(channel));
    if (!r) return null;
    return refusalNotice({ ...r, channel, network: this.name }, { bot: this.bot.nick });
  }

  private settleNames(k: string, joined: boolean): void {
    for (const w of this.namesWaiters.get(k) ?? []) w(joined);
    this.namesWaiters.delete(k);
  }

  private listen(conn: IrcConnection): void {
    const c = conn.client;
    c.on("privmsg", (e) => void this.onMessage(e, "text", conn));
    c.on("notice", (e) => void this.onMessage(e, "notice", conn));
    c.on("action", (e) => void this.onMessage(e, "emote", conn));
    // Every connection's refusals (a puppet's join or line too), so none goes unexplained.
    c.on("irc error", (e) => void this.onIrcError(e, conn));
    // Invited into a channel we are kept out of (+i): try again.
    c.on("invite", (e) => {
      if (conn.isMe(e.invited)) conn.rejoin(e.channel);
    });
    // The rest is the channel's state, which the bot alone keeps.
    if (conn !== this.bot) return;
    c.on("userlist", (e) => {
      const k = this.lower(e.channel);
      this.members.set(k, new Map(e.users.map((u) => [this.lower(u.nick), u.nick])));
      this.refused.delete(k);
      this.settleNames(k, true);
    });
    c.on("topic", (e) => {
      const k = this.lower(e.channel);
      const had = this.topics.has(k);
      this.topics.set(k, e.topic);
      // Only a change (not the topic sent on join) is news for Matrix.
      if (had && e.nick) void this.emit({ type: "chat-update", chat: this.chat(e.channel), topic: e.topic });
    });
    c.on("join", (e) => {
      const k = this.lower(e.channel);
      this.members.get(k)?.set(this.lower(e.nick), e.nick);
      if (this.isOurNick(e.nick) || !this.config.sync_membership.irc_to_matrix) return;
      void this.emit({
        type: "member",
        chat: this.chat(e.channel),
        user: this.user(e.nick),
        membership: "join",
      });
    });
    c.on("part", (e) => {
      this.members.get(this.lower(e.channel))?.delete(this.lower(e.nick));
      if (this.isOurNick(e.nick) || !this.config.sync_membership.irc_to_matrix) return;
      void this.emit({
        type: "member",
        chat: this.chat(e.channel),
        user: this.user(e.nick),
        membership: "leave",
        reason: e.message,
      });
    });
    c.on("kick", (e) => {
      this.members.get(this.lower(e.channel))?.delete(this.lower(e.kicked));
      if (this.isOurNick(e.kicked)) {
        if (this.bot.isMe(e.kicked))
          void this.ctx.noticeInChat(
            this.chat(e.channel),
            `The bridge was kicked from ${e.channel} by ${e.nick}: ${e.message ?? ""}. Nothing crosses until it can rejoin.`,
          );
        return;
      }
      void this.emit({
        type: "member",
        chat: this.chat(e.channel),
        user: this.user(e.kicked),
        membership: "kick",
        by: e.nick,
        reason: e.message,
      });
    });
    c.on("quit", (e) => {
      if (this.isOurNick(e.nick)) return;
      for (const [k, members] of this.members) {
        if (!members.delete(this.lower(e.nick))) continue;
        if (this.config.sync_membership.irc_to_matrix) {
          void this.emit({
            type: "member",
            chat: this.chat(k),
            user: this.user(e.nick),
            membership: "leave",
            reason: e.message,
          });
        }
      }
    });
    c.on("nick", (e) => {
      if (this.isOurNick(e.nick) || this.isOurNick(e.new_nick)) return;
      // Ghosts are per nick (IRC has no stable account id): the new nick's ghost joins, the old one leaves.
      for (const [channelKey, members] of this.members) {
        if (!members.delete(this.lower(e.nick))) continue;
        members.set(this.lower(e.new_nick), e.new_nick);
        const chat = { channelId: channelId(this.name, channelKey) };
        void this.emit({ type: "member", chat, user: this.user(e.new_nick), membership: "join" });
        void this.emit({
          type: "member",
          chat,
          user: this.user(e.nick),
          membership: "leave",
          reason: `now known as ${e.new_nick}`,
        });
      }
    });
    c.on("mode", (e) => {
      if (!/^[#&+!]/.test(e.target)) return;
      const set = this.modes.get(this.lower(e.target)) ?? new Set<string>();
      for (const m of e.modes) {
        const flag = m.mode.slice(1);
        if (MEMBER_AND_LIST_MODES.has(flag)) continue;
        if (m.mode.startsWith("+")) set.add(flag);
        else set.delete(flag);
      }
      this.modes.set(this.lower(e.target), set);
      // Operator status (+o nick) becomes the ghost's power level in the room.
      const level = this.config.ops_power_level;
      if (level <= 0) return;
      for (const m of e.modes) {
        if (m.mode.slice(1) !== "o" || !m.param || this.isOurNick(m.param)) continue;
        void this.emit({
          type: "power",
          chat: this.chat(e.target),
          userId: userId(this.name, this.lower(m.param)),
          level: m.mode.startsWith("+") ? level : 0,
        });
      }
    });
  }

  chat(channel: string): ChatRef {
    return { channelId: channelId(this.name, this.lower(channel)) };
  }

  user(nick: string): RemoteUser {
    return { id: userId(this.name, this.lower(nick)), displayname: nick };
  }

  private async emit(event: Parameters<BridgeContext["emit"]>[0]): Promise<void> {
    try {
      await this.ctx.emit(event);
    } catch (err) {
      if (err instanceof BridgeStoppingError) return;
      this.log.error({ err: String(err) }, "could not hand an IRC event to the bridge");
    }
  }

  private async onMessage(
    e: MessageEvent,
    kind: "text" | "notice" | "emote",
    conn: IrcConnection,
  ): Promise<void> {
    if (e.from_server || !e.nick || this.isOurNick(e.nick)) return;
    const toChannel = /^[#&+!]/.test(e.target);
    // Channel lines are heard by the bot only, so each arrives once.
    if (toChannel && conn !== this.bot) return;
    let chat: ChatRef;
    if (toChannel) {
      chat = this.chat(e.target);
    } else {
      const puppet = [...this.puppets.values()].find((p) => p.conn === conn);
      if (!puppet) return; // a private message to the bot itself
      chat = { channelId: userId(this.name, this.lower(e.nick)), receiver: puppet.matrixUserId };
    }
    const converted = ircToMatrix(e.message, {
      mentionHtml: (nick) => {
        if (!toChannel) return null;
        const puppet = [...this.puppets.values()].find((p) => p.conn.isMe(nick));
        if (puppet)
          return `<a href="https://matrix.to/#/${encodeURIComponent(puppet.matrixUserId)}">${nick}</a>`;
        const member = this.members.get(this.lower(e.target))?.get(this.lower(nick));
        return member ? this.ctx.mentionHtml(userId(this.name, this.lower(member)), member) : null;
      },
    });
    await this.emit({
      type: "message",
      chat,
      sender: { userId: userId(this.name, this.lower(e.nick)), displayname: e.nick },
      timestamp: e.time ?? Date.now(),
      content: { kind, text: converted.body, html: converted.html },
    });
  }

  private async onIrcError(e: IrcErrorEvent, conn: IrcConnection): Promise<void> {
    if (!e.channel) return;
    const k = this.lower(e.channel);
    if (conn === this.bot && JOIN_REFUSALS.has(e.error)) {
      this.refused.set(k, { error: e.error, reason: e.reason });
      this.settleNames(k, false);
    }
    let who: Refused = { bot: this.bot.nick };
    if (conn !== this.bot) {
      const puppet = [...this.puppets.values()].find((p) => p.conn === conn);
      if (!puppet) return;
      who = { puppet: conn.nick, displayname: puppet.displayname };
    }
    // A ban keeps a connection out (474) and then mutes it (404): one notice for both.
    const banLike = e.error === "banned_from_channel" || e.error === "cannot_send_to_channel";
    const key = `${conn.nick} ${banLike ? "ban" : e.error} ${k}`;
    // Never silent: the room hears why, once per cause and minute.
    if (this.told.has(key)) return;
    this.told.add(key);
    setTimeout(() => this.told.delete(key), 60_000).unref();
    const ban = banLike ? await this.banMatching(e.channel, conn) : null;
    const text = refusalNotice(
      { error: e.error, channel: e.channel, network: this.name, reason: e.reason, ban },
      who,
    );
    if (text) await this.ctx.noticeInChat(this.chat(e.channel), text);
  }

  /** The channel's ban that covers this connection, asked of the server (bans set before we came are not in any event). */
  private async banMatching(channel: string, conn: IrcConnection): Promise<string | null> {
    const hostmask = conn.hostmask ?? `${conn.nick}!*@*`;
    const bans = await this.banList(channel);
    return bans.find((mask) => maskMatches(mask, hostmask, (s) => this.lower(s))) ?? null;
  }

  private banList(channel: string, timeoutMs = 3000): Promise<string[]> {
    const client = this.bot.client;
    return new Promise((resolve) => {
      const onList = (e: { channel: string; bans: Array<{ banned: string }> }) => {
        if (this.lower(e.channel) === this.lower(channel)) finish(e.bans.map((b) => b.banned));
      };
      const finish = (bans: string[]) => {
        clearTimeout(timer);
        client.off("banlist", onList);
        resolve(bans);
      };
      const timer = setTimeout(() => finish([]), timeoutMs);
      client.on("banlist", onList);
      this.bot.send("MODE", channel, "+b");
    });
  }

  /** The puppet for a Matrix user, connecting it if needed; null means: relay through the bot. */
  async puppetFor(sender: MatrixSender): Promise<IrcConnection | null> {
    const existing = this.puppets.get(sender.userId);
    if (existing) {
      existing.conn.lastActive = Date.now();
      return existing.conn;
    }
    if (this.config.excluded_users.some((re) => new RegExp(re).test(sender.userId))) return null;
    if (this.puppets.size >= this.config.max_clients) return null;
    const localpart = sender.userId.slice(1, sender.userId.indexOf(":"));
    const chosen =
      (await this.nickFor(sender.userId)) ??
      nickFromDisplayName(sender.displayname, this.config.nick_template);
    const suffix = nickTemplateSuffix(this.config.nick_template);
    const candidates = [...take(nickCandidates(chosen, 30, chosen.endsWith(suffix) ? suffix : ""), 50)];
    const password = await this.passwordFor(sender.userId);
    const conn = new IrcConnection({
      config: this.config,
      nick: chosen,
      username: sanitizeIdent(this.config.ident_template.replace("{localpart}", localpart)),
      realname:
        sanitizeIrcText(this.config.realname_template.replace("{userId}", sender.userId)).slice(0, 100) ||
        "Matrix user",
      nextNick: (n) => candidates[n % candidates.length] ?? `${chosen}${n}`,
      sasl: password ? { account: chosen, password } : undefined,
      limiter: this.limiter,
      leads: false,
      server: this.server,
      log: this.log.child({ conn: sender.userId }),
    });
    const puppet = { conn, matrixUserId: sender.userId, displayname: sender.displayname };
    this.puppets.set(sender.userId, puppet);
    this.listen(conn);
    conn.client.on("registered", (e) => {
      for (const [nick, owner] of this.puppetNicks)
        if (owner === sender.userId) this.puppetNicks.delete(nick);
      this.puppetNicks.set(this.lower(e.nick), sender.userId);
    });
    conn.client.on("nick", (e) => {
      if (!conn.isMe(e.new_nick)) return;
      this.puppetNicks.delete(this.lower(e.nick));
      this.puppetNicks.set(this.lower(e.new_nick), sender.userId);
    });
    // Reserve the nick before registration so our own join is never mistaken for a remote user.
    this.puppetNicks.set(this.lower(chosen), sender.userId);
    conn.client.on("join", () => this.savePuppets());
    conn.client.on("part", () => this.savePuppets());
    await conn.start();
    this.savePuppets();
    return conn;
  }

  puppetOf(matrixUserId: string): IrcConnection | undefined {
    return this.puppets.get(matrixUserId)?.conn;
  }

  allPuppets(): Puppet[] {
    return [...this.puppets.values()];
  }

  /** Connection counts, for benchmarks and operators: how many puppets are up, and how hard they tried. */
  stats(): NetworkStats {
    let ready = 0;
    let attempts = 0;
    let maxAttempts = 0;
    for (const p of this.puppets.values()) {
      if (p.conn.isReady) ready++;
      attempts += p.conn.connectAttempts;
      maxAttempts = Math.max(maxAttempts, p.conn.connectAttempts);
    }
    return {
      network: this.name,
      botReady: this.bot.isReady,
      botAttempts: this.bot.connectAttempts,
      puppets: this.puppets.size,
      puppetsReady: ready,
      puppetAttempts: attempts,
      maxPuppetAttempts: maxAttempts,
    };
  }

  /** Quits a puppet (idle, `!quit`); it comes back on the user's next message. The Matrix side is untouched. */
  dropPuppet(matrixUserId: string, message: string): boolean {
    const p = this.puppets.get(matrixUserId);
    if (!p) return false;
    p.conn.stop(message);
    this.puppets.delete(matrixUserId);
    for (const [nick, owner] of this.puppetNicks) if (owner === matrixUserId) this.puppetNicks.delete(nick);
    this.savePuppets();
    return true;
  }

  private sweepIdle(): void {
    const cutoff = Date.now() - this.config.idle_timeout_seconds * 1000;
    for (const p of [...this.puppets.values()])
      if (p.conn.lastActive < cutoff) this.dropPuppet(p.matrixUserId, "Idle");
  }
}

/** Modes that are about a member (o, v, …) or a list (bans, exceptions), not a property of the channel. */
const MEMBER_AND_LIST_MODES = new Set(["q", "a", "o", "h", "v", "b", "e", "I"]);

function* take<T>(it: Iterable<T>, n: number): Generator<T> {
  let i = 0;
  for (const v of it) {
    if (i++ >= n) return;
    yield v;
  }
}

/** Idents allow few characters; keep what IRC servers accept everywhere. */
function sanitizeIdent(s: string): string {
  return (
    s
      .toLowerCase()
      .replace(/[^a-z0-9_-]/g, "")
      .slice(0, 10) || "matrix"
  );
}
