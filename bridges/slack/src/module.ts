import type { BridgeModule } from "@switchboard/framework";
import { SlackConfigSchema } from "./config.js";

/** What the `switchboard` command knows of the Slack bridge before it is enabled: @slack/bolt loads only on start. */
export const slackBridge: BridgeModule = {
  displayName: "Slack",
  configSchema: SlackConfigSchema,
  load: async () => new (await import("./connector.js")).SlackConnector(),
};
