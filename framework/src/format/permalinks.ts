/**
 * Matrix permalinks: `https://matrix.to/#/<id>[/<event id>][?via=…]` and `matrix:` URIs
 * (`matrix:u/<user>`, `matrix:r/<alias>`, `matrix:roomid/<id>`, each optionally `/e/<event>`).
 */

/** What a Matrix link points at. */
export type MatrixLink =
  | { kind: "user"; userId: string }
  | { kind: "room"; roomIdOrAlias: string }
  | { kind: "event"; roomIdOrAlias: string; eventId: string };

const USER_ID = /^@[^:\s]+:\S+$/;
const ROOM_ALIAS = /^#[^:\s]+:\S+$/;
/** Room ids before room v12 are `!opaque:server`; from v12 on they have no server part. */
const ROOM_ID = /^![^\s/]+$/;
const EVENT_ID = /^\$\S+$/;

const MATRIX_TO = /^https?:\/\/matrix\.to\/#\/([^?]*)(?:\?.*)?$/i;
const MATRIX_URI = /^matrix:([^?#]*)(?:[?#].*)?$/i;

/**
 * Percent-encodes a Matrix identifier for a URI path/fragment segment. `@` and `:` are legal
 * there (RFC 3986 pchar) and kept for readability; everything else that is not unreserved
 * (`/`, `?`, `#`, `%`, spaces, IPv6 brackets…) is encoded, so ids always round-trip.
 */
export function encodeMatrixId(id: string): string {
  return encodeURIComponent(id).replace(/%40/g, "@").replace(/%3A/gi, ":");
}

/** `https://matrix.to/#/@alice:example.org` */
export function userPermalink(userId: string): string {
  return `https://matrix.to/#/${encodeMatrixId(userId)}`;
}

/** `https://matrix.to/#/!room:example.org[/$event]` (or an alias). */
export function roomPermalink(roomIdOrAlias: string, eventId?: string): string {
  const event = eventId === undefined ? "" : `/${encodeMatrixId(eventId)}`;
  return `https://matrix.to/#/${encodeMatrixId(roomIdOrAlias)}${event}`;
}

function decode(segment: string): string | null {
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}

function isRoom(id: string): boolean {
  return ROOM_ALIAS.test(id) || ROOM_ID.test(id);
}

function roomOrEvent(room: string, event: string | null | undefined): MatrixLink | null {
  if (!isRoom(room)) return null;
  if (event === undefined) return { kind: "room", roomIdOrAlias: room };
  if (event === null || !EVENT_ID.test(event)) return null;
  return { kind: "event", roomIdOrAlias: room, eventId: event };
}

function parseMatrixTo(path: string): MatrixLink | null {
  // A user id may legally contain "/" (and older clients do not encode it), so a path that
  // starts with "@" is the user id as a whole.
  const whole = decode(path);
  if (whole === null) return null;
  if (whole.startsWith("@")) return USER_ID.test(whole) ? { kind: "user", userId: whole } : null;
  const segments = path.split("/");
  if (segments.length > 2) return null;
  const room = decode(segments[0] ?? "");
  if (room === null) return null;
  return roomOrEvent(room, segments[1] === undefined ? undefined : decode(segments[1]));
}

function parseMatrixUri(path: string): MatrixLink | null {
  const segments = path.split("/");
  const [type, first, e, event, ...rest] = segments;
  if (first === undefined || rest.length > 0) return null;
  const id = decode(first);
  if (id === null || id === "") return null;
  if (e !== undefined && (e !== "e" || event === undefined)) return null;
  const eventId = event === undefined ? undefined : decode(event);
  switch (type) {
    case "u": {
      if (e !== undefined) return null;
      const userId = `@${id}`;
      return USER_ID.test(userId) ? { kind: "user", userId } : null;
    }
    case "r":
      return roomOrEvent(`#${id}`, eventId === undefined ? undefined : eventId && `$${eventId}`);
    case "roomid":
      return roomOrEvent(`!${id}`, eventId === undefined ? undefined : eventId && `$${eventId}`);
    default:
      return null;
  }
}

/**
 * Recognises matrix.to links and `matrix:` URIs. Returns null for anything else, including
 * malformed ids or percent-encoding; never throws.
 */
export function parseMatrixLink(href: string): MatrixLink | null {
  const trimmed = href.trim();
  const matrixTo = MATRIX_TO.exec(trimmed);
  if (matrixTo) return parseMatrixTo(matrixTo[1] ?? "");
  const uri = MATRIX_URI.exec(trimmed);
  if (uri) return parseMatrixUri(uri[1] ?? "");
  return null;
}
