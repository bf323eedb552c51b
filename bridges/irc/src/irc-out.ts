import type {
  BridgeContent,
  BridgeContext,
  ChatCapabilities,
  ChatInfo,
  ChatRef,
  MatrixMessage,
  RemoteUser,
} from "@switchboard/framework";
import { PermanentError } from "@switchboard/framework";
import type { IrcConnection } from "./connection.js";
import {
  MIN_SPLIT_BYTES,
  isValidChannel,
  matrixToIrc,
  maxPayloadBytes,
  sanitizeIrcText,
  splitMessage,
} from "./format/index.js";
import * as ids from "./ids.js";
import type { IrcNetwork } from "./network.js";

/**
 * Matrix → IRC, the part both clients share (the bot relaying, or a user's puppet speaking):
 * what an IRC chat can carry, what it looks like and who is in it, and a Matrix message or
 * edit as IRC lines. IRC has no message ids, no deletes and no read state; an edit goes out
 * as a corrected line. Which connection speaks is the client's choice.
 */

/** The same for every IRC chat, channel or DM. */
export const IRC_CAPABILITIES: ChatCapabilities = Object.freeze({
  edits: true,
  replies: true,
  threads: false,
  reactions: false,
  redactions: false,
  typing: false,
  readReceipts: false,
  media: true,
});

/** A conservative estimate of the ":nick!ident@host " prefix other clients see. */
const PREFIX_ESTIMATE = 100;

/** A chat of one of the connector's networks, and the channel (or, in a DM, the nick) it names. */
export interface Target {
  net: IrcNetwork;
  /** A channel, or the other side's nick in a DM. */
  name: string;
  isDm: boolean;
}

/** The connector's networks, by name. */
export type Networks = ReadonlyMap<string, IrcNetwork>;

/** The network a chat belongs to (its channelId says: "libera/#rust", "libera/alice"). */
export function targetOf(networks: Networks, chat: ChatRef): Target {
  const net = networks.get(ids.splitId(chat.channelId)?.network ?? "");
  if (!net) throw notOurs(chat, "is not configured on this bridge (bridges.irc.networks)");
  return targetIn(net, chat);
}

/** A chat of one network (a puppet speaks on its own network only). */
export function targetIn(net: IrcNetwork, chat: ChatRef): Target {
  const name = net.channelOf(chat);
  if (name === null) throw notOurs(chat, `is not ${net.name}, where this IRC connection is`);
  return { net, name, isDm: Boolean(chat.receiver) };
}

function notOurs(chat: ChatRef, why: string): PermanentError {
  return new PermanentError(`the IRC network of ${chat.channelId} ${why}`);
}

/** A chat as the bridge sees it: a DM with a nick, or a channel the bot is in (or was refused). */
export async function describeChat({ net, name, isDm }: Target): Promise<ChatInfo | null> {
  if (isDm) {
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
  return { name, topic: net.channels.topic(name), isPrivate: net.channels.isPrivate(name) };
}

/** A channel's IRC users (the bridge's own nicks left out): the bot joins first to know them. */
export async function listMembers({ net, name, isDm }: Target): Promise<RemoteUser[]> {
  if (isDm) return [net.user(name)];
  await net.ensureBotIn(name);
  const opsLevel = net.config.ops_power_level;
  return net.channels
    .membersOf(name)
    .filter((nick) => !net.isOurNick(nick))
    .map((nick) =>
      opsLevel > 0 && net.channels.isOperator(name, nick)
        ? { ...net.user(nick), level: opsLevel }
        : net.user(nick),
    );
}

/** Who speaks, and whether for someone else (then the line shows who: `<alice> text`). */
export interface Speaker {
  conn: IrcConnection;
  relayed: boolean;
}

/** Before speaking in a channel, the connection joins it (a no-op when it is in). */
export function joinToSpeak({ net, name, isDm }: Target, conn: IrcConnection): void {
  if (!isDm) conn.join(name, net.keyFor(name));
}

/** A Matrix message as IRC lines: split at the line limit, a reply quoted, a long one as a link to a text file. */
export async function sendMessage(
  ctx: Pick<BridgeContext, "uploadMedia">,
  { net, name }: Target,
  { conn, relayed }: Speaker,
  msg: MatrixMessage,
): Promise<void> {
  const who = sanitizeIrcText(msg.sender.displayname).slice(0, 40);
  let text = render(msg.content, msg, msg.content.media ? await mediaLink(msg.content) : undefined);
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
    maxPayloadBytes(name, PREFIX_ESTIMATE, command, action) - Buffer.byteLength(prefix),
  );
  let lines = splitMessage(text, max);
  if (lines.length > net.config.max_lines) {
    const file = await ctx.uploadMedia(
      Buffer.from(text, "utf8"),
      "text/plain; charset=utf-8",
      "message.txt",
      {
        forEvent: msg.eventId,
      },
    );
    const first = splitMessage(text.split("\n")[0] ?? "", Math.max(40, max - file.link.length - 40))[0] ?? "";
    lines = splitMessage(`${first}… (full message: ${file.link})`, max);
  }
  for (const line of lines) {
    const payload = prefix + line;
    conn.send(command, name, action ? `\x01ACTION ${payload}\x01` : payload);
  }
}

/** An edit as one corrected line: "* new text", or "s/…/new text/" with `edit_style: diff`. */
export async function sendEdit(
  { net, name }: Target,
  { conn, relayed }: Speaker,
  edit: { sender: { displayname: string }; content: BridgeContent },
): Promise<void> {
  const who = sanitizeIrcText(edit.sender.displayname).slice(0, 40);
  const text = render(
    edit.content,
    undefined,
    edit.content.media ? await mediaLink(edit.content) : undefined,
  );
  const line = net.config.edit_style === "diff" ? `s/…/${text}/` : `* ${text}`;
  const max = maxPayloadBytes(name, PREFIX_ESTIMATE, "PRIVMSG") - 50;
  const [first] = splitMessage((relayed ? `<${who}> ` : "") + line, max);
  if (first) conn.send("PRIVMSG", name, first);
}

/**
 * The link IRC users open for a file (served by the bridge: the homeserver wants a token).
 * Callers await it only for media: an await on every line reorders a burst of sends and
 * halved Matrix → IRC throughput in `bench:irc` (1,000 puppets).
 */
async function mediaLink(content: BridgeContent): Promise<string | undefined> {
  if (!content.media) return undefined;
  return content.media.link ? await content.media.link() : content.media.mxc;
}

function render(content: BridgeContent, msg?: MatrixMessage, link?: string): string {
  if (content.media) return `${content.text ? `${content.text} ` : ""}${content.media.name} <${link ?? ""}>`;
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
