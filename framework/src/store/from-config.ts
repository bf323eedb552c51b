import { resolve } from "node:path";
import type { Logger } from "pino";
import type { Config } from "../config/schema.js";
import type { Store } from "./types.js";

/**
 * The store the config's `store` section asks for, not yet opened (the bridge opens and migrates it).
 * Relative paths are relative to the config file's directory. Each backend is imported only when
 * configured: the database drivers (pg, mongodb) cost start-up time and memory nobody else needs.
 */
export async function storeFromConfig(config: Config, configDir: string, log: Logger): Promise<Store> {
  const section = config.store;
  switch (section.type) {
    case "nedb": {
      const { NedbStore } = await import("./nedb.js");
      return new NedbStore({ directory: resolve(configDir, section.path) });
    }
    case "postgres": {
      // The schema requires it; a config built in code has not been through the schema.
      if (!section.url) throw new Error("store.url is required when store.type is postgres");
      const { PostgresStore } = await import("./postgres.js");
      return new PostgresStore({
        url: section.url,
        onConnectionError: (err) =>
          log.warn({ err }, "a pooled PostgreSQL connection failed; it is replaced on next use"),
      });
    }
    case "mongodb": {
      if (!section.url) throw new Error("store.url is required when store.type is mongodb");
      const { MongoStore } = await import("./mongodb.js");
      return new MongoStore({ url: section.url });
    }
  }
}
