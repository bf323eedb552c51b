import type {
  BridgeContent,
  ChatCapabilities,
  ChatInfo,
  ChatRef,
  ChecksPlumbing,
  DeletesMessages,
  EditsMessages,
  ListsMembers,
  MatrixMessage,
  MatrixSender,
  MessageRef,
  HistoryPage,
  NetworkClient,
  Reacts,
  ReadsHistory,
  RemoteUser,
  SendResult,
} from "@switchboard/framework";
import type { SlackHistory } from "./history.js";
import { SLACK_CAPABILITIES, type SlackChats } from "./chats.js";
import { decided } from "./errors.js";
import { botSpeaker, type SlackOutbound, type Speaker } from "./outbound.js";

/**
 * The bridged workspaces' Slack apps as one network client (`SlackConnector.bot`): the chat id
 * ("<team>/<channel>") names the workspace, whose bot token relays for Matrix users without a
 * login in it (with their name and avatar) and answers lookups.
 */
export class SlackBot
  implements NetworkClient, EditsMessages, DeletesMessages, Reacts, ListsMembers, ChecksPlumbing, ReadsHistory
{
  /** Set when the connector starts (it needs the bridge context). */
  history: SlackHistory | null = null;

  constructor(
    private readonly outbound: SlackOutbound,
    private readonly chats: SlackChats,
  ) {}

  private speaker(chat: ChatRef, sender: MatrixSender): Speaker {
    return botSpeaker(this.outbound.target(chat).ws, sender.relayed);
  }

  capabilities(_chat: ChatRef): ChatCapabilities {
    return SLACK_CAPABILITIES;
  }

  getChat(chat: ChatRef): Promise<ChatInfo | null> {
    return this.chats.describe(chat);
  }

  getMembers(chat: ChatRef): Promise<RemoteUser[]> {
    return this.chats.members(chat);
  }

  canPlumb(chat: ChatRef, _matrixUserId: string): Promise<true | string> {
    return this.chats.canPlumb(chat);
  }

  historyPage(chat: ChatRef, before: string | null, limit: number): Promise<HistoryPage> {
    if (!this.history) throw new Error("the Slack bridge is not started");
    return this.history.page(chat, before, limit);
  }

  async sendMessage(msg: MatrixMessage): Promise<SendResult> {
    return decided(this.outbound.message(this.speaker(msg.chat, msg.sender), msg));
  }

  async editMessage(e: {
    chat: ChatRef;
    target: MessageRef;
    sender: MatrixSender;
    content: BridgeContent;
  }): Promise<void> {
    await decided(this.outbound.edit(this.speaker(e.chat, e.sender), e));
  }

  async deleteMessage(d: { chat: ChatRef; target: MessageRef; sender: MatrixSender }): Promise<void> {
    await decided(this.outbound.delete(this.speaker(d.chat, d.sender), d));
  }

  async react(r: {
    chat: ChatRef;
    target: MessageRef;
    key: string;
    sender: MatrixSender;
  }): Promise<SendResult> {
    await decided(this.outbound.react(this.speaker(r.chat, r.sender), r, true));
    return {};
  }

  async unreact(r: { chat: ChatRef; target: MessageRef; key: string; sender: MatrixSender }): Promise<void> {
    await decided(this.outbound.react(this.speaker(r.chat, r.sender), r, false));
  }
}
