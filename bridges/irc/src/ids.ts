/**
 * Ids the framework sees. IRC has no stable account ids, so a remote user *is* their
 * nick on a network (case-folded): "libera/alice". Channels likewise: "libera/#rust".
 * Ghost localparts read "libera_alice" (after the bridge prefix `irc_`), with characters
 * Matrix localparts lack written as "=xx" so the mapping stays reversible.
 *
 * A Matrix user's own IRC connection on a network is an implicit login (no login step):
 * "libera/@alice:example.org". A nick never contains "@", so it cannot clash with a user id
 * ("libera/alice"), and a DM chat is scoped to that login id.
 */

export function channelId(network: string, channel: string): string {
  return `${network}/${channel}`;
}

export function userId(network: string, nick: string): string {
  return `${network}/${nick}`;
}

/** The implicit login of a Matrix user on a network: "libera/@alice:example.org". */
export function loginId(network: string, matrixUserId: string): string {
  return `${network}/${matrixUserId}`;
}

/** The parts of an implicit login id, or null when it is not one. */
export function parseLoginId(id: string): { network: string; matrixUserId: string } | null {
  const parts = splitId(id);
  if (!parts || !/^[a-z0-9]+$/.test(parts.network) || !isMatrixUserId(parts.name)) return null;
  return { network: parts.network, matrixUserId: parts.name };
}

/** "@localpart:server", loosely: what a login id can carry (the framework validated the sender). */
function isMatrixUserId(s: string): boolean {
  return /^@[^:\s]+:\S+$/.test(s);
}

/** Splits "libera/#rust" or "libera/alice" into its parts. */
export function splitId(id: string): { network: string; name: string } | null {
  const slash = id.indexOf("/");
  if (slash <= 0) return null;
  return { network: id.slice(0, slash), name: id.slice(slash + 1) };
}

function escape(nick: string): string {
  let out = "";
  for (const byte of Buffer.from(nick, "utf8")) {
    const ch = String.fromCharCode(byte);
    out += /[a-z0-9.-]/.test(ch) ? ch : `=${byte.toString(16).padStart(2, "0")}`;
  }
  return out;
}

function unescape(s: string): string | null {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const ch = s[i] ?? "";
    if (ch === "=") {
      const hex = s.slice(i + 1, i + 3);
      if (!/^[0-9a-f]{2}$/.test(hex)) return null;
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (/[a-z0-9.-]/.test(ch)) bytes.push(ch.charCodeAt(0));
    else return null;
  }
  return Buffer.from(bytes).toString("utf8");
}

/** "libera/alice" → "libera_alice"; "libera/Al[i]ce" is folded by the caller first. */
export function ghostLocalpart(remoteUserId: string): string {
  const parts = splitId(remoteUserId);
  if (!parts) return `=${escape(remoteUserId)}`;
  return `${parts.network}_${escape(parts.name)}`;
}

export function remoteIdFromLocalpart(localpart: string): string | null {
  const underscore = localpart.indexOf("_");
  if (underscore <= 0) return null;
  const nick = unescape(localpart.slice(underscore + 1));
  return nick === null ? null : userId(localpart.slice(0, underscore), nick);
}
