import { matrixUserIdIn, type ForeignPuppet } from "@switchboard/framework";
import type { WhoListEvent } from "irc-framework";
import type { IrcConnection } from "./connection.js";

/**
 * Other Matrix bridges' IRC puppets: a channel bridged by us and by another Matrix↔IRC
 * bridge (a Libera-style portal, another homeserver's bridge) has that bridge's puppet of
 * each Matrix user who speaks, and ghosting it shows the person twice ("alice[m]" of
 * "alice[m]"). What gives one away is its realname (gecos): matrix-appservice-irc puts the
 * Matrix id there by default, and so do we. The realname is learned from WHO (the channel when
 * the bot joins, a newcomer when they join) or extended-join, before their first line is
 * bridged.
 */

export interface ForeignRules {
  nickHints: string[];
  realnamePatterns: RegExp[];
}

/** Compiles the network's `foreign_bridges` section; a bad pattern is a config error naming it. */
export function foreignRules(
  network: string,
  config: { nick_hints: string[]; realname_patterns: string[] },
): ForeignRules {
  const realnamePatterns = config.realname_patterns.map((p, i) => {
    try {
      return new RegExp(p, "i");
    } catch (err) {
      throw new Error(
        `bridges.irc.networks.${network}.foreign_bridges.realname_patterns[${i}] is not a regular expression: ${(err as Error).message}`,
        { cause: err },
      );
    }
  });
  return { nickHints: config.nick_hints, realnamePatterns };
}

/** Whether an IRC user is another bridge's puppet, from their nick and realname (pure). */
export function classifyForeign(
  nick: string,
  realname: string | undefined,
  rules: ForeignRules,
): ForeignPuppet | undefined {
  if (realname) {
    const id = matrixUserIdIn(realname);
    if (id) return { matrixUserId: id };
    for (const pattern of rules.realnamePatterns) {
      const m = pattern.exec(realname);
      if (!m) continue;
      const named = m[1] ? matrixUserIdIn(m[1]) : undefined;
      return named ? { matrixUserId: named } : { unknown: true };
    }
  }
  const lower = nick.toLowerCase();
  for (const hint of rules.nickHints) {
    if (lower.length > hint.length && lower.endsWith(hint.toLowerCase()))
      return { nameHint: nick.slice(0, nick.length - hint.length) };
  }
  return undefined;
}

/** How long a line waits for its sender's realname before it is bridged without it. */
const LOOKUP_TIMEOUT_MS = 2000;
/** Realnames kept at most (people on the bot's channels); past it the book starts over. */
const MAX_KNOWN = 100_000;

/**
 * The realnames of the people on the bot's channels, by lowercased nick. `null`: asked, and the
 * server had nobody of that nick (or never answered).
 */
export class Realnames {
  private readonly known = new Map<string, string | null>();
  private readonly waiting = new Map<string, Array<() => void>>();

  constructor(
    private readonly bot: () => IrcConnection,
    private readonly lower: (s: string) => string,
  ) {}

  /** Hears the bot's WHO answers (a channel's or one nick's). */
  listen(conn: IrcConnection): void {
    conn.client.on("wholist", (e: WhoListEvent) => {
      for (const u of e.users) this.set(u.nick, u.real_name ?? "");
      // A nick that is gone answers with an empty list: stop waiting for it.
      this.settle(e.target);
    });
  }

  knows(nick: string): boolean {
    return this.known.has(this.lower(nick));
  }

  get(nick: string): string | undefined {
    return this.known.get(this.lower(nick)) ?? undefined;
  }

  set(nick: string, realname: string): void {
    if (this.known.size >= MAX_KNOWN) this.known.clear();
    this.known.set(this.lower(nick), realname);
    this.settle(nick);
  }

  renamed(nick: string, newNick: string): void {
    const realname = this.known.get(this.lower(nick));
    this.known.delete(this.lower(nick));
    if (realname !== undefined && realname !== null) this.set(newNick, realname);
  }

  gone(nick: string): void {
    this.known.delete(this.lower(nick));
  }

  /** Asks the server for a whole channel (when the bot joins it). */
  askChannel(channel: string): void {
    this.bot().send("WHO", channel);
  }

  /** The realname, asking the server when it is not known yet; undefined after the timeout. */
  async lookup(nick: string): Promise<string | undefined> {
    const k = this.lower(nick);
    if (this.known.has(k)) return this.known.get(k) ?? undefined;
    const first = !this.waiting.has(k);
    const arrived = new Promise<void>((resolve) => {
      const list = this.waiting.get(k) ?? [];
      list.push(resolve);
      this.waiting.set(k, list);
    });
    if (first) this.bot().send("WHO", nick);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, LOOKUP_TIMEOUT_MS)));
    await Promise.race([arrived, timeout]);
    clearTimeout(timer);
    if (!this.known.has(k)) {
      // No answer in time: bridge it as an ordinary user, and do not ask again for every line.
      this.known.set(k, null);
      this.settle(nick);
    }
    return this.known.get(k) ?? undefined;
  }

  private settle(target: string): void {
    const k = this.lower(target);
    const list = this.waiting.get(k);
    if (!list) return;
    this.waiting.delete(k);
    if (!this.known.has(k)) this.known.set(k, null);
    for (const resolve of list) resolve();
  }
}
