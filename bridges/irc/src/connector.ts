import type {
  BotCommand,
  BridgeContent,
  BridgeContext,
  Capabilities,
  ChatInfo,
  ChatRef,
  ChecksPlumbing,
  Connector,
  HandlesEdits,
  HandlesMembership,
  HandlesPowerLevels,
  HasCommands,
  ListsMembers,
  MatrixMessage,
  MatrixSender,
  RemoteUser,
  SendResult,
  StartsDms,
} from "@switchboard/framework";
import { CredentialBox } from "@switchboard/framework";
import type { WhoisResult } from "irc-framework";
import { IrcConfigSchema, type IrcConfig } from "./config.js";
import {
  MIN_SPLIT_BYTES,
  isValidChannel,
  isValidNick,
  matrixToIrc,
  maxPayloadBytes,
  sanitizeIrcText,
  splitMessage,
} from "./format/index.js";
import * as ids from "./ids.js";
import { IrcNetwork, type NetworkStats } from "./network.js";

/**
 * The IRC bridge's connector: IRC networks behind the framework's contract. IRC has no
 * message ids, no edits, no deletes and no read state, so those capabilities are off and
 * the framework tells Matrix users politely; edits go out as a corrected line.
 */

/** A conservative estimate of the ":nick!ident@host " prefix other clients see. */
const PREFIX_ESTIMATE = 100;

export class IrcConnector
  implements
    Connector,
    ListsMembers,
    ChecksPlumbing,
    HandlesEdits,
    HandlesMembership,
    HandlesPowerLevels,
    HasCommands,
    StartsDms
{
  readonly id = "irc";
  readonly displayName = "IRC";
  readonly configSchema = IrcConfigSchema;
  readonly capabilities: Capabilities = {
    edits: true,
    replies: true,
    threads: false,
    reactions: false,
    redactions: false,
    typing: false,
    readReceipts: { toRemote: false, fromRemote: false },
    media: true,
    formatting: true,
    dms: true,
    groups: true,
  };
  readonly commands: BotCommand[] = this.makeCommands();

  private ctx!: BridgeContext;
  private config!: IrcConfig;
  private readonly networks = new Map<string, IrcNetwork>();
  /** Seals NickServ passwords in the connector's key/value space (the framework's store). */
  private box!: CredentialBox;

  async start(ctx: BridgeContext): Promise<void> {
    this.ctx = ctx;
    this.config = ctx.config as unknown as IrcConfig;
    let secret = await ctx.kvGet<string>("password-key");
    if (!secret) {
      secret = (await import("node:crypto")).randomBytes(32).toString("base64url");
      await ctx.kvSet("password-key", secret);
    }
    this.box = new CredentialBox(secret);
    for (const [name, netConfig] of Object.entries(this.config.networks)) {
      const network = new IrcNetwork(
        name,
        netConfig,
        ctx,
        ctx.log.child({ ircNetwork: name }),
        (user) => this.storedPassword(name, user),
        (user) => ctx.kvGet<string>(`nick:${name}:${user}`),
      );
      this.networks.set(name, network);
    }
    // Concurrently: an unreachable network must not hold up the others (each waits for its server).
    await Promise.all([...this.networks.values()].map((network) => network.start()));
  }

  async stop(): Promise<void> {
    for (const n of this.networks.values()) n.stop();
    this.networks.clear();
  }

  /** Per network: connections up and connection attempts so far (for benchmarks and operators). */
  stats(): NetworkStats[] {
    return [...this.networks.values()].map((n) => n.stats());
  }

  private network(chat: ChatRef): { net: IrcNetwork; name: string } {
    const parts = ids.splitId(chat.channelId);
    const net = parts ? this.networks.get(parts.network) : undefined;
    if (!parts || !net) throw new Error(`unknown IRC network in ${chat.channelId}`);
    return { net, name: parts.name };
  }

  ghostLocalpart(remoteUserId: string): string {
    return ids.ghostLocalpart(remoteUserId);
  }

  remoteIdFromLocalpart(localpart: string): string | null {
    return ids.remoteIdFromLocalpart(localpart);
  }

  /** "libera_#rust" (alias), "libera/#rust", "libera #rust", or "#rust" when there is one network. */
  chatFromAlias(suffix: string): ChatRef | null {
    const m = /^([a-z0-9]+)[_/ ]([#&+!].*)$/.exec(suffix);
    let network = m?.[1];
    let channel = m?.[2];
    if (!m && /^[#&+!]/.test(suffix) && this.networks.size === 1) {
      network = [...this.networks.keys()][0];
      channel = suffix;
    }
    if (!network || !channel || !isValidChannel(channel)) return null;
    const net = this.networks.get(network);
    if (!net) return null;
    return { channelId: ids.channelId(network, net.lower(channel)) };
  }

  aliasFor(chat: ChatRef): string | null {
    if (chat.receiver) return null;
    const parts = ids.splitId(chat.channelId);
    return parts ? `${parts.network}_${parts.name}` : null;
  }

  async getChat(chat: ChatRef): Promise<ChatInfo | null> {
    const { net, name } = this.network(chat);
    if (chat.receiver) {
      return {
        name,
        isDirect: true,
        otherUser: { id: ids.userId(net.name, net.lower(name)), displayname: name },
      };
    }
    if (!isValidChannel(name)) return null;
    if (!(await net.ensureBotIn(name))) {
      // Kept out (+i, +k, banned): the room is still made, and whoever joins it is told why
      // (the alias query does not say who asked). The bot gets in once invited or given the key.
      return net.refusal(name) ? { name } : null;
    }
    const modes = net.modes.get(net.lower(name)) ?? new Set<string>();
    return { name, topic: net.topics.get(net.lower(name)), isPrivate: modes.has("s") || modes.has("p") };
  }

  /** A DM on IRC is the Matrix user's puppet talking to a nick: keyed by the nick, scoped to the user. */
  dmChat(remoteUserId: string, matrixUserId: string): ChatRef | null {
    const parts = ids.splitId(remoteUserId);
    if (!parts || !this.networks.has(parts.network) || !isValidNick(parts.name)) return null;
    return { channelId: remoteUserId, receiver: matrixUserId };
  }

  async getUser(remoteUserId: string): Promise<RemoteUser | null> {
    const parts = ids.splitId(remoteUserId);
    if (!parts || !this.networks.has(parts.network) || !isValidNick(parts.name)) return null;
    return { id: remoteUserId, displayname: parts.name };
  }

  async getMembers(chat: ChatRef): Promise<RemoteUser[]> {
    const { net, name } = this.network(chat);
    await net.ensureBotIn(name);
    const members = net.members.get(net.lower(name)) ?? new Map<string, string>();
    return [...members.values()].filter((nick) => !net.isOurNick(nick)).map((nick) => net.user(nick));
  }

  async canPlumb(chat: ChatRef, matrixUserId: string): Promise<true | string> {
    const { net, name } = this.network(chat);
    if (!net.config.plumb_ops_only) return true;
    const puppet = net.puppetOf(matrixUserId);
    if (!puppet)
      return `say something in ${name} first, so your IRC connection is there to show you are an operator`;
    return await new Promise<true | string>((resolve) => {
      puppet.client.whois(puppet.nick, (w) => {
        const isOp = (w.channels ?? "")
          .split(" ")
          .some((c) => c.replace(/^[+%]*/, "").toLowerCase() === `@${name}`.toLowerCase());
        resolve(isOp ? true : `only channel operators of ${name} may bridge it`);
      });
    });
  }

  async handleMatrixJoin(chat: ChatRef, sender: MatrixSender): Promise<void> {
    const { net, name } = this.network(chat);
    if (chat.receiver) return;
    const refusal = net.refusal(name);
    if (refusal) await this.ctx.noticeInChat(chat, refusal);
    if (!net.config.sync_membership.matrix_to_irc) return;
    const conn = await net.puppetFor(sender);
    conn?.join(name, net.keyFor(name));
  }

  async handleMatrixPowerLevel(
    chat: ChatRef,
    user: MatrixSender,
    level: number,
    previous: number,
  ): Promise<void> {
    const { net, name } = this.network(chat);
    if (chat.receiver) return;
    await net.operators.apply(name, user, level, previous);
  }

  async handleMatrixLeave(chat: ChatRef, sender: MatrixSender): Promise<void> {
    const { net, name } = this.network(chat);
    if (chat.receiver) return;
    net.puppetOf(sender.userId)?.part(name, "Left the Matrix room");
  }

  /** The connection to speak through, and whether it relays (the bot speaking for someone). */
  private async speaker(net: IrcNetwork, sender: MatrixSender, target: string, isChannel: boolean) {
    const puppet = await net.puppetFor(sender);
    const conn = puppet ?? net.bot;
    if (isChannel) conn.join(target, net.keyFor(target));
    return { conn, relayed: !puppet };
  }

  async handleMatrixMessage(msg: MatrixMessage): Promise<SendResult> {
    const { net, name: target } = this.network(msg.chat);
    const isChannel = !msg.chat.receiver;
    const { conn, relayed } = await this.speaker(net, msg.sender, target, isChannel);
    const who = sanitizeIrcText(msg.sender.displayname).slice(0, 40);
    let text = this.render(msg.content, msg);
    if (msg.replyTo) {
      const quote = sanitizeIrcText(msg.replyTo.text.split("\n")[0] ?? "").slice(0, 60);
      text = `${msg.replyTo.senderName}: ${quote ? `"${quote}${quote.length >= 60 ? "…" : ""}" <- ` : ""}${text}`;
    }
    const action = msg.content.kind === "emote";
    const command = msg.content.kind === "notice" ? "NOTICE" : "PRIVMSG";
    const prefix = relayed ? (action ? `${who} ` : `<${who}> `) : "";
    // A huge relay prefix must not leave less room than a line needs.
    const max = Math.max(
      MIN_SPLIT_BYTES,
      maxPayloadBytes(target, PREFIX_ESTIMATE, command, action) - Buffer.byteLength(prefix),
    );
    let lines = splitMessage(text, max);
    if (lines.length > net.config.max_lines) {
      const file = await this.ctx.uploadMedia(
        Buffer.from(text, "utf8"),
        "text/plain; charset=utf-8",
        "message.txt",
      );
      const first =
        splitMessage(text.split("\n")[0] ?? "", Math.max(40, max - file.httpUrl.length - 40))[0] ?? "";
      lines = splitMessage(`${first}… (full message: ${file.httpUrl})`, max);
    }
    for (const line of lines) {
      const payload = prefix + line;
      conn.send(command, target, action ? `\x01ACTION ${payload}\x01` : payload);
    }
    return {};
  }

  async handleMatrixEdit(edit: {
    chat: ChatRef;
    remoteId: string;
    sender: MatrixSender;
    content: BridgeContent;
  }): Promise<void> {
    const { net, name: target } = this.network(edit.chat);
    const { conn, relayed } = await this.speaker(net, edit.sender, target, !edit.chat.receiver);
    const who = sanitizeIrcText(edit.sender.displayname).slice(0, 40);
    const text = this.render(edit.content);
    const line = net.config.edit_style === "diff" ? `s/…/${text}/` : `* ${text}`;
    const max = maxPayloadBytes(target, PREFIX_ESTIMATE, "PRIVMSG") - 50;
    const [first] = splitMessage((relayed ? `<${who}> ` : "") + line, max);
    if (first) conn.send("PRIVMSG", target, first);
  }

  private render(content: BridgeContent, msg?: MatrixMessage): string {
    if (content.media) {
      const url = content.media.httpUrl ?? content.media.mxc ?? "";
      return `${content.text ? `${content.text} ` : ""}${content.media.name} <${url}>`;
    }
    const mentions = new Map((msg?.mentions ?? []).map((m) => [m.remoteUserId, m.displayname]));
    return matrixToIrc(content, {
      formatting: true,
      mentionText: (_userId, linkText) => {
        for (const [remoteId] of mentions) {
          const nick = ids.splitId(remoteId)?.name;
          if (nick && nick.toLowerCase() === linkText.toLowerCase()) return nick;
        }
        return linkText;
      },
    });
  }

  private async storedPassword(network: string, matrixUserId: string): Promise<string | null> {
    const sealed = await this.ctx.kvGet<string>(`password:${network}:${matrixUserId}`);
    return sealed ? (this.box.open(sealed) as string) : null;
  }

  private netArg(args: string[]): { net: IrcNetwork | undefined; rest: string[] } {
    if (args[0] && this.networks.has(args[0]))
      return { net: this.networks.get(args[0]), rest: args.slice(1) };
    return { net: this.networks.size === 1 ? [...this.networks.values()][0] : undefined, rest: args };
  }

  private makeCommands(): BotCommand[] {
    const needNet = (net: IrcNetwork | undefined) =>
      net ? null : `Say which network: ${[...this.networks.keys()].join(", ") || "(none configured)"}.`;
    return [
      {
        name: "nick",
        help: "choose your IRC nick: nick [network] <nick>",
        run: async (args, c) => {
          const { net, rest } = this.netArg(args);
          const err = needNet(net);
          if (err || !net) return c.reply(err ?? "");
          const nick = rest[0] ?? "";
          if (!isValidNick(nick)) return c.reply(`"${sanitizeIrcText(nick)}" is not a valid IRC nick.`);
          await this.ctx.kvSet(`nick:${net.name}:${c.userId}`, nick);
          const conn = net.puppetOf(c.userId);
          if (conn) conn.send("NICK", nick);
          return c.reply(`Your nick on ${net.name} is now ${nick}.`);
        },
      },
      {
        name: "msg",
        help: "start a private chat with an IRC user: msg [network] <nick> [text]",
        run: async (args, c) => {
          const { net, rest } = this.netArg(args);
          const err = needNet(net);
          if (err || !net) return c.reply(err ?? "");
          const nick = rest[0] ?? "";
          if (!isValidNick(nick)) return c.reply("Usage: `msg [network] <nick> [text]`");
          const roomId = await this.ctx.openDm(c.userId, ids.userId(net.name, net.lower(nick)));
          const text = sanitizeIrcText(rest.slice(1).join(" "));
          if (text) {
            const conn = await net.puppetFor({
              userId: c.userId,
              displayname: c.userId.slice(1, c.userId.indexOf(":")),
            });
            (conn ?? net.bot).send("PRIVMSG", nick, text);
          }
          return c.reply(`Your private chat with ${nick} on ${net.name} is ${roomId}; I invited you.`);
        },
      },
      {
        name: "join",
        help: "make your IRC connection join a channel: join [network] <#channel>",
        run: async (args, c) => {
          const { net, rest } = this.netArg(args);
          const err = needNet(net);
          if (err || !net) return c.reply(err ?? "");
          const channel = rest[0] ?? "";
          if (!isValidChannel(channel)) return c.reply("Usage: `join [network] <#channel>`");
          const conn = await net.puppetFor({
            userId: c.userId,
            displayname: c.userId.slice(1, c.userId.indexOf(":")),
          });
          if (!conn)
            return c.reply(
              "You cannot have an IRC connection on this network (excluded or at the connection limit).",
            );
          conn.join(channel, net.keyFor(channel));
          return c.reply(
            `Joining ${channel} on ${net.name}; join its Matrix room through the alias #<prefix>${net.name}_${channel}.`,
          );
        },
      },
      {
        name: "storepass",
        help: "keep a NickServ/SASL password (sealed at rest) used when you connect: storepass [network] <password>",
        run: async (args, c) => {
          const { net, rest } = this.netArg(args);
          const err = needNet(net);
          if (err || !net) return c.reply(err ?? "");
          if (!rest[0]) return c.reply("Usage: `storepass [network] <password>`");
          await this.ctx.kvSet(`password:${net.name}:${c.userId}`, this.box.seal(rest.join(" ")));
          return c.reply(`Password stored for ${net.name}; it is used from your next connection.`);
        },
      },
      {
        name: "whois",
        help: "look up an IRC user: whois [network] <nick>",
        run: async (args, c) => {
          const { net, rest } = this.netArg(args);
          const err = needNet(net);
          if (err || !net) return c.reply(err ?? "");
          const nick = rest[0] ?? "";
          if (!isValidNick(nick)) return c.reply("Usage: `whois [network] <nick>`");
          const w = await new Promise<WhoisResult>((resolve) => net.bot.client.whois(nick, resolve));
          if (w.error) return c.reply(`${nick}: no such nick on ${net.name}.`);
          return c.reply(
            `${w.nick} (${w.ident ?? "?"}@${w.hostname ?? "?"}): ${w.real_name ?? ""}${w.channels ? `\nchannels: ${w.channels}` : ""}`,
          );
        },
      },
      {
        name: "quit",
        help: "disconnect your IRC connection (it comes back when you next speak): quit [network]",
        run: async (args, c) => {
          const { net } = this.netArg(args);
          const err = needNet(net);
          if (err || !net) return c.reply(err ?? "");
          return c.reply(
            net.dropPuppet(c.userId, "Quit from Matrix") ? "Disconnected." : "You have no connection there.",
          );
        },
      },
      {
        name: "cmd",
        help: "send a raw IRC command through your connection: cmd [network] <COMMAND> [args…]",
        run: async (args, c) => {
          const { net, rest } = this.netArg(args);
          const err = needNet(net);
          if (err || !net) return c.reply(err ?? "");
          const command = (rest[0] ?? "").toUpperCase();
          if (!/^[A-Z]+$/.test(command)) return c.reply("Usage: `cmd [network] <COMMAND> [args…]`");
          if (!net.config.allowed_commands.includes(command)) {
            return c.reply(`${command} is not allowed; allowed: ${net.config.allowed_commands.join(", ")}.`);
          }
          const conn = net.puppetOf(c.userId);
          if (!conn) return c.reply("Say something in a bridged channel first, so you have a connection.");
          conn.send(
            command,
            ...rest
              .slice(1)
              .map((a) => sanitizeIrcText(a))
              .filter((a) => a.length > 0),
          );
          return c.reply(`Sent ${command}.`);
        },
      },
      {
        name: "status",
        help: "your IRC connections, nicks and channels",
        run: async (_args, c) => {
          const lines: string[] = [];
          for (const net of this.networks.values()) {
            const conn = net.puppetOf(c.userId);
            lines.push(
              conn
                ? `- ${net.name}: ${conn.nick} (${conn.isReady ? "connected" : "reconnecting"}${conn.queued ? `, ${conn.queued} lines queued` : ""}) in ${conn.channels().join(", ") || "no channels"}`
                : `- ${net.name}: not connected`,
            );
          }
          return c.reply(lines.join("\n") || "No IRC networks configured.");
        },
      },
    ];
  }
}
