import type { ChatRef } from "@switchboard/framework";

/**
 * Chats are Discord channel ids (snowflakes are unique across guilds); the portal alias names
 * the guild too (`#discord_<guild id>_<channel id>`), so an alias alone finds its channel and
 * two guilds' "#general" never collide. Message ids are Discord's.
 */

const SNOWFLAKE = /^\d{17,20}$/;

export const isSnowflake = (id: string): boolean => SNOWFLAKE.test(id);

export function aliasSuffix(guildId: string, channelId: string): string {
  return `${guildId}_${channelId}`;
}

/**
 * `<guild>_<channel>` (an alias), or what people paste after `!link discord`: `<guild> <channel>`
 * or the channel's link (`https://discord.com/channels/<guild>/<channel>`) → the channel's chat.
 */
export function chatFromAliasSuffix(suffix: string): { guildId: string; chat: ChatRef } | null {
  const m =
    /^(\d{17,20})[_ ]+(\d{17,20})$/.exec(suffix.trim()) ??
    /^https:\/\/(?:\w+\.)?discord(?:app)?\.com\/channels\/(\d{17,20})\/(\d{17,20})\/?$/.exec(suffix.trim());
  if (!m) return null;
  return { guildId: m[1]!, chat: { channelId: m[2]! } };
}
