import type { Logger } from "pino";
import type { BridgeContext, ChatRef, ForeignPuppet, RemoteUser } from "@switchboard/framework";
import { ChannelState } from "./channels.js";
import type { IrcNetworkConfig } from "./config.js";
import { IrcConnection } from "./connection.js";
import { channelId, userId } from "./ids.js";
import { FloodGate } from "./flood.js";
import { Realnames, classifyForeign, foreignRules, type ForeignRules } from "./foreign-puppets.js";
import { IgnoreList } from "./ignores.js";
import { IrcIn } from "./irc-in.js";
import { OperatorMirror } from "./operators.js";
import { ConnectLimiter, ServerReachability } from "./pacing.js";
import { PuppetPool } from "./puppets.js";
import { RefusalNotices, refusalNotice } from "./refusals.js";

/**
 * One IRC network: the bridge bot's connection, which sits in every bridged channel and
 * hears everything, and the puppet connections of Matrix users who speak there. This is the
 * coordinator; each job has its module: what the channels look like (`channels.ts`), what
 * IRC says in framework terms (`irc-in.ts`), the puppets (`puppets.ts`), why IRC refused
 * something (`refusals.ts`), power levels → +o (`operators.ts`). Matrix → IRC goes through
 * the clients (`bot-client.ts`, `puppet-client.ts`).
 */

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

/** How long a lookup waits for the bot to be in a channel (NAMES received). */
const BOT_JOIN_WAIT_MS = 10_000;

export class IrcNetwork {
  readonly limiter: ConnectLimiter;
  /** Whether the server answers (the bot's connection tells); puppets wait on it after an outage. */
  readonly server = new ServerReachability();
  bot!: IrcConnection;
  readonly channels: ChannelState;
  readonly puppets: PuppetPool;
  readonly refusals: RefusalNotices;
  readonly operators: OperatorMirror;
  readonly realnames: Realnames;
  readonly ignores: IgnoreList;
  readonly flood: FloodGate;
  private readonly foreignRules: ForeignRules;
  private readonly irc: IrcIn;

  constructor(
    readonly name: string,
    readonly config: IrcNetworkConfig,
    readonly ctx: BridgeContext,
    readonly log: Logger,
    stored: {
      /** A user's NickServ/SASL password and chosen nick on this network. */
      passwordFor: (matrixUserId: string) => Promise<string | null>;
      nickFor: (matrixUserId: string) => Promise<string | null>;
    },
  ) {
    const lower = (s: string) => this.lower(s);
    this.limiter = new ConnectLimiter(config.connect_concurrency);
    this.channels = new ChannelState(lower);
    this.foreignRules = foreignRules(name, config.foreign_bridges);
    this.realnames = new Realnames(() => this.bot, lower);
    this.ignores = new IgnoreList(name, ctx);
    this.flood = new FloodGate(config.flood);
    this.irc = new IrcIn(this);
    this.puppets = new PuppetPool({
      network: name,
      config,
      ctx,
      log,
      limiter: this.limiter,
      server: this.server,
      lower,
      keyFor: (channel) => this.keyFor(channel),
      ...stored,
      onConnection: (conn) => this.irc.listen(conn),
    });
    this.refusals = new RefusalNotices({
      network: name,
      lower,
      banList: (channel) => this.bot.banList(channel),
      notice: (channel, text) => ctx.noticeInChat(this.chat(channel), text),
    });
    this.operators = new OperatorMirror(this, ctx);
    const where = `${config.host}:${config.port}`;
    this.server.onSet = (up) =>
      ctx.reportState({
        connection: name,
        state: up ? "CONNECTED" : "TRANSIENT_DISCONNECT",
        message: up ? `connected to ${where}` : `no connection to ${where}; reconnecting`,
      });
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
    this.irc.listen(this.bot);
    await Promise.all([this.ignores.load(), this.operators.load()]);
    await this.bot.start();
    for (const chat of await this.ctx.linkedChats()) {
      const channel = this.channelOf(chat);
      if (channel && !chat.receiver) this.bot.join(channel, this.keyFor(channel));
    }
    this.puppets.start();
  }

  stop(): void {
    this.puppets.stop();
    this.bot?.stop("Bridge shutting down");
  }

  /** The configured key of a +k channel (keys are looked up case-insensitively, like channels). */
  keyFor(channel: string): string | undefined {
    const k = this.lower(channel);
    for (const [name, key] of Object.entries(this.config.channel_keys))
      if (this.lower(name) === k) return key;
    return undefined;
  }

  /** The server's case mapping. */
  lower(s: string): string {
    return this.bot.lower(s);
  }

  /** The channel (or nick, for a DM) a chat of this network names; null for another network's. */
  channelOf(chat: ChatRef): string | null {
    const prefix = `${this.name}/`;
    return chat.channelId.startsWith(prefix) ? chat.channelId.slice(prefix.length) : null;
  }

  chat(channel: string): ChatRef {
    return { channelId: channelId(this.name, this.lower(channel)) };
  }

  /** The remote user behind a nick; marked when another bridge's puppet (it then gets no ghost). */
  user(nick: string): RemoteUser {
    const foreign = this.foreignOf(nick);
    return { id: userId(this.name, this.lower(nick)), displayname: nick, ...(foreign ? { foreign } : {}) };
  }

  /** Whether an IRC user in the bot's channels is another Matrix bridge's puppet (see foreign-puppets.ts). */
  foreignOf(nick: string): ForeignPuppet | undefined {
    return classifyForeign(nick, this.realnames.get(nick), this.foreignRules);
  }

  /** The bot's or a puppet's nick: their lines are echoes, not remote messages. */
  isOurNick(nick: string): boolean {
    return this.bot.isMe(nick) || this.puppets.isPuppetNick(nick);
  }

  /**
   * The bot joins the channel and waits for NAMES, so topic and members are known. False when
   * it could not join: `refusal` then says why if the server said so (a timeout says nothing).
   */
  async ensureBotIn(channel: string, timeoutMs = BOT_JOIN_WAIT_MS): Promise<boolean> {
    if (this.bot.inChannel(channel) && this.channels.hasNames(channel)) return true;
    const names = this.channels.waitForNames(channel, timeoutMs);
    const asked = this.bot.join(channel, this.keyFor(channel));
    // Refused moments ago and not asked again yet: no other answer is coming.
    if (!asked && this.channels.refusal(channel)) this.channels.giveUpWaiting(channel);
    return names;
  }

  /** Why the bot is kept out of a channel (banned, +i, +k, full), in words for the room; null if it is not. */
  refusal(channel: string): string | null {
    const r = this.channels.refusal(channel);
    if (!r) return null;
    return refusalNotice({ ...r, channel, network: this.name }, { bot: this.bot.nick });
  }

  /**
   * Whether a Matrix user may bridge a channel: anyone, or with `plumb_ops_only` only a
   * channel operator, which their puppet's WHOIS shows.
   */
  async canPlumb(channel: string, matrixUserId: string): Promise<true | string> {
    if (!this.config.plumb_ops_only) return true;
    const puppet = this.puppets.puppetOf(matrixUserId);
    if (!puppet)
      return `say something in ${channel} first, so your IRC connection is there to show you are an operator`;
    return await new Promise<true | string>((resolve) => {
      puppet.client.whois(puppet.nick, (w) => {
        const isOp = (w.channels ?? "")
          .split(" ")
          .some((c) => c.replace(/^[+%]*/, "").toLowerCase() === `@${channel}`.toLowerCase());
        resolve(isOp ? true : `only channel operators of ${channel} may bridge it`);
      });
    });
  }

  /** Connection counts, for benchmarks and operators: how many puppets are up, and how hard they tried. */
  stats(): NetworkStats {
    let ready = 0;
    let attempts = 0;
    let maxAttempts = 0;
    for (const p of this.puppets.all()) {
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
}
