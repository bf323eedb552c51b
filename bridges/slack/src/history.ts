import type { WebClient } from "@slack/web-api";
import type {
  BridgeContext,
  ChatRef,
  HistoryMessage,
  HistoryPage,
  RemoteEvent,
} from "@switchboard/framework";
import type { EchoTable } from "./echoes.js";
import { emojiToUnicode } from "./format/index.js";
import * as ids from "./ids.js";
import { SlackInbound, tsToMs } from "./inbound.js";
import type { SlackLogin } from "./logins.js";
import type { ThreadIndex } from "./threads.js";
import type { SlackWorkspace } from "./workspace.js";

type SlackMessage = Record<string, unknown> & { ts: string };
type Emitted = HistoryMessage["events"];

/**
 * A Slack channel's past, for the framework's history import: `conversations.history` pages
 * backwards by `latest` (the cursor is the ts of a page's oldest message, so it is a point in
 * the channel, good after a restart), each thread's replies from `conversations.replies`, each
 * message translated by the same code as live events, under the same keys. Edits are already in
 * the text history returns; deleted messages are not there; reactions come as one event per
 * person who reacted. Both methods are Slack's Tier 3; @slack/web-api waits out a 429.
 */
export class SlackHistory {
  constructor(
    private readonly ctx: BridgeContext,
    private readonly echoes: EchoTable,
    private readonly threads: ThreadIndex,
    private readonly loginsOf: (team: string) => SlackLogin[],
    private readonly target: (chat: ChatRef) => { ws: SlackWorkspace; channel: string },
  ) {}

  async page(chat: ChatRef, before: string | null, limit: number): Promise<HistoryPage> {
    const { ws, channel } = this.target(chat);
    const web = ws.web;
    // A cursor is a message ts: the page of messages before it, or up to and with it ("<ts>+").
    const inclusive = before?.endsWith("+") ?? false;
    const latest = before?.replace(/\+$/, "");
    const answer = (await web.conversations.history({
      channel,
      limit,
      ...(latest ? { latest, inclusive } : {}),
    })) as { messages?: SlackMessage[]; has_more?: boolean };
    // Slack answers newest first; the import wants them in the order they were said.
    const found = [...(answer.messages ?? [])].sort((a, b) => Number(a.ts) - Number(b.ts));
    const messages: HistoryMessage[] = [];
    for (const m of found) {
      const events = await this.translate(ws, channel, chat, m);
      const replyCount = typeof m.reply_count === "number" ? m.reply_count : 0;
      if (replyCount > 0)
        for (const r of await this.replies(web, channel, m.ts))
          events.push(...(await this.translate(ws, channel, chat, r)));
      messages.push({ timestamp: tsToMs(m.ts), events });
    }
    const oldest = found[0]?.ts;
    const newest = found[found.length - 1]?.ts;
    return {
      messages,
      older: answer.has_more && oldest ? oldest : null,
      ...(newest ? { again: `${newest}+` } : {}),
    };
  }

  private async replies(web: WebClient, channel: string, root: string): Promise<SlackMessage[]> {
    const out: SlackMessage[] = [];
    for await (const page of web.paginate("conversations.replies", { channel, ts: root, limit: 200 })) {
      for (const r of (page as { messages?: SlackMessage[] }).messages ?? []) if (r.ts !== root) out.push(r);
    }
    return out.sort((a, b) => Number(a.ts) - Number(b.ts));
  }

  /** One history message as live delivery would emit it, then its reactions. */
  private async translate(
    ws: SlackWorkspace,
    channel: string,
    chat: ChatRef,
    m: SlackMessage,
  ): Promise<Emitted> {
    const out: Emitted = [];
    const collect = async (event: RemoteEvent, options?: { key?: string }) => {
      // A DM is one chat per logged-in member; the page is for one of them.
      if ("chat" in event && (event.chat.receiver ?? "") !== (chat.receiver ?? "")) return;
      if (options?.key) out.push({ event, key: options.key });
    };
    const inbound = new SlackInbound(this.ctx, this.echoes, this.threads, this.loginsOf, {
      emit: collect,
      live: false,
    });
    await inbound.message(ws, { ...m, type: "message", channel });
    // Reactions go to messages the bridge bridged (the first part carries the ts), not to ours.
    if (!out.some((e) => e.event.type === "message" && e.event.id === m.ts)) return out;
    const chatKey = ids.chatId(ws.teamId, channel);
    const reactions = Array.isArray(m.reactions)
      ? (m.reactions as Array<{ name?: string; users?: string[] }>)
      : [];
    for (const r of reactions) {
      if (!r.name) continue;
      const key = emojiToUnicode(r.name) ?? `:${r.name}:`;
      for (const user of r.users ?? []) {
        out.push({
          event: {
            type: "reaction",
            chat,
            id: m.ts,
            sender: { userId: ids.userId(ws.teamId, user) },
            key,
            timestamp: tsToMs(m.ts),
          },
          key: `slack:hist-react:${chatKey}:${m.ts}:${user}:${r.name}`,
        });
      }
    }
    return out;
  }
}
