import type { WebClient } from "@slack/web-api";
import type { ChatCapabilities, ChatInfo, ChatRef, RemoteUser } from "@switchboard/framework";
import * as ids from "./ids.js";
import type { SlackWorkspace } from "./workspace.js";

/**
 * Slack chats as an account sees them, for both network clients: the bot (no viewer) sees the
 * channels its app is in; a login also sees the private channels it is a member of. A DM
 * (a chat with a receiver) is always read with its receiver login's token.
 */

/** What Matrix events can do in a Slack chat, whichever account acts there. */
export const SLACK_CAPABILITIES: ChatCapabilities = {
  edits: true,
  replies: true,
  threads: true,
  reactions: true,
  redactions: true,
  // Slack has no typing API for apps.
  typing: false,
  // Matrix receipts move the login's Slack read marker (conversations.mark).
  readReceipts: true,
  media: true,
};

/** A login, as the account a chat is looked at with. */
export interface Viewer {
  readonly workspace: SlackWorkspace;
  readonly web: WebClient;
  /** Whether the account is in a conversation. */
  isMember(channel: string): Promise<boolean>;
}

export class SlackChats {
  constructor(
    private readonly workspaceOf: (team: string) => SlackWorkspace | undefined,
    /** A connected login by id (a DM's receiver). */
    private readonly loginOf: (loginId: string) => Viewer | undefined,
  ) {}

  private locate(chat: ChatRef): { ws: SlackWorkspace; channel: string } | null {
    const parsed = ids.parseChatId(chat.channelId);
    const ws = parsed && this.workspaceOf(parsed.team);
    return parsed && ws ? { ws, channel: parsed.channel } : null;
  }

  /** The client to read a chat with: a DM's receiver, else the viewer in its workspace, else the bot. */
  private clientFor(ws: SlackWorkspace, chat: ChatRef, viewer?: Viewer): WebClient {
    const receiver = chat.receiver ? this.loginOf(chat.receiver) : undefined;
    if (receiver?.workspace === ws) return receiver.web;
    return viewer?.workspace === ws ? viewer.web : ws.web;
  }

  async describe(chat: ChatRef, viewer?: Viewer): Promise<ChatInfo | null> {
    const at = this.locate(chat);
    if (!at) return null;
    const { ws, channel } = at;
    const info = await ws.channel(channel, this.clientFor(ws, chat, viewer));
    if (!info) return null;
    if (info.isIm) {
      const other = info.user ? await ws.user(info.user) : null;
      return {
        name: other?.displayname ?? info.name,
        isDirect: true,
        otherUser: other ?? undefined,
        isPrivate: true,
      };
    }
    if (info.isMpim) return { name: info.name, isDirect: true, isPrivate: true };
    // Only someone who can see a private channel may bridge it; an alias query (the bot) says nobody.
    if (info.isPrivate && !(viewer?.workspace === ws && (await viewer.isMember(channel)))) return null;
    return {
      name: `#${info.name}`,
      topic: info.topic || undefined,
      isPrivate: info.isPrivate,
      space: { id: ws.teamId, name: ws.teamName },
    };
  }

  async canPlumb(chat: ChatRef, viewer?: Viewer): Promise<true | string> {
    const at = this.locate(chat);
    if (!at) return "That is not a channel of a Slack workspace this bridge is connected to.";
    const { ws, channel } = at;
    const info = ws.channels.get(channel) ?? (await ws.channel(channel));
    if (!info) return "Slack has no such channel, or the bridge's app was not added to it.";
    if (info.isPrivate && !(viewer?.workspace === ws && (await viewer.isMember(channel))))
      return "That channel is private: log in to Slack with an account that is in it first.";
    return true;
  }

  async members(chat: ChatRef, viewer?: Viewer): Promise<RemoteUser[]> {
    const at = this.locate(chat);
    if (!at) throw new Error(`no bridged Slack workspace for ${chat.channelId}`);
    const { ws, channel } = at;
    const members: RemoteUser[] = [];
    const web = this.clientFor(ws, chat, viewer);
    for await (const page of web.paginate("conversations.members", { channel, limit: 500 })) {
      for (const id of (page as { members?: string[] }).members ?? []) {
        if (id === ws.botUserId) continue;
        const user = await ws.user(id);
        if (user) members.push(user);
      }
    }
    return members;
  }
}
