export { SignalConnector } from "./connector.js";
export { SignalConfigSchema, type SignalConfig } from "./config.js";
