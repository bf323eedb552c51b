import type { BridgeContext } from "@switchboard/framework";
import type { IrcNetwork } from "./network.js";
import type { PuppetOwner } from "./puppets.js";

/**
 * Matrix power level → IRC channel operator, where the network sets `ops_from_power_level`:
 * the bridge bot gives +o to a Matrix user's puppet when their level reaches it, and takes
 * it back when the level drops below. The other way (+o → a ghost's power level) is in
 * irc-in.ts; a +o the bot gives here goes to one of our own nicks, which that path ignores,
 * so nothing bounces.
 */

/** How long a new puppet may take to join before it can be made operator. */
const JOIN_WAIT_MS = 15_000;

export class OperatorMirror {
  /** Channels whose room was told that the bot is not an operator there (once, until it is one). */
  private readonly toldNotOperator = new Set<string>();

  constructor(
    private readonly net: IrcNetwork,
    private readonly ctx: Pick<BridgeContext, "noticeInChat">,
  ) {}

  async apply(channel: string, user: PuppetOwner, level: number, previous: number): Promise<void> {
    const threshold = this.net.config.ops_from_power_level;
    if (threshold === null) return;
    const give = level >= threshold;
    if (give === previous >= threshold) return;
    const puppet = give ? await this.net.puppets.puppetFor(user) : this.net.puppets.puppetOf(user.userId);
    if (!puppet) return; // relayed users have no nick to op; one without a connection has no op to lose
    if (give) {
      puppet.join(channel, this.net.keyFor(channel));
      if (!(await puppet.whenIn(channel, JOIN_WAIT_MS))) return; // the room heard why from the refused join
    } else if (!puppet.inChannel(channel)) {
      return;
    }
    const k = this.net.lower(channel);
    if (!this.net.bot.isOperator(channel)) {
      if (this.toldNotOperator.has(k)) return;
      this.toldNotOperator.add(k);
      await this.ctx.noticeInChat(
        this.net.chat(channel),
        `Power levels in this room are not mirrored to operator status in ${channel} on ${this.net.name}: ` +
          `the bridge's IRC bot (${this.net.bot.nick}) is not a channel operator there. ` +
          `A channel operator can make it one (/mode ${channel} +o ${this.net.bot.nick}).`,
      );
      return;
    }
    this.toldNotOperator.delete(k);
    this.net.bot.send("MODE", channel, give ? "+o" : "-o", puppet.nick);
  }
}
