import type { BridgeModule } from "@switchboard/framework";
import { SignalConfigSchema } from "./config.js";

/** What the `switchboard` command knows of the Signal bridge before it is enabled: libsignal loads only on start. */
export const signalBridge: BridgeModule = {
  displayName: "Signal",
  configSchema: SignalConfigSchema,
  load: async () => new (await import("./connector.js")).SignalConnector(),
};
