import type { BotCommand, BridgeContext, CommandCaller } from "@switchboard/framework";
import type { WhoisResult } from "irc-framework";
import { isValidChannel, isValidNick, sanitizeIrcText } from "./format/index.js";
import * as ids from "./ids.js";
import type { IrcNetwork } from "./network.js";
import { storePassword } from "./passwords.js";
import type { PuppetOwner } from "./puppets.js";

/**
 * The bot's `irc …` commands, in a Matrix user's DM with the bridge bot: their nick, password,
 * private chats, joins, WHOIS, quitting and raw commands, on one network (named first, or the
 * only one configured).
 */

/** Where a user's chosen nick is kept (read when their puppet connects). */
export const nickKey = (network: string, matrixUserId: string) => `nick:${network}:${matrixUserId}`;

/** A user as a command names them: their Matrix id, and its localpart for a first nick. */
function caller(userId: string): PuppetOwner {
  return { userId, displayname: userId.slice(1, userId.indexOf(":")) };
}

export function ircCommands(
  networks: ReadonlyMap<string, IrcNetwork>,
  ctx: () => BridgeContext,
): BotCommand[] {
  const netArg = (args: string[]): { net: IrcNetwork | undefined; rest: string[] } => {
    if (args[0] && networks.has(args[0])) return { net: networks.get(args[0]), rest: args.slice(1) };
    return { net: networks.size === 1 ? [...networks.values()][0] : undefined, rest: args };
  };
  const needNet = (net: IrcNetwork | undefined) =>
    net ? null : `Say which network: ${[...networks.keys()].join(", ") || "(none configured)"}.`;
  return [
    {
      name: "nick",
      help: "choose your IRC nick: nick [network] <nick>",
      run: async (args, c) => {
        const { net, rest } = netArg(args);
        const err = needNet(net);
        if (err || !net) return c.reply(err ?? "");
        const nick = rest[0] ?? "";
        if (!isValidNick(nick)) return c.reply(`"${sanitizeIrcText(nick)}" is not a valid IRC nick.`);
        await ctx().kvSet(nickKey(net.name, c.userId), nick);
        const conn = net.puppets.puppetOf(c.userId);
        if (conn) conn.send("NICK", nick);
        return c.reply(`Your nick on ${net.name} is now ${nick}.`);
      },
    },
    {
      name: "msg",
      help: "start a private chat with an IRC user: msg [network] <nick> [text]",
      run: async (args, c) => {
        const { net, rest } = netArg(args);
        const err = needNet(net);
        if (err || !net) return c.reply(err ?? "");
        const nick = rest[0] ?? "";
        if (!isValidNick(nick)) return c.reply("Usage: `msg [network] <nick> [text]`");
        const roomId = await ctx().openDm(
          ids.loginId(net.name, c.userId),
          ids.userId(net.name, net.lower(nick)),
        );
        const text = sanitizeIrcText(rest.slice(1).join(" "));
        if (text) {
          const conn = await net.puppets.puppetFor(caller(c.userId));
          (conn ?? net.bot).send("PRIVMSG", nick, text);
        }
        return c.reply(`Your private chat with ${nick} on ${net.name} is ${roomId}; I invited you.`);
      },
    },
    {
      name: "join",
      help: "make your IRC connection join a channel: join [network] <#channel>",
      run: async (args, c) => {
        const { net, rest } = netArg(args);
        const err = needNet(net);
        if (err || !net) return c.reply(err ?? "");
        const channel = rest[0] ?? "";
        if (!isValidChannel(channel)) return c.reply("Usage: `join [network] <#channel>`");
        const conn = await net.puppets.puppetFor(caller(c.userId));
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
        const { net, rest } = netArg(args);
        const err = needNet(net);
        if (err || !net) return c.reply(err ?? "");
        if (!rest[0]) return c.reply("Usage: `storepass [network] <password>`");
        await storePassword(ctx(), net.name, c.userId, rest.join(" "));
        return c.reply(`Password stored for ${net.name}; it is used from your next connection.`);
      },
    },
    {
      name: "whois",
      help: "look up an IRC user: whois [network] <nick>",
      run: async (args, c) => {
        const { net, rest } = netArg(args);
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
        const { net } = netArg(args);
        const err = needNet(net);
        if (err || !net) return c.reply(err ?? "");
        return c.reply(
          net.puppets.drop(c.userId, "Quit from Matrix") ? "Disconnected." : "You have no connection there.",
        );
      },
    },
    {
      name: "cmd",
      help: "send a raw IRC command through your connection: cmd [network] <COMMAND> [args…]",
      run: async (args, c) => {
        const { net, rest } = netArg(args);
        const err = needNet(net);
        if (err || !net) return c.reply(err ?? "");
        const command = (rest[0] ?? "").toUpperCase();
        if (!/^[A-Z]+$/.test(command)) return c.reply("Usage: `cmd [network] <COMMAND> [args…]`");
        if (!net.config.allowed_commands.includes(command)) {
          return c.reply(`${command} is not allowed; allowed: ${net.config.allowed_commands.join(", ")}.`);
        }
        const conn = net.puppets.puppetOf(c.userId);
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
        for (const net of networks.values()) {
          const conn = net.puppets.puppetOf(c.userId);
          lines.push(
            conn
              ? `- ${net.name}: ${conn.nick} (${conn.isReady ? "connected" : "reconnecting"}${conn.queued ? `, ${conn.queued} lines queued` : ""}) in ${conn.channels().join(", ") || "no channels"}`
              : `- ${net.name}: not connected`,
          );
        }
        return c.reply(lines.join("\n") || "No IRC networks configured.");
      },
    },
    {
      name: "ignore",
      inRooms: true,
      help: "in a bridged room, for its admins: `!irc ignore <nick>` stops bridging that IRC user's lines there; `!irc ignore` lists who is",
      run: async (args, c) => muteCommand(networks, args, c, true),
    },
    {
      name: "unignore",
      inRooms: true,
      help: "in a bridged room, for its admins: `!irc unignore <nick>` bridges that IRC user again",
      run: async (args, c) => muteCommand(networks, args, c, false),
    },
  ];
}

/** `!irc ignore|unignore [nick]` in a bridged room: the room's admins mute an IRC user there. */
async function muteCommand(
  networks: ReadonlyMap<string, IrcNetwork>,
  args: string[],
  c: CommandCaller,
  mute: boolean,
): Promise<void> {
  const verb = mute ? "ignore" : "unignore";
  const where = c.chat ? ids.splitId(c.chat.channelId) : null;
  const net = where ? networks.get(where.network) : undefined;
  if (!c.chat || c.chat.receiver || !where || !net || !isValidChannel(where.name))
    return c.reply(`Say \`!irc ${verb} <nick>\` in a room bridged to an IRC channel.`);
  const channel = where.name;
  const nick = args[0] ?? "";
  if (!nick && mute) {
    const muted = net.ignores.of(net.lower(channel));
    return c.reply(
      muted.length ? `Not bridged from ${channel}: ${muted.join(", ")}.` : `Nobody is ignored in ${channel}.`,
    );
  }
  if (!c.roomAdmin) return c.reply("Only a room admin can mute or unmute IRC users here.");
  if (!isValidNick(nick)) return c.reply(`Usage: \`!irc ${verb} <nick>\``);
  if (net.isOurNick(nick)) return c.reply(`${nick} is the bridge's own; it says nothing of its own accord.`);
  if (mute) {
    await net.ignores.add(net.lower(channel), net.lower(nick), c.userId);
    return c.reply(
      `${nick}'s lines in ${channel} are not bridged here any more (\`!irc unignore ${nick}\` undoes it).`,
    );
  }
  const was = await net.ignores.remove(net.lower(channel), net.lower(nick));
  return c.reply(
    was ? `${nick}'s lines in ${channel} are bridged again.` : `${nick} was not ignored in ${channel}.`,
  );
}
