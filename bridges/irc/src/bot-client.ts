import type {
  BridgeContent,
  BridgeContext,
  ChatCapabilities,
  ChatInfo,
  ChatRef,
  ChecksPlumbing,
  EditsMessages,
  ListsMembers,
  MatrixMessage,
  MatrixSender,
  NetworkClient,
  RemoteUser,
  SendResult,
} from "@switchboard/framework";
import {
  IRC_CAPABILITIES,
  describeChat,
  joinToSpeak,
  listMembers,
  sendEdit,
  sendMessage,
  targetOf,
  type Networks,
} from "./irc-out.js";

/**
 * The connector's bot (`IrcConnector.bot`): it speaks through each network's bot connection
 * for Matrix users without a puppet there (excluded, past `max_clients`), as `<alice> text`
 * or `alice waves`, and answers the framework's lookups (what a channel is, who is in it),
 * since the bot sits in every bridged channel. Which network: the chat's channelId says.
 */
export class IrcClient implements NetworkClient, EditsMessages, ListsMembers, ChecksPlumbing {
  constructor(
    private readonly networks: Networks,
    private readonly ctx: () => Pick<BridgeContext, "uploadMedia">,
  ) {}

  capabilities(_chat: ChatRef): ChatCapabilities {
    return IRC_CAPABILITIES;
  }

  async getChat(chat: ChatRef): Promise<ChatInfo | null> {
    return describeChat(targetOf(this.networks, chat));
  }

  async getMembers(chat: ChatRef): Promise<RemoteUser[]> {
    return listMembers(targetOf(this.networks, chat));
  }

  /** Always relayed: the bot is nobody's own account. */
  async sendMessage(msg: MatrixMessage): Promise<SendResult> {
    const t = targetOf(this.networks, msg.chat);
    joinToSpeak(t, t.net.bot);
    await sendMessage(this.ctx(), t, { conn: t.net.bot, relayed: true }, msg);
    return {};
  }

  async editMessage(edit: { chat: ChatRef; sender: MatrixSender; content: BridgeContent }): Promise<void> {
    const t = targetOf(this.networks, edit.chat);
    joinToSpeak(t, t.net.bot);
    await sendEdit(t, { conn: t.net.bot, relayed: true }, edit);
  }

  /** For a user the framework has no puppet for: the same rule (their puppet would have to show op). */
  async canPlumb(chat: ChatRef, matrixUserId: string): Promise<true | string> {
    const { net, name } = targetOf(this.networks, chat);
    return net.canPlumb(name, matrixUserId);
  }
}
