import type { Client, Message } from "discord.js";
import type { BridgeContext } from "@switchboard/framework";
import { chatOf, messageEvents, type Emission, type Reading } from "./inbound.js";

/**
 * Discord replays missed events only to a session it can resume; after a restart, or a session
 * Discord invalidated, what was said meanwhile is fetched from each bridged channel's history
 * since the newest message bridged there, oldest first, and goes through the same path as live
 * messages under the same keys, so nothing is bridged twice.
 */

const sinceKey = (channelId: string) => `since:${channelId}`;

/** Snowflakes grow with time: the later of two ids. */
const later = (a: string, b: string): boolean => BigInt(a) > BigInt(b);

export class CatchUp {
  /** The newest bridged message id per channel, as written (to skip writes that change nothing). */
  private readonly newest = new Map<string, string>();

  constructor(private readonly ctx: BridgeContext) {}

  /** Records a bridged message (after its events were queued). */
  async bridged(m: Message): Promise<void> {
    const { chat, threadRoot } = chatOf(m);
    // Threads' history is not caught up (yet): their messages do not move the channel's mark.
    if (threadRoot) return;
    const known = this.newest.get(chat.channelId) ?? (await this.ctx.kvGet<string>(sinceKey(chat.channelId)));
    if (known && !later(m.id, known)) return;
    this.newest.set(chat.channelId, m.id);
    await this.ctx.kvSet(sinceKey(chat.channelId), m.id);
  }

  /** Fetches and emits what each linked channel this client sees got since its mark. */
  async run(
    client: Client,
    own: (m: Message) => boolean,
    reading: Reading,
    emit: (e: Emission) => Promise<void>,
  ): Promise<number> {
    let count = 0;
    for (const chat of await this.ctx.linkedChats()) {
      const channel = client.channels.cache.get(chat.channelId);
      if (!channel || !channel.isTextBased() || channel.isDMBased()) continue;
      const mark = await this.ctx.kvGet<string>(sinceKey(chat.channelId));
      if (!mark) continue;
      let since: string = mark;
      try {
        for (;;) {
          const page: Map<string, Message> = await channel.messages.fetch({ after: since, limit: 100 });
          if (page.size === 0) break;
          const oldestFirst: Message[] = [...page.values()].sort((a, b) => (later(a.id, b.id) ? 1 : -1));
          for (const m of oldestFirst) {
            if (!own(m)) {
              for (const e of messageEvents(m, reading)) await emit(e);
              count++;
            }
            await this.bridged(m);
            since = m.id;
          }
          if (page.size < 100) break;
        }
      } catch (err) {
        this.ctx.log.warn(
          { err, channelId: chat.channelId },
          "could not catch up a Discord channel's history",
        );
      }
    }
    return count;
  }
}
