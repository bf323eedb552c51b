/** The store backends (`@switchboard/framework/stores`), for tools that open a store themselves (bench). */
export type * from "./types.js";
export { NedbStore } from "./nedb.js";
export type { NedbStoreOptions } from "./nedb.js";
export { PostgresStore } from "./postgres.js";
export type { PostgresStoreOptions } from "./postgres.js";
export { MongoStore } from "./mongodb.js";
export type { MongoStoreOptions } from "./mongodb.js";
export { storeFromConfig } from "./from-config.js";
