import type { ChatRef, RemoteEvent } from "@switchboard/framework";
import { BridgeStoppingError } from "@switchboard/framework";
import type { IrcErrorEvent, MessageEvent } from "irc-framework";
import type { IrcConnection } from "./connection.js";
import { ircToMatrix } from "./format/index.js";
import { loginId, userId } from "./ids.js";
import type { IrcNetwork } from "./network.js";
import { JOIN_REFUSALS, type Refused } from "./refusals.js";

/**
 * IRC → framework: what a network's connections hear, as remote events. Channel lines and
 * channel state come from the bot's connection only (it sits in every bridged channel, so each
 * line arrives once); a puppet's connection contributes its private messages, its refusals and
 * the invites it gets. Channel state is kept in `ChannelState` on the way.
 */

const isChannel = (target: string) => /^[#&+!]/.test(target);

export class IrcIn {
  constructor(private readonly net: IrcNetwork) {}

  /** Hears a connection: the bot's (everything) or a puppet's (its PMs, refusals, invites). */
  listen(conn: IrcConnection): void {
    const c = conn.client;
    c.on("privmsg", (e) => void this.message(e, "text", conn));
    c.on("notice", (e) => void this.message(e, "notice", conn));
    c.on("action", (e) => void this.message(e, "emote", conn));
    // Every connection's refusals (a puppet's join or line too), so none goes unexplained.
    c.on("irc error", (e) => void this.ircError(e, conn));
    // Invited into a channel we are kept out of (+i): try again.
    c.on("invite", (e) => {
      if (conn.isMe(e.invited)) conn.rejoin(e.channel);
    });
    if (conn === this.net.bot) this.listenToChannels(conn);
  }

  /** The channels' state and membership, which the bot alone keeps. */
  private listenToChannels(bot: IrcConnection): void {
    const { net } = this;
    const { channels } = net;
    const c = bot.client;
    const syncMembers = () => net.config.sync_membership.irc_to_matrix;
    c.on("userlist", (e) => {
      const nicks = e.users.map((u) => u.nick);
      channels.names(e.channel, nicks);
    });
    c.on("topic", (e) => {
      const changed = channels.setTopic(e.channel, e.topic);
      if (changed && e.nick)
        void this.emit({ type: "chat-update", chat: net.chat(e.channel), topic: e.topic });
    });
    c.on("join", (e) => {
      channels.joined(e.channel, e.nick);
      if (net.isOurNick(e.nick) || !syncMembers()) return;
      void this.emit({
        type: "member",
        chat: net.chat(e.channel),
        user: net.user(e.nick),
        membership: "join",
      });
    });
    c.on("part", (e) => {
      channels.left(e.channel, e.nick);
      if (net.isOurNick(e.nick) || !syncMembers()) return;
      void this.emit({
        type: "member",
        chat: net.chat(e.channel),
        user: net.user(e.nick),
        membership: "leave",
        reason: e.message,
      });
    });
    c.on("kick", (e) => {
      channels.left(e.channel, e.kicked);
      if (net.isOurNick(e.kicked)) {
        if (bot.isMe(e.kicked))
          void net.ctx.noticeInChat(
            net.chat(e.channel),
            `The bridge was kicked from ${e.channel} by ${e.nick}: ${e.message ?? ""}. Nothing crosses until it can rejoin.`,
          );
        return;
      }
      void this.emit({
        type: "member",
        chat: net.chat(e.channel),
        user: net.user(e.kicked),
        membership: "kick",
        by: e.nick,
        reason: e.message,
      });
    });
    c.on("quit", (e) => {
      if (net.isOurNick(e.nick)) return;
      for (const channel of channels.quit(e.nick)) {
        if (!syncMembers()) continue;
        void this.emit({
          type: "member",
          chat: net.chat(channel),
          user: net.user(e.nick),
          membership: "leave",
          reason: e.message,
        });
      }
    });
    c.on("nick", (e) => {
      if (net.isOurNick(e.nick) || net.isOurNick(e.new_nick)) return;
      // Ghosts are per nick (IRC has no stable account id): the new nick's ghost joins, the old one leaves.
      for (const channel of channels.renamed(e.nick, e.new_nick)) {
        const chat = net.chat(channel);
        void this.emit({ type: "member", chat, user: net.user(e.new_nick), membership: "join" });
        void this.emit({
          type: "member",
          chat,
          user: net.user(e.nick),
          membership: "leave",
          reason: `now known as ${e.new_nick}`,
        });
      }
    });
    c.on("mode", (e) => {
      if (!isChannel(e.target)) return;
      channels.applyModes(e.target, e.modes);
      // Operator status (+o nick) becomes the ghost's power level in the room.
      const level = net.config.ops_power_level;
      if (level <= 0) return;
      for (const m of e.modes) {
        if (m.mode.slice(1) !== "o" || !m.param || net.isOurNick(m.param)) continue;
        void this.emit({
          type: "power",
          chat: net.chat(e.target),
          userId: userId(net.name, net.lower(m.param)),
          level: m.mode.startsWith("+") ? level : 0,
        });
      }
    });
  }

  private async emit(event: RemoteEvent): Promise<void> {
    try {
      await this.net.ctx.emit(event);
    } catch (err) {
      if (err instanceof BridgeStoppingError) return;
      this.net.log.error({ err: String(err) }, "could not hand an IRC event to the bridge");
    }
  }

  private async message(
    e: MessageEvent,
    kind: "text" | "notice" | "emote",
    conn: IrcConnection,
  ): Promise<void> {
    const { net } = this;
    if (e.from_server || !e.nick || net.isOurNick(e.nick)) return;
    const toChannel = isChannel(e.target);
    // Channel lines are heard by the bot only, so each arrives once.
    if (toChannel && conn !== net.bot) return;
    let chat: ChatRef;
    if (toChannel) {
      chat = net.chat(e.target);
    } else {
      const puppet = net.puppets.ofConnection(conn);
      if (!puppet) return; // a private message to the bot itself
      // A DM belongs to the puppet's login: "libera/@alice:example.org".
      chat = {
        channelId: userId(net.name, net.lower(e.nick)),
        receiver: loginId(net.name, puppet.matrixUserId),
      };
    }
    const converted = ircToMatrix(e.message, {
      mentionHtml: (nick) => {
        if (!toChannel) return null;
        const puppet = net.puppets.withNick(nick);
        if (puppet)
          return `<a href="https://matrix.to/#/${encodeURIComponent(puppet.matrixUserId)}">${nick}</a>`;
        const member = net.channels.member(e.target, nick);
        return member ? net.ctx.mentionHtml(userId(net.name, net.lower(member)), member) : null;
      },
    });
    await this.emit({
      type: "message",
      chat,
      sender: { userId: userId(net.name, net.lower(e.nick)), displayname: e.nick },
      timestamp: e.time ?? Date.now(),
      content: { kind, text: converted.body, html: converted.html },
    });
  }

  private async ircError(e: IrcErrorEvent, conn: IrcConnection): Promise<void> {
    const { net } = this;
    const channel = e.channel;
    if (!channel) return;
    if (conn === net.bot && JOIN_REFUSALS.has(e.error))
      net.channels.refuse(channel, { error: e.error, reason: e.reason });
    let who: Refused = { bot: net.bot.nick };
    if (conn !== net.bot) {
      const puppet = net.puppets.ofConnection(conn);
      if (!puppet) return;
      who = { puppet: conn.nick, displayname: puppet.displayname };
    }
    await net.refusals.tell({ error: e.error, channel, reason: e.reason }, conn, who);
  }
}
