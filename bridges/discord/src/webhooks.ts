import type { ForumChannel, NewsChannel, TextChannel, Webhook } from "discord.js";

type WebhookChannel = TextChannel | NewsChannel | ForumChannel;

/**
 * Matrix users speak in Discord through one webhook per channel, made by the bridge and reused
 * (Discord allows 15 per channel; a bridge that made one per message ran out). The webhook is
 * found again after a restart by its owner (our application) and name, so none pile up.
 */

/** Discord's rules for a webhook message's name: 1–80 characters, never "discord" or "clyde". */
export function webhookUsername(displayname: string): string {
  const cleaned = displayname
    .replace(/[\r\n\t]+/g, " ")
    .trim()
    // Look-alike letters keep the name readable where Discord refuses the word itself.
    .replace(/discord/gi, (w) => w.replace(/i/, "ı").replace(/I/, "Ι"))
    .replace(/clyde/gi, (w) => w.replace(/y/, "у").replace(/Y/, "Υ"));
  const name = [...cleaned].slice(0, 80).join("");
  return name.length >= 1 ? name : "Matrix user";
}

export class Webhooks {
  private readonly byChannel = new Map<string, Promise<Webhook>>();
  /** Ids of our webhooks: their messages are our own echoes. */
  readonly ours = new Set<string>();

  constructor(
    private readonly applicationId: () => string | undefined,
    private readonly name: string,
  ) {}

  /** The channel's webhook, made on first use; concurrent sends share one lookup. */
  forChannel(channel: WebhookChannel): Promise<Webhook> {
    let hook = this.byChannel.get(channel.id);
    if (!hook) {
      hook = this.findOrCreate(channel);
      this.byChannel.set(channel.id, hook);
      hook.catch(() => this.byChannel.delete(channel.id));
    }
    return hook;
  }

  /** Forgets a webhook Discord no longer has (deleted by a moderator): the next send makes a new one. */
  forget(channelId: string): void {
    this.byChannel.delete(channelId);
  }

  private async findOrCreate(channel: WebhookChannel): Promise<Webhook> {
    const app = this.applicationId();
    const existing = (await channel.fetchWebhooks()).find(
      (w) =>
        w.token !== null && w.name === this.name && (!app || w.applicationId === app || w.owner?.id === app),
    );
    const hook = existing ?? (await channel.createWebhook({ name: this.name, reason: "Matrix bridge" }));
    this.ours.add(hook.id);
    return hook;
  }
}
