import type { BridgeContext } from "@switchboard/framework";
import type { IrcNetwork } from "./network.js";
import type { PuppetOwner } from "./puppets.js";

/**
 * Matrix power level → IRC channel modes, where the network sets `ops_from_power_level`
 * (+o) or `voice_from_power_level` (+v): the bridge bot gives the mode to a Matrix user's
 * puppet when their level reaches it, and takes it back when the level drops below.
 *
 * IRC forgets modes: a puppet that reconnects (a netsplit, an ircd restart, a bridge restart)
 * comes back without them. So each user's level per channel is kept (in the store, surviving
 * restarts), and the modes it calls for are given again whenever the puppet joins the channel
 * or the bot becomes an operator there. The other way (+o → a ghost's power level) is in
 * irc-in.ts; a mode the bot gives goes to one of our own nicks, which that path ignores.
 */

/** How long a new puppet may take to join before it can be given a mode. */
const JOIN_WAIT_MS = 15_000;
/** A mode change asked again within this long is the same one. */
const RECENT_MS = 5000;

type Mode = "o" | "v";

export class OperatorMirror {
  /** Channels whose room was told that the bot is not an operator there (once, until it is one). */
  private readonly toldNotOperator = new Set<string>();
  /** Lowercased channel → Matrix user → their power level there (levels that call for a mode only). */
  private readonly levels = new Map<string, Map<string, number>>();
  private readonly recent = new Map<string, number>();

  constructor(
    private readonly net: IrcNetwork,
    private readonly ctx: Pick<BridgeContext, "noticeInChat" | "kvList" | "kvSet" | "kvDelete">,
  ) {}

  private get enabled(): boolean {
    const c = this.net.config;
    return c.ops_from_power_level !== null || c.voice_from_power_level !== null;
  }

  private key(channel: string, userId: string): string {
    return `level:${this.net.name}:${channel} ${userId}`;
  }

  /** Reads the kept levels (at start). */
  async load(): Promise<void> {
    if (!this.enabled) return;
    const prefix = `level:${this.net.name}:`;
    for (const { key, value } of await this.ctx.kvList<number>(prefix)) {
      const rest = key.slice(prefix.length);
      const space = rest.lastIndexOf(" ");
      this.remember(rest.slice(0, space), rest.slice(space + 1), value);
    }
  }

  /** The modes a power level calls for. */
  private modesFor(level: number): Set<Mode> {
    const c = this.net.config;
    const modes = new Set<Mode>();
    if (c.ops_from_power_level !== null && level >= c.ops_from_power_level) modes.add("o");
    if (c.voice_from_power_level !== null && level >= c.voice_from_power_level) modes.add("v");
    return modes;
  }

  private remember(channel: string, userId: string, level: number): boolean {
    const users = this.levels.get(channel) ?? new Map<string, number>();
    this.levels.set(channel, users);
    const had = users.get(userId);
    if (this.modesFor(level).size > 0) users.set(userId, level);
    else users.delete(userId);
    return had !== users.get(userId);
  }

  /** A Matrix user's level in the channel's room went from `previous` to `level`. */
  async apply(channel: string, user: PuppetOwner, level: number, previous: number): Promise<void> {
    if (!this.enabled) return;
    const k = this.net.lower(channel);
    if (this.remember(k, user.userId, level)) {
      if (this.levels.get(k)?.has(user.userId)) await this.ctx.kvSet(this.key(k, user.userId), level);
      else await this.ctx.kvDelete(this.key(k, user.userId));
    }
    const want = this.modesFor(level);
    const had = this.modesFor(previous);
    const give = [...want].filter((m) => !had.has(m));
    const take = [...had].filter((m) => !want.has(m));
    if (give.length === 0 && take.length === 0) return;
    const puppet =
      give.length > 0 ? await this.net.puppets.puppetFor(user) : this.net.puppets.puppetOf(user.userId);
    if (!puppet) return; // relayed users have no nick; one without a connection has no mode to lose
    if (give.length > 0) {
      puppet.join(channel, this.net.keyFor(channel));
      if (!(await puppet.whenIn(channel, JOIN_WAIT_MS))) return; // the room heard why from the refused join
    } else if (!puppet.inChannel(channel)) {
      return;
    }
    if (!(await this.botMayGive(channel))) return;
    this.send(channel, "+", give, puppet.nick);
    this.send(channel, "-", take, puppet.nick);
  }

  /** The bot saw one of our puppets join: it gets back the modes its user's level calls for. */
  puppetJoined(channel: string, nick: string): void {
    if (!this.enabled) return;
    const puppet = this.net.puppets.withNick(nick);
    const level = puppet ? this.levels.get(this.net.lower(channel))?.get(puppet.matrixUserId) : undefined;
    if (level === undefined || !this.net.bot.isOperator(channel)) return;
    this.send(channel, "+", [...this.modesFor(level)], nick);
  }

  /** The bot became an operator (or rejoined as one): every puppet there gets what it lacks. */
  botMayNowGive(channel: string): void {
    if (!this.enabled || !this.net.bot.isOperator(channel)) return;
    const users = this.levels.get(this.net.lower(channel));
    if (!users) return;
    for (const [userId, level] of users) {
      const conn = this.net.puppets.puppetOf(userId);
      if (!conn?.inChannel(channel)) continue;
      const lacking = [...this.modesFor(level)].filter((m) => !conn.hasMode(channel, m));
      this.send(channel, "+", lacking, conn.nick);
    }
  }

  private async botMayGive(channel: string): Promise<boolean> {
    const k = this.net.lower(channel);
    if (this.net.bot.isOperator(channel)) {
      this.toldNotOperator.delete(k);
      return true;
    }
    if (this.toldNotOperator.has(k)) return false;
    this.toldNotOperator.add(k);
    await this.ctx.noticeInChat(
      this.net.chat(channel),
      `Power levels in this room are not mirrored to operator status in ${channel} on ${this.net.name}: ` +
        `the bridge's IRC bot (${this.net.bot.nick}) is not a channel operator there. ` +
        `A channel operator can make it one (/mode ${channel} +o ${this.net.bot.nick}).`,
    );
    return false;
  }

  /**
   * One MODE line; the same change asked twice within a few seconds on the same connection of
   * the puppet (its join racing a level change) goes once.
   */
  private send(channel: string, sign: "+" | "-", modes: Mode[], nick: string): void {
    const now = Date.now();
    for (const [k, at] of this.recent) if (now - at > RECENT_MS) this.recent.delete(k);
    // Per connection of the puppet: after a reconnect it has no modes, so nothing given before counts.
    const session = this.net.puppets.withNick(nick)?.conn.connectAttempts ?? 0;
    const key = (sg: string, m: Mode) =>
      `${this.net.lower(channel)} ${this.net.lower(nick)} ${session} ${sg}${m}`;
    const fresh = modes.filter((m) => {
      if (this.recent.has(key(sign, m))) return false;
      this.recent.set(key(sign, m), now);
      this.recent.delete(key(sign === "+" ? "-" : "+", m));
      return true;
    });
    if (fresh.length === 0) return;
    this.net.bot.send("MODE", channel, sign + fresh.join(""), ...fresh.map(() => nick));
  }
}
