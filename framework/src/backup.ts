/**
 * The admin commands that move a bridge's whole state: `switchboard backup`, `backup --verify`,
 * `restore` and `store copy`. They know stores only through `snapshot()`/`load()` (store/types.ts),
 * so every backend that has those can be backed up, restored and moved to or from.
 *
 * - backup: one archive (store/archive.ts) of the store, the config, the registration and the key
 *   file. PostgreSQL (and any store another process may share) is read in this process, in one
 *   snapshot, while the bridge serves. A NeDB store belongs to the process that opened it: while
 *   its bridge runs, the snapshot is asked of the bridge itself (store/snapshot-http.ts).
 * - verify: the archive is read whole (gzip CRC, every checksum), loaded into a scratch in-memory
 *   store and counted again, without opening the live store.
 * - restore: verified first, then loaded into an empty store (PostgreSQL: one transaction), then the
 *   missing files are put back. Nothing more to do afterwards: at start the bridge migrates the store
 *   if the backup was older and the journal finishes what was in flight when it was taken.
 * - copy: configured store → empty store at a URL, then both counted and checksummed.
 */
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import type { Logger } from "pino";
import type { TObject } from "@sinclair/typebox";
import { isMap, parseDocument } from "yaml";
import { parseRegistration } from "@switchboard/registration";
import { ConfigError, parseConfig } from "./config/load.js";
import type { Config } from "./config/schema.js";
import { keyFingerprint } from "./credentials.js";
import { ArchiveError, openArchive, writeArchive } from "./store/archive.js";
import type { ArchiveFile, ArchiveHeader } from "./store/archive.js";
import {
  DumpDigest,
  STORE_COLLECTIONS,
  StoreNotEmptyError,
  canDump,
  compareSummaries,
  describeCounts,
  digesting,
  summarize,
} from "./store/dump.js";
import type { DumpSummary, DumpingStore } from "./store/dump.js";
import { storeFromConfig } from "./store/from-config.js";
import { STORE_SCHEMA_VERSION } from "./store/migrate.js";
import { NedbStore } from "./store/nedb.js";
import { NoSnapshotEndpointError, SNAPSHOT_PATH, fetchSnapshot } from "./store/snapshot-http.js";
import type { DumpRecord, StoreDump, StoreSnapshot } from "./store/types.js";

/** A refusal or failure whose message says what to do; the CLI prints it and exits 1. */
export class AdminError extends Error {}

export interface AdminOutput {
  info(line: string): void;
  warn(line: string): void;
}

// ---- where things are ----

/** The key file of a config without `encryption.key` (the bridge generates it there at first start). */
export function keyFilePath(config: Config, configDir: string): string {
  return resolve(configDir, config.encryption.key_file ?? `${config.store.path}/credentials.key`);
}

export interface KeySource {
  key: string;
  /** The key file it was read from; null when it is `encryption.key` in the config. */
  file: string | null;
}

/** The key the config's bridge seals with, without generating one; null when there is none yet. */
export async function readKey(config: Config, configDir: string): Promise<KeySource | null> {
  if (config.encryption.key) return { key: config.encryption.key, file: null };
  const file = keyFilePath(config, configDir);
  try {
    return { key: (await readFile(file, "utf8")).trim(), file };
  } catch (error) {
    if ((error as { code?: unknown }).code === "ENOENT") return null;
    throw error;
  }
}

/** A store's URL without its password, or a NeDB store's directory. */
export function storeLocation(config: Config, configDir: string): string {
  if (config.store.type === "nedb") return resolve(configDir, config.store.path);
  return redactUrl(config.store.url ?? "");
}

export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(unparseable URL)";
  }
}

/** Where this config's bridge answers HTTP when it runs. */
function appserviceBase(config: Config): string {
  const bind = config.appservice.bind;
  const host = bind === "0.0.0.0" || bind === "" ? "127.0.0.1" : bind === "::" ? "[::1]" : bind;
  return `http://${host.includes(":") && !host.startsWith("[") ? `[${host}]` : host}:${config.appservice.port}`;
}

/** The bridge's address if something answers `/health` on its appservice port. */
async function runningBridge(config: Config): Promise<string | null> {
  const base = appserviceBase(config);
  try {
    const res = await fetch(`${base}/health`, { signal: AbortSignal.timeout(2000) });
    await res.body?.cancel();
    return base;
  } catch {
    return null;
  }
}

async function readOptional(path: string): Promise<string | null> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    if ((error as { code?: unknown }).code === "ENOENT") return null;
    throw error;
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function dumping(config: Config, configDir: string, log: Logger): Promise<DumpingStore> {
  const store = await storeFromConfig(config, configDir, log);
  if (!canDump(store)) {
    throw new AdminError(
      `store.type ${config.store.type} cannot be backed up, restored or copied by this Switchboard yet: ` +
        `use the database's own tools (its README section says which)`,
    );
  }
  return store;
}

/** `journal 12, links 3, …` for the collections that hold records. */
export function describeSummary(summary: DumpSummary): string {
  return describeCounts(Object.fromEntries(STORE_COLLECTIONS.map((c) => [c, summary[c].count])));
}

// ---- backup ----

export interface BackupOptions {
  configPath: string;
  config: Config;
  output: string;
  withoutKey: boolean;
  log: Logger;
  out: AdminOutput;
}

export async function backup(opts: BackupOptions): Promise<{ header: ArchiveHeader; summary: DumpSummary }> {
  const { config, out } = opts;
  const configDir = dirname(resolve(opts.configPath));
  const files: ArchiveFile[] = [];

  let configText = await readFile(opts.configPath, "utf8");
  const key = await readKey(config, configDir);
  if (opts.withoutKey && key?.file === null) configText = withoutConfigKey(configText);
  files.push({ role: "config", name: opts.configPath, text: configText });

  const registrationPath = resolve(configDir, config.appservice.registration);
  const registrationText = await readOptional(registrationPath);
  if (registrationText === null) {
    out.warn(`no registration at ${registrationPath}: the backup holds none (the homeserver has its copy)`);
  } else {
    files.push({ role: "registration", name: config.appservice.registration, text: registrationText });
  }

  if (!key) {
    out.warn(
      `no encryption key yet (neither encryption.key nor ${keyFilePath(config, configDir)}): ` +
        `the bridge makes one at its first start; until then the store holds nothing sealed`,
    );
  } else if (opts.withoutKey) {
    out.warn(
      `--without-key: this backup holds no encryption key${key.file === null ? " (encryption.key was left out of its config)" : ""}. ` +
        `The logins' credentials and saved state and the journal in it are sealed with that key, and useless without it: ` +
        `keep ${key.file ?? "encryption.key"} safe, apart from the backup.`,
    );
  } else if (key.file !== null) {
    files.push({ role: "key", name: key.file, text: `${key.key}\n` });
  }

  const snapshot = await takeSnapshot(config, configDir, registrationText, opts.log);
  try {
    const result = await writeArchive(opts.output, {
      header: {
        createdAt: new Date().toISOString(),
        source: { type: config.store.type, location: storeLocation(config, configDir) },
        keyFingerprint: key ? keyFingerprint(key.key) : null,
        withKey: key !== null && !opts.withoutKey,
      },
      files,
      dump: snapshot.dump,
    });
    out.info(
      `Wrote ${opts.output}: ${config.store.type} store at ${storeLocation(config, configDir)} ` +
        `(${describeSummary(result.summary)}), ${files.map((f) => f.role).join(", ")}.`,
    );
    out.info(`Check it with: switchboard backup --verify ${opts.output}`);
    return result;
  } finally {
    await snapshot.close();
  }
}

/** The config text with `encryption.key` removed (comments and layout kept). */
function withoutConfigKey(text: string): string {
  const doc = parseDocument(text);
  doc.deleteIn(["encryption", "key"]);
  const encryption = doc.getIn(["encryption"]);
  if (isMap(encryption) && encryption.items.length === 0) doc.deleteIn(["encryption"]);
  return doc.toString();
}

/** A snapshot of the configured store, from the running bridge when only it may read the store. */
async function takeSnapshot(
  config: Config,
  configDir: string,
  registrationText: string | null,
  log: Logger,
): Promise<{ dump: StoreDump; close(): Promise<void> }> {
  if (config.store.type === "nedb") {
    const base = await runningBridge(config);
    if (base !== null) {
      const snapshot = await snapshotOfRunning(config, configDir, base, registrationText);
      return { dump: snapshot, close: () => snapshot.close() };
    }
    const directory = resolve(configDir, config.store.path);
    if (!(await exists(directory))) {
      throw new AdminError(
        `there is no data directory at ${directory}: nothing to back up (is store.path right?)`,
      );
    }
  }
  const store = await dumping(config, configDir, log);
  await store.open();
  let snapshot: StoreSnapshot;
  try {
    snapshot = await store.snapshot();
  } catch (error) {
    await store.close();
    throw error;
  }
  return {
    dump: snapshot,
    close: async () => {
      await snapshot.close();
      await store.close();
    },
  };
}

async function snapshotOfRunning(
  config: Config,
  configDir: string,
  base: string,
  registrationText: string | null,
): Promise<StoreSnapshot> {
  const directory = resolve(configDir, config.store.path);
  const stopFirst =
    `The bridge is running (it answers at ${base}) and its NeDB files in ${directory} belong to it: ` +
    `a second process must not read them.`;
  if (registrationText === null) {
    throw new AdminError(
      `${stopFirst} Without its registration file the backup cannot ask the bridge for a snapshot.`,
    );
  }
  const registration = parseRegistration(registrationText, config.appservice.registration);
  try {
    return await fetchSnapshot(base, registration.hs_token);
  } catch (error) {
    if (error instanceof NoSnapshotEndpointError) {
      throw new AdminError(
        `${stopFirst} This bridge does not serve snapshots (${SNAPSHOT_PATH}), so stop it (SIGTERM lets it ` +
          `drain its queues), run the backup, and start it again; the homeserver keeps what it sends meanwhile ` +
          `and retries. Or move to PostgreSQL (switchboard store copy), which is backed up while it runs.`,
      );
    }
    throw error;
  }
}

// ---- verify ----

export interface VerifyOptions {
  file: string;
  /** With a config: also check that its key is the one the backup's sealed values need. */
  config?: { config: Config; configPath: string };
  bridgeSchemas: Record<string, TObject>;
  out: AdminOutput;
}

export async function verifyBackup(
  opts: VerifyOptions,
): Promise<{ header: ArchiveHeader; summary: DumpSummary }> {
  const { out } = opts;
  const reader = await openArchive(opts.file);
  const problems: string[] = [];
  const scratch = new NedbStore({ inMemory: true });
  let loaded: DumpSummary;
  try {
    const { header, files } = reader;
    out.info(
      `${opts.file}: made ${header.createdAt} from the ${header.source.type} store at ${header.source.location}, ` +
        `store schema version ${header.storeSchemaVersion}, holding ${files.map((f) => f.role).join(", ") || "no files"}.`,
    );
    problems.push(...checkFiles(opts.file, files, header, opts.bridgeSchemas));
    if (header.storeSchemaVersion > STORE_SCHEMA_VERSION) {
      problems.push(
        `its store is at schema version ${header.storeSchemaVersion}, newer than this Switchboard understands ` +
          `(${STORE_SCHEMA_VERSION}): restore it with that Switchboard or a newer one`,
      );
    }
    // Into a scratch store, as a restore would load it: the archive's own checks run at its end.
    await scratch.open();
    await scratch.load(reader.dump);
    loaded = await summarizeStore(scratch);
    const mismatch = compareSummaries(reader.summary(), loaded);
    if (mismatch.length > 0)
      problems.push(`restored into a scratch store, it differs: ${mismatch.join("; ")}`);

    if (opts.config) {
      const here = await readKey(opts.config.config, dirname(resolve(opts.config.configPath)));
      if (here && header.keyFingerprint && keyFingerprint(here.key) !== header.keyFingerprint) {
        problems.push(
          `the key of ${opts.config.configPath} (${here.file ?? "encryption.key"}) is not the one this backup's ` +
            `credentials are sealed with: restoring it here needs the backup's key`,
        );
      }
    }
    if (!header.withKey && header.keyFingerprint) {
      out.warn(
        "this backup holds no encryption key (--without-key): restoring it needs the key kept apart from it",
      );
    }
  } catch (error) {
    if (error instanceof ArchiveError) throw new AdminError(error.message);
    throw error;
  } finally {
    await scratch.close();
    await reader.close();
  }
  if (problems.length > 0)
    throw new AdminError(`${opts.file} failed verification:\n  ${problems.join("\n  ")}`);
  out.info(
    `OK: ${describeSummary(loaded)}; counts and checksums of all ${STORE_COLLECTIONS.length} collections match.`,
  );
  return { header: reader.header, summary: loaded };
}

/** Problems with the archived files: a config or registration that would not load, a key that is not the one. */
function checkFiles(
  file: string,
  files: ArchiveFile[],
  header: ArchiveHeader,
  schemas: Record<string, TObject>,
): string[] {
  const problems: string[] = [];
  const config = files.find((f) => f.role === "config");
  if (!config) problems.push("it holds no config");
  else {
    try {
      parseConfig(config.text, `${file}: ${config.name}`, schemas);
    } catch (error) {
      problems.push(error instanceof ConfigError ? error.message : String(error));
    }
  }
  const registration = files.find((f) => f.role === "registration");
  if (registration) {
    try {
      parseRegistration(registration.text, registration.name);
    } catch (error) {
      problems.push(`its registration: ${(error as Error).message}`);
    }
  }
  const key = archivedKey(files);
  if (key !== null && header.keyFingerprint !== null && keyFingerprint(key) !== header.keyFingerprint) {
    problems.push("its key is not the key its header names");
  }
  return problems;
}

/** The key a backup holds: its key file, else `encryption.key` in its config. */
function archivedKey(files: ArchiveFile[]): string | null {
  const file = files.find((f) => f.role === "key");
  if (file) return file.text.trim();
  const config = files.find((f) => f.role === "config");
  if (!config) return null;
  const key = parseDocument(config.text).getIn(["encryption", "key"]);
  return typeof key === "string" ? key : null;
}

async function summarizeStore(store: DumpingStore): Promise<DumpSummary> {
  const snapshot = await store.snapshot();
  try {
    return await summarize(snapshot.records);
  } finally {
    await snapshot.close();
  }
}

// ---- restore ----

export interface RestoreOptions {
  file: string;
  /** Used when it exists; otherwise the backup's config is written there. */
  configPath: string;
  force: boolean;
  bridgeSchemas: Record<string, TObject>;
  log: Logger;
  out: AdminOutput;
}

export async function restore(opts: RestoreOptions): Promise<{ summary: DumpSummary }> {
  const { out } = opts;
  // A whole read first: nothing is written from an archive that is damaged anywhere.
  await checkArchive(opts.file);

  const reader = await openArchive(opts.file);
  try {
    const { header, files } = reader;
    if (header.storeSchemaVersion > STORE_SCHEMA_VERSION) {
      throw new AdminError(
        `${opts.file} holds a store at schema version ${header.storeSchemaVersion}, newer than this Switchboard ` +
          `understands (${STORE_SCHEMA_VERSION}): restore it with that Switchboard or a newer one`,
      );
    }
    const configDir = dirname(resolve(opts.configPath));
    const archivedConfig = files.find((f) => f.role === "config");
    const ownConfig = await readOptional(opts.configPath);
    if (ownConfig === null && !archivedConfig) {
      throw new AdminError(
        `${opts.configPath} does not exist and ${opts.file} holds no config: put the config there first`,
      );
    }
    const configText = ownConfig ?? archivedConfig?.text ?? "";
    const config = parseConfig(configText, opts.configPath, opts.bridgeSchemas);
    if (ownConfig !== null && archivedConfig && archivedConfig.text !== ownConfig) {
      out.info(
        `${opts.configPath} differs from the backup's config: restoring into the store it names, keeping it as it is.`,
      );
    }

    const running = await runningBridge(config);
    if (running !== null) {
      throw new AdminError(
        `the bridge of ${opts.configPath} is running (it answers at ${running}): stop it before restoring into its store`,
      );
    }

    const registrationPath = resolve(configDir, config.appservice.registration);
    const archivedRegistration = files.find((f) => f.role === "registration");
    const ownRegistration = await readOptional(registrationPath);
    if (
      archivedRegistration &&
      ownRegistration !== null &&
      ownRegistration !== archivedRegistration.text &&
      !opts.force
    ) {
      throw new AdminError(
        `${registrationPath} differs from the backup's registration, and the homeserver knows only one of them: ` +
          `remove it, or run restore with --force to replace it with the backup's (then reload it in the homeserver)`,
      );
    }

    // The key the restored bridge will seal and unseal with: this config's, else the backup's.
    const ownKey = await readKey(config, configDir);
    const backupKey = archivedKey(files);
    const key = ownKey?.key ?? backupKey;
    if (key === null && header.keyFingerprint !== null) {
      throw new AdminError(
        `${opts.file} holds no encryption key (it was made with --without-key) and there is none here: ` +
          `put the key file at ${keyFilePath(config, configDir)} (or encryption.key in the config), then restore again`,
      );
    }
    if (key !== null && header.keyFingerprint !== null && keyFingerprint(key) !== header.keyFingerprint) {
      throw new AdminError(
        `wrong key: ${ownKey?.file ?? "encryption.key in " + opts.configPath} is not the key this backup's ` +
          `credentials are sealed with, so no login could be used after the restore. Put the right key there` +
          (backupKey !== null ? " (or remove it: the backup's own key is then restored)" : "") +
          `, then restore again`,
      );
    }

    const location = storeLocation(config, configDir);
    const store = await dumping(config, configDir, opts.log);
    let pending = 0;
    const digest = new DumpDigest();
    await store.open();
    try {
      const counted = async function* (records: AsyncIterable<DumpRecord>): AsyncIterable<DumpRecord> {
        for await (const item of records) {
          if (item.collection === "journal" && !item.record.done) pending++;
          yield item;
        }
      };
      await store.load(
        { ...reader.dump, records: counted(digesting(reader.dump.records, digest)) },
        { replace: opts.force },
      );
    } catch (error) {
      throw loadError(
        error,
        `the ${config.store.type} store at ${location}`,
        `restore ${opts.file}`,
        opts.force,
      );
    } finally {
      await store.close();
    }

    const wrote: string[] = [];
    if (ownConfig === null) {
      await writeFile(opts.configPath, configText, { mode: 0o600 });
      wrote.push(opts.configPath);
    }
    if (archivedRegistration && ownRegistration !== archivedRegistration.text) {
      await writeFile(registrationPath, archivedRegistration.text, { mode: 0o600 });
      wrote.push(registrationPath);
    }
    if (ownKey === null && backupKey !== null && !config.encryption.key) {
      const keyFile = keyFilePath(config, configDir);
      await mkdir(dirname(keyFile), { recursive: true });
      await writeFile(keyFile, `${backupKey}\n`, { mode: 0o600 });
      wrote.push(keyFile);
    }
    const summary = digest.summary();
    out.info(
      `Restored ${opts.file} (made ${header.createdAt}) into the ${config.store.type} store at ${location}: ` +
        `${describeSummary(summary)}${wrote.length > 0 ? `; wrote ${wrote.join(", ")}` : ""}.`,
    );
    out.info(
      `Start the bridge: nothing else to do. It finishes the ${pending} journal ` +
        `${pending === 1 ? "entry that was" : "entries that were"} in flight when the backup was taken${header.storeSchemaVersion < STORE_SCHEMA_VERSION ? ", after upgrading the store" : ""}.`,
    );
    return { summary };
  } catch (error) {
    if (error instanceof ArchiveError || error instanceof ConfigError) throw new AdminError(error.message);
    throw error;
  } finally {
    await reader.close();
  }
}

/** Reads the whole archive, checking it; throws AdminError when anything is off. */
async function checkArchive(file: string): Promise<void> {
  let reader;
  try {
    reader = await openArchive(file);
    for await (const _ of reader.dump.records) void _;
  } catch (error) {
    if (error instanceof ArchiveError) throw new AdminError(error.message);
    throw error;
  } finally {
    await reader?.close();
  }
}

function loadError(error: unknown, target: string, command: string, forced: boolean): Error {
  if (error instanceof StoreNotEmptyError) {
    return new AdminError(
      error.incomplete
        ? `${target} holds what an interrupted ${command.split(" ")[0]} left (${describeCounts(error.counts)}): ` +
            `run \`switchboard ${command} --force\` to replace it`
        : `${target} is not empty (${describeCounts(error.counts)}): ${command.split(" ")[0]} only fills an empty store. ` +
            `Point the config at an empty one, or run \`switchboard ${command} --force\` to replace everything it holds.`,
    );
  }
  if (error instanceof ArchiveError) return new AdminError(error.message);
  const message = error instanceof Error ? error.message : String(error);
  return new AdminError(
    `${command.split(" ")[0]} into ${target} failed: ${message}` +
      (forced ? "" : ". If it left anything behind, run it again with --force"),
  );
}

// ---- store copy ----

export interface CopyOptions {
  configPath: string;
  config: Config;
  /** postgres://…, mongodb://… or nedb:DIRECTORY (relative to the config's directory). */
  to: string;
  force: boolean;
  log: Logger;
  out: AdminOutput;
}

export async function copyStore(opts: CopyOptions): Promise<{ summary: DumpSummary }> {
  const { config, out } = opts;
  const configDir = dirname(resolve(opts.configPath));
  const target = targetConfig(config, configDir, opts.to);
  const from = `the ${config.store.type} store at ${storeLocation(config, configDir)}`;
  const to = `the ${target.store.type} store at ${storeLocation(target, configDir)}`;
  if (storeLocation(config, configDir) === storeLocation(target, configDir)) {
    throw new AdminError(`--to names the configured store itself (${storeLocation(config, configDir)})`);
  }
  const running = await runningBridge(config);
  if (running !== null) {
    throw new AdminError(
      `the bridge of ${opts.configPath} is running (it answers at ${running}): stop it first, or what it writes ` +
        `after the copy stays behind in ${from}. (To back up a running bridge, use switchboard backup.)`,
    );
  }
  const source = await dumping(config, configDir, opts.log);
  const destination = await dumping(target, configDir, opts.log);
  await source.open();
  try {
    try {
      await destination.open();
    } catch (error) {
      throw new AdminError(`cannot open ${to}: ${(error as Error).message}`);
    }
    try {
      const digest = new DumpDigest();
      const started = Date.now();
      const snapshot = await source.snapshot();
      try {
        await destination.load(
          { ...snapshot, records: digesting(snapshot.records, digest) },
          { replace: opts.force },
        );
      } catch (error) {
        throw loadError(error, to, `store copy --to ${redactUrl(opts.to)}`, opts.force);
      } finally {
        await snapshot.close();
      }
      const copied = digest.summary();
      const problems = compareSummaries(copied, await summarizeStore(destination));
      if (problems.length > 0) {
        throw new AdminError(
          `the copy in ${to} differs from ${from}: ${problems.join("; ")}. Run the copy again with --force; ` +
            `the configured store is unchanged.`,
        );
      }
      out.info(
        `Copied ${from} to ${to} in ${((Date.now() - started) / 1000).toFixed(1)} s: ${describeSummary(copied)}; ` +
          `counts and checksums of all ${STORE_COLLECTIONS.length} collections verified.`,
      );
      out.info(
        `Next: in ${opts.configPath} set store.type: ${target.store.type}` +
          (target.store.url ? " and store.url" : ` and store.path: ${target.store.path}`) +
          `, then start the bridge.` +
          (config.encryption.key ? "" : ` Keep the key file ${keyFilePath(config, configDir)} where it is.`),
      );
      return { summary: copied };
    } finally {
      await destination.close();
    }
  } finally {
    await source.close();
  }
}

/** The config with its store section pointing at `to`. */
function targetConfig(config: Config, configDir: string, to: string): Config {
  const store = { ...config.store };
  if (/^postgres(ql)?:\/\//.test(to)) Object.assign(store, { type: "postgres", url: to });
  else if (/^mongodb(\+srv)?:\/\//.test(to)) Object.assign(store, { type: "mongodb", url: to });
  else if (to.startsWith("nedb:") && to.length > 5) {
    Object.assign(store, { type: "nedb", path: resolve(configDir, to.slice(5)), url: undefined });
  } else {
    throw new AdminError(
      `--to takes postgres://user:password@host/database, mongodb://… or nedb:DIRECTORY, not ${redactUrl(to)}`,
    );
  }
  return { ...config, store };
}
