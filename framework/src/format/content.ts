/**
 * Typed shapes of Matrix `m.room.message` / `m.reaction` content, as far as the format helpers
 * need them. Everything that arrives from a homeserver is `unknown` until checked with the
 * guards below: events are user-controlled JSON and may have any shape.
 */

/** The only `format` the spec defines for `formatted_body`. */
export const HTML_FORMAT = "org.matrix.custom.html";

/** Known msgtypes; any other string is allowed too (custom msgtypes exist). */
export type MatrixMsgtype =
  | "m.text"
  | "m.emote"
  | "m.notice"
  | "m.image"
  | "m.file"
  | "m.audio"
  | "m.video"
  | "m.location"
  | (string & {});

export interface MatrixInReplyTo {
  event_id: string;
}

/** `m.relates_to`: every field is optional because the shape depends on `rel_type`. */
export interface MatrixRelatesTo {
  rel_type?: string;
  event_id?: string;
  /** m.annotation only: the reaction key (usually an emoji). */
  key?: string;
  /** m.thread only: true when `m.in_reply_to` is only a fallback for clients without threads. */
  is_falling_back?: boolean;
  "m.in_reply_to"?: MatrixInReplyTo;
}

/** Intentional mentions (MSC3952, spec v1.7). */
export interface MatrixMentions {
  user_ids?: string[];
  room?: boolean;
}

/** Media metadata (`info`); only the common fields are typed. */
export interface MatrixMediaInfo {
  mimetype?: string;
  size?: number;
  w?: number;
  h?: number;
  duration?: number;
  thumbnail_url?: string;
  thumbnail_info?: MatrixMediaInfo;
  [key: string]: unknown;
}

export interface MatrixMessageContent {
  msgtype: MatrixMsgtype;
  body: string;
  /** Required when `formatted_body` is set; only {@link HTML_FORMAT} is defined. */
  format?: string;
  formatted_body?: string;
  /** `mxc://` URI of the media for m.image / m.file / m.audio / m.video. */
  url?: string;
  info?: MatrixMediaInfo;
  /** The file's name, when `body` is a caption (Matrix 1.10 media captions). */
  filename?: string;
  "m.relates_to"?: MatrixRelatesTo;
  /** Only on edits (`rel_type: m.replace`): the complete replacement content. */
  "m.new_content"?: MatrixMessageContent;
  "m.mentions"?: MatrixMentions;
}

/** Content of an `m.reaction` event. */
export interface MatrixReactionContent {
  "m.relates_to": { rel_type: "m.annotation"; event_id: string; key: string };
  /** An image reaction's name (MSC4027: the key is then the image's mxc URI). */
  "com.beeper.reaction.shortcode"?: string;
}

/** A plain JSON object (not null, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A non-empty string, e.g. an event or user id read from untrusted content. */
export function isNonEmptyString(value: unknown): value is string {
  return typeof value === "string" && value.length > 0;
}

/**
 * Checks the fields a bridge relies on: `msgtype` and `body` are strings, and the optional
 * text/URL fields, when present, are strings too. Never throws.
 */
export function isMatrixMessageContent(value: unknown): value is MatrixMessageContent {
  if (!isRecord(value)) return false;
  if (typeof value.msgtype !== "string" || typeof value.body !== "string") return false;
  for (const key of ["format", "formatted_body", "url"] as const) {
    if (value[key] !== undefined && typeof value[key] !== "string") return false;
  }
  if (value.info !== undefined && !isRecord(value.info)) return false;
  return true;
}

/** The HTML body if the content carries one in the Matrix HTML format, else undefined. */
export function htmlBodyOf(content: MatrixMessageContent): string | undefined {
  return content.format === HTML_FORMAT && typeof content.formatted_body === "string"
    ? content.formatted_body
    : undefined;
}
