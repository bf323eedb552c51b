/** The framework's public API: bridges import from here and nothing deeper. */
export * from "./connector.js";
export {
  ConfigSchema,
  BridgeSectionCommon,
  type Config,
  type BridgeSection,
  type Permission,
} from "./config/schema.js";
export { ConfigError, loadConfig, parseConfig, type ConfigProblem } from "./config/load.js";
export { Bridge, type BridgeOptions } from "./runtime/bridge.js";
export {
  BridgeStoppingError,
  PermanentError,
  RateLimitedError,
  UnsupportedError,
  backoffMs,
} from "./errors.js";
export { fetchUrl } from "./runtime/remote-media.js";
export { matrixUserIdIn } from "./guards/double-bridge.js";
export { runCli, writeRegistration, registrationInput } from "./cli.js";
export type { Store } from "./store/types.js";
// The store backends are at @switchboard/framework/stores: a bridge never needs one, and a
// re-export here would make every bundle that imports this module load pg and mongodb.
export { CredentialBox } from "./credentials.js";
export * as format from "./format/index.js";
