import { ALL_PERMISSIONS, isThreadType, Permission } from "./bits.js";
import type { ChannelRecord, GuildRecord } from "./discord-objects.js";

/**
 * Discord's permission computation (Permissions → Permission Overwrites): the owner has everything,
 * ADMINISTRATOR has everything, otherwise @everyone plus the member's roles, then the channel's
 * @everyone overwrite, the role overwrites together, and the member's own overwrite, in that order.
 * Threads use their parent's overwrites. Channel permissions no one may hold without VIEW_CHANNEL
 * (and message permissions without SEND_MESSAGES) are dropped, as Discord does implicitly.
 */

export function basePermissions(guild: GuildRecord, userId: string): bigint {
  if (guild.ownerId === userId) return ALL_PERMISSIONS;
  const member = guild.members.get(userId);
  if (!member) return 0n;
  let bits = guild.roles.get(guild.id)?.permissions ?? 0n;
  for (const roleId of member.roles) bits |= guild.roles.get(roleId)?.permissions ?? 0n;
  return bits & Permission.ADMINISTRATOR ? ALL_PERMISSIONS : bits;
}

export function channelPermissions(
  guild: GuildRecord,
  channel: ChannelRecord,
  parentOf: (id: string) => ChannelRecord | undefined,
  userId: string,
): bigint {
  const base = basePermissions(guild, userId);
  if (base === ALL_PERMISSIONS) return base;
  const source =
    isThreadType(channel.type) && channel.parentId ? (parentOf(channel.parentId) ?? channel) : channel;
  const member = guild.members.get(userId);
  let bits = base;
  const everyone = source.overwrites.find((o) => o.type === 0 && o.id === guild.id);
  if (everyone) bits = (bits & ~everyone.deny) | everyone.allow;
  let allow = 0n;
  let deny = 0n;
  for (const o of source.overwrites) {
    if (o.type === 0 && o.id !== guild.id && member?.roles.includes(o.id)) {
      allow |= o.allow;
      deny |= o.deny;
    }
  }
  bits = (bits & ~deny) | allow;
  const own = source.overwrites.find((o) => o.type === 1 && o.id === userId);
  if (own) bits = (bits & ~own.deny) | own.allow;
  if (!(bits & Permission.VIEW_CHANNEL)) return 0n;
  // In threads SEND_MESSAGES_IN_THREADS is what counts, so the implicit denial is for channels only.
  if (!isThreadType(channel.type) && !(bits & Permission.SEND_MESSAGES)) {
    bits &= ~(
      Permission.MENTION_EVERYONE |
      Permission.SEND_TTS_MESSAGES |
      Permission.ATTACH_FILES |
      Permission.EMBED_LINKS
    );
  }
  return bits;
}
