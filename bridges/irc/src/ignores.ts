import type { BridgeContext } from "@switchboard/framework";

/**
 * IRC users a room's admins muted from the Matrix side (`!irc ignore <nick>`): their lines in
 * that channel are not bridged. Kept in the connector's store (key `ignore:<net>:<chan> <nick>`,
 * both lowercased) and in memory, since every channel line asks. A muted user who changes nick
 * stays muted under the new one.
 */

export interface IgnoreEntry {
  by: string;
  at: number;
}

export class IgnoreList {
  private readonly muted = new Set<string>();

  constructor(
    private readonly network: string,
    private readonly ctx: Pick<BridgeContext, "kvGet" | "kvSet" | "kvDelete" | "kvList">,
  ) {}

  private prefix(): string {
    return `ignore:${this.network}:`;
  }

  async load(): Promise<void> {
    for (const { key } of await this.ctx.kvList<IgnoreEntry>(this.prefix()))
      this.muted.add(key.slice(this.prefix().length));
  }

  has(channel: string, nick: string): boolean {
    return this.muted.size > 0 && this.muted.has(`${channel} ${nick}`);
  }

  async add(channel: string, nick: string, by: string): Promise<void> {
    await this.ctx.kvSet(`${this.prefix()}${channel} ${nick}`, { by, at: Date.now() } satisfies IgnoreEntry);
    this.muted.add(`${channel} ${nick}`);
  }

  /** False when the nick was not muted there. */
  async remove(channel: string, nick: string): Promise<boolean> {
    if (!this.muted.has(`${channel} ${nick}`)) return false;
    await this.ctx.kvDelete(`${this.prefix()}${channel} ${nick}`);
    this.muted.delete(`${channel} ${nick}`);
    return true;
  }

  /** The muted nicks of a channel. */
  of(channel: string): string[] {
    return [...this.muted].filter((k) => k.startsWith(`${channel} `)).map((k) => k.slice(channel.length + 1));
  }

  /** Follows a muted nick's rename in every channel it was muted in. */
  async renamed(nick: string, newNick: string): Promise<void> {
    for (const k of [...this.muted]) {
      const channel = k.slice(0, k.lastIndexOf(" "));
      if (k !== `${channel} ${nick}`) continue;
      const entry = await this.ctx.kvGet<IgnoreEntry>(`${this.prefix()}${k}`);
      await this.add(channel, newNick, entry?.by ?? "");
    }
  }
}
