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
