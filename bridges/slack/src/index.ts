export { SlackConnector } from "./connector.js";
export { SlackConfigSchema, type SlackConfig } from "./config.js";
