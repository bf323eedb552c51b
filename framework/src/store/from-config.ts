import { resolve } from "node:path";
import type { Logger } from "pino";
import type { Config } from "../config/schema.js";
import { NedbStore } from "./nedb.js";
import { MongoStore } from "./mongodb.js";
import { PostgresStore } from "./postgres.js";
import type { Store } from "./types.js";

/**
 * The store the config's `store` section asks for, not yet opened (the bridge opens and migrates it).
 * Relative paths are relative to the config file's directory.
 */
export function storeFromConfig(config: Config, configDir: string, log: Logger): Store {
  const section = config.store;
  switch (section.type) {
    case "nedb":
      return new NedbStore({ directory: resolve(configDir, section.path) });
    case "postgres":
      // The schema requires it; a config built in code has not been through the schema.
      if (!section.url) throw new Error("store.url is required when store.type is postgres");
      return new PostgresStore({
        url: section.url,
        onConnectionError: (err) =>
          log.warn({ err }, "a pooled PostgreSQL connection failed; it is replaced on next use"),
      });
    case "mongodb":
      if (!section.url) throw new Error("store.url is required when store.type is mongodb");
      return new MongoStore({ url: section.url });
  }
}
