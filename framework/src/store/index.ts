export type * from "./types.js";
export { NedbStore } from "./nedb.js";
export type { NedbStoreOptions } from "./nedb.js";
export { PostgresStore } from "./postgres.js";
export type { PostgresStoreOptions } from "./postgres.js";
export { storeFromConfig } from "./from-config.js";
export { storeConformanceSuite } from "./conformance.js";
export type { StoreHarness } from "./conformance.js";
