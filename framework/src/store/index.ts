export type * from "./types.js";
export { NedbStore } from "./nedb.js";
export type { NedbStoreOptions } from "./nedb.js";
export { storeConformanceSuite } from "./conformance.js";
export type { StoreHarness } from "./conformance.js";
