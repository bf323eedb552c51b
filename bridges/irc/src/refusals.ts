import { maskMatches } from "./masks.js";

/**
 * What a Matrix room is told when IRC refuses the bridge something: a join (banned, invite
 * only, unknown key, full) or a line (cannot send to channel). Each notice says who was
 * refused, why, and what would fix it, since IRC's own error text is often just "Cannot send
 * to channel".
 */

/** IRC errors (irc-framework's names) that keep a connection out of a channel. */
export const JOIN_REFUSALS: ReadonlySet<string> = new Set([
  "banned_from_channel",
  "invite_only_channel",
  "bad_channel_key",
  "channel_is_full",
]);

export interface Refusal {
  error: string;
  channel: string;
  network: string;
  /** The server's own words. */
  reason?: string;
  /** The ban mask that matches the refused connection, when the bridge could find it. */
  ban?: string | null;
}

/** The bridge bot, or a Matrix user's puppet. */
export type Refused = { bot: string } | { puppet: string; displayname: string };

/** The notice for the room, or null for errors the room need not hear about. */
export function refusalNotice(r: Refusal, who: Refused): string | null {
  const where = `${r.channel} on ${r.network}`;
  const banned = r.ban ? ` (+b ${r.ban})` : "";
  const server = r.reason ? `the server said "${r.reason}"` : `the server refused it (${r.error})`;
  if ("bot" in who) {
    const bot = `The bridge's IRC bot (${who.bot})`;
    const nothing = "Nothing crosses between this room and the channel until";
    switch (r.error) {
      case "banned_from_channel":
        return `${bot} is banned from ${where}${banned}. ${nothing} the ban is lifted.`;
      case "invite_only_channel":
        return `${bot} cannot join ${where}: the channel is invite only (+i). ${nothing} a channel operator invites it (/invite ${who.bot} ${r.channel}).`;
      case "bad_channel_key":
        return `${bot} cannot join ${where}: the channel has a key (+k) the bridge does not know. ${nothing} a bridge admin adds it under channel_keys of the ${r.network} network in the bridge's config.`;
      case "channel_is_full":
        return `${bot} cannot join ${where}: the channel is full (+l). ${nothing} there is room.`;
      case "cannot_send_to_channel":
        return `A relayed message could not be delivered to ${where}: ${r.ban ? `the bridge is banned there${banned}` : server}.`;
      case "chanop_privs_needed":
        return `${bot} is not a channel operator in ${where}: ${server}.`;
      default:
        return null;
    }
  }
  const conn = `${who.displayname}'s IRC connection (${who.puppet})`;
  switch (r.error) {
    case "banned_from_channel":
      return `${conn} is banned from ${where}${banned}: their messages are not delivered there.`;
    case "invite_only_channel":
      return `${conn} cannot join ${where}: the channel is invite only (+i). A channel operator can invite it (/invite ${who.puppet} ${r.channel}).`;
    case "bad_channel_key":
      return `${conn} cannot join ${where}: the channel has a key (+k) the bridge does not know; a bridge admin can add it under channel_keys.`;
    case "channel_is_full":
      return `${conn} cannot join ${where}: the channel is full (+l).`;
    case "cannot_send_to_channel":
      return `A message from ${who.displayname} (${who.puppet}) could not be delivered to ${where}: ${r.ban ? `${who.puppet} is banned there${banned}` : server}.`;
    case "chanop_privs_needed":
      return `${conn} lacks operator rights in ${where}: ${server}.`;
    default:
      return null;
  }
}

/** What `RefusalNotices` needs of a refused connection. */
export interface RefusedConnection {
  readonly nick: string;
  /** "nick!ident@host" as the server last showed it, to match bans against. */
  readonly hostmask: string | null;
}

/** One IRC error about a channel, as irc-framework reports it. */
export interface ChannelError {
  error: string;
  channel: string;
  reason?: string;
}

/** How long the same cause is not told again to the same room. */
const TELL_AGAIN_AFTER_MS = 60_000;

/**
 * Tells a room why IRC refused one of our connections something, never silently and never
 * twice a minute for the same cause: a ban keeps a connection out (474) and then mutes it
 * (404), which is one notice. The ban that matches is looked up in the channel's ban list
 * (bans set before the bridge came are in no event it saw).
 */
export class RefusalNotices {
  private readonly told = new Set<string>();

  constructor(
    private readonly opts: {
      network: string;
      /** The server's case mapping. */
      lower: (s: string) => string;
      /** The channel's ban masks (asked through the bot's connection). */
      banList: (channel: string) => Promise<string[]>;
      /** Sends the notice to the channel's room(s). */
      notice: (channel: string, text: string) => Promise<void>;
    },
  ) {}

  async tell(e: ChannelError, conn: RefusedConnection, who: Refused): Promise<void> {
    const banLike = e.error === "banned_from_channel" || e.error === "cannot_send_to_channel";
    const key = `${conn.nick} ${banLike ? "ban" : e.error} ${this.opts.lower(e.channel)}`;
    if (this.told.has(key)) return;
    this.told.add(key);
    setTimeout(() => this.told.delete(key), TELL_AGAIN_AFTER_MS).unref();
    const ban = banLike ? await this.banMatching(e.channel, conn) : null;
    const text = refusalNotice(
      { error: e.error, channel: e.channel, network: this.opts.network, reason: e.reason, ban },
      who,
    );
    if (text) await this.opts.notice(e.channel, text);
  }

  private async banMatching(channel: string, conn: RefusedConnection): Promise<string | null> {
    const hostmask = conn.hostmask ?? `${conn.nick}!*@*`;
    const bans = await this.opts.banList(channel);
    return bans.find((mask) => maskMatches(mask, hostmask, this.opts.lower)) ?? null;
  }
}
