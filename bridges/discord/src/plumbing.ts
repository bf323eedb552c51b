import {
  PermissionFlagsBits,
  type Client,
  type GuildBasedChannel,
  type MessageReaction,
  type PartialMessageReaction,
  type PartialUser,
  type User,
} from "discord.js";
import type { BridgeContext } from "@switchboard/framework";

/**
 * Linking an existing Matrix room to a Discord channel (`!link discord …`) needs both sides'
 * consent: the Matrix room's admin asks, and someone who may manage the channel's webhooks on
 * Discord agrees, by reacting ✅ to the bot's question there. Without it any Matrix room admin
 * could start relaying into any channel the bot can see. The consent is kept an hour for the
 * asker's next `!link`.
 */

export const CONSENT = "✅";
const CONSENT_TTL_MS = 3600_000;

/** What the bot itself needs in a channel to bridge it. */
const NEEDED: Array<[bigint, string]> = [
  [PermissionFlagsBits.ViewChannel, "View Channel"],
  [PermissionFlagsBits.SendMessages, "Send Messages"],
  [PermissionFlagsBits.ReadMessageHistory, "Read Message History"],
  [PermissionFlagsBits.ManageWebhooks, "Manage Webhooks"],
];

interface Ask {
  channelId: string;
  matrixUserId: string;
}

const askKey = (messageId: string) => `plumb-ask:${messageId}`;
const okKey = (channelId: string, matrixUserId: string) => `plumb-ok:${channelId}:${matrixUserId}`;

export class Plumbing {
  constructor(private readonly ctx: BridgeContext) {}

  /** true once agreed on Discord; otherwise asks there (once per call) and says what happens next. */
  async canPlumb(client: Client, channel: GuildBasedChannel, matrixUserId: string): Promise<true | string> {
    const me = client.user ? channel.permissionsFor(client.user) : null;
    const missing = NEEDED.filter(([bit]) => !me?.has(bit)).map(([, name]) => name);
    if (missing.length > 0) {
      return `the bridge's Discord bot lacks ${missing.join(", ")} in #${channel.name}: a server admin has to give it those first.`;
    }
    const ok = await this.ctx.kvGet<number>(okKey(channel.id, matrixUserId));
    if (ok && Date.now() - ok < CONSENT_TTL_MS) {
      await this.ctx.kvDelete(okKey(channel.id, matrixUserId));
      return true;
    }
    if (!channel.isTextBased()) return `#${channel.name} is not a channel people write in.`;
    const ask = await channel.send({
      content:
        `${matrixUserId} (Matrix) wants to bridge #${channel.name} to a Matrix room. ` +
        `Anyone here who may manage webhooks can allow it by reacting ${CONSENT} to this message.`,
      allowedMentions: { parse: [] },
    });
    await this.ctx.kvSet(askKey(ask.id), { channelId: channel.id, matrixUserId } satisfies Ask);
    return (
      `asked in #${channel.name} on Discord: someone there with Manage Webhooks has to react ${CONSENT} to the bot's ` +
      "message, then say the same `!link` again here."
    );
  }

  /** A reaction that may be someone's consent; true when it was one (it is not bridged). */
  async reacted(r: MessageReaction | PartialMessageReaction, user: User | PartialUser): Promise<boolean> {
    const ask = await this.ctx.kvGet<Ask>(askKey(r.message.id));
    if (!ask) return false;
    if (r.emoji.name !== CONSENT || !r.message.guild || user.bot) return true;
    const member = await r.message.guild.members.fetch(user.id).catch(() => null);
    const channel = r.message.channel;
    if (
      !member ||
      channel.isDMBased() ||
      !channel.permissionsFor(member)?.has(PermissionFlagsBits.ManageWebhooks)
    ) {
      return true;
    }
    await this.ctx.kvSet(okKey(ask.channelId, ask.matrixUserId), Date.now());
    await this.ctx.kvDelete(askKey(r.message.id));
    if (channel.isSendable()) {
      await channel
        .send({
          content: `Allowed by ${member.displayName}: the Matrix room can be linked now.`,
          allowedMentions: { parse: [] },
        })
        .catch(() => undefined);
    }
    return true;
  }
}
