/** The IRC bridge: IRC networks on Matrix through irc-framework. */
export { IrcConnector } from "./connector.js";
export { IrcConfigSchema, IrcNetworkSchema, type IrcConfig, type IrcNetworkConfig } from "./config.js";
export type { NetworkStats } from "./network.js";
