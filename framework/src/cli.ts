import { access, copyFile, mkdir, readFile, writeFile, chmod } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { dirname, resolve } from "node:path";
import { Command } from "commander";
import { pino, type Logger } from "pino";
import type { TObject } from "@sinclair/typebox";
import {
  buildRegistration,
  checkRegistration,
  parseRegistration,
  registrationToYaml,
  RegistrationError,
  type Registration,
  type RegistrationInput,
} from "@switchboard/registration";
import {
  AdminError,
  backup,
  copyStore,
  keyFilePath,
  restore,
  storeLocation,
  verifyBackup,
} from "./backup.js";
import type { AdminOutput } from "./backup.js";
import { ConfigError, loadConfig } from "./config/load.js";
import type { Config } from "./config/schema.js";
import type { BridgeModule, Connector } from "./connector.js";
import { Bridge } from "./runtime/bridge.js";
import { storeFromConfig } from "./store/from-config.js";
import { createLogger } from "./logging.js";

/**
 * The `switchboard` command: registration, check-config, start, backup, restore, store copy.
 * Bridges are handed in by the entry point, so the framework never imports a bridge.
 */

class CliError extends Error {}

/** The networks of `bridges` that the config enables, in the entry point's order. */
function enabledNetworks(config: Config, bridges: Record<string, BridgeModule>): string[] {
  return Object.keys(bridges).filter((id) => config.bridges[id]?.enabled);
}

export function registrationInput(config: Config, bridges: Record<string, BridgeModule>): RegistrationInput {
  return {
    id: config.appservice.id,
    url:
      config.appservice.url ??
      `http://${config.appservice.bind === "0.0.0.0" ? "127.0.0.1" : config.appservice.bind}:${config.appservice.port}`,
    senderLocalpart: config.appservice.bot.localpart,
    domain: config.homeserver.domain,
    namespaces: enabledNetworks(config, bridges).map((id) => ({
      name: id,
      userPrefix: config.bridges[id]?.user_prefix ?? `${id}_`,
      aliasPrefix: config.bridges[id]?.alias_prefix ?? `${id}_`,
    })),
  };
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

async function readRegistration(path: string): Promise<Registration | null> {
  if (!(await exists(path))) return null;
  return parseRegistration(await readFile(path, "utf8"), path);
}

/** Writes (or refreshes, keeping tokens) the registration; returns it. */
export async function writeRegistration(
  config: Config,
  bridges: Record<string, BridgeModule>,
  output: string,
): Promise<Registration> {
  const existing = await readRegistration(output);
  const registration = buildRegistration(registrationInput(config, bridges), existing ?? undefined);
  await writeFile(output, registrationToYaml(registration), { mode: 0o600 });
  return registration;
}

/** The key that seals credentials: from the config, else a key file made once in the data directory. */
async function encryptionKey(config: Config, configDir: string, log: Logger): Promise<string> {
  if (config.encryption.key) return config.encryption.key;
  const file = keyFilePath(config, configDir);
  try {
    return (await readFile(file, "utf8")).trim();
  } catch {
    await mkdir(dirname(file), { recursive: true });
    const key = randomBytes(32).toString("base64url");
    await writeFile(file, key + "\n", { mode: 0o600 });
    await chmod(file, 0o600);
    log.warn(
      { file },
      `no encryption.key in the config: generated a key file for credentials at rest; the store's credentials ` +
        `cannot be unsealed without it (switchboard backup includes it)`,
    );
    return key;
  }
}

/**
 * Runs the command line. `bridges` are the networks by config key; only the enabled ones'
 * connectors are ever loaded.
 */
export async function runCli(argv: string[], bridges: Record<string, BridgeModule>): Promise<number> {
  const schemas: Record<string, TObject> = Object.fromEntries(
    Object.entries(bridges).map(([id, b]) => [id, b.configSchema]),
  );
  const load = async (id: string, bridge: BridgeModule): Promise<Connector> => {
    const connector = await bridge.load();
    if (connector.id !== id) throw new Error(`bridges.${id} loaded a connector with id ${connector.id}`);
    return connector;
  };
  /** A network's connector, or undefined for a network this Switchboard does not ship. */
  const loadConnector = async (id: string): Promise<Connector | undefined> => {
    const bridge = bridges[id];
    return bridge ? load(id, bridge) : undefined;
  };
  const program = new Command();
  let exitCode = 0;
  program.name("switchboard").description("Matrix bridges for IRC, Slack, Discord and Signal").exitOverride();

  program
    .command("registration")
    .description("write the appservice registration for the homeserver (keeps existing tokens)")
    .requiredOption("-c, --config <file>", "config file")
    .requiredOption("-o, --output <file>", "registration file to write")
    .option("--check", "only check an existing registration against the config")
    .action(async (opts: { config: string; output: string; check?: boolean }) => {
      const config = await loadConfig(opts.config, schemas);
      if (opts.check) {
        const existing = await readRegistration(opts.output);
        if (!existing)
          throw new CliError(
            `${opts.output} does not exist; create it with \`switchboard registration -c ${opts.config} -o ${opts.output}\``,
          );
        const problems = checkRegistration(existing, registrationInput(config, bridges));
        if (problems.length === 0) {
          console.log(`${opts.output} matches ${opts.config}.`);
          return;
        }
        for (const p of problems) console.error(`${opts.output}: ${p.path}: ${p.message}\n  fix: ${p.fix}`);
        exitCode = 1;
        return;
      }
      const had = await exists(opts.output);
      const reg = await writeRegistration(config, bridges, opts.output);
      console.log(
        `${had ? "Updated" : "Wrote"} ${opts.output} (${reg.namespaces.users.length} user namespaces${had ? ", tokens kept" : ""}).\n` +
          `Add it to the homeserver (Synapse: app_service_config_files in homeserver.yaml) and restart the homeserver.`,
      );
    });

  program
    .command("check-config")
    .description("validate the config file")
    .requiredOption("-c, --config <file>", "config file")
    .action(async (opts: { config: string }) => {
      await loadConfig(opts.config, schemas);
      console.log(`${opts.config} is valid.`);
    });

  program
    .command("start")
    .description("run every enabled bridge")
    .requiredOption("-c, --config <file>", "config file")
    .option("--create-config", "create the config from config.example.yaml when it is missing")
    .action(async (opts: { config: string; createConfig?: boolean }) => {
      if (opts.createConfig && !(await exists(opts.config))) {
        const example = resolve(dirname(opts.config), "config.example.yaml");
        await copyFile(example, opts.config);
        console.log(
          `Created ${opts.config} from config.example.yaml: edit homeserver.url, homeserver.domain and bridges.`,
        );
      }
      const config = await loadConfig(opts.config, schemas);
      const log = createLogger(config.logging);
      const configDir = dirname(resolve(opts.config));
      const regPath = resolve(configDir, config.appservice.registration);
      let registration = await readRegistration(regPath);
      if (!registration) {
        registration = await writeRegistration(config, bridges, regPath);
        log.warn(
          `wrote ${regPath}: load it in the homeserver (app_service_config_files) and restart the homeserver`,
        );
      } else {
        for (const p of checkRegistration(registration, registrationInput(config, bridges))) {
          log.warn(`${regPath}: ${p.path}: ${p.message} (fix: ${p.fix})`);
        }
      }
      const store = await storeFromConfig(config, configDir, log);
      log.info({ type: config.store.type, at: storeLocation(config, configDir) }, "store");
      const connectors = await Promise.all(
        Object.entries(bridges)
          .filter(([id]) => config.bridges[id]?.enabled)
          .map(([id, bridge]) => load(id, bridge)),
      );
      const bridge = new Bridge({
        config,
        registration: { id: registration.id, asToken: registration.as_token, hsToken: registration.hs_token },
        store,
        connectors,
        loadConnector,
        log,
        encryptionKey: await encryptionKey(config, configDir, log),
        configPath: opts.config,
        readConfig: () => loadConfig(opts.config, schemas),
      });
      // SIGHUP: permissions, admins, guards and moderation from the file again, without a restart.
      process.on("SIGHUP", () => void bridge.reloadFromFile());
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        log.info({ signal }, "stopping: draining queues");
        bridge.stop().then(
          () => {
            log.info("stopped cleanly");
            process.exit(0);
          },
          (err: unknown) => {
            log.error({ err }, "unclean stop");
            process.exit(1);
          },
        );
      };
      process.on("SIGTERM", () => stop("SIGTERM"));
      process.on("SIGINT", () => stop("SIGINT"));
      await bridge.start();
      await new Promise<never>(() => undefined);
    });

  const adminOutput: AdminOutput = {
    info: (line) => console.log(line),
    warn: (line) => console.error(`warning: ${line}`),
  };
  // Store messages (a pooled connection failing) go to stderr; the commands print their own results.
  const adminLog = () => pino({ level: "warn", base: undefined }, pino.destination(2));

  program
    .command("backup")
    .description(
      "write one archive: a consistent snapshot of the store (PostgreSQL: while the bridge runs), config, registration, key file",
    )
    .option("-c, --config <file>", "config file")
    .option("-o, --output <file>", "archive to write")
    .option("--without-key", "leave the encryption key out (the backup is then useless without it)")
    .option(
      "--verify <file>",
      "check an archive instead: restore it into a scratch store, compare counts and checksums",
    )
    .action(async (opts: { config?: string; output?: string; withoutKey?: boolean; verify?: string }) => {
      if (opts.verify !== undefined) {
        if (opts.output !== undefined || opts.withoutKey)
          throw new CliError("--verify FILE takes no -o or --without-key");
        const config = opts.config
          ? { config: await loadConfig(opts.config, schemas), configPath: opts.config }
          : undefined;
        await verifyBackup({ file: opts.verify, config, bridgeSchemas: schemas, out: adminOutput });
        return;
      }
      if (!opts.config || !opts.output) {
        throw new CliError(
          "usage: switchboard backup -c config.yaml -o FILE [--without-key] | switchboard backup --verify FILE [-c config.yaml]",
        );
      }
      await backup({
        configPath: opts.config,
        config: await loadConfig(opts.config, schemas),
        output: opts.output,
        withoutKey: opts.withoutKey ?? false,
        log: adminLog(),
        out: adminOutput,
      });
    });

  program
    .command("restore")
    .description(
      "restore a backup into an empty store (and put back a missing config, registration and key file)",
    )
    .argument("<file>", "archive made by switchboard backup")
    .requiredOption("-c, --config <file>", "config file (written from the backup when it does not exist)")
    .option(
      "--force",
      "replace everything the store holds, and a registration that differs from the backup's",
    )
    .action(async (file: string, opts: { config: string; force?: boolean }) => {
      await restore({
        file,
        configPath: opts.config,
        force: opts.force ?? false,
        bridgeSchemas: schemas,
        log: adminLog(),
        out: adminOutput,
      });
    });

  program
    .command("store")
    .description("store admin commands")
    .command("copy")
    .description(
      "copy everything from the configured store into an empty one, verifying counts and checksums",
    )
    .requiredOption("-c, --config <file>", "config file")
    .requiredOption("--to <url>", "postgres://user:password@host/database, mongodb://… or nedb:DIRECTORY")
    .option("--force", "replace everything the target store holds")
    .action(async (opts: { config: string; to: string; force?: boolean }) => {
      await copyStore({
        configPath: opts.config,
        config: await loadConfig(opts.config, schemas),
        to: opts.to,
        force: opts.force ?? false,
        log: adminLog(),
        out: adminOutput,
      });
    });

  // Each bridge's own admin commands: `switchboard discord invite-url -c config.yaml`.
  for (const [id, bridge] of Object.entries(bridges)) {
    if (!bridge.cliCommands?.length) continue;
    const group = program.command(id).description(`${bridge.displayName} admin commands`);
    for (const cmd of bridge.cliCommands) {
      group
        .command(cmd.name)
        .description(cmd.description)
        .requiredOption("-c, --config <file>", "config file")
        .action(async (opts: { config: string }) => {
          const config = await loadConfig(opts.config, schemas);
          const section = config.bridges[id];
          if (!section) throw new CliError(`${opts.config} has no bridges.${id} section`);
          try {
            console.log(await cmd.run(section));
          } catch (err) {
            throw new CliError(`switchboard ${id} ${cmd.name}: ${(err as Error).message}`);
          }
        });
    }
  }

  try {
    await program.parseAsync(argv, { from: "user" });
    return exitCode;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === "commander.helpDisplayed" || code === "commander.version") return 0;
    if (code?.startsWith("commander.")) return 2;
    if (
      err instanceof ConfigError ||
      err instanceof RegistrationError ||
      err instanceof CliError ||
      err instanceof AdminError
    ) {
      console.error(err.message);
      return 1;
    }
    console.error(`switchboard: ${(err as Error).message}`);
    return 1;
  }
}
