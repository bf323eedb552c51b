/**
 * Signal's identifiers as the bridge keys them. A remote user is their ACI (a UUID); a DM chat
 * is the contact's ACI (its receiver is the login); a group chat is `g:` plus the group id
 * (base64url, derived from the group's master key). A message is `<author ACI>:<sent timestamp>`,
 * which is how Signal itself names a message in quotes, reactions, edits and deletes.
 */

export function uuidFromBytes(bytes: Uint8Array): string {
  if (bytes.length !== 16) throw new Error(`a service id is 16 bytes, not ${bytes.length}`);
  const h = Buffer.from(bytes).toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export const isAci = (id: string): boolean => UUID.test(id);

/** A service id from an envelope or message: the binary form when present (newer clients), else the string. */
export function serviceIdOf(binary: Uint8Array | undefined, text: string | undefined): string | undefined {
  if (binary && binary.length === 16) return uuidFromBytes(binary);
  if (binary && binary.length === 17) {
    // 0x01 prefix: a PNI.
    return `PNI:${uuidFromBytes(binary.subarray(1))}`;
  }
  return text ? text.toLowerCase() : undefined;
}

export const GROUP_PREFIX = "g:";

export const groupChannel = (groupId: Buffer | Uint8Array): string =>
  GROUP_PREFIX + Buffer.from(groupId).toString("base64url");

export const isGroupChannel = (channelId: string): boolean => channelId.startsWith(GROUP_PREFIX);

export const messageId = (author: string, timestamp: number): string => `${author}:${timestamp}`;

export function parseMessageId(id: string): { author: string; timestamp: number } | null {
  const at = id.lastIndexOf(":");
  if (at < 0) return null;
  const timestamp = Number(id.slice(at + 1));
  const author = id.slice(0, at);
  if (!Number.isSafeInteger(timestamp) || !isAci(author)) return null;
  return { author, timestamp };
}
