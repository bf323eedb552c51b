import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import yaml from "js-yaml";
import { parseConfig, type Config } from "@switchboard/framework";
import { testBridges } from "../reference/cli.js";
import { parseRegistration, type Registration } from "@switchboard/registration";
import { freePort } from "./net.js";
import { startPostgres, type PgCluster } from "@switchboard/framework/testing/postgres";
import { startHomeserver, type AppserviceRegistration, type Homeserver } from "./synapse.js";

/**
 * Runs the real `switchboard start` as a child process against the real Synapse, so the
 * end-to-end suites exercise the CLI, config loading and crash recovery (kill -9) exactly
 * as an admin's deployment would.
 */

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
/** The CLI with the toy reference network added (test/reference/cli.ts): what every suite runs. */
const SWITCHBOARD_BIN = join(repoRoot, "test", "reference", "switchboard.js");
const running = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

export interface SwitchboardProcess {
  dir: string;
  configPath: string;
  /** Output so far, for assertions and failure messages. */
  output(): string;
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** SIGTERM and wait (a clean, draining stop). */
  stop(): Promise<number | null>;
  /** SIGKILL: the crash we must survive. */
  kill9(): Promise<void>;
  /** Sends a signal and returns (SIGHUP: reload the config). */
  signal(signal: NodeJS.Signals): void;
  /**
   * Starts the process again with the same config and data, by default waiting until it says it
   * is running (`waitForRunning: false` returns at once: a bridge started while the homeserver
   * is down waits for it before saying so).
   */
  restart(options?: { waitForRunning?: boolean }): Promise<void>;
  readonly appservicePort: number;
  readonly metricsPort: number;
}

export interface BridgeEnvironment {
  hs: Homeserver;
  registration: Registration;
  config: Config;
  bridge: SwitchboardProcess;
  botUserId: string;
  cleanup(): Promise<void>;
}

/** Config for a test bridge: merged over a minimal base. */
export async function startBridgeEnvironment(options: {
  bridges: Record<string, Record<string, unknown>>;
  extraConfig?: Record<string, unknown>;
  /** The registration's url, when it must not be the bridge's real address (ping tests). */
  appserviceUrl?: string;
  /** Also load a non-exclusive "double puppet" appservice covering every local user, and configure its token. */
  doublePuppet?: boolean;
  /** The store the bridge runs on; default: SWITCHBOARD_TEST_STORE, else nedb. */
  store?: TestStoreKind;
}): Promise<BridgeEnvironment> {
  const dir = await mkdtemp(join(tmpdir(), "switchboard-e2e-"));
  const database = await testDatabase(options.store ?? testStoreKind());
  const appservicePort = await freePort();
  const metricsPort = await freePort();
  const raw: Record<string, unknown> = {
    homeserver: { url: "http://127.0.0.1:1", domain: "localhost", retry_interval_ms: 500 },
    appservice: {
      id: "switchboard",
      bind: "127.0.0.1",
      port: appservicePort,
      registration: "registration.yaml",
      ...(options.appserviceUrl ? { url: options.appserviceUrl } : {}),
    },
    store: database.store,
    encryption: { key: "test-encryption-key-that-is-long-enough-1234" },
    permissions: { "*": "relay", localhost: "user" },
    metrics: { enabled: true, bind: "127.0.0.1", port: metricsPort },
    logging: { level: "info" },
    bridges: options.bridges,
    ...options.extraConfig,
  };
  const extraRegistrations: AppserviceRegistration[] = [];
  if (options.doublePuppet) {
    const asToken = randomBytes(24).toString("hex");
    extraRegistrations.push({
      id: "doublepuppet",
      url: null,
      as_token: asToken,
      hs_token: randomBytes(24).toString("hex"),
      sender_localpart: "doublepuppet",
      namespaces: { users: [{ regex: "@.*:localhost", exclusive: false }], aliases: [], rooms: [] },
      rate_limited: false,
    });
    raw.double_puppet = { secrets: { localhost: `as_token:${asToken}` } };
  }
  const schemas = Object.fromEntries(
    Object.entries(testBridges).map(([id, bridge]) => [id, bridge.configSchema]),
  );
  const configPath = join(dir, "config.yaml");
  await writeFile(configPath, yaml.dump(raw));
  // The registration comes from the real CLI, so every suite proves Synapse accepts its output.
  const cli = await runSwitchboard(
    ["registration", "-c", configPath, "-o", join(dir, "registration.yaml")],
    dir,
  );
  if (cli.code !== 0) throw new Error(`switchboard registration failed:\n${cli.output}`);
  const registration = parseRegistration(await readFile(join(dir, "registration.yaml"), "utf8"));
  const hs = await startHomeserver({
    registrations: [registration as unknown as AppserviceRegistration, ...extraRegistrations],
  });
  (raw.homeserver as Record<string, unknown>).url = hs.url;
  const config = parseConfig(yaml.dump(raw), "test config", schemas);
  await writeFile(configPath, yaml.dump(raw));
  const bridge = await launch(dir, configPath, appservicePort, metricsPort);
  try {
    await bridge.waitForLog(/Switchboard is running/, 60_000);
  } catch (err) {
    await bridge.stop();
    await hs.stop();
    throw err;
  }
  return {
    hs,
    registration,
    config,
    bridge,
    botUserId: `@${config.appservice.bot.localpart}:${hs.serverName}`,
    cleanup: async () => {
      await bridge.stop();
      await hs.stop();
      await database.drop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export type TestStoreKind = "nedb" | "postgres";

/** SWITCHBOARD_TEST_STORE=postgres runs a suite again on a real PostgreSQL (npm run test:e2e:postgres). */
export function testStoreKind(): TestStoreKind {
  const kind = process.env.SWITCHBOARD_TEST_STORE?.trim() || "nedb";
  if (kind !== "nedb" && kind !== "postgres")
    throw new Error(`SWITCHBOARD_TEST_STORE must be nedb or postgres, not ${kind}`);
  return kind;
}

// One throwaway cluster per test process, shared by its environments (each gets its own database).
let cluster: Promise<PgCluster> | null = null;

/**
 * The store section for one environment. A PostgreSQL store keeps `path` too: the key file
 * lives there when the config has no key (it has one here, but the layout is the admin's).
 */
export async function testDatabase(
  kind: TestStoreKind,
): Promise<{ store: Record<string, unknown>; url: string | null; drop(): Promise<void> }> {
  if (kind === "nedb") return { store: { path: "./data" }, url: null, drop: async () => undefined };
  cluster ??= startPostgres();
  const pg = await cluster;
  const url = await pg.createDatabase();
  return { store: { type: "postgres", url, path: "./data" }, url, drop: () => pg.dropDatabase(url) };
}

/** Starts `switchboard start -c configPath` in `dir` (a restored copy, a second deployment). */
export async function launch(
  dir: string,
  configPath: string,
  appservicePort: number,
  metricsPort: number,
): Promise<SwitchboardProcess> {
  let child: ChildProcess;
  let out = "";
  let exited: Promise<number | null>;
  const spawnIt = () => {
    out += "\n--- start ---\n";
    child = spawn(process.execPath, [SWITCHBOARD_BIN, "start", "-c", configPath], {
      cwd: dir,
      stdio: ["ignore", "pipe", "pipe"],
    });
    running.add(child);
    const keep = (c: Buffer) => {
      out += c.toString();
      // SWITCHBOARD_TEST_VERBOSE=1 shows the bridge's own log while a suite runs.
      if (process.env.SWITCHBOARD_TEST_VERBOSE) process.stderr.write(c);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    exited = new Promise((res) =>
      child.once("exit", (code) => {
        running.delete(child);
        res(code);
      }),
    );
  };
  spawnIt();
  const proc: SwitchboardProcess = {
    dir,
    configPath,
    appservicePort,
    metricsPort,
    output: () => out,
    waitForLog: async (pattern, timeoutMs = 30_000) => {
      const deadline = Date.now() + timeoutMs;
      const startAt = out.lastIndexOf("--- start ---");
      while (!pattern.test(out.slice(startAt))) {
        if (child.exitCode !== null)
          throw new Error(
            `switchboard exited (${child.exitCode}) before logging ${pattern}:\n${out.slice(-4000)}`,
          );
        if (Date.now() > deadline)
          throw new Error(`switchboard did not log ${pattern} within ${timeoutMs} ms:\n${out.slice(-4000)}`);
        await sleep(50);
      }
    },
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill("SIGTERM");
      const code = await Promise.race([exited, sleep(15_000).then(() => "timeout" as const)]);
      if (code === "timeout") {
        child.kill("SIGKILL");
        await exited;
        throw new Error(`switchboard did not stop within 15 s of SIGTERM:\n${out.slice(-3000)}`);
      }
      return code;
    },
    kill9: async () => {
      child.kill("SIGKILL");
      await exited;
    },
    signal: (signal) => {
      child.kill(signal);
    },
    restart: async (options = {}) => {
      spawnIt();
      if (options.waitForRunning !== false) await proc.waitForLog(/Switchboard is running/, 60_000);
    },
  };
  return proc;
}

/** Runs a `switchboard` subcommand to completion. */
export async function runSwitchboard(
  args: string[],
  cwd: string,
): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [SWITCHBOARD_BIN, ...args], {
    cwd,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (c: Buffer) => (output += c.toString()));
  child.stderr?.on("data", (c: Buffer) => (output += c.toString()));
  const code = await new Promise<number | null>((res) => child.once("exit", res));
  return { code, output };
}

export async function readStoreFiles(dir: string): Promise<string> {
  const { readdir } = await import("node:fs/promises");
  const dataDir = join(dir, "data");
  const files = await readdir(dataDir).catch(() => [] as string[]);
  const texts = await Promise.all(files.map((f) => readFile(join(dataDir, f), "utf8").catch(() => "")));
  return texts.join("\n");
}
