import type { WebClient } from "@slack/web-api";
import type { BridgeContext, ChatRef } from "@switchboard/framework";
import type { SlackInbound } from "./inbound.js";
import * as ids from "./ids.js";
import type { SlackWorkspace } from "./workspace.js";

type HistoryMessage = Record<string, unknown> & { ts: string };

/**
 * After downtime, the messages Slack sent while the bridge was away: conversations.history
 * since the newest ts bridged in each chat, thread replies included, oldest first. They go
 * through the same path as live events, under the same keys, so nothing is bridged twice.
 */
export async function catchUp(
  ctx: BridgeContext,
  ws: SlackWorkspace,
  inbound: SlackInbound,
  clientFor: (chat: ChatRef) => WebClient | undefined,
  only: (chat: ChatRef) => boolean = () => true,
): Promise<number> {
  let bridged = 0;
  for (const chat of (await ctx.linkedChats()).filter(only)) {
    const parsed = ids.parseChatId(chat.channelId);
    if (!parsed || parsed.team !== ws.teamId) continue;
    const chatKey = ids.chatId(parsed.team, parsed.channel);
    const since = await ctx.kvGet<string>(`since:${chatKey}`);
    const web = clientFor(chat);
    if (!since || !web) continue;
    try {
      const missed = await missedMessages(web, parsed.channel, since);
      for (const message of missed) {
        await inbound.message(ws, { ...message, type: "message", channel: parsed.channel });
        bridged++;
      }
    } catch (err) {
      ctx.log.warn({ err: String(err), chat: chatKey }, "could not catch up a Slack channel's history");
    }
  }
  return bridged;
}

async function missedMessages(web: WebClient, channel: string, since: string): Promise<HistoryMessage[]> {
  const found = new Map<string, HistoryMessage>();
  for await (const page of web.paginate("conversations.history", {
    channel,
    oldest: since,
    inclusive: false,
    limit: 200,
  })) {
    for (const m of (page as { messages?: HistoryMessage[] }).messages ?? []) {
      found.set(m.ts, m);
      const latestReply = typeof m.latest_reply === "string" ? m.latest_reply : undefined;
      if (latestReply && latestReply > since) {
        for await (const thread of web.paginate("conversations.replies", {
          channel,
          ts: m.ts,
          oldest: since,
          limit: 200,
        })) {
          for (const r of (thread as { messages?: HistoryMessage[] }).messages ?? [])
            if (r.ts > since) found.set(r.ts, r);
        }
      }
    }
  }
  // Slack answers newest first; Matrix must see them in the order they were said.
  return [...found.values()].sort((a, b) => Number(a.ts) - Number(b.ts));
}
