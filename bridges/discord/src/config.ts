import { Type, type Static } from "@sinclair/typebox";
import { BridgeSectionCommon } from "@switchboard/framework";

export const DISCORD_CDN = "https://cdn.discordapp.com";

/**
 * One Discord application whose bot the bridge runs (bot tokens only: a user token or a
 * "self-bot" login gets accounts disabled, mautrix-discord #235). The endpoints can be replaced
 * so a test server stands in for Discord.
 */
const DiscordApplicationSchema = Type.Object(
  {
    bot_token: Type.String({
      minLength: 20,
      description: "The application's bot token (Developer Portal → your application → Bot → Reset Token)",
    }),
    api_url: Type.String({
      pattern: "^https?://",
      default: "https://discord.com/api",
      description: "Discord's REST API base (discord.js appends /v10); a test server's in tests",
    }),
    cdn_url: Type.String({
      pattern: "^https?://",
      default: DISCORD_CDN,
      description: "Discord's CDN base (avatars, attachments)",
    }),
  },
  { additionalProperties: false },
);

export const DiscordConfigSchema = Type.Object(
  {
    ...BridgeSectionCommon,
    applications: Type.Array(DiscordApplicationSchema, {
      default: [],
      description:
        "Discord applications whose bots bridge their guilds (each bot sees the guilds it was invited to)",
    }),
    foreign_bridge_webhooks: Type.Array(Type.String({ pattern: "^\\d{17,20}$" }), {
      default: [],
      description:
        "Ids of webhooks (or of the applications owning them) that other Matrix bridges post through on these servers: their messages are Matrix users' and are not bridged back to rooms that have them",
    }),
    webhook_name: Type.String({
      minLength: 1,
      maxLength: 80,
      default: "Switchboard",
      description: "Name of the webhook the bridge creates in each bridged channel to post as Matrix users",
    }),
  },
  { additionalProperties: false },
);

export type DiscordConfig = Static<typeof DiscordConfigSchema>;
export type DiscordApplicationConfig = Static<typeof DiscordApplicationSchema>;
