import type { WebClient } from "@slack/web-api";
import type {
  BridgeContent,
  ChatCapabilities,
  ChatInfo,
  ChatRef,
  ChecksPlumbing,
  DeletesMessages,
  EditsMessages,
  ListsMembers,
  LoginClient,
  MarksRead,
  MatrixMessage,
  MatrixSender,
  MessageRef,
  Reacts,
  RemoteUser,
  SendResult,
} from "@switchboard/framework";
import { SLACK_CAPABILITIES, type SlackChats, type Viewer } from "./chats.js";
import { SLACK_TOKEN_ERRORS, decided, slackError, typedSlackError } from "./errors.js";
import * as ids from "./ids.js";
import { asLogin, botSpeaker, type SlackOutbound, type Speaker } from "./outbound.js";
import type { SlackWorkspace } from "./workspace.js";

/** What a login's client uses of the connector. */
export interface LoginServices {
  outbound: SlackOutbound;
  chats: SlackChats;
  /** Slack no longer accepts the login's token: mark it logged out and tell its owner why. */
  failed(login: SlackLogin, reason: string): Promise<void>;
  /** The login is disconnected or logged out: the connector forgets it. */
  closed(login: SlackLogin): void;
}

/**
 * A Matrix user's Slack account (one workspace; a Matrix user may hold several): sends, edits,
 * deletes, reacts and marks read with the user's token, and sees their DMs and private
 * channels. When Slack stops accepting the token mid-call the login is reported and the call
 * goes out relayed by the workspace's bot instead (see `asLogin`).
 */
export class SlackLogin
  implements
    LoginClient,
    Viewer,
    EditsMessages,
    DeletesMessages,
    Reacts,
    MarksRead,
    ListsMembers,
    ChecksPlumbing
{
  readonly web: WebClient;
  private readonly memberOf = new Map<string, boolean>();
  /** Set once Slack refused the token: the framework is told, and this login is in no chat any more. */
  private broken = false;

  constructor(
    readonly loginId: string,
    readonly matrixUserId: string,
    readonly remoteName: string,
    readonly slackUserId: string,
    readonly workspace: SlackWorkspace,
    token: string,
    private readonly s: LoginServices,
  ) {
    this.web = workspace.client(token);
  }

  capabilities(_chat: ChatRef): ChatCapabilities {
    return SLACK_CAPABILITIES;
  }

  /** Any chat of its workspace (where the account is not a member, Slack's refusal says so); of DMs, its own. */
  inChat(chat: ChatRef): boolean {
    if (this.broken || !ids.sameTeam(this.loginId, chat.channelId)) return false;
    return !chat.receiver || chat.receiver === this.loginId;
  }

  /** Whether this account is in a conversation (DMs are bridged per member), cached. */
  async isMember(channel: string): Promise<boolean> {
    const known = this.memberOf.get(channel);
    if (known !== undefined) return known;
    let member = false;
    try {
      for await (const page of this.web.paginate("conversations.members", { channel, limit: 500 })) {
        if (((page as { members?: string[] }).members ?? []).includes(this.slackUserId)) member = true;
      }
    } catch {
      member = false;
    }
    this.memberOf.set(channel, member);
    return member;
  }

  /** Slack said this account joined or left a channel. */
  noteMembership(channel: string, member: boolean): void {
    this.memberOf.set(channel, member);
  }

  /** Slack no longer accepts the token: reported once; the login then leaves every chat to the relay. */
  async fail(reason: string): Promise<void> {
    if (this.broken) return;
    this.broken = true;
    try {
      await this.s.failed(this, reason);
    } catch (err) {
      this.broken = false;
      throw err;
    }
  }

  getChat(chat: ChatRef): Promise<ChatInfo | null> {
    return this.s.chats.describe(chat, this);
  }

  getMembers(chat: ChatRef): Promise<RemoteUser[]> {
    return this.s.chats.members(chat, this);
  }

  canPlumb(chat: ChatRef, _matrixUserId: string): Promise<true | string> {
    return this.s.chats.canPlumb(chat, this);
  }

  async sendMessage(msg: MatrixMessage): Promise<SendResult> {
    return this.act(msg.chat, msg.sender, (speaker) => this.s.outbound.message(speaker, msg));
  }

  async editMessage(e: {
    chat: ChatRef;
    target: MessageRef;
    sender: MatrixSender;
    content: BridgeContent;
  }): Promise<void> {
    // Only the author can edit: with the token gone, the bot cannot do it instead.
    await this.act(e.chat, e.sender, (speaker) => this.s.outbound.edit(speaker, e), false);
  }

  async deleteMessage(d: { chat: ChatRef; target: MessageRef; sender: MatrixSender }): Promise<void> {
    await this.act(d.chat, d.sender, (speaker) => this.s.outbound.delete(speaker, d));
  }

  async react(r: {
    chat: ChatRef;
    target: MessageRef;
    key: string;
    sender: MatrixSender;
  }): Promise<SendResult> {
    await this.act(r.chat, r.sender, (speaker) => this.s.outbound.react(speaker, r, true));
    return {};
  }

  async unreact(r: { chat: ChatRef; target: MessageRef; key: string; sender: MatrixSender }): Promise<void> {
    await this.act(r.chat, r.sender, (speaker) => this.s.outbound.react(speaker, r, false));
  }

  async markRead(chat: ChatRef, target: MessageRef): Promise<void> {
    if (!ids.sameTeam(this.loginId, chat.channelId)) return;
    try {
      await this.s.outbound.markRead(this.web, chat, target);
    } catch (err) {
      const code = slackError(err);
      // Nothing to relay: a read marker is the account's own.
      if (code && SLACK_TOKEN_ERRORS.has(code))
        return this.fail(`Slack no longer accepts your token (${code})`);
      throw typedSlackError(err);
    }
  }

  /**
   * Runs a Matrix → Slack call as this account, or relayed by the chat's bot when the token dies
   * meanwhile. Once the token is known dead, or for a chat of another workspace (the framework
   * asks `inChat` first, so neither should happen), the call is relayed straight away.
   */
  private act<T>(
    chat: ChatRef,
    sender: MatrixSender,
    call: (speaker: Speaker) => Promise<T>,
    relayable = true,
  ): Promise<T> {
    const { ws } = this.s.outbound.target(chat);
    const relay = botSpeaker(ws, true);
    if (ws !== this.workspace || this.broken) return decided(call(relay));
    const own: Speaker = {
      web: this.web,
      slackUserId: this.slackUserId,
      isUser: true,
      relays: sender.relayed,
    };
    return decided(
      asLogin(
        own,
        relay,
        (code) => this.fail(`Slack no longer accepts your token (${code})`),
        call,
        relayable,
      ),
    );
  }

  async disconnect(): Promise<void> {
    this.s.closed(this);
  }

  /** Revokes the token on Slack: the workspace's bot token is untouched, so others keep working. */
  async logout(): Promise<void> {
    await this.web.auth.revoke().catch(() => undefined);
    this.s.closed(this);
  }
}
