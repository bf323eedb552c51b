import { PermissionFlagsBits } from "discord.js";
import type { DiscordConfig } from "./config.js";

/**
 * What the bot needs in a bridged channel: View Channel, Send Messages, Send Messages in
 * Threads, Create Public Threads, Manage Webhooks (to post as Matrix users), Add Reactions,
 * Read Message History, Attach Files, Embed Links.
 */
export const BOT_PERMISSIONS = [
  PermissionFlagsBits.ViewChannel,
  PermissionFlagsBits.SendMessages,
  PermissionFlagsBits.SendMessagesInThreads,
  PermissionFlagsBits.CreatePublicThreads,
  PermissionFlagsBits.ManageWebhooks,
  PermissionFlagsBits.AddReactions,
  PermissionFlagsBits.ReadMessageHistory,
  PermissionFlagsBits.AttachFiles,
  PermissionFlagsBits.EmbedLinks,
].reduce((all, p) => all | p, 0n);

/** The URL a server admin opens to add the bot with exactly the permissions it needs. */
export function inviteUrl(applicationId: string): string {
  const q = new URLSearchParams({
    client_id: applicationId,
    scope: "bot",
    permissions: BOT_PERMISSIONS.toString(),
  });
  return `https://discord.com/oauth2/authorize?${q.toString()}`;
}

/**
 * A bot token's application id, read from the token itself: its first part is the bot user's
 * id in base64, which is the application's id. Offline on purpose: the admin gets the URL before
 * the bot can reach Discord (or before a firewall rule lets it). Null when the token is not one.
 */
export function applicationIdFromToken(token: string): string | null {
  const first = token.split(".")[0] ?? "";
  const id = Buffer.from(first, "base64").toString("utf8");
  return /^\d{17,20}$/.test(id) ? id : null;
}

/** What `switchboard discord invite-url -c config.yaml` prints: one line per configured application. */
export function inviteUrls(section: Record<string, unknown>): string {
  const apps = (section as Pick<DiscordConfig, "applications">).applications ?? [];
  if (apps.length === 0)
    throw new Error("bridges.discord.applications is empty: add a bot_token (see bridges/discord/README.md)");
  return apps
    .map((app, i) => {
      const id = applicationIdFromToken(app.bot_token);
      if (!id)
        throw new Error(
          `bridges.discord.applications[${i}].bot_token is not a bot token (Developer Portal → Bot → Reset Token)`,
        );
      return apps.length === 1 ? inviteUrl(id) : `applications[${i}] (${id}): ${inviteUrl(id)}`;
    })
    .join("\n");
}
