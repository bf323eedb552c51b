import type {
  BridgeContent,
  BridgeContext,
  ChatCapabilities,
  ChatInfo,
  ChatRef,
  ChecksPlumbing,
  EditsMessages,
  JoinsChats,
  ListsMembers,
  LoginClient,
  MatrixMessage,
  MatrixSender,
  RemoteUser,
  SendResult,
  SetsRoles,
} from "@switchboard/framework";
import { isValidChannel } from "./format/index.js";
import { loginId } from "./ids.js";
import {
  IRC_CAPABILITIES,
  describeChat,
  joinToSpeak,
  listMembers,
  sendEdit,
  sendMessage,
  targetIn,
  type Speaker,
  type Target,
} from "./irc-out.js";
import type { IrcNetwork } from "./network.js";
import type { PuppetOwner } from "./puppets.js";

/**
 * A Matrix user's own IRC connection on one network, as the framework sees it: an implicit
 * login ("libera/@alice:example.org", no login step). The connection itself is the puppet
 * pool's, made at the first line or join and gone when idle; this client is only the handle.
 * It speaks as the user's nick; when the puppet cannot be had at send time (the connection
 * limit was reached meanwhile), the bot relays as `<alice> text`, as it does for users
 * without a puppet.
 */
export class PuppetClient
  implements LoginClient, EditsMessages, ListsMembers, ChecksPlumbing, JoinsChats, SetsRoles
{
  readonly loginId: string;

  constructor(
    private readonly net: IrcNetwork,
    readonly matrixUserId: string,
    private readonly ctx: () => Pick<BridgeContext, "uploadMedia" | "noticeInChat">,
  ) {
    this.loginId = loginId(net.name, matrixUserId);
  }

  /** The puppet's nick while it is connected, else the network's name. */
  get remoteName(): string {
    return this.net.puppets.puppetOf(this.matrixUserId)?.nick ?? this.net.name;
  }

  /** Every channel of its network (the puppet joins when it speaks), and its own DMs. */
  inChat(chat: ChatRef): boolean {
    if (chat.receiver) return chat.receiver === this.loginId;
    return isValidChannel(this.net.channelOf(chat) ?? "");
  }

  capabilities(_chat: ChatRef): ChatCapabilities {
    return IRC_CAPABILITIES;
  }

  async getChat(chat: ChatRef): Promise<ChatInfo | null> {
    return describeChat(targetIn(this.net, chat));
  }

  async getMembers(chat: ChatRef): Promise<RemoteUser[]> {
    return listMembers(targetIn(this.net, chat));
  }

  async sendMessage(msg: MatrixMessage): Promise<SendResult> {
    const t = targetIn(this.net, msg.chat);
    await sendMessage(this.ctx(), t, await this.speaker(t, msg.sender), msg);
    return {};
  }

  async editMessage(edit: { chat: ChatRef; sender: MatrixSender; content: BridgeContent }): Promise<void> {
    const t = targetIn(this.net, edit.chat);
    await sendEdit(t, await this.speaker(t, edit.sender), edit);
  }

  /** A Matrix join: the room hears what keeps the bot out, and the puppet joins (`sync_membership.matrix_to_irc`). */
  async joinChat(chat: ChatRef, sender: MatrixSender): Promise<void> {
    const { net, name, isDm } = targetIn(this.net, chat);
    if (isDm) return;
    const refusal = net.refusal(name);
    if (refusal) await this.ctx().noticeInChat(chat, refusal);
    if (!net.config.sync_membership.matrix_to_irc) return;
    const conn = await net.puppets.puppetFor(this.owner(sender));
    conn?.join(name, net.keyFor(name));
  }

  async leaveChat(chat: ChatRef, _sender: MatrixSender): Promise<void> {
    const { net, name, isDm } = targetIn(this.net, chat);
    if (isDm) return;
    net.puppets.puppetOf(this.matrixUserId)?.part(name, "Left the Matrix room");
  }

  /** The user's power level crossed `ops_from_power_level`: the bot gives or takes the puppet's +o. */
  async setPowerLevel(chat: ChatRef, user: MatrixSender, level: number, previous: number): Promise<void> {
    const { net, name, isDm } = targetIn(this.net, chat);
    if (isDm) return;
    await net.operators.apply(name, this.owner(user), level, previous);
  }

  async canPlumb(chat: ChatRef, matrixUserId: string): Promise<true | string> {
    const { net, name } = targetIn(this.net, chat);
    return net.canPlumb(name, matrixUserId);
  }

  /**
   * The user may no longer use the bridge (a policy-list ban): quits the connection and forgets
   * it, so the next start does not bring it back.
   */
  async logout(): Promise<void> {
    this.net.puppets.drop(this.matrixUserId, "Disconnected by the bridge");
  }

  /** Quits the connection; it comes back on the user's next message (and at the next start). */
  async disconnect(): Promise<void> {
    this.net.puppets.drop(this.matrixUserId, "Disconnected", { forget: false });
  }

  /** The puppet, connecting it if needed; the bot relays when there can be none. */
  private async speaker(t: Target, sender: MatrixSender): Promise<Speaker> {
    const puppet = await t.net.puppets.puppetFor(this.owner(sender));
    const conn = puppet ?? t.net.bot;
    joinToSpeak(t, conn);
    return { conn, relayed: !puppet };
  }

  /** This login speaks for its own user only, whatever name the event carries. */
  private owner(sender: MatrixSender): PuppetOwner {
    return { userId: this.matrixUserId, displayname: sender.displayname };
  }
}
