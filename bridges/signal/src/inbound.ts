import type {
  BridgeContent,
  ChatRef,
  EmitOptions,
  MediaRef,
  MessageKind,
  RemoteEvent,
} from "@switchboard/framework";
import {
  DataFlags,
  ReceiptType,
  Style,
  TypingAction,
  type AttachmentPointer,
  type BodyRangeProto,
  type DataMessage,
} from "./proto.js";
import type { Opened } from "./receiver.js";
import { groupChannel, messageId, serviceIdOf } from "./ids.js";
import { signalToMatrix, type BodyRange, type SignalStyle } from "./format.js";

/**
 * Signal content → the framework's remote events, with the keys that make a redelivered
 * envelope harmless. Pure: what the login needs from outside (its id, how a group's master
 * key maps to its chat, a mention's pill) comes in `InboundContext`.
 */

export interface InboundContext {
  loginId: string;
  selfAci: string;
  groupChat(masterKey: Uint8Array): ChatRef;
  mentionHtml(aci: string, name: string): string;
  nameOf(aci: string): string;
  /** The chat a received message (`<author>:<timestamp>`) is in, while the login remembers it. */
  chatOfMessage?(id: string): ChatRef | null;
}

export interface Emission {
  event: RemoteEvent;
  options: EmitOptions;
}

const STYLES: Record<number, SignalStyle> = {
  [Style.BOLD]: "BOLD",
  [Style.ITALIC]: "ITALIC",
  [Style.SPOILER]: "SPOILER",
  [Style.STRIKETHROUGH]: "STRIKETHROUGH",
  [Style.MONOSPACE]: "MONOSPACE",
};

export function bodyRanges(ranges: BodyRangeProto[] | undefined): BodyRange[] {
  const out: BodyRange[] = [];
  for (const r of ranges ?? []) {
    const mention = serviceIdOf(r.mentionAciBinary, r.mentionAci);
    const style = r.style !== undefined ? STYLES[r.style] : undefined;
    out.push({
      start: r.start ?? 0,
      length: r.length ?? 0,
      ...(style ? { style } : {}),
      ...(mention ? { mentionAci: mention } : {}),
    });
  }
  return out;
}

function kindOf(contentType: string | undefined, flags: number | undefined): MessageKind {
  if ((flags ?? 0) & 1) return "audio"; // a voice note
  if (contentType?.startsWith("image/")) return "image";
  if (contentType?.startsWith("video/")) return "video";
  if (contentType?.startsWith("audio/")) return "audio";
  return "file";
}

/** Where an attachment is, as journal-safe JSON (keys are what `fetchMedia` decrypts with). */
export function attachmentRef(p: AttachmentPointer): MediaRef {
  return {
    url: `signal-attachment:${p.cdnKey ?? String(p.cdnId ?? "")}`,
    meta: {
      cdnNumber: p.cdnNumber ?? 0,
      cdnKey: p.cdnKey ?? null,
      cdnId: p.cdnId !== undefined ? String(p.cdnId) : null,
      key: p.key ? Buffer.from(p.key).toString("base64") : null,
      digest: p.digest ? Buffer.from(p.digest).toString("base64") : null,
      size: p.size ?? null,
    },
  };
}

function textContent(ctx: InboundContext, dm: DataMessage): BridgeContent {
  const body = dm.body ?? "";
  const formatted = signalToMatrix(body, bodyRanges(dm.bodyRanges), (aci) => {
    const name = ctx.nameOf(aci);
    return { html: ctx.mentionHtml(aci, name), text: name };
  });
  return { kind: "text", text: formatted.text, ...(formatted.html ? { html: formatted.html } : {}) };
}

/** A data message's parts: its text, then each attachment (the first carries the message's own id). */
function messageParts(ctx: InboundContext, dm: DataMessage): BridgeContent[] {
  const text = textContent(ctx, dm);
  const attachments = [...(dm.attachments ?? []), ...(dm.sticker?.data ? [dm.sticker.data] : [])];
  const parts: BridgeContent[] = [];
  if (text.text || attachments.length === 0) parts.push(text);
  for (const a of attachments) {
    const name =
      a.fileName || (dm.sticker ? `sticker${dm.sticker.emoji ? ` ${dm.sticker.emoji}` : ""}` : "attachment");
    parts.push({
      kind: kindOf(a.contentType, a.flags),
      text: name,
      media: {
        name,
        mimetype: a.contentType || "application/octet-stream",
        ...(a.size !== undefined ? { size: a.size } : {}),
        remote: attachmentRef(a),
      },
    });
  }
  return parts;
}

/** The chat a data message belongs to: its group, or the DM with `peer`. */
function chatOf(ctx: InboundContext, dm: DataMessage | undefined, peer: string): ChatRef {
  if (dm?.groupV2?.masterKey && dm.groupV2.masterKey.length === 32)
    return ctx.groupChat(dm.groupV2.masterKey);
  return { channelId: peer, receiver: ctx.loginId };
}

function dataEvents(
  ctx: InboundContext,
  dm: DataMessage,
  author: string,
  timestamp: number,
  chat: ChatRef,
  sender: { userId: string; fromLogin?: string },
): Emission[] {
  const out: Emission[] = [];
  const key = (what: string) => ({ key: `${what}:${author}:${timestamp}` });
  if (dm.reaction?.targetSentTimestamp !== undefined && dm.reaction.emoji) {
    const target = serviceIdOf(dm.reaction.targetAuthorAciBinary, dm.reaction.targetAuthorAci) ?? author;
    const id = messageId(target, dm.reaction.targetSentTimestamp);
    out.push({
      event: dm.reaction.remove
        ? { type: "reaction-remove", chat, id, sender, key: dm.reaction.emoji }
        : { type: "reaction", chat, id, sender, key: dm.reaction.emoji, timestamp },
      options: key("reaction"),
    });
    return out;
  }
  if (dm.delete?.targetSentTimestamp !== undefined) {
    out.push({
      event: { type: "delete", chat, id: messageId(author, dm.delete.targetSentTimestamp), sender },
      options: key("delete"),
    });
    return out;
  }
  if ((dm.flags ?? 0) & DataFlags.EXPIRATION_TIMER_UPDATE) {
    const seconds = dm.expireTimer ?? 0;
    out.push({
      event: {
        type: "message",
        chat,
        id: messageId(author, timestamp),
        sender,
        timestamp,
        content: {
          kind: "notice",
          text: seconds
            ? `set disappearing messages to ${describeTimer(seconds)}`
            : "turned off disappearing messages",
        },
      },
      options: key("timer"),
    });
    return out;
  }
  if (
    (dm.flags ?? 0) & (DataFlags.END_SESSION | DataFlags.PROFILE_KEY_UPDATE) &&
    !dm.body &&
    !dm.attachments?.length
  ) {
    return out;
  }
  // A group update, a profile key or a timer carried alone: nothing to show.
  if (!dm.body && !dm.attachments?.length && !dm.sticker) return out;
  const replyTo =
    dm.quote?.id !== undefined
      ? messageId(serviceIdOf(dm.quote.authorAciBinary, dm.quote.authorAci) ?? author, dm.quote.id)
      : undefined;
  messageParts(ctx, dm).forEach((content, i) => {
    const id = i === 0 ? messageId(author, timestamp) : `${messageId(author, timestamp)}#${i}`;
    out.push({
      event: {
        type: "message",
        chat,
        id,
        sender,
        timestamp,
        content,
        ...(replyTo && i === 0 ? { replyTo } : {}),
      },
      options: { key: `message:${id}` },
    });
  });
  return out;
}

export function describeTimer(seconds: number): string {
  if (seconds % 86_400 === 0) return `${seconds / 86_400} day${seconds === 86_400 ? "" : "s"}`;
  if (seconds % 3600 === 0) return `${seconds / 3600} hour${seconds === 3600 ? "" : "s"}`;
  if (seconds % 60 === 0) return `${seconds / 60} minute${seconds === 60 ? "" : "s"}`;
  return `${seconds} seconds`;
}

/** Every remote event one opened envelope stands for. */
export function toRemoteEvents(
  ctx: InboundContext,
  opened: Opened,
  sentChat: (ts: number) => ChatRef | null,
): Emission[] {
  const { content, sender, timestamp } = opened;
  const out: Emission[] = [];
  const fromContact = { userId: sender };
  if (content.dataMessage) {
    const dm = content.dataMessage;
    out.push(...dataEvents(ctx, dm, sender, dm.timestamp ?? timestamp, chatOf(ctx, dm, sender), fromContact));
  }
  if (content.editMessage?.dataMessage && content.editMessage.targetSentTimestamp !== undefined) {
    const dm = content.editMessage.dataMessage;
    const chat = chatOf(ctx, dm, sender);
    out.push({
      event: {
        type: "edit",
        chat,
        id: messageId(sender, content.editMessage.targetSentTimestamp),
        sender: fromContact,
        timestamp: dm.timestamp ?? timestamp,
        content: textContent(ctx, dm),
      },
      options: { key: `edit:${sender}:${dm.timestamp ?? timestamp}` },
    });
  }
  if (content.typingMessage) {
    const t = content.typingMessage;
    const chat: ChatRef = t.groupId?.length
      ? { channelId: groupChannel(t.groupId) }
      : { channelId: sender, receiver: ctx.loginId };
    out.push({
      event: { type: "typing", chat, userId: sender, typing: t.action !== TypingAction.STOPPED },
      options: {},
    });
  }
  if (content.receiptMessage?.type === ReceiptType.READ && content.receiptMessage.timestamp?.length) {
    const latest = Math.max(...content.receiptMessage.timestamp);
    const chat = sentChat(latest) ?? { channelId: sender, receiver: ctx.loginId };
    out.push({
      event: { type: "read", chat, userId: sender, upTo: messageId(ctx.selfAci, latest) },
      options: {},
    });
  }
  const sync = content.syncMessage;
  if (sync && sender === ctx.selfAci) {
    const self = { userId: ctx.selfAci, fromLogin: ctx.loginId };
    const sent = sync.sent;
    if (sent) {
      const dest = serviceIdOf(sent.destinationServiceIdBinary, sent.destinationServiceId);
      const ts = sent.timestamp ?? timestamp;
      if (sent.message) {
        const chat = chatOf(ctx, sent.message, dest ?? ctx.selfAci);
        out.push(...dataEvents(ctx, sent.message, ctx.selfAci, sent.message.timestamp ?? ts, chat, self));
      }
      if (sent.editMessage?.dataMessage && sent.editMessage.targetSentTimestamp !== undefined) {
        const dm = sent.editMessage.dataMessage;
        const chat = chatOf(ctx, dm, dest ?? ctx.selfAci);
        out.push({
          event: {
            type: "edit",
            chat,
            id: messageId(ctx.selfAci, sent.editMessage.targetSentTimestamp),
            sender: self,
            timestamp: dm.timestamp ?? ts,
            content: textContent(ctx, dm),
          },
          options: { key: `edit:${ctx.selfAci}:${dm.timestamp ?? ts}` },
        });
      }
    }
    for (const read of sync.read ?? []) {
      const author = serviceIdOf(read.senderAciBinary, read.senderAci);
      if (!author || read.timestamp === undefined) continue;
      // A read names only the message: its chat is where it arrived (a group), else the DM.
      const id = messageId(author, read.timestamp);
      out.push({
        event: {
          type: "read",
          chat: ctx.chatOfMessage?.(id) ?? { channelId: author, receiver: ctx.loginId },
          userId: ctx.selfAci,
          upTo: messageId(author, read.timestamp),
          fromLogin: ctx.loginId,
        },
        options: {},
      });
    }
  }
  return out;
}
