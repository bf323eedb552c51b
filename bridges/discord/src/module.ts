import type { BridgeModule } from "@switchboard/framework";
import { DiscordConfigSchema } from "./config.js";

/** What the `switchboard` command knows of the Discord bridge before it is enabled: discord.js loads only on start. */
export const discordBridge: BridgeModule = {
  displayName: "Discord",
  configSchema: DiscordConfigSchema,
  cliCommands: [
    {
      name: "invite-url",
      description: "print the URL a Discord server admin opens to add each configured bot",
      // invite.ts reads discord.js's permission flags: loaded for this command only.
      run: async (section) => (await import("./invite.js")).inviteUrls(section),
    },
  ],
  load: async () => new (await import("./connector.js")).DiscordConnector(),
};
