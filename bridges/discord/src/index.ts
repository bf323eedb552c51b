/** The Discord bridge: see README.md. */
export { DiscordConnector } from "./connector.js";
export { DiscordConfigSchema, type DiscordConfig } from "./config.js";
