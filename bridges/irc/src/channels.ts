/**
 * What the bridge knows about a network's channels, as the bot's connection sees them:
 * members (from NAMES, joins, parts, kicks, quits and nick changes), topics, channel modes,
 * the channels the bot was refused, and who waits for a channel's NAMES. No IRC I/O here:
 * `irc-in.ts` feeds it the bot's events and says what they mean for Matrix.
 */

/** Modes that are about a member (o, v, …) or a list (bans, exceptions), not a property of the channel. */
const MEMBER_AND_LIST_MODES = new Set(["q", "a", "o", "h", "v", "b", "e", "I"]);

/** Why the bot was kept out of a channel: irc-framework's error name and the server's words. */
export interface JoinRefusal {
  error: string;
  reason?: string;
}

export class ChannelState {
  /** Channel → members (lower-cased nick → nick). */
  private readonly members = new Map<string, Map<string, string>>();
  private readonly topics = new Map<string, string>();
  /** Channel modes without a member or list behind them (n, t, i, k, s, p, …). */
  private readonly modes = new Map<string, Set<string>>();
  /** Channel → lower-cased nicks of its operators (from NAMES prefixes and +o/-o). */
  private readonly operators = new Map<string, Set<string>>();
  private readonly refused = new Map<string, JoinRefusal>();
  private readonly namesWaiters = new Map<string, Array<(joined: boolean) => void>>();

  /** `lower` is the server's case mapping: every channel and nick is keyed by it. */
  constructor(private readonly lower: (s: string) => string) {}

  /** NAMES arrived: the bot is in the channel, with these members. */
  names(channel: string, nicks: string[]): void {
    const k = this.lower(channel);
    this.members.set(k, new Map(nicks.map((nick) => [this.lower(nick), nick])));
    this.refused.delete(k);
    this.settle(k, true);
  }

  /** NAMES prefixes: who is an operator now. */
  setOperators(channel: string, nicks: string[]): void {
    this.operators.set(this.lower(channel), new Set(nicks.map((n) => this.lower(n))));
  }

  /** +o or -o. */
  setOperator(channel: string, nick: string, on: boolean): void {
    const k = this.lower(channel);
    const ops = this.operators.get(k) ?? new Set<string>();
    this.operators.set(k, ops);
    if (on) ops.add(this.lower(nick));
    else ops.delete(this.lower(nick));
  }

  isOperator(channel: string, nick: string): boolean {
    return this.operators.get(this.lower(channel))?.has(this.lower(nick)) ?? false;
  }

  /** Whether the channel's members are known (the bot is or was in it). */
  hasNames(channel: string): boolean {
    return this.members.has(this.lower(channel));
  }

  /** Member nicks as IRC spells them. */
  membersOf(channel: string): string[] {
    return [...(this.members.get(this.lower(channel))?.values() ?? [])];
  }

  /** The member's nick as IRC spells it, or undefined when they are not in the channel. */
  member(channel: string, nick: string): string | undefined {
    return this.members.get(this.lower(channel))?.get(this.lower(nick));
  }

  joined(channel: string, nick: string): void {
    this.members.get(this.lower(channel))?.set(this.lower(nick), nick);
  }

  /** A part or a kick. */
  left(channel: string, nick: string): void {
    this.members.get(this.lower(channel))?.delete(this.lower(nick));
    this.operators.get(this.lower(channel))?.delete(this.lower(nick));
  }

  /** A user quit IRC: the (lower-cased) channels they were in. */
  quit(nick: string): string[] {
    const out: string[] = [];
    for (const [k, members] of this.members) if (members.delete(this.lower(nick))) out.push(k);
    for (const ops of this.operators.values()) ops.delete(this.lower(nick));
    return out;
  }

  /** A user changed nick: the (lower-cased) channels where they are now known by the new one. */
  renamed(nick: string, newNick: string): string[] {
    const out: string[] = [];
    for (const [k, members] of this.members) {
      if (!members.delete(this.lower(nick))) continue;
      members.set(this.lower(newNick), newNick);
      const ops = this.operators.get(k);
      if (ops?.delete(this.lower(nick))) ops.add(this.lower(newNick));
      out.push(k);
    }
    return out;
  }

  /** Records a topic; true when it replaced a known one (the topic sent on join is not news). */
  setTopic(channel: string, topic: string): boolean {
    const k = this.lower(channel);
    const had = this.topics.has(k);
    this.topics.set(k, topic);
    return had;
  }

  topic(channel: string): string | undefined {
    return this.topics.get(this.lower(channel));
  }

  /** A MODE on the channel: channel properties are kept, member and list modes are not. */
  applyModes(channel: string, modes: ReadonlyArray<{ mode: string }>): void {
    const k = this.lower(channel);
    const set = this.modes.get(k) ?? new Set<string>();
    for (const m of modes) {
      const flag = m.mode.slice(1);
      if (MEMBER_AND_LIST_MODES.has(flag)) continue;
      if (m.mode.startsWith("+")) set.add(flag);
      else set.delete(flag);
    }
    this.modes.set(k, set);
  }

  /** Secret (+s) and private (+p) channels are kept out of the room directory. */
  isPrivate(channel: string): boolean {
    const modes = this.modes.get(this.lower(channel));
    return modes !== undefined && (modes.has("s") || modes.has("p"));
  }

  /** The server kept the bot out: remembered until it gets in, and whoever waits for NAMES is answered. */
  refuse(channel: string, refusal: JoinRefusal): void {
    const k = this.lower(channel);
    this.refused.set(k, refusal);
    this.settle(k, false);
  }

  refusal(channel: string): JoinRefusal | undefined {
    return this.refused.get(this.lower(channel));
  }

  /** Resolves true when NAMES arrives, false when the bot is refused or after `timeoutMs`. */
  waitForNames(channel: string, timeoutMs: number): Promise<boolean> {
    const k = this.lower(channel);
    return new Promise<boolean>((resolve) => {
      const list = this.namesWaiters.get(k) ?? [];
      list.push(resolve);
      this.namesWaiters.set(k, list);
      setTimeout(() => resolve(false), timeoutMs).unref();
    });
  }

  /** No NAMES is coming (the join was not even asked again): answers the waiters now. */
  giveUpWaiting(channel: string): void {
    this.settle(this.lower(channel), false);
  }

  private settle(k: string, joined: boolean): void {
    for (const w of this.namesWaiters.get(k) ?? []) w(joined);
    this.namesWaiters.delete(k);
  }
}
