/**
 * Reading and building `m.relates_to`: replies (`m.in_reply_to`), edits (`m.replace`),
 * threads (`m.thread`) and reactions (`m.annotation`). Readers take `unknown` because event
 * content is untrusted JSON: any unexpected shape gives `null`, never an exception.
 */
import {
  isMatrixMessageContent,
  isNonEmptyString,
  isRecord,
  type MatrixMentions,
  type MatrixMessageContent,
  type MatrixReactionContent,
  type MatrixRelatesTo,
} from "./content.js";

export type Relation =
  | { kind: "reply"; eventId: string }
  | { kind: "edit"; eventId: string; newContent: MatrixMessageContent }
  | { kind: "thread"; rootId: string; replyToId?: string; isFallingBack: boolean }
  /** `shortcode`: an image reaction's name (MSC4027), when the key is an mxc URI. */
  | { kind: "annotation"; eventId: string; key: string; shortcode?: string };

function inReplyTo(relatesTo: Record<string, unknown>): string | undefined {
  const reply = relatesTo["m.in_reply_to"];
  return isRecord(reply) && isNonEmptyString(reply.event_id) ? reply.event_id : undefined;
}

/**
 * What an event's content relates to. An edit's `m.new_content` must itself be valid message
 * content, or the edit is not recognised. `m.in_reply_to` next to an unknown `rel_type` is
 * still read as a reply.
 */
export function readRelation(content: unknown): Relation | null {
  if (!isRecord(content)) return null;
  const relatesTo = content["m.relates_to"];
  if (!isRecord(relatesTo)) return null;
  const relType = relatesTo.rel_type;
  const eventId = relatesTo.event_id;
  switch (relType) {
    case "m.replace": {
      const newContent = content["m.new_content"];
      if (!isNonEmptyString(eventId) || !isMatrixMessageContent(newContent)) return null;
      return { kind: "edit", eventId, newContent };
    }
    case "m.thread": {
      if (!isNonEmptyString(eventId)) return null;
      const replyToId = inReplyTo(relatesTo);
      const isFallingBack = relatesTo.is_falling_back === true;
      return replyToId === undefined
        ? { kind: "thread", rootId: eventId, isFallingBack }
        : { kind: "thread", rootId: eventId, replyToId, isFallingBack };
    }
    case "m.annotation": {
      const key = relatesTo.key;
      if (!isNonEmptyString(eventId) || !isNonEmptyString(key)) return null;
      const shortcode = content["com.beeper.reaction.shortcode"];
      return key.startsWith("mxc://") && isNonEmptyString(shortcode)
        ? { kind: "annotation", eventId, key, shortcode }
        : { kind: "annotation", eventId, key };
    }
    default: {
      const replyTo = inReplyTo(relatesTo);
      return replyTo === undefined ? null : { kind: "reply", eventId: replyTo };
    }
  }
}

/** Spread into message content to make it a reply: `{ "m.relates_to": { "m.in_reply_to": … } }`. */
export function replyContent(eventId: string): { "m.relates_to": MatrixRelatesTo } {
  return { "m.relates_to": { "m.in_reply_to": { event_id: eventId } } };
}

export interface EditOptions {
  /**
   * The mentions of the version being replaced. Users (and @room) already mentioned there are
   * left out of the outer `m.mentions`, so an edit only notifies newly mentioned users.
   */
  previousMentions?: MatrixMentions;
}

/**
 * A complete edit event content: `m.new_content` holds the new version (without relation
 * fields); the outer content is the `* `-prefixed fallback for clients without edit support.
 */
export function editContent(
  originalEventId: string,
  newContent: MatrixMessageContent,
  options: EditOptions = {},
): MatrixMessageContent {
  const {
    "m.relates_to": _relatesTo,
    "m.new_content": _newContent,
    "m.mentions": mentions,
    ...rest
  } = newContent;
  const replacement: MatrixMessageContent =
    mentions === undefined ? rest : { ...rest, "m.mentions": mentions };
  const edit: MatrixMessageContent = {
    ...rest,
    body: `* ${rest.body}`,
    "m.new_content": replacement,
    "m.relates_to": { rel_type: "m.replace", event_id: originalEventId },
  };
  if (rest.formatted_body !== undefined) edit.formatted_body = `* ${rest.formatted_body}`;
  if (mentions !== undefined) {
    const previous = new Set(options.previousMentions?.user_ids ?? []);
    const outer: MatrixMentions = {
      user_ids: (mentions.user_ids ?? []).filter((userId) => !previous.has(userId)),
    };
    if (mentions.room && !options.previousMentions?.room) outer.room = true;
    edit["m.mentions"] = outer;
  }
  return edit;
}

export interface ThreadOptions {
  /**
   * A real reply inside the thread: `m.in_reply_to` points at this event and
   * `is_falling_back` is false. Without it, the reply is only the fallback to the latest event.
   */
  replyToId?: string;
}

/**
 * Spread into message content to post it in a thread. `latestEventId` is the thread's most
 * recent event, used as the `m.in_reply_to` fallback for clients without thread support.
 */
export function threadContent(
  rootId: string,
  latestEventId: string,
  options: ThreadOptions = {},
): { "m.relates_to": MatrixRelatesTo } {
  const replyTo = options.replyToId;
  return {
    "m.relates_to": {
      rel_type: "m.thread",
      event_id: rootId,
      is_falling_back: replyTo === undefined,
      "m.in_reply_to": { event_id: replyTo ?? latestEventId },
    },
  };
}

/**
 * The whole content of an `m.reaction` event. With an image (a network's custom emoji), the key
 * is the image's mxc URI and the name rides along as MSC4027's shortcode, which clients that do
 * not render images show instead.
 */
export function reactionContent(eventId: string, key: string, image?: string): MatrixReactionContent {
  return image
    ? {
        "m.relates_to": { rel_type: "m.annotation", event_id: eventId, key: image },
        "com.beeper.reaction.shortcode": key,
      }
    : { "m.relates_to": { rel_type: "m.annotation", event_id: eventId, key } };
}
