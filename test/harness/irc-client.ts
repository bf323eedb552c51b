import { Client, type MessageEvent } from "irc-framework";
import type { Ircd } from "./ircd.js";

/**
 * A person on IRC, for tests: a real irc-framework client that records everything it
 * sees, with waits that time out instead of hanging.
 */
export interface SeenLine {
  type: "privmsg" | "notice" | "action" | "join" | "part" | "quit" | "nick" | "mode" | "raw";
  nick: string;
  target: string;
  text: string;
}

export class IrcPerson {
  readonly client = new Client();
  readonly seen: SeenLine[] = [];
  /** Raw lines received, to prove what did (not) reach the wire. */
  readonly raw: string[] = [];

  constructor(readonly nick: string) {
    const record = (type: SeenLine["type"]) => (e: MessageEvent) =>
      this.seen.push({ type, nick: e.nick, target: e.target, text: e.message });
    this.client.on("privmsg", record("privmsg"));
    this.client.on("notice", record("notice"));
    this.client.on("action", record("action"));
    this.client.on("join", (e) =>
      this.seen.push({ type: "join", nick: e.nick, target: e.channel, text: "" }),
    );
    this.client.on("part", (e) =>
      this.seen.push({ type: "part", nick: e.nick, target: e.channel, text: e.message ?? "" }),
    );
    this.client.on("nick", (e) =>
      this.seen.push({ type: "nick", nick: e.nick, target: e.new_nick, text: "" }),
    );
    // One line per mode change, text "+o nick" or "+i": who set it is `nick`.
    this.client.on("mode", (e) => {
      for (const m of e.modes)
        this.seen.push({
          type: "mode",
          nick: e.nick ?? "",
          target: e.target,
          text: m.param ? `${m.mode} ${m.param}` : m.mode,
        });
    });
  }

  /** `realname`: the gecos others see in WHO (another bridge's puppet puts a Matrix id there). */
  static async connect(ircd: Ircd, nick: string, opts: { realname?: string } = {}): Promise<IrcPerson> {
    const p = new IrcPerson(nick);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${nick} could not register on ${ircd.kind}`)), 20_000);
      p.client.on("registered", () => {
        clearTimeout(timer);
        resolve();
      });
      p.client.connect({
        host: ircd.host,
        port: ircd.port,
        nick,
        username: nick
          .slice(0, 9)
          .toLowerCase()
          .replace(/[^a-z0-9]/g, "x"),
        gecos: opts.realname ?? nick,
        auto_reconnect: false,
      });
    });
    return p;
  }

  async join(channel: string): Promise<void> {
    this.client.join(channel);
    await this.waitFor(
      (l) =>
        l.type === "join" &&
        l.nick === this.client.user.nick &&
        l.target.toLowerCase() === channel.toLowerCase(),
    );
  }

  /** The nicks in a channel now (NAMES). */
  async names(channel: string): Promise<string[]> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no NAMES reply for ${channel}`)), 10_000);
      const onList = (e: { channel: string; users: Array<{ nick: string }> }) => {
        if (e.channel.toLowerCase() !== channel.toLowerCase()) return;
        clearTimeout(timer);
        this.client.off("userlist", onList);
        resolve(e.users.map((u) => u.nick));
      };
      this.client.on("userlist", onList);
      this.client.raw("NAMES", channel);
    });
  }

  say(target: string, text: string): void {
    this.client.say(target, text);
  }

  async waitFor(match: (line: SeenLine) => boolean, timeoutMs = 15_000): Promise<SeenLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.seen.find(match);
      if (found) return found;
      if (Date.now() > deadline) {
        throw new Error(
          `${this.nick} saw no matching IRC line in ${timeoutMs} ms; saw:\n${this.seen.map((l) => `${l.type} ${l.nick} ${l.target} ${l.text}`).join("\n")}`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  quit(): void {
    this.client.quit("bye");
  }
}

/** Connects many clients, a few at a time (ngircd's listen backlog is 10). */
export async function connectMany(
  ircd: Ircd,
  nicks: string[],
  channel: string,
  inFlight = 8,
): Promise<IrcPerson[]> {
  const people: IrcPerson[] = [];
  for (let i = 0; i < nicks.length; i += inFlight) {
    const batch = await Promise.all(nicks.slice(i, i + inFlight).map((n) => IrcPerson.connect(ircd, n)));
    await Promise.all(batch.map((p) => p.join(channel)));
    people.push(...batch);
  }
  return people;
}
