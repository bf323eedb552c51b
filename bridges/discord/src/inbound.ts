import type {
  Message,
  MessageReaction,
  PartialMessage,
  PartialMessageReaction,
  PartialUser,
  Sticker,
  User,
} from "discord.js";
import { MessageType, StickerFormatType } from "discord.js";
import type {
  BridgeContent,
  ChatRef,
  EmitOptions,
  ForeignPuppet,
  RemoteEvent,
  RemoteMedia,
  RemoteSender,
} from "@switchboard/framework";
import { discordToContent, type PillFor } from "./format.js";
import { foreignWebhookAuthor } from "./foreign-webhooks.js";

/**
 * Discord gateway events → the framework's remote events, each with a key that makes a
 * redelivery (a RESUME replay, a reconnect) harmless. A thread's messages go to its parent
 * channel's room as a Matrix thread rooted at the thread's id (a thread started from a message
 * has that message's id).
 */

export interface Emission {
  event: RemoteEvent;
  options: EmitOptions;
}

/** Message types people write; the rest (joins, pins, boosts) are Discord's own notices. */
const CONTENT_TYPES = new Set<MessageType>([
  MessageType.Default,
  MessageType.Reply,
  MessageType.ThreadStarterMessage,
]);

/** Where a message's channel is bridged: threads live in their parent's room. */
export function chatOf(m: Message | PartialMessage): { chat: ChatRef; threadRoot?: string } {
  const channel = m.channel;
  if (channel.isThread() && channel.parentId) {
    // A forum post's first message has the post's id: it is the thread's root, not in it.
    return m.id === channel.id
      ? { chat: { channelId: channel.parentId } }
      : { chat: { channelId: channel.parentId }, threadRoot: channel.id };
  }
  return { chat: { channelId: m.channelId } };
}

/** Matrix has no bot flag on a user: a ghost's name says what Discord's BOT / webhook tag says. */
export function shownName(name: string, user: Pick<User, "bot">, webhookId?: string | null): string {
  if (webhookId) return `${name} (webhook)`;
  return user.bot ? `${name} (bot)` : name;
}

function foreignField(foreign: ForeignPuppet | undefined): { foreign?: ForeignPuppet } {
  return foreign ? { foreign } : {};
}

/** What reading a message needs besides the message: pills, and which webhooks are other bridges'. */
export interface Reading {
  pill: PillFor;
  /** `bridges.discord.foreign_bridge_webhooks`: webhook or application ids of other Matrix bridges. */
  foreignWebhooks: readonly string[];
}

export function senderOf(m: Message, foreignWebhooks: readonly string[] = []): RemoteSender {
  const author = m.author;
  const displayname = shownName(
    m.member?.displayName ?? author.globalName ?? author.username,
    author,
    m.webhookId,
  );
  const avatarUrl = m.member?.displayAvatarURL({ size: 256 }) ?? author.displayAvatarURL({ size: 256 });
  return {
    userId: author.id,
    displayname,
    ...(avatarUrl ? { avatar: { key: avatarUrl, ref: { url: avatarUrl } } } : {}),
    ...foreignField(foreignWebhookAuthor(m, foreignWebhooks)),
  };
}

function textOf(m: Message, pillFor: PillFor): Pick<BridgeContent, "text" | "html"> {
  const names = new Map<string, string>();
  for (const [id, user] of m.mentions.users) {
    names.set(id, m.mentions.members?.get(id)?.displayName ?? user.globalName ?? user.username);
  }
  const channels = new Map<string, string>();
  for (const [id, c] of m.mentions.channels) if ("name" in c && c.name) channels.set(id, c.name);
  const roles = new Map<string, string>();
  for (const [id, r] of m.mentions.roles) roles.set(id, r.name);
  return discordToContent(withEmbeds(m), names, pillFor, { channels, roles });
}

/**
 * The message's text with its rich embeds (what bots and webhooks post: a card with a title,
 * text and fields) written after it as a Discord quote, so the one markdown reader renders and
 * sanitises both. Link previews are left out: Discord makes them from a URL already in the text.
 */
export function withEmbeds(m: Pick<Message, "content" | "embeds">): string {
  const cards = m.embeds
    .filter((e) => (e.data.type ?? "rich") === "rich")
    .map((e) => {
      const lines: string[] = [];
      if (e.author?.name) lines.push(e.author.name);
      if (e.title) lines.push(e.url ? `**[${e.title}](${e.url})**` : `**${e.title}**`);
      if (e.description) lines.push(...e.description.split("\n"));
      for (const f of e.fields) lines.push(`**${f.name}**`, ...f.value.split("\n"));
      if (e.footer?.text) lines.push(e.footer.text);
      return lines.map((l) => `> ${l}`).join("\n");
    })
    .filter((card) => card !== "");
  return [m.content, ...cards].filter((part) => part.trim() !== "").join("\n\n");
}

function kindOf(mimetype: string): BridgeContent["kind"] {
  if (mimetype.startsWith("image/")) return "image";
  if (mimetype.startsWith("video/")) return "video";
  if (mimetype.startsWith("audio/")) return "audio";
  return "file";
}

/** A new message: its text, then each attachment as a file of its own. */
export function messageEvents(m: Message, r: Reading): Emission[] {
  if (m.type === MessageType.ChannelPinnedMessage) return pinNotice(m);
  if (!CONTENT_TYPES.has(m.type)) return [];
  const { chat, threadRoot } = chatOf(m);
  const sender = senderOf(m, r.foreignWebhooks);
  const common = {
    chat,
    sender,
    timestamp: m.createdTimestamp,
    ...(threadRoot ? { threadRoot } : {}),
    ...(m.reference?.messageId && m.type === MessageType.Reply ? { replyTo: m.reference.messageId } : {}),
  };
  const out: Emission[] = [];
  const text = textOf(m, r.pill);
  if (text.text.trim()) {
    out.push({
      event: { type: "message", id: m.id, ...common, content: { kind: "text", ...text } },
      options: { key: `msg:${m.id}` },
    });
  }
  for (const a of m.attachments.values()) {
    const mimetype = a.contentType ?? "application/octet-stream";
    // The first part carries the message's id (what replies and reactions name).
    const id = out.length === 0 ? m.id : `${m.id}/${a.id}`;
    out.push({
      event: {
        type: "message",
        id,
        ...common,
        content: {
          kind: kindOf(mimetype),
          text: a.name,
          media: { name: a.name, mimetype, size: a.size, remote: { url: a.url } },
        },
      },
      options: { key: `msg:${m.id}:${a.id}` },
    });
  }
  for (const sticker of m.stickers.values()) {
    const id = out.length === 0 ? m.id : `${m.id}/sticker:${sticker.id}`;
    out.push({
      event: { type: "message", id, ...common, content: stickerContent(sticker) },
      options: { key: `msg:${m.id}:sticker:${sticker.id}` },
    });
  }
  return out;
}

/**
 * A sticker as the picture it is (PNG, APNG and GIF are images any Matrix client shows);
 * a Lottie sticker is an animation only Discord's client plays, so its name stands in.
 */
function stickerContent(sticker: Sticker): BridgeContent {
  if (sticker.format === StickerFormatType.Lottie)
    return { kind: "notice", text: `[sticker: ${sticker.name}]` };
  const gif = sticker.format === StickerFormatType.GIF;
  const name = `${sticker.name}.${gif ? "gif" : "png"}`;
  return {
    kind: "image",
    text: sticker.name,
    media: { name, mimetype: gif ? "image/gif" : "image/png", remote: { url: sticker.url } },
  };
}

/**
 * Discord's "pinned a message" notice, as a notice from whoever pinned it, replying to the
 * pinned message (Matrix's own pins are room state the ghost may not have the power to set).
 */
function pinNotice(m: Message): Emission[] {
  const pinned = m.reference?.messageId;
  if (!pinned) return [];
  const sender = senderOf(m);
  return [
    {
      event: {
        type: "message",
        id: m.id,
        ...chatOf(m),
        sender,
        timestamp: m.createdTimestamp,
        replyTo: pinned,
        content: { kind: "notice", text: `${sender.displayname ?? m.author.username} pinned a message` },
      },
      options: { key: `msg:${m.id}` },
    },
  ];
}

export function editEvent(m: Message, r: Reading): Emission | null {
  if (!CONTENT_TYPES.has(m.type) || !m.editedTimestamp) return null;
  const { chat } = chatOf(m);
  return {
    event: {
      type: "edit",
      chat,
      id: m.id,
      sender: senderOf(m, r.foreignWebhooks),
      timestamp: m.editedTimestamp,
      content: { kind: "text", ...textOf(m, r.pill) },
    },
    options: { key: `edit:${m.id}:${m.editedTimestamp}` },
  };
}

export function deleteEvent(m: Message | PartialMessage): Emission {
  return { event: { type: "delete", chat: chatOf(m).chat, id: m.id }, options: { key: `delete:${m.id}` } };
}

/** A reaction's key: the emoji itself, or `:name:` for a guild's own emoji. */
export function reactionKey(r: MessageReaction | PartialMessageReaction): string | null {
  if (r.emoji.id) return r.emoji.name ? `:${r.emoji.name}:` : null;
  return r.emoji.name ?? null;
}

/** A custom emoji's picture, which the Matrix reaction shows (the CDN keeps it by id). */
function reactionImage(r: MessageReaction | PartialMessageReaction): RemoteMedia | undefined {
  const id = r.emoji.id;
  const url = id ? r.emoji.imageURL({ extension: r.emoji.animated ? "gif" : "png" }) : null;
  return id && url ? { key: `emoji:${id}`, ref: { url } } : undefined;
}

export function reactionEvent(
  r: MessageReaction | PartialMessageReaction,
  user: User | PartialUser,
  added: boolean,
): Emission | null {
  const key = reactionKey(r);
  if (!key) return null;
  const image = reactionImage(r);
  const chat = chatOf(r.message).chat;
  const sender: RemoteSender = {
    userId: user.id,
    ...(user.username
      ? { displayname: shownName(user.globalName ?? user.username, { bot: user.bot ?? false }) }
      : {}),
  };
  return added
    ? {
        event: {
          type: "reaction",
          chat,
          id: r.message.id,
          sender,
          key,
          ...(image ? { image } : {}),
          timestamp: Date.now(),
        },
        // No key: removing and adding again is a new reaction; the framework keeps one per user and key.
        options: {},
      }
    : {
        event: { type: "reaction-remove", chat, id: r.message.id, sender, key },
        options: {},
      };
}
