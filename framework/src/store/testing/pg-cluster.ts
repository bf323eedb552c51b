/**
 * A real PostgreSQL for tests: `startPostgres()` hands out fresh, empty databases and `stop()`
 * removes every trace of them.
 *
 * With SWITCHBOARD_TEST_PG_URL set (a superuser's URL), databases are created on that server and
 * dropped again by stop(). Otherwise a throwaway cluster is made with the server binaries of a local
 * PostgreSQL installation: initdb into a temporary directory, started on a free loopback port with
 * fsync off (nothing in it has to survive a crash), stopped with `-m immediate` and deleted. Process
 * exit and signal handlers stop whatever stop() did not, so a failing or interrupted test run leaves
 * no postmaster behind.
 *
 * Missing binaries are an error, never a skip: a suite that silently skips its database tests would
 * pass on a machine that cannot run them.
 */
import { execFile, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { chown, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";

const run = promisify(execFile);

export interface PgCluster {
  /** The superuser's URL (on its maintenance database), for setting up what a test needs. */
  readonly adminUrl: string;
  /** The temporary directory of a cluster this helper started (null on SWITCHBOARD_TEST_PG_URL). */
  readonly directory: string | null;
  /** Creates an empty database owned by the superuser; returns its URL. */
  createDatabase(): Promise<string>;
  /** Drops a database createDatabase made, even while connections to it are still open. */
  dropDatabase(url: string): Promise<void>;
  /** Drops the databases still left, then stops and deletes a cluster this helper started. */
  stop(): Promise<void>;
}

const HOST = "127.0.0.1";
const SUPERUSER = "postgres";
const START_ATTEMPTS = 3;
const LOG_TAIL_LINES = 30;

export async function startPostgres(env: NodeJS.ProcessEnv = process.env): Promise<PgCluster> {
  const external = env.SWITCHBOARD_TEST_PG_URL?.trim();
  if (external) return new Databases(external, null, async () => undefined);
  const cluster = await LocalCluster.start(findServerBinaries(env));
  return new Databases(cluster.url, cluster.dir, () => cluster.stop());
}

/** Hands out and drops databases on one server. */
class Databases implements PgCluster {
  private readonly admin: pg.Pool;
  private readonly created = new Set<string>();
  private counter = 0;
  private readonly prefix = `switchboard_test_${process.pid}_${randomBytes(3).toString("hex")}`;

  constructor(
    readonly adminUrl: string,
    readonly directory: string | null,
    private readonly stopServer: () => Promise<void>,
  ) {
    this.admin = new pg.Pool({ connectionString: adminUrl, max: 2 });
    // An idle admin connection dropped by a stopping server must not crash the test process.
    this.admin.on("error", () => undefined);
  }

  async createDatabase(): Promise<string> {
    const name = `${this.prefix}_${++this.counter}`;
    // Identifiers cannot be parameters; the name is ours and only [a-z0-9_].
    await this.admin.query(`CREATE DATABASE "${name}"`);
    this.created.add(name);
    const url = new URL(this.adminUrl);
    url.pathname = `/${name}`;
    return url.toString();
  }

  async dropDatabase(databaseUrl: string): Promise<void> {
    const name = decodeURIComponent(new URL(databaseUrl).pathname.slice(1));
    if (!this.created.has(name)) throw new Error(`database ${name} was not made by this cluster helper`);
    await this.admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    this.created.delete(name);
  }

  async stop(): Promise<void> {
    try {
      for (const name of [...this.created]) {
        await this.admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
        this.created.delete(name);
      }
    } finally {
      await this.admin.end();
      await this.stopServer();
    }
  }
}

interface ServerBinaries {
  initdb: string;
  pgCtl: string;
}

/** SWITCHBOARD_TEST_PG_BIN, else the newest Debian-style /usr/lib/postgresql/<version>/bin. */
function findServerBinaries(env: NodeJS.ProcessEnv): ServerBinaries {
  const candidates: string[] = [];
  if (env.SWITCHBOARD_TEST_PG_BIN) candidates.push(env.SWITCHBOARD_TEST_PG_BIN);
  const debian = "/usr/lib/postgresql";
  if (existsSync(debian)) {
    const versions = readdirSync(debian)
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((v) => join(debian, v, "bin")));
  }
  for (const dir of candidates) {
    const binaries = { initdb: join(dir, "initdb"), pgCtl: join(dir, "pg_ctl") };
    if (existsSync(binaries.initdb) && existsSync(binaries.pgCtl)) return binaries;
  }
  throw new Error(
    `PostgreSQL server binaries (initdb, pg_ctl) not found in ${candidates.join(", ") || `${debian}/*/bin`}: ` +
      `install them (Debian: apt-get install postgresql-15), point SWITCHBOARD_TEST_PG_BIN at their ` +
      `directory, or set SWITCHBOARD_TEST_PG_URL to a superuser URL of a running server`,
  );
}

const live = new Set<LocalCluster>();

/** A cluster of our own in a temporary directory: <dir>/data, its socket and log beside it. */
class LocalCluster {
  private stopping: Promise<void> | null = null;

  private constructor(
    private readonly binaries: ServerBinaries,
    readonly dir: string,
    readonly url: string,
    private readonly asOwner: (command: string, args: string[]) => [string, string[]],
  ) {}

  static async start(binaries: ServerBinaries): Promise<LocalCluster> {
    const asOwner = ownerCommand();
    const dir = await mkdtemp(join(tmpdir(), "switchboard-pg-"));
    const password = randomBytes(12).toString("hex");
    const data = join(dir, "data");
    try {
      await chownToOwner(dir);
      const pwfile = join(dir, "pwfile");
      await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
      await chownToOwner(pwfile);
      // Password auth over TCP, so connection tests see a server that checks credentials.
      await runAs(asOwner, binaries.initdb, [
        "-D",
        data,
        "-U",
        SUPERUSER,
        `--pwfile=${pwfile}`,
        "--auth-local=trust",
        "--auth-host=scram-sha-256",
        "--encoding=UTF8",
        "--locale=C",
        "--no-sync",
      ]);
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
    installExitHooks();
    let lastError: unknown;
    // The port was free when we looked; another process may take it before the postmaster binds.
    for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
      const port = await freePort();
      const url = `postgres://${SUPERUSER}:${password}@${HOST}:${port}/postgres`;
      const cluster = new LocalCluster(binaries, dir, url, asOwner);
      live.add(cluster);
      try {
        await runAs(asOwner, binaries.pgCtl, [
          "-D",
          data,
          "-l",
          join(dir, "log"),
          "-o",
          `-p ${port} -k ${dir} -c listen_addresses=${HOST} -c fsync=off -c full_page_writes=off`,
          "-w",
          "start",
        ]);
        return cluster;
      } catch (error) {
        lastError = error;
        live.delete(cluster);
        cluster.killNow({ keepDir: true });
      }
    }
    const log = await readFile(join(dir, "log"), "utf8").catch(() => "");
    rmSync(dir, { recursive: true, force: true });
    throw new Error(
      `PostgreSQL did not start (${START_ATTEMPTS} attempts): ${messageOf(lastError)}\n` +
        log.trimEnd().split("\n").slice(-LOG_TAIL_LINES).join("\n"),
    );
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      try {
        await runAs(this.asOwner, this.binaries.pgCtl, [
          "-D",
          join(this.dir, "data"),
          "-m",
          "immediate",
          "stop",
        ]);
      } finally {
        live.delete(this);
        await rm(this.dir, { recursive: true, force: true });
      }
    })();
    return this.stopping;
  }

  /** Synchronous last resort for process 'exit' and signal handlers. */
  killNow(options: { keepDir?: boolean } = {}): void {
    const data = join(this.dir, "data");
    if (existsSync(join(data, "postmaster.pid"))) {
      const [command, args] = this.asOwner(this.binaries.pgCtl, ["-D", data, "-m", "immediate", "stop"]);
      try {
        execFileSync(command, args, { stdio: "ignore" });
      } catch {
        // Not running (any more): nothing to stop.
      }
    }
    live.delete(this);
    if (!options.keepDir) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** initdb and postgres refuse to run as root: as root, run them as the postgres OS user. */
function ownerCommand(): (command: string, args: string[]) => [string, string[]] {
  if (process.getuid?.() !== 0) return (command, args) => [command, args];
  return (command, args) => ["runuser", ["-u", SUPERUSER, "--", command, ...args]];
}

async function chownToOwner(path: string): Promise<void> {
  if (process.getuid?.() !== 0) return;
  const [uid, gid] = await Promise.all(
    ["-u", "-g"].map(async (flag) => Number((await run("id", [flag, SUPERUSER])).stdout.trim())),
  );
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) {
    throw new Error(`running as root needs a "${SUPERUSER}" OS user to own the test cluster`);
  }
  await chown(path, uid as number, gid as number);
}

async function runAs(
  asOwner: (command: string, args: string[]) => [string, string[]],
  command: string,
  args: string[],
): Promise<void> {
  const [file, argv] = asOwner(command, args);
  try {
    await run(file, argv, { cwd: tmpdir() });
  } catch (error) {
    const { stderr, stdout } = error as { stderr?: string; stdout?: string };
    const output = `${stderr ?? ""}${stdout ?? ""}`.trim();
    throw new Error(`${command} ${args.join(" ")} failed: ${output || messageOf(error)}`, { cause: error });
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      server.close(() =>
        address !== null && typeof address !== "string"
          ? resolve(address.port)
          : reject(new Error("could not read the port the OS assigned")),
      );
    });
  });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

let exitHooksInstalled = false;

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.on("exit", killAllNow);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      killAllNow();
      // Keep the default behaviour (dying by that signal) unless someone else handles it.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
}

function killAllNow(): void {
  for (const cluster of [...live]) cluster.killNow();
}
