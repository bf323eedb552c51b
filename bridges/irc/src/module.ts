import type { BridgeModule } from "@switchboard/framework";
import { IrcConfigSchema } from "./config.js";

/** What the `switchboard` command knows of the IRC bridge before it is enabled: irc-framework loads only on start. */
export const ircBridge: BridgeModule = {
  displayName: "IRC",
  configSchema: IrcConfigSchema,
  load: async () => new (await import("./connector.js")).IrcConnector(),
};
