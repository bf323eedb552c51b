import type { Logger } from "pino";
import type { BridgeContext } from "@switchboard/framework";
import type { IrcNetworkConfig } from "./config.js";
import { IrcConnection } from "./connection.js";
import type { ConnectLimiter, ServerReachability } from "./pacing.js";
import { nickCandidates, nickFromDisplayName, nickTemplateSuffix, sanitizeIrcText } from "./format/index.js";

/**
 * A network's puppet connections: one per Matrix user who speaks (or joins) there, connected
 * lazily, within `max_clients` and never for `excluded_users`. Idle puppets quit quietly and
 * come back on their user's next message; the ones connected at shutdown come back at the next
 * start, paced by the network's connect limiter.
 */

/** Whom a puppet is for: their Matrix id, and the display name its first nick comes from. */
export interface PuppetOwner {
  userId: string;
  displayname: string;
}

export interface Puppet {
  conn: IrcConnection;
  matrixUserId: string;
  displayname: string;
}

interface SavedPuppet {
  userId: string;
  displayname: string;
  channels: string[];
}

export interface PuppetPoolOptions {
  network: string;
  config: IrcNetworkConfig;
  ctx: Pick<BridgeContext, "kvGet" | "kvSet">;
  log: Logger;
  limiter: ConnectLimiter;
  server: ServerReachability;
  /** The server's case mapping. */
  lower: (s: string) => string;
  keyFor: (channel: string) => string | undefined;
  /** A user's stored NickServ/SASL password and chosen nick on this network. */
  passwordFor: (matrixUserId: string) => Promise<string | null>;
  nickFor: (matrixUserId: string) => Promise<string | null>;
  /** Every new puppet connection, before it connects (to hear its private messages and refusals). */
  onConnection: (conn: IrcConnection) => void;
}

export class PuppetPool {
  private readonly puppets = new Map<string, Puppet>();
  private readonly byConn = new Map<IrcConnection, Puppet>();
  /** Lower-cased nicks of our puppets → their Matrix user: their lines are echoes, not remote messages. */
  private readonly nicks = new Map<string, string>();
  private readonly excluded: RegExp[];
  private idleSweep: NodeJS.Timeout | null = null;
  private saveTimer: NodeJS.Timeout | null = null;

  constructor(private readonly opts: PuppetPoolOptions) {
    this.excluded = opts.config.excluded_users.map((re) => {
      try {
        return new RegExp(re);
      } catch {
        throw new Error(
          `bridges.irc.networks.${opts.network}.excluded_users: ${JSON.stringify(re)} is not a valid regular expression`,
        );
      }
    });
  }

  private get config(): IrcNetworkConfig {
    return this.opts.config;
  }

  /** Brings back the puppets of the last run and starts the idle sweep. */
  start(): void {
    void this.restore();
    if (this.config.idle_timeout_seconds > 0) {
      // One sweep for all puppets instead of a timer each.
      this.idleSweep = setInterval(
        () => this.sweepIdle(),
        Math.min(60_000, this.config.idle_timeout_seconds * 500),
      );
      this.idleSweep.unref();
    }
  }

  stop(): void {
    if (this.idleSweep) clearInterval(this.idleSweep);
    if (this.saveTimer) clearTimeout(this.saveTimer);
    for (const p of this.puppets.values()) p.conn.stop("Bridge shutting down");
    this.puppets.clear();
    this.byConn.clear();
    this.nicks.clear();
  }

  /**
   * Whether the user has or may get a puppet (cheap, synchronous): not excluded, and theirs
   * exists or there is room under `max_clients`. False means: the bot relays for them.
   */
  mayHave(matrixUserId: string): boolean {
    if (this.puppets.has(matrixUserId)) return true;
    return !this.isExcluded(matrixUserId) && this.puppets.size < this.config.max_clients;
  }

  private isExcluded(matrixUserId: string): boolean {
    return this.excluded.some((re) => re.test(matrixUserId));
  }

  /** The user's puppet, connecting it if needed; null means: relay through the bot. */
  async puppetFor(owner: PuppetOwner): Promise<IrcConnection | null> {
    const existing = this.puppets.get(owner.userId);
    if (existing) {
      existing.conn.lastActive = Date.now();
      return existing.conn;
    }
    if (!this.mayHave(owner.userId)) return null;
    const { config, lower } = this.opts;
    const localpart = owner.userId.slice(1, owner.userId.indexOf(":"));
    const chosen =
      (await this.opts.nickFor(owner.userId)) ?? nickFromDisplayName(owner.displayname, config.nick_template);
    const suffix = nickTemplateSuffix(config.nick_template);
    const candidates = [...take(nickCandidates(chosen, 30, chosen.endsWith(suffix) ? suffix : ""), 50)];
    const password = await this.opts.passwordFor(owner.userId);
    // Another call may have made it while this one waited for the nick or the password.
    const raced = this.puppets.get(owner.userId);
    if (raced) return raced.conn;
    const conn = new IrcConnection({
      config,
      nick: chosen,
      username: sanitizeIdent(config.ident_template.replace("{localpart}", localpart)),
      realname:
        sanitizeIrcText(config.realname_template.replace("{userId}", owner.userId)).slice(0, 100) ||
        "Matrix user",
      nextNick: (n) => candidates[n % candidates.length] ?? `${chosen}${n}`,
      sasl: password ? { account: chosen, password } : undefined,
      limiter: this.opts.limiter,
      leads: false,
      server: this.opts.server,
      log: this.opts.log.child({ conn: owner.userId }),
    });
    const puppet: Puppet = { conn, matrixUserId: owner.userId, displayname: owner.displayname };
    this.puppets.set(owner.userId, puppet);
    this.byConn.set(conn, puppet);
    this.opts.onConnection(conn);
    conn.client.on("registered", (e) => {
      this.forgetNicks(owner.userId);
      this.nicks.set(lower(e.nick), owner.userId);
    });
    conn.client.on("nick", (e) => {
      if (!conn.isMe(e.new_nick)) return;
      this.nicks.delete(lower(e.nick));
      this.nicks.set(lower(e.new_nick), owner.userId);
    });
    // Reserve the nick before registration so our own join is never mistaken for a remote user.
    this.nicks.set(lower(chosen), owner.userId);
    conn.client.on("join", () => this.save());
    conn.client.on("part", () => this.save());
    await conn.start();
    this.save();
    return conn;
  }

  puppetOf(matrixUserId: string): IrcConnection | undefined {
    return this.puppets.get(matrixUserId)?.conn;
  }

  /** The puppet a connection belongs to (undefined for the bot's). */
  ofConnection(conn: IrcConnection): Puppet | undefined {
    return this.byConn.get(conn);
  }

  /** The puppet that has this nick now. */
  withNick(nick: string): Puppet | undefined {
    const owner = this.nicks.get(this.opts.lower(nick));
    const p = owner === undefined ? undefined : this.puppets.get(owner);
    return p?.conn.isMe(nick) ? p : undefined;
  }

  /** Whether the nick is (or is about to be) one of our puppets'. */
  isPuppetNick(nick: string): boolean {
    return this.nicks.has(this.opts.lower(nick));
  }

  all(): Puppet[] {
    return [...this.puppets.values()];
  }

  get size(): number {
    return this.puppets.size;
  }

  /**
   * Quits a puppet (idle, `quit`, a disconnected login); it comes back on the user's next
   * message and the Matrix side is untouched. `forget: false` keeps it in the list of puppets
   * the next start brings back (a shutdown's disconnect).
   */
  drop(matrixUserId: string, message: string, { forget = true }: { forget?: boolean } = {}): boolean {
    const p = this.puppets.get(matrixUserId);
    if (!p) return false;
    p.conn.stop(message);
    this.puppets.delete(matrixUserId);
    this.byConn.delete(p.conn);
    this.forgetNicks(matrixUserId);
    if (forget) this.save();
    return true;
  }

  private forgetNicks(matrixUserId: string): void {
    for (const [nick, owner] of this.nicks) if (owner === matrixUserId) this.nicks.delete(nick);
  }

  private sweepIdle(): void {
    const cutoff = Date.now() - this.config.idle_timeout_seconds * 1000;
    for (const p of [...this.puppets.values()])
      if (p.conn.lastActive < cutoff) this.drop(p.matrixUserId, "Idle");
  }

  private get saveKey(): string {
    return `puppets:${this.opts.network}`;
  }

  /** Puppets that were connected before a restart come back, paced by the connect limiter. */
  private async restore(): Promise<void> {
    const saved = (await this.opts.ctx.kvGet<SavedPuppet[]>(this.saveKey)) ?? [];
    await Promise.all(
      saved.map(async (p) => {
        try {
          const conn = await this.puppetFor({ userId: p.userId, displayname: p.displayname });
          for (const channel of p.channels) conn?.join(channel, this.opts.keyFor(channel));
        } catch (err) {
          this.opts.log.warn({ err: String(err), userId: p.userId }, "could not restore a puppet connection");
        }
      }),
    );
    if (saved.length > 0) this.opts.log.info({ puppets: saved.length }, "puppet connections restored");
  }

  /** Remembers which puppets are connected where (debounced), for the next start. */
  private save(): void {
    if (this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = null;
      const list: SavedPuppet[] = [...this.puppets.values()].map((p) => ({
        userId: p.matrixUserId,
        displayname: p.displayname,
        channels: p.conn.channels(),
      }));
      void this.opts.ctx.kvSet(this.saveKey, list).catch(() => undefined);
    }, 1000);
    this.saveTimer.unref();
  }
}

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
