import { Client } from "irc-framework";
import type { Logger } from "pino";
import type { IrcNetworkConfig } from "./config.js";
import type { ConnectLimiter, ServerReachability } from "./pacing.js";

/**
 * One IRC connection (the bridge bot's or a Matrix user's puppet) on top of irc-framework:
 * it reconnects by itself with backoff and jitter, rejoins its channels, and sends through a
 * queue with the network's flood limits. Lines queued while disconnected are delivered after
 * the reconnect, never dropped. After an outage, puppets wait for the bot's connection to
 * find the server again (`pacing.ts`). The caller has sanitized every argument (no CR/LF/NUL).
 */

export interface ConnectionOptions {
  config: IrcNetworkConfig;
  nick: string;
  username: string;
  realname: string;
  /** Next nick to try when the previous one is taken (deterministic). */
  nextNick: (attempt: number) => string;
  sasl?: { account: string; password: string };
  limiter: ConnectLimiter;
  /**
   * The bot's connection "leads": it probes the server after an outage, reports whether it
   * answers, and jumps the connect queue. The others (puppets) wait for it.
   */
  leads: boolean;
  server: ServerReachability;
  log: Logger;
}

const MAX_BACKOFF_MS = 60_000;
/** The bot probes more often than a puppet would retry: every puppet waits on its answer. */
const LEADER_MAX_BACKOFF_MS = 15_000;
/** A puppet waiting for the bot tries on its own after this long (the bot may be refused alone). */
const WAIT_FOR_LEADER_MAX_MS = 5 * 60_000;
/** A refused JOIN is retried when the user speaks again, but not for every line of a burst. */
const REJOIN_INTERVAL_MS = 5_000;
/** Channel member modes that may give +o to others (operator, and founder/admin where servers have them). */
const OPERATOR_MODES = new Set(["o", "a", "q"]);

export class IrcConnection {
  readonly client: Client;
  private ready = false;
  private stopping = false;
  private readonly wanted = new Map<string, { name: string; key?: string }>();
  private readonly joined = new Set<string>();
  private readonly lastJoinAt = new Map<string, number>();
  /** Per channel, this connection's own member modes (o, v, …), from NAMES and MODE. */
  private readonly memberModes = new Map<string, Set<string>>();
  private readonly queue: string[][] = [];
  private tokens: number;
  private refill: NodeJS.Timeout | null = null;
  private backoffMs: number;
  private nickAttempt = 0;
  private registeredOnce: Promise<void>;
  private resolveRegistered!: () => void;
  private reconnectTimer: NodeJS.Timeout | null = null;
  /** Last time the Matrix user behind it did something (idle puppets quit). */
  lastActive = Date.now();
  /** TCP connections opened so far (first connect and every reconnect). */
  connectAttempts = 0;
  /** "nick!ident@host" as the server last showed it in our own JOIN (to match bans against). */
  hostmask: string | null = null;

  constructor(private readonly opts: ConnectionOptions) {
    this.tokens = opts.config.send_rate.burst;
    this.backoffMs = opts.config.reconnect_initial_delay_ms;
    this.client = new Client({
      auto_reconnect: false,
      ping_interval: 30,
      ping_timeout: 120,
      enable_echomessage: false,
    });
    this.registeredOnce = new Promise((resolve) => (this.resolveRegistered = resolve));
    this.client.on("registered", () => this.onRegistered());
    this.client.on("close", () => this.onClose());
    this.client.on("nick in use", () => this.tryNextNick());
    this.client.on("nick invalid", () => this.tryNextNick());
    this.client.on("join", (e) => {
      if (!this.isMe(e.nick)) return;
      this.joined.add(this.lower(e.channel));
      if (e.ident && e.hostname) this.hostmask = `${e.nick}!${e.ident}@${e.hostname}`;
    });
    this.client.on("part", (e) => {
      if (this.isMe(e.nick)) this.left(e.channel);
    });
    this.client.on("kick", (e) => {
      if (this.isMe(e.kicked)) this.left(e.channel);
    });
    this.client.on("userlist", (e) => {
      const me = e.users.find((u) => this.isMe(u.nick));
      if (me) this.memberModes.set(this.lower(e.channel), new Set(me.modes));
    });
    this.client.on("mode", (e) => {
      const modes = this.memberModes.get(this.lower(e.target));
      if (!modes) return;
      for (const m of e.modes) {
        if (!m.param || !this.isMe(m.param)) continue;
        if (m.mode.startsWith("+")) modes.add(m.mode.slice(1));
        else modes.delete(m.mode.slice(1));
      }
    });
  }

  private left(channel: string): void {
    this.joined.delete(this.lower(channel));
    this.memberModes.delete(this.lower(channel));
  }

  get nick(): string {
    return this.client.user.nick;
  }

  get isReady(): boolean {
    return this.ready;
  }

  isMe(nick: string): boolean {
    return this.lower(nick) === this.lower(this.client.user.nick);
  }

  lower(s: string): string {
    return this.client.caseLower(s);
  }

  /** Channels this connection wants to be in (rejoined after every reconnect). */
  channels(): string[] {
    return [...this.wanted.values()].map((c) => c.name);
  }

  inChannel(channel: string): boolean {
    return this.joined.has(this.lower(channel));
  }

  /** Whether this connection may give or take channel operator status in the channel. */
  isOperator(channel: string): boolean {
    const modes = this.memberModes.get(this.lower(channel));
    return modes !== undefined && [...modes].some((m) => OPERATOR_MODES.has(m));
  }

  /** Whether this connection has a channel mode of its own there ("o", "v"). */
  hasMode(channel: string, mode: string): boolean {
    return this.memberModes.get(this.lower(channel))?.has(mode) ?? false;
  }

  /** Resolves true once this connection is in the channel, false after `timeoutMs`. */
  whenIn(channel: string, timeoutMs: number): Promise<boolean> {
    if (this.inChannel(channel)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const onJoin = (e: { nick: string; channel: string }) => {
        if (this.isMe(e.nick) && this.lower(e.channel) === this.lower(channel)) finish(true);
      };
      const finish = (ok: boolean) => {
        clearTimeout(timer);
        this.client.off("join", onJoin);
        resolve(ok);
      };
      const timer = setTimeout(() => finish(false), timeoutMs);
      this.client.on("join", onJoin);
    });
  }

  /** The channel's ban masks, asked of the server (empty after `timeoutMs` without an answer). */
  banList(channel: string, timeoutMs = 3000): Promise<string[]> {
    return new Promise((resolve) => {
      const onList = (e: { channel: string; bans: Array<{ banned: string }> }) => {
        if (this.lower(e.channel) === this.lower(channel)) finish(e.bans.map((b) => b.banned));
      };
      const finish = (bans: string[]) => {
        clearTimeout(timer);
        this.client.off("banlist", onList);
        resolve(bans);
      };
      const timer = setTimeout(() => finish([]), timeoutMs);
      this.client.on("banlist", onList);
      this.send("MODE", channel, "+b");
    });
  }

  /** Connects (through the network's limiter); resolves once registered the first time. */
  start(): Promise<void> {
    this.connect();
    return this.registeredOnce;
  }

  private connect(afterWaiting = false): void {
    const { config, nick, username, realname, sasl, server } = this.opts;
    if (!this.opts.leads && !server.isUp && !afterWaiting) {
      void server.whenUp(WAIT_FOR_LEADER_MAX_MS * (0.5 + Math.random())).then(() => {
        // The server answers again: this connection's failures were the outage's, not its own.
        this.backoffMs = config.reconnect_initial_delay_ms;
        if (!this.stopping) this.connect(true);
      });
      return;
    }
    void this.opts.limiter.run(
      () =>
        new Promise<void>((resolve) => {
          // Stopped while waiting for a slot: nothing to open.
          if (this.stopping) return resolve();
          // The slot guards the server's accept queue (its listen backlog), so it is free as soon
          // as the server says anything: registration itself (ident and DNS lookups, CAP, a
          // server's own registration delay) can take seconds, and that pace is the server's.
          const fromServer = (e: { from_server: boolean }) => {
            if (e.from_server) done();
          };
          const done = () => {
            this.client.off("raw", fromServer);
            this.client.off("registered", done);
            this.client.off("close", done);
            resolve();
          };
          this.client.on("raw", fromServer);
          this.client.on("registered", done);
          this.client.on("close", done);
          this.nickAttempt = 0;
          this.connectAttempts++;
          this.client.connect({
            host: config.host,
            port: config.port,
            tls: config.tls,
            nick,
            username,
            gecos: realname,
            password: config.password,
            account: sasl,
            auto_reconnect: false,
          });
        }),
      { first: this.opts.leads },
    );
  }

  private tryNextNick(): void {
    if (this.ready) return;
    this.nickAttempt++;
    const next = this.opts.nextNick(this.nickAttempt);
    this.opts.log.debug({ next }, "nick taken, trying the next one");
    this.client.changeNick(next);
  }

  private onRegistered(): void {
    this.ready = true;
    this.backoffMs = this.opts.config.reconnect_initial_delay_ms;
    if (this.opts.leads) this.opts.server.set(true);
    this.resolveRegistered();
    // Rejoin first so queued messages land in channels we are in.
    const now = Date.now();
    const joins = [...this.wanted].map(([k, c]) => {
      this.lastJoinAt.set(k, now);
      return c.key ? ["JOIN", c.name, c.key] : ["JOIN", c.name];
    });
    this.queue.unshift(...joins);
    this.pump();
  }

  private onClose(): void {
    const wasReady = this.ready;
    this.ready = false;
    this.joined.clear();
    this.memberModes.clear();
    if (this.opts.leads) this.opts.server.set(false);
    if (this.stopping) return;
    const delay = this.backoffMs / 2 + Math.random() * this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.opts.leads ? LEADER_MAX_BACKOFF_MS : MAX_BACKOFF_MS);
    this.opts.log.info(
      { nick: this.opts.nick, delay: Math.round(delay), wasReady },
      "IRC connection closed; reconnecting",
    );
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (!this.stopping) this.connect();
    }, delay);
    this.reconnectTimer.unref();
  }

  /**
   * Wants the channel (joined now and after every reconnect). A channel wanted but not joined
   * (kicked, refused) is tried again, at most every few seconds: the user spoke, so they
   * expect to be there, and if IRC still refuses, the room is told why again. Returns whether
   * a JOIN went out now.
   */
  join(channel: string, key?: string): boolean {
    const k = this.lower(channel);
    const known = this.wanted.get(k);
    if (known) {
      if (key) known.key = key;
      if (this.joined.has(k) || Date.now() - (this.lastJoinAt.get(k) ?? 0) < REJOIN_INTERVAL_MS) return false;
    } else {
      this.wanted.set(k, { name: channel, key });
    }
    return this.sendJoin(k);
  }

  /** Tries a wanted channel again now, not waiting for the user to speak (we were invited). */
  rejoin(channel: string): void {
    const k = this.lower(channel);
    if (this.wanted.has(k) && !this.joined.has(k)) this.sendJoin(k);
  }

  private sendJoin(k: string): boolean {
    const c = this.wanted.get(k);
    if (!c || !this.ready) return false;
    this.lastJoinAt.set(k, Date.now());
    this.send("JOIN", ...(c.key ? [c.name, c.key] : [c.name]));
    return true;
  }

  part(channel: string, message?: string): void {
    const k = this.lower(channel);
    this.lastJoinAt.delete(k);
    if (!this.wanted.delete(k)) return;
    if (this.ready) this.send("PART", ...(message ? [channel, message] : [channel]));
  }

  /** Queues one IRC command; every argument must already be free of CR, LF and NUL. */
  send(...args: string[]): void {
    for (const a of args) if (/[\r\n\0]/.test(a)) throw new Error("refusing to send CR, LF or NUL to IRC");
    this.queue.push(args);
    this.pump();
  }

  private pump(): void {
    while (this.ready && this.queue.length > 0 && this.tokens >= 1) {
      const args = this.queue.shift();
      if (!args) break;
      this.tokens--;
      this.client.raw(...args);
    }
    const { burst, lines_per_second } = this.opts.config.send_rate;
    if (!this.refill && this.tokens < burst) {
      this.refill = setTimeout(() => {
        this.refill = null;
        this.tokens = Math.min(burst, this.tokens + 1);
        this.pump();
      }, 1000 / lines_per_second);
      // An idle connection's refill must not keep the process alive.
      if (this.queue.length === 0) this.refill.unref();
    }
  }

  get queued(): number {
    return this.queue.length;
  }

  /** Quits for good (no reconnect). */
  stop(message = "Switchboard"): void {
    this.stopping = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.refill) clearTimeout(this.refill);
    if (this.ready) this.client.quit(message);
    else this.client.quit();
    this.ready = false;
  }
}
