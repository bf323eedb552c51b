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
  private order: Promise<void> = Promise.resolve();
  /** Events queued behind a realname lookup. */
  private waiting = 0;

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
    net.realnames.listen(bot);
    c.on("userlist", (e) => {
      const nicks = e.users.map((u) => u.nick);
      channels.names(e.channel, nicks);
      channels.setOperators(
        e.channel,
        e.users.filter((u) => u.modes.includes("o")).map((u) => u.nick),
      );
      this.opsFromNames(e.channel, e.users);
      net.operators.botMayNowGive(e.channel);
    });
    // MODE #chan answers with the channel's modes (+i, +k, +s…), set before the bot was there.
    c.on("channel info", (e) => {
      if (e.modes) channels.applyModes(e.channel, e.modes);
    });
    c.on("topic", (e) => {
      const changed = channels.setTopic(e.channel, e.topic);
      if (changed && e.nick)
        void this.emit({ type: "chat-update", chat: net.chat(e.channel), topic: e.topic });
    });
    c.on("join", (e) => {
      channels.joined(e.channel, e.nick);
      if (bot.isMe(e.nick)) {
        // Who is there (realnames: other bridges' puppets) and the modes set before we came.
        net.realnames.askChannel(e.channel);
        bot.send("MODE", e.channel);
        return;
      }
      if (net.isOurNick(e.nick)) {
        net.operators.puppetJoined(e.channel, e.nick);
        return;
      }
      // extended-join carries the realname; without it the bot asks (WHO) before bridging them.
      if (e.gecos !== undefined && c.network.cap.isEnabled("extended-join"))
        net.realnames.set(e.nick, e.gecos);
      else void net.realnames.lookup(e.nick);
      if (!syncMembers()) return;
      this.inOrder(e.nick, () => ({
        type: "member",
        chat: net.chat(e.channel),
        user: net.user(e.nick),
        membership: "join",
      }));
    });
    c.on("part", (e) => {
      channels.left(e.channel, e.nick);
      if (net.isOurNick(e.nick) || !syncMembers()) return;
      const user = net.user(e.nick);
      this.inOrder(null, () => ({
        type: "member",
        chat: net.chat(e.channel),
        user,
        membership: "leave",
        reason: e.message,
      }));
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
      const user = net.user(e.kicked);
      this.inOrder(null, () => ({
        type: "member",
        chat: net.chat(e.channel),
        user,
        membership: "kick",
        by: e.nick,
        reason: e.message,
      }));
    });
    c.on("quit", (e) => {
      if (net.isOurNick(e.nick)) return;
      const user = net.user(e.nick);
      net.realnames.gone(e.nick);
      for (const channel of channels.quit(e.nick)) {
        if (!syncMembers()) continue;
        this.inOrder(null, () => ({
          type: "member",
          chat: net.chat(channel),
          user,
          membership: "leave",
          reason: e.message,
        }));
      }
    });
    c.on("nick", (e) => {
      if (net.isOurNick(e.nick) || net.isOurNick(e.new_nick)) return;
      const old = net.user(e.nick);
      net.realnames.renamed(e.nick, e.new_nick);
      void net.ignores.renamed(net.lower(e.nick), net.lower(e.new_nick));
      // Ghosts are per nick (IRC has no stable account id): the new nick's ghost joins, the old one leaves.
      for (const channel of channels.renamed(e.nick, e.new_nick)) {
        const chat = net.chat(channel);
        this.inOrder(e.new_nick, () => ({
          type: "member",
          chat,
          user: net.user(e.new_nick),
          membership: "join",
        }));
        this.inOrder(null, () => ({
          type: "member",
          chat,
          user: old,
          membership: "leave",
          reason: `now known as ${e.new_nick}`,
        }));
      }
    });
    c.on("mode", (e) => {
      if (!isChannel(e.target)) return;
      channels.applyModes(e.target, e.modes);
      if (e.modes.some((m) => m.mode === "+o" && m.param && bot.isMe(m.param)))
        net.operators.botMayNowGive(e.target);
      // Operator status (+o nick) becomes the ghost's power level in the room.
      const level = net.config.ops_power_level;
      if (level <= 0) return;
      for (const m of e.modes) {
        if (m.mode.slice(1) === "o" && m.param)
          channels.setOperator(e.target, m.param, m.mode.startsWith("+"));
      }
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

  /**
   * Emits in arrival order. An event from someone whose realname is not known yet waits for it
   * (one WHO, at most a couple of seconds), and so does everything after it: the realname says
   * whether they are another bridge's puppet, which must be known before their first line.
   */
  private inOrder(nick: string | null, build: () => RemoteEvent): void {
    const { realnames } = this.net;
    if (this.waiting === 0 && (nick === null || realnames.knows(nick))) {
      void this.emit(build());
      return;
    }
    this.waiting++;
    this.order = this.order.then(async () => {
      if (nick !== null) await realnames.lookup(nick);
      this.waiting--;
      void this.emit(build());
    });
  }

  /** NAMES prefixes: operators who were opped before the bot joined get their power level too. */
  private opsFromNames(channel: string, users: Array<{ nick: string; modes: string[] }>): void {
    const { net } = this;
    const level = net.config.ops_power_level;
    if (level <= 0) return;
    for (const u of users) {
      if (!u.modes.includes("o") || net.isOurNick(u.nick)) continue;
      this.inOrder(null, () => ({
        type: "power",
        chat: net.chat(channel),
        userId: userId(net.name, net.lower(u.nick)),
        level,
      }));
    }
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
      if (!this.admit(e.target, e.nick, chat)) return;
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
    const timestamp = e.time ?? Date.now();
    const content = { kind, text: converted.body, html: converted.html };
    const sender = { userId: userId(net.name, net.lower(e.nick)), displayname: e.nick };
    if (!toChannel) {
      await this.emit({ type: "message", chat, sender, timestamp, content });
      return;
    }
    this.inOrder(e.nick, () => {
      const foreign = net.foreignOf(e.nick);
      return { type: "message", chat, sender: foreign ? { ...sender, foreign } : sender, timestamp, content };
    });
  }

  /** Muted (`!irc ignore`) and flood-limited lines stop here; the room hears of a flood once. */
  private admit(channel: string, nick: string, chat: ChatRef): boolean {
    const { net } = this;
    const ch = net.lower(channel);
    const who = net.lower(nick);
    if (net.ignores.has(ch, who)) return false;
    const verdict = net.flood.check(ch, who, Date.now());
    if (verdict === "pass") return true;
    const f = net.config.flood;
    if (verdict === "tell-user")
      void net.ctx.noticeInChat(
        chat,
        `Room admins: ${nick} is flooding ${channel} on ${net.name} (more than ${f.user_burst} lines at once, then ${f.user_lines_per_second} a second), ` +
          `so their lines are not bridged until they slow down. To mute them here: \`!irc ignore ${nick}\`.`,
      );
    else if (verdict === "tell-channel")
      void net.ctx.noticeInChat(
        chat,
        `Room admins: ${channel} on ${net.name} is flooding (more than ${f.channel_burst} lines at once, then ${f.channel_lines_per_second} a second), ` +
          "so lines past that are not bridged until it calms down.",
      );
    return false;
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
