import { spawn, execFile, type ChildProcess } from "node:child_process";
import { createHmac, generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";
import yaml from "js-yaml";
import { freePort } from "./net.js";

/**
 * A real Synapse for end-to-end tests.
 *
 * Managed mode (default): Synapse from Debian sid, installed in a debootstrapped root
 * (test/scripts/synapse-root.sh) and run with chroot inside a private mount namespace,
 * so the root's /proc mount disappears with the process, whatever happens to the test.
 *
 * External mode: SWITCHBOARD_TEST_HS_URL + SWITCHBOARD_TEST_HS_SECRET point at a running
 * homeserver (its registration shared secret). That homeserver cannot load the
 * registrations a test writes, so SWITCHBOARD_TEST_HS_REGISTRATION must name the
 * appservice registration file it already loads; tests then use that registration.
 */

const execFileP = promisify(execFile);
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** The appservice registration shape the harness hands to Synapse (snake_case as in the YAML). */
export interface AppserviceRegistration {
  id: string;
  url: string | null;
  as_token: string;
  hs_token: string;
  sender_localpart: string;
  namespaces: {
    users?: Array<{ exclusive: boolean; regex: string }>;
    aliases?: Array<{ exclusive: boolean; regex: string }>;
    rooms?: Array<{ exclusive: boolean; regex: string }>;
  };
  rate_limited?: boolean;
  receive_ephemeral?: boolean;
  [key: string]: unknown;
}

export interface TestUser {
  userId: string;
  accessToken: string;
  localpart: string;
}

export interface Homeserver {
  /** Base URL of the client-server API, e.g. http://127.0.0.1:34567 */
  url: string;
  serverName: string;
  /** The registrations the homeserver loaded (in external mode, the one it already had). */
  registrations: AppserviceRegistration[];
  /** Registers a user through the shared-secret admin API. */
  registerUser(localpart: string, options?: { admin?: boolean; password?: string }): Promise<TestUser>;
  /** Stops the homeserver (idempotent). */
  stop(): Promise<void>;
  /** Stops the process but keeps its data: an outage, until `resume`. */
  halt(): Promise<void>;
  /** Starts a halted homeserver again on the same port with the same data. */
  resume(): Promise<void>;
  /** `halt` then `resume`: an admin's upgrade restart. */
  restart(): Promise<void>;
  /** The tail of the homeserver's log, for failure messages. */
  logTail(lines?: number): Promise<string>;
}

export interface StartHomeserverOptions {
  /** Appservice registrations to load (managed mode). */
  registrations?: AppserviceRegistration[];
  serverName?: string;
  /** Give up waiting for /versions after this long. */
  readyTimeoutMs?: number;
}

export async function startHomeserver(options: StartHomeserverOptions = {}): Promise<Homeserver> {
  const externalUrl = process.env.SWITCHBOARD_TEST_HS_URL;
  if (externalUrl) return useExternalHomeserver(externalUrl);
  return startManagedSynapse(options);
}

async function useExternalHomeserver(url: string): Promise<Homeserver> {
  const secret = process.env.SWITCHBOARD_TEST_HS_SECRET;
  if (!secret)
    throw new Error(
      "SWITCHBOARD_TEST_HS_URL is set but SWITCHBOARD_TEST_HS_SECRET (its registration_shared_secret) is not",
    );
  const registrations: AppserviceRegistration[] = [];
  const regPath = process.env.SWITCHBOARD_TEST_HS_REGISTRATION;
  if (regPath) {
    const { readFile } = await import("node:fs/promises");
    registrations.push(yaml.load(await readFile(regPath, "utf8")) as AppserviceRegistration);
  }
  await waitForVersions(url, 30_000, async () => "");
  const serverName = await discoverServerName(url, secret);
  return {
    url,
    serverName,
    registrations,
    registerUser: (localpart, opts) => registerWithSharedSecret(url, secret, serverName, localpart, opts),
    stop: async () => {},
    halt: notManaged,
    resume: notManaged,
    restart: notManaged,
    logTail: async () => "(external homeserver: no log)",
  };
}

async function notManaged(): Promise<void> {
  throw new Error(
    "an external homeserver (SWITCHBOARD_TEST_HS_URL) cannot be halted or restarted by the tests",
  );
}

/** Creates a throwaway user to learn the server name from its user id. */
async function discoverServerName(url: string, secret: string): Promise<string> {
  const probe = await registerWithSharedSecret(url, secret, "", `probe${randomBytes(4).toString("hex")}`);
  return probe.userId.slice(probe.userId.indexOf(":") + 1);
}

export function synapseRootPath(): string {
  return process.env.SWITCHBOARD_SYNAPSE_ROOT ?? join(repoRoot, ".cache", "synapse-root");
}

/** Builds the sid root when missing (about 90 s the first time, instant afterwards). */
export async function ensureSynapseRoot(): Promise<string> {
  const script = join(repoRoot, "test", "scripts", "synapse-root.sh");
  try {
    const { stdout } = await execFileP("bash", [script, synapseRootPath()], { maxBuffer: 64 * 1024 * 1024 });
    return stdout.trim().split("\n").pop() ?? synapseRootPath();
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(
      `could not prepare the Synapse root: ${e.message}\n${(e.stderr ?? "").split("\n").slice(-20).join("\n")}`,
      { cause: err },
    );
  }
}

const running = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

async function startManagedSynapse(options: StartHomeserverOptions): Promise<Homeserver> {
  const root = await ensureSynapseRoot();
  const serverName = options.serverName ?? "localhost";
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const secret = randomBytes(24).toString("hex");
  // Everything Synapse reads must sit inside the root; paths in its config are as seen from inside.
  const hostDir = await mkdtemp(join(root, "tmp", "switchboard-hs-"));
  const inside = (p: string) => "/" + p.slice(root.length).replace(/^\/+/, "");

  const registrations = options.registrations ?? [];
  const regFiles: string[] = [];
  for (const [i, reg] of registrations.entries()) {
    const file = join(hostDir, `appservice-${i}.yaml`);
    await writeFile(file, yaml.dump(reg));
    regFiles.push(inside(file));
  }
  await writeFile(join(hostDir, "signing.key"), signingKey());
  await writeFile(join(hostDir, "log.config"), logConfig(inside(join(hostDir, "homeserver.log"))));
  const configFile = join(hostDir, "homeserver.yaml");
  await writeFile(
    configFile,
    yaml.dump(homeserverConfig({ serverName, port, secret, dir: inside(hostDir), regFiles })),
  );

  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    output.push(chunk.toString());
    if (output.length > 200) output.splice(0, output.length - 200);
  };
  let child!: ChildProcess;
  let exited!: Promise<number | null>;
  const spawnSynapse = () => {
    child = spawn(
      "unshare",
      [
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        'mount -t proc proc "$1/proc" && exec chroot "$1" /usr/bin/python3 -m synapse.app.homeserver -c "$2"',
        "sh",
        root,
        inside(configFile),
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    running.add(child);
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    const c = child;
    exited = new Promise<number | null>((res) => c.once("exit", (code) => res(code)));
  };

  const logTail = async (lines = 40): Promise<string> => {
    const { readFile } = await import("node:fs/promises");
    const log = await readFile(join(hostDir, "homeserver.log"), "utf8").catch(() => "");
    return (output.join("") + log).split("\n").slice(-lines).join("\n");
  };

  const halt = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const done = await Promise.race([exited.then(() => true), sleep(10_000).then(() => false)]);
      if (!done) {
        child.kill("SIGKILL");
        await exited;
      }
    }
    running.delete(child);
  };
  const resume = async () => {
    if (child.exitCode === null && child.signalCode === null) return;
    spawnSynapse();
    await waitForVersions(url, options.readyTimeoutMs ?? 90_000, logTail, exited);
  };

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await halt();
    await rm(hostDir, { recursive: true, force: true });
  };

  spawnSynapse();
  try {
    await waitForVersions(url, options.readyTimeoutMs ?? 90_000, logTail, exited);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url,
    serverName,
    registrations,
    registerUser: (localpart, opts) => registerWithSharedSecret(url, secret, serverName, localpart, opts),
    stop,
    halt,
    resume,
    restart: async () => {
      await halt();
      await resume();
    },
    logTail,
  };
}

async function waitForVersions(
  url: string,
  timeoutMs: number,
  logTail: () => Promise<string>,
  exited?: Promise<number | null>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let gone = false;
  void exited?.then(() => {
    gone = true;
  });
  for (;;) {
    if (gone) throw new Error(`Synapse exited before it was ready:\n${await logTail()}`);
    try {
      const res = await fetch(`${url}/_matrix/client/versions`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      throw new Error(
        `homeserver at ${url} did not answer /_matrix/client/versions within ${timeoutMs} ms:\n${await logTail()}`,
      );
    }
    await sleep(150);
  }
}

async function registerWithSharedSecret(
  url: string,
  secret: string,
  serverName: string,
  localpart: string,
  options: { admin?: boolean; password?: string } = {},
): Promise<TestUser> {
  const endpoint = `${url}/_synapse/admin/v1/register`;
  const nonceRes = await fetch(endpoint);
  if (!nonceRes.ok) throw new Error(`GET ${endpoint} answered ${nonceRes.status}: ${await nonceRes.text()}`);
  const { nonce } = (await nonceRes.json()) as { nonce: string };
  const password = options.password ?? randomBytes(12).toString("hex");
  const admin = options.admin ?? false;
  const mac = createHmac("sha1", secret)
    .update(`${nonce}\0${localpart}\0${password}\0${admin ? "admin" : "notadmin"}`)
    .digest("hex");
  const res = await fetch(endpoint, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ nonce, username: localpart, password, admin, mac }),
  });
  const body = (await res.json()) as { user_id?: string; access_token?: string; error?: string };
  if (!res.ok || !body.user_id || !body.access_token) {
    throw new Error(`registering ${localpart} failed (${res.status}): ${JSON.stringify(body)}`);
  }
  void serverName;
  return { userId: body.user_id, accessToken: body.access_token, localpart };
}

/** Synapse's signing key file: "ed25519 <key id> <unpadded base64 seed>". */
function signingKey(): string {
  const { privateKey } = generateKeyPairSync("ed25519");
  const der = privateKey.export({ format: "der", type: "pkcs8" });
  const seed = der.subarray(der.length - 32);
  return `ed25519 a_test ${seed.toString("base64").replace(/=+$/, "")}\n`;
}

function logConfig(logFile: string): string {
  return yaml.dump({
    version: 1,
    formatters: { precise: { format: "%(asctime)s %(levelname)s %(name)s %(message)s" } },
    handlers: {
      file: { class: "logging.FileHandler", formatter: "precise", filename: logFile, encoding: "utf8" },
      console: { class: "logging.StreamHandler", formatter: "precise", level: "WARNING" },
    },
    loggers: { "synapse.storage.SQL": { level: "WARNING" } },
    root: { level: "INFO", handlers: ["file", "console"] },
    disable_existing_loggers: false,
  });
}

const unlimited = { per_second: 100000, burst_count: 100000 };

function homeserverConfig(o: {
  serverName: string;
  port: number;
  secret: string;
  dir: string;
  regFiles: string[];
}) {
  return {
    server_name: o.serverName,
    public_baseurl: `http://127.0.0.1:${o.port}/`,
    pid_file: `${o.dir}/homeserver.pid`,
    listeners: [
      {
        port: o.port,
        bind_addresses: ["127.0.0.1"],
        type: "http",
        tls: false,
        x_forwarded: false,
        resources: [{ names: ["client", "openid"], compress: false }],
      },
    ],
    database: { name: "sqlite3", args: { database: `${o.dir}/homeserver.db` } },
    log_config: `${o.dir}/log.config`,
    media_store_path: `${o.dir}/media`,
    signing_key_path: `${o.dir}/signing.key`,
    registration_shared_secret: o.secret,
    macaroon_secret_key: randomBytes(24).toString("hex"),
    form_secret: randomBytes(24).toString("hex"),
    report_stats: false,
    enable_registration: false,
    // No federation: nothing leaves loopback.
    federation_domain_whitelist: [],
    trusted_key_servers: [],
    suppress_key_server_warning: true,
    enable_metrics: false,
    presence: { enabled: false },
    url_preview_enabled: false,
    app_service_config_files: o.regFiles,
    // Tests send bursts; Synapse's defaults would throttle them.
    rc_message: unlimited,
    rc_registration: unlimited,
    rc_login: { address: unlimited, account: unlimited, failed_attempts: unlimited },
    rc_admin_redaction: unlimited,
    rc_joins: { local: unlimited, remote: unlimited },
    rc_joins_per_room: unlimited,
    rc_invites: { per_room: unlimited, per_user: unlimited, per_issuer: unlimited },
    rc_3pid_validation: unlimited,
    rc_presence: { per_user: unlimited },
    rc_room_creation: unlimited,
    rc_reports: unlimited,
    rc_media_create: unlimited,
    rc_delayed_event_mgmt: unlimited,
  };
}
