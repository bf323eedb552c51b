/**
 * How Slack ids become the framework's keys. Chats and users are keyed by team id plus
 * Slack id ("T024BE7LD/C0123") because a Slack id is only unique inside its workspace,
 * and team ids never change while workspace names and domains can.
 */

const SLACK_ID = /^[A-Z0-9]+$/;

export interface SlackChatId {
  team: string;
  channel: string;
}

export function chatId(team: string, channel: string): string {
  return `${team}/${channel}`;
}

export function parseChatId(id: string): SlackChatId | null {
  const [team, channel, ...rest] = id.split("/");
  if (rest.length > 0 || !team || !channel || !SLACK_ID.test(team) || !SLACK_ID.test(channel)) return null;
  return { team, channel };
}

export const userId = chatId;

export function parseUserId(id: string): { team: string; user: string } | null {
  const parsed = parseChatId(id);
  return parsed && { team: parsed.team, user: parsed.channel };
}

/** Slack ids are upper-case alphanumerics: lower-casing them is reversible and a valid localpart. */
export function ghostLocalpart(remoteUserId: string): string {
  const parsed = parseUserId(remoteUserId);
  if (!parsed) throw new Error(`not a Slack user id: ${remoteUserId}`);
  return `${parsed.team.toLowerCase()}_${parsed.user.toLowerCase()}`;
}

export function remoteIdFromLocalpart(localpart: string): string | null {
  const m = /^([a-z0-9]+)_([a-z0-9]+)$/.exec(localpart);
  return m ? userId(m[1]!.toUpperCase(), m[2]!.toUpperCase()) : null;
}

/**
 * The ts of the Slack message a framework message ref names. Messages bridged from Slack are
 * keyed by their ts (a file part: "<ts>:<file id>"); a file uploaded from Matrix is keyed
 * "file:<file id>" and carries its share ts in `meta.ts`, when Slack said it.
 */
export function messageTs(ref: { remoteId: string; meta?: Record<string, unknown> }): string | undefined {
  const ts = ref.meta?.ts;
  if (typeof ts === "string" && ts !== "") return ts;
  if (ref.remoteId.startsWith("file:")) return undefined;
  return ref.remoteId.split(":")[0] || undefined;
}

/** Whether a login ("<team>/<user>") belongs to the workspace of a chat ("<team>/<channel>"). */
export function sameTeam(loginId: string, channelId: string): boolean {
  const login = parseUserId(loginId);
  return !!login && login.team === parseChatId(channelId)?.team;
}

/** The login a DM of a chat's workspace belongs to, among one Matrix user's logins: the first in that team. */
export function loginInTeam(channelId: string, loginIds: string[]): string | null {
  return loginIds.find((id) => sameTeam(id, channelId)) ?? null;
}
