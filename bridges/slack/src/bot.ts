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
  NetworkClient,
  Reacts,
  RemoteUser,
  SendResult,
} from "@switchboard/framework";
import { SLACK_CAPABILITIES, type SlackChats } from "./chats.js";
import { decided } from "./errors.js";
import { botSpeaker, type SlackOutbound, type Speaker } from "./outbound.js";

/**
 * The bridged workspaces' Slack apps as one network client (`SlackConnector.bot`): the chat id
 * ("<team>/<channel>") names the workspace, whose bot token relays for Matrix users without a
 * login in it (with their name and avatar) and answers lookups.
 */
export class SlackBot
  implements NetworkClient, EditsMessages, DeletesMessages, Reacts, ListsMembers, ChecksPlumbing
{
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
