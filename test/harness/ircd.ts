/**
 * Starts a real IRC server (ngircd, ergo or inspircd) on 127.0.0.1 for end-to-end tests and benchmarks.
 *
 * Each server gets a fresh temporary directory holding a generated config that lifts flood and
 * connection limits as far as that server allows, because the suites open hundreds of connections
 * from the single address 127.0.0.1 and send bursts.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort, waitForPort } from "./net.js";

export type IrcdKind = "ngircd" | "ergo" | "inspircd";

export const IRCD_KINDS: readonly IrcdKind[] = ["ngircd", "ergo", "inspircd"];

/** What the generated configuration allows; null means the server imposes no such limit. */
export interface IrcdLimits {
  nickLength: number;
  channelLength: number;
  /** Longer realnames (gecos) are truncated by the server; null: only the 512-byte line bounds it. */
  realnameLength: number | null;
  maxChannelsPerClient: number | null;
  maxConnectionsPerIp: number | null;
  /** Output the server buffers for one slow-reading client before disconnecting it. */
  sendQueueBytes: number;
  /**
   * Pending TCP connections the server's listen queue holds. Open many connections with at most
   * this many in flight: beyond it the kernel drops handshakes and clients stall for minutes.
   */
  listenBacklog: number;
}

export interface Ircd {
  kind: IrcdKind;
  host: string;
  port: number;
  serverName: string;
  networkName: string;
  /** Modes a channel gets when a user creates it by joining, e.g. "nt"; "" for none. */
  newChannelModes: string;
  limits: IrcdLimits;
  stop(): Promise<void>;
  /**
   * Stops the server and starts it again on the same port with the same config (a restart
   * mid-conversation); `whileDown` runs in between.
   */
  restart(whileDown?: () => Promise<void>): Promise<void>;
}

export interface StartIrcdOptions {
  kind?: IrcdKind;
  /** How long the server may take to accept a registration. */
  startupTimeoutMs?: number;
}

const HOST = "127.0.0.1";
const SERVER_NAME = "irc.switchboard.test";
const NETWORK_NAME = "SwitchboardTest";
const NICK_LENGTH = 30;
const DEFAULT_STARTUP_TIMEOUT_MS = 20_000;
const STOP_GRACE_MS = 5_000;
const OUTPUT_TAIL_LINES = 40;

export function isIrcdKind(value: string): value is IrcdKind {
  return (IRCD_KINDS as readonly string[]).includes(value);
}

/** The ircd chosen by SWITCHBOARD_TEST_IRCD; ngircd when unset. */
export function ircdKindFromEnv(env: NodeJS.ProcessEnv = process.env): IrcdKind {
  const value = env.SWITCHBOARD_TEST_IRCD?.trim() ?? "";
  if (value === "") return "ngircd";
  if (isIrcdKind(value)) return value;
  throw new Error(
    `SWITCHBOARD_TEST_IRCD="${value}" is not a supported ircd; use one of: ${IRCD_KINDS.join(", ")}`,
  );
}

export async function startIrcd(options: StartIrcdOptions = {}): Promise<Ircd> {
  const kind = options.kind ?? ircdKindFromEnv();
  const spec = SPECS[kind];
  const binary = binaryFor(kind, spec);
  const dir = await mkdtemp(join(tmpdir(), `switchboard-${kind}-`));
  let server: ServerProcess | undefined;
  try {
    const port = await freePort();
    const plan = await spec.prepare({ binary, dir, port });
    server = new ServerProcess(kind, plan, dir);
    await server.waitUntilReady(port, options.startupTimeoutMs ?? DEFAULT_STARTUP_TIMEOUT_MS);
    let running = server;
    return {
      kind,
      host: HOST,
      port,
      serverName: SERVER_NAME,
      networkName: NETWORK_NAME,
      newChannelModes: spec.newChannelModes,
      limits: { ...spec.limits, listenBacklog: Math.min(spec.limits.listenBacklog, await kernelListenCap()) },
      stop: () => running.stop(),
      restart: async (whileDown) => {
        await running.stop({ keepDir: true });
        await whileDown?.();
        running = new ServerProcess(kind, plan, dir);
        await running.waitUntilReady(port, options.startupTimeoutMs ?? DEFAULT_STARTUP_TIMEOUT_MS);
      },
    };
  } catch (error) {
    if (server) await server.stop();
    else await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** The kernel silently caps every listen() backlog at net.core.somaxconn. */
async function kernelListenCap(): Promise<number> {
  const value = Number.parseInt(await readFile("/proc/sys/net/core/somaxconn", "utf8").catch(() => ""), 10);
  return Number.isFinite(value) && value > 0 ? value : Number.POSITIVE_INFINITY;
}

// ---------------------------------------------------------------------------------------------
// Per-server configuration

interface PrepareInput {
  binary: string;
  dir: string;
  port: number;
}

interface LaunchPlan {
  command: string;
  args: string[];
  /** A log file the server writes besides stdout/stderr, quoted when startup fails. */
  logFile?: string;
  /** Start as nobody when we are root, for servers that would otherwise switch user themselves. */
  startUnprivileged?: boolean;
}

interface IrcdSpec {
  defaultBinary: string;
  newChannelModes: string;
  limits: IrcdLimits;
  prepare(input: PrepareInput): Promise<LaunchPlan>;
}

/** SWITCHBOARD_NGIRCD_BIN etc. let a developer point at a build outside the Debian paths. */
function binaryFor(kind: IrcdKind, spec: IrcdSpec): string {
  const override = process.env[`SWITCHBOARD_${kind.toUpperCase()}_BIN`]?.trim();
  return override !== undefined && override !== "" ? override : spec.defaultBinary;
}

const ngircd: IrcdSpec = {
  defaultBinary: "/usr/sbin/ngircd",
  // ngircd 26 has no setting for this, so non-members can message its channels (no +n).
  newChannelModes: "",
  limits: {
    nickLength: NICK_LENGTH,
    // Compile-time CHANNEL_NAME_LEN (51 including NUL) and CLIENT_NAME_LEN (32 including NUL).
    channelLength: 50,
    realnameLength: 31,
    maxChannelsPerClient: null,
    maxConnectionsPerIp: null,
    // Compile-time WRITEBUFFER_MAX_LEN; not configurable.
    sendQueueBytes: 32_768,
    // Hard-coded listen(sock, 10), and ngircd accepts one connection per event-loop pass.
    listenBacklog: 10,
  },
  async prepare({ binary, dir, port }) {
    // ngircd otherwise also reads /etc/ngircd/ngircd.conf.d, which would make tests depend on the host.
    const includeDir = join(dir, "conf.d");
    await mkdir(includeDir);
    const configFile = join(dir, "ngircd.conf");
    await writeFile(configFile, ngircdConfig(port, includeDir));
    // ngircd will not run as root: it switches to nobody, and that credential change would cancel
    // the parent-death signal. Starting it as nobody avoids the switch; nobody must read the config.
    await chmod(dir, 0o755);
    return {
      command: binary,
      args: ["--nodaemon", "--passive", "--config", configFile],
      startUnprivileged: true,
    };
  },
};

function ngircdConfig(port: number, includeDir: string): string {
  return `[Global]
\tName = ${SERVER_NAME}
\tInfo = Switchboard test server
\tNetwork = ${NETWORK_NAME}
\tAdminInfo1 = Switchboard tests
\tAdminInfo2 = 127.0.0.1
\tAdminEMail = switchboard@localhost
\tListen = ${HOST}
\tPorts = ${port}
\tMotdPhrase = "Switchboard test ircd"
\tPidFile =

[Limits]
\t# 0 means unlimited for connections and joins.
\tMaxConnections = 0
\tMaxConnectionsIP = 0
\tMaxJoins = 0
\tMaxListSize = 0
\tMaxNickLength = ${NICK_LENGTH}
\t# 0 turns the 1-second flood penalties into no delay at all.
\tMaxPenaltyTime = 0
\tPingTimeout = 120
\tPongTimeout = 60

[Options]
\tDNS = no
\tIdent = no
\tPAM = no
\tRequireAuthPing = no
\tIncludeDir = ${includeDir}
`;
}

const inspircd: IrcdSpec = {
  defaultBinary: "/usr/sbin/inspircd",
  newChannelModes: "nt",
  limits: {
    nickLength: NICK_LENGTH,
    channelLength: 64,
    realnameLength: 128,
    maxChannelsPerClient: 10_000,
    maxConnectionsPerIp: null,
    sendQueueBytes: 64 * 1024 * 1024,
    listenBacklog: 4096,
  },
  async prepare({ binary, dir, port }) {
    const configFile = join(dir, "inspircd.conf");
    const logFile = join(dir, "inspircd.log");
    await writeFile(join(dir, "motd.txt"), "Switchboard test ircd\n");
    await writeFile(configFile, inspircdConfig(port, dir, logFile));
    const args = ["--config", configFile, "--nofork", "--nopid"];
    // inspircd refuses to start as root unless told that this is deliberate.
    if (process.getuid?.() === 0) args.push("--runasroot");
    return { command: binary, args, logFile };
  },
};

function inspircdConfig(port: number, dir: string, logFile: string): string {
  // localmax/globalmax are per-IP limits; the values just need to exceed anything a test opens.
  // threshold/commandrate are in commands and millicommands per second: a burst allowance of a
  // million commands and a refill of 1000 commands per second make fakelag unreachable.
  // recvq must hold a whole burst (the default 8 KiB kills the sender with "RecvQ exceeded").
  // netbuffersize is the most read from one client per event-loop pass, and an otherwise idle
  // inspircd 3 makes a pass only about once a second; 65534 is the largest value it accepts.
  return `<server name="${SERVER_NAME}" description="Switchboard test server" network="${NETWORK_NAME}">
<admin name="Switchboard tests" nick="switchboard" email="switchboard@localhost">
<bind address="${HOST}" port="${port}" type="clients">

<connect name="main" allow="*"
         localmax="100000" globalmax="100000" limit="100000" maxconnwarn="no"
         threshold="1000000" commandrate="1000000" fakelag="yes"
         recvq="1048576" softsendq="8388608" hardsendq="67108864"
         maxchans="10000" timeout="60" pingfreq="120"
         resolvehostnames="no" useident="no">
<cidr ipv4clone="32" ipv6clone="128">
<performance somaxconn="4096" netbuffersize="65534" quietbursts="yes">
<limits maxnick="${NICK_LENGTH}" maxchan="64" maxreal="128">
# connect:maxchans is what inspircd enforces, but CHANLIMIT advertises channels:users.
<channels users="10000" opers="10000">

# Hostname lookups are off; this only makes sure a stray query never leaves loopback.
<dns server="127.0.0.1" timeout="1">
<files motd="${join(dir, "motd.txt")}">
<log method="file" type="* -USERINPUT -USEROUTPUT" level="default" target="${logFile}">

# The IRCv3 basics real networks offer, so clients negotiate capabilities as they would there.
<module name="cap">
<module name="ircv3">
<module name="ircv3_capnotify">
<module name="ircv3_servertime">
<module name="namesx">
<module name="uhnames">
`;
}

const ergo: IrcdSpec = {
  // Debian's package named ergo is the ErgoSCF chemistry program, so this relies on PATH order or
  // SWITCHBOARD_ERGO_BIN; assertErgoIrcd rejects the wrong binary before it runs anywhere else.
  defaultBinary: "ergo",
  newChannelModes: "nt",
  limits: {
    nickLength: NICK_LENGTH,
    channelLength: 64,
    realnameLength: null,
    maxChannelsPerClient: 10_000,
    maxConnectionsPerIp: null,
    sendQueueBytes: 16 * 1024 * 1024,
    // Go listens with the kernel's net.core.somaxconn.
    listenBacklog: 4096,
  },
  async prepare({ binary, dir, port }) {
    await assertErgoIrcd(binary, dir);
    const configFile = join(dir, "ircd.yaml");
    // YAML is a superset of JSON, so JSON.stringify sidesteps YAML quoting rules.
    await writeFile(configFile, JSON.stringify(ergoConfig(port, dir), null, 2));
    await run(binary, ["initdb", "--conf", configFile, "--quiet"], dir);
    return { command: binary, args: ["run", "--conf", configFile] };
  },
};

function ergoConfig(port: number, dir: string): object {
  return {
    network: { name: NETWORK_NAME },
    server: {
      name: SERVER_NAME,
      listeners: { [`${HOST}:${port}`]: {} },
      casemapping: "ascii",
      "enforce-utf8": true,
      "lookup-hostnames": false,
      "forward-confirm-hostnames": false,
      "check-ident": false,
      motd: "",
      "max-sendq": "16M",
      relaymsg: { enabled: false },
      "ip-limits": {
        count: false,
        throttle: false,
        "max-concurrent-connections": 100_000,
        window: "1s",
        "max-connections-per-window": 100_000,
        "cidr-len-ipv4": 32,
        "cidr-len-ipv6": 64,
      },
      // Cloaking would rewrite every host, which breaks tests that look at hostmasks.
      "ip-cloaking": { enabled: false },
    },
    accounts: {
      "authentication-enabled": false,
      registration: { enabled: false },
      "nick-reservation": { enabled: false, "guest-nickname-format": "Guest-*" },
      multiclient: { enabled: false },
    },
    channels: {
      "default-modes": "+nt",
      "max-channels-per-client": 10_000,
      "operator-only-creation": false,
      registration: { enabled: false },
    },
    limits: {
      nicklen: NICK_LENGTH,
      identlen: 20,
      channellen: 64,
      awaylen: 390,
      kicklen: 390,
      topiclen: 390,
      "monitor-entries": 100,
      "whowas-entries": 100,
      "chan-list-modes": 100,
      "registration-messages": 1024,
      multiline: { "max-bytes": 4096, "max-lines": 100 },
    },
    fakelag: { enabled: false },
    history: { enabled: false },
    languages: { enabled: false },
    logging: [{ method: "stderr", type: "* -userinput -useroutput", level: "info" }],
    "lock-file": join(dir, "ircd.lock"),
    datastore: { path: join(dir, "ircd.db"), autoupgrade: false },
  };
}

/** Fails clearly when `ergo` is not the Ergo IRC server (on Debian it is a chemistry program). */
async function assertErgoIrcd(binary: string, dir: string): Promise<void> {
  let version: string;
  try {
    // cwd is the temp dir because the chemistry program writes ergoscf.out into its cwd.
    version = await run(binary, ["--version"], dir);
  } catch (error) {
    version = messageOf(error);
  }
  if (!/^ergo-\d/m.test(version)) {
    throw new Error(
      `"${binary}" is not the Ergo IRC server (its --version said: ${version.trim().slice(0, 200)}). ` +
        "Debian's `ergo` package is the ErgoSCF chemistry program; point SWITCHBOARD_ERGO_BIN at an Ergo ircd binary.",
    );
  }
}

const SPECS: Record<IrcdKind, IrcdSpec> = { ngircd, ergo, inspircd };

function run(command: string, args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd, timeout: 10_000 }, (error, stdout, stderr) => {
      const output = `${stdout}${stderr}`.trim();
      if (error) reject(new Error(`\`${command} ${args.join(" ")}\` failed: ${output || error.message}`));
      else resolve(`${stdout}${stderr}`);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Process supervision

interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

/** Servers still running, so a dying test process can take them down with it. */
const live = new Set<ServerProcess>();

// setpriv makes the kernel kill the ircd if this process dies in a way no handler sees (SIGKILL).
const SETPRIV = "/usr/bin/setpriv";
const NOBODY = "65534";

/** The command line, wrapped in setpriv when it is available. */
function launchCommand(plan: LaunchPlan): [string, string[]] {
  if (!existsSync(SETPRIV)) return [plan.command, plan.args];
  const dropRoot =
    plan.startUnprivileged === true && process.getuid?.() === 0
      ? [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups"]
      : [];
  return [SETPRIV, [...dropRoot, "--pdeathsig", "KILL", "--", plan.command, ...plan.args]];
}

class ServerProcess {
  private readonly child: ChildProcess;
  private readonly exited: Promise<ExitInfo>;
  private exitInfo: ExitInfo | undefined;
  private stopping: Promise<void> | undefined;
  private readonly tail: string[] = [];

  constructor(
    private readonly kind: IrcdKind,
    private readonly plan: LaunchPlan,
    readonly dir: string,
  ) {
    const [command, args] = launchCommand(plan);
    this.child = spawn(command, args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    this.exited = new Promise((resolve) => {
      // 'close' rather than 'exit': by then the last output lines have been captured for diagnostics.
      this.child.once("close", (code, signal) => resolve((this.exitInfo ??= { code, signal })));
      this.child.on("error", (error) => {
        // Only a failed spawn means there is no process; a failed kill() leaves it running.
        if (this.child.pid === undefined) resolve((this.exitInfo = { code: null, signal: null, error }));
      });
    });
    // Always drain the pipes: a server blocked on a full pipe would look like a hung server.
    this.capture(this.child.stdout);
    this.capture(this.child.stderr);
    live.add(this);
    installExitHooks();
  }

  async waitUntilReady(port: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    try {
      await this.unlessExited(waitForPort(port, timeoutMs, `${this.kind} on ${HOST}:${port}`));
    } catch (error) {
      throw this.exitInfo
        ? error
        : new Error(`${messageOf(error)}\n${await this.diagnostics()}`, { cause: error });
    }
    // An open port is not enough: some servers listen before they finish loading.
    for (;;) {
      try {
        const attemptMs = Math.max(1, Math.min(5_000, deadline - Date.now()));
        const prefix = await this.unlessExited(registerProbe(port, attemptMs));
        if (prefix !== SERVER_NAME) throw new Error(`unexpected server name ${prefix} in RPL_WELCOME`);
        return;
      } catch (error) {
        if (this.exitInfo) throw error;
        if (Date.now() >= deadline) {
          throw new Error(
            `${this.kind} did not accept an IRC registration within ${timeoutMs} ms: ${messageOf(error)}\n` +
              (await this.diagnostics()),
            { cause: error },
          );
        }
        await sleep(200);
      }
    }
  }

  stop(options: { keepDir?: boolean } = {}): Promise<void> {
    this.stopping ??= this.terminate(options.keepDir === true);
    return this.stopping;
  }

  /** Synchronous last resort for process 'exit' and signal handlers. */
  killNow(): void {
    if (this.isRunning()) this.child.kill("SIGKILL");
    rmSync(this.dir, { recursive: true, force: true });
    live.delete(this);
  }

  private async terminate(keepDir: boolean): Promise<void> {
    if (this.isRunning()) {
      this.child.kill("SIGTERM");
      if (!(await this.exitsWithin(STOP_GRACE_MS))) this.child.kill("SIGKILL");
      await this.exited;
    }
    if (!keepDir) await rm(this.dir, { recursive: true, force: true });
    live.delete(this);
  }

  /** Unlike racing a sleep(), clears its timer so a stopped server does not hold the test process open. */
  private exitsWithin(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      void this.exited.then(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  private isRunning(): boolean {
    return this.exitInfo === undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Rejects with the server's last output as soon as it exits, so startup failures are not timeouts. */
  private async unlessExited<T>(work: Promise<T>): Promise<T> {
    // The work may still reject after the exit wins the race; that rejection is expected and ignored.
    work.catch(() => undefined);
    const exit = this.exited.then(async (info) => {
      throw new Error(
        `${this.kind} exited during startup (${describeExit(info)})\n${await this.diagnostics()}`,
      );
    });
    exit.catch(() => undefined);
    return Promise.race([work, exit]);
  }

  private async diagnostics(): Promise<string> {
    let text = `--- ${this.kind} output (last ${OUTPUT_TAIL_LINES} lines) ---\n${orNoOutput(this.tail.join("\n"))}`;
    if (this.plan.logFile !== undefined) {
      const log = await readFile(this.plan.logFile, "utf8").catch(() => "");
      text += `\n--- ${this.plan.logFile} ---\n${orNoOutput(lastLines(log, OUTPUT_TAIL_LINES).join("\n"))}`;
    }
    return text;
  }

  private capture(stream: NodeJS.ReadableStream | null): void {
    if (!stream) return;
    let partial = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => {
      const lines = (partial + chunk).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) this.remember(line);
    });
    stream.on("end", () => {
      if (partial !== "") this.remember(partial);
    });
  }

  private remember(line: string): void {
    this.tail.push(line.trimEnd());
    if (this.tail.length > OUTPUT_TAIL_LINES) this.tail.shift();
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function describeExit(info: ExitInfo): string {
  if (info.error) return `could not be started: ${info.error.message}`;
  return info.signal !== null ? `signal ${info.signal}` : `exit code ${String(info.code)}`;
}

function orNoOutput(text: string): string {
  return text.trim() === "" ? "(no output)" : text;
}

function lastLines(text: string, count: number): string[] {
  return text.trimEnd().split("\n").slice(-count);
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
  for (const server of [...live]) server.killNow();
}

// ---------------------------------------------------------------------------------------------
// Readiness probe

/** Registers a throwaway client and resolves with the RPL_WELCOME prefix (the server name). */
function registerProbe(port: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const nick = `probe${Math.floor(Math.random() * 1e6)}`;
    const socket = connect({ host: HOST, port });
    let buffer = "";
    let settled = false;
    const finish = (error: Error | null, prefix?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.removeAllListeners("data");
      if (error) {
        socket.destroy();
        reject(error);
      } else {
        socket.end("QUIT :probe done\r\n");
        resolve(prefix ?? "");
      }
    };
    const timer = setTimeout(() => finish(new Error(`no RPL_WELCOME within ${timeoutMs} ms`)), timeoutMs);
    socket.setEncoding("utf8");
    socket.once("connect", () => socket.write(`NICK ${nick}\r\nUSER probe 0 * :readiness probe\r\n`));
    socket.once("error", (error) => finish(error));
    socket.once("close", () => finish(new Error("connection closed before RPL_WELCOME")));
    socket.on("data", (chunk: string) => {
      buffer += chunk;
      const lines = buffer.split(/\r?\n/);
      buffer = lines.pop() ?? "";
      for (const line of lines) {
        const { prefix, command, params } = parseLine(line);
        if (command === "PING") socket.write(`PONG :${params.at(-1) ?? ""}\r\n`);
        else if (command === "001") return finish(null, prefix);
        else if (command === "ERROR") return finish(new Error(`server said: ${line}`));
      }
    });
  });
}

function parseLine(line: string): { prefix: string; command: string; params: string[] } {
  let rest = line;
  let prefix = "";
  if (rest.startsWith(":")) {
    const space = rest.indexOf(" ");
    prefix = rest.slice(1, space === -1 ? undefined : space);
    rest = space === -1 ? "" : rest.slice(space + 1);
  }
  const trailingAt = rest.indexOf(" :");
  const head = trailingAt === -1 ? rest : rest.slice(0, trailingAt);
  const [command = "", ...params] = head.split(" ").filter((part) => part !== "");
  if (trailingAt !== -1) params.push(rest.slice(trailingAt + 2));
  return { prefix, command: command.toUpperCase(), params };
}
