import { Client } from "irc-framework";
import type { Logger } from "pino";
import type { IrcNetworkConfig } from "./config.js";

/**
 * One IRC connection (the bridge bot's or a Matrix user's puppet) on top of irc-framework:
 * it reconnects by itself with backoff and jitter, rejoins its channels, and sends through a
 * queue with the network's flood limits. Lines queued while disconnected are delivered after
 * the reconnect, never dropped. The caller has sanitized every argument (no CR/LF/NUL).
 */

/** Caps how many connections of a network are being opened at once. */
export class ConnectLimiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(private readonly concurrency: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.concurrency) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await task();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

export interface ConnectionOptions {
  config: IrcNetworkConfig;
  nick: string;
  username: string;
  realname: string;
  /** Next nick to try when the previous one is taken (deterministic). */
  nextNick: (attempt: number) => string;
  sasl?: { account: string; password: string };
  limiter: ConnectLimiter;
  log: Logger;
}

const MAX_BACKOFF_MS = 60_000;

export class IrcConnection {
  readonly client: Client;
  private ready = false;
  private stopping = false;
  private readonly wanted = new Map<string, { name: string; key?: string }>();
  private readonly joined = new Set<string>();
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
      if (this.isMe(e.nick)) this.joined.add(this.lower(e.channel));
    });
    this.client.on("part", (e) => {
      if (this.isMe(e.nick)) this.joined.delete(this.lower(e.channel));
    });
    this.client.on("kick", (e) => {
      if (this.isMe(e.kicked)) this.joined.delete(this.lower(e.channel));
    });
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

  /** Connects (through the network's limiter); resolves once registered the first time. */
  start(): Promise<void> {
    this.connect();
    return this.registeredOnce;
  }

  private connect(): void {
    const { config, nick, username, realname, sasl } = this.opts;
    void this.opts.limiter.run(
      () =>
        new Promise<void>((resolve) => {
          // Free the limiter slot when registration ends either way.
          const done = () => {
            this.client.off("registered", done);
            this.client.off("close", done);
            resolve();
          };
          this.client.on("registered", done);
          this.client.on("close", done);
          this.nickAttempt = 0;
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
    this.resolveRegistered();
    // Rejoin first so queued messages land in channels we are in.
    const joins = [...this.wanted.values()].map((c) => (c.key ? ["JOIN", c.name, c.key] : ["JOIN", c.name]));
    this.queue.unshift(...joins);
    this.pump();
  }

  private onClose(): void {
    const wasReady = this.ready;
    this.ready = false;
    this.joined.clear();
    if (this.stopping) return;
    const delay = this.backoffMs / 2 + Math.random() * this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
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

  join(channel: string, key?: string): void {
    const k = this.lower(channel);
    if (this.wanted.has(k)) return;
    this.wanted.set(k, { name: channel, key });
    if (this.ready) this.send("JOIN", ...(key ? [channel, key] : [channel]));
  }

  part(channel: string, message?: string): void {
    const k = this.lower(channel);
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
