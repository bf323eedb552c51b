import { execFileSync, fork, spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { performance } from "node:perf_hooks";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { bundle } from "../bin/bundle.js";
import type { Command, Reply } from "./bridge-proc.js";

export const benchDir = dirname(fileURLToPath(import.meta.url));

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export function hasTaskset(): boolean {
  try {
    execFileSync("taskset", ["-p", String(process.pid)], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Pins a process (every thread) to one CPU; processes it forks afterwards inherit that. */
export function pinProcess(pid: number, cpu: number): boolean {
  try {
    execFileSync("taskset", ["-a", "-p", "-c", String(cpu), String(pid)], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Pins this process (every thread) to one CPU. */
export function pinSelf(cpu: number): boolean {
  return pinProcess(process.pid, cpu);
}

export interface SpawnOptions {
  /** Pin the bridge process to this CPU with taskset. */
  cpu?: number;
  /**
   * "bundle" (the default): bridge-proc.ts built by bin/bundle.js, as `switchboard` ships, and
   * run by plain node. "sources": through tsx, whose keepNames wraps every function definition
   * (closures made per event included) in a defineProperty call the shipped bundle does not have.
   */
  code?: "bundle" | "sources";
}

let bundled: Promise<string> | null = null;
/** bridge-proc.ts bundled once per bench run into .cache/bench-bridge; the entry's path. */
export function bundledBridgeProc(): Promise<string> {
  bundled ??= (async () => {
    const outdir = join(benchDir, "..", ".cache", "bench-bridge");
    await bundle({ "bridge-proc": "bench/bridge-proc.ts" }, outdir);
    return join(outdir, "bridge-proc.js");
  })();
  return bundled;
}

/** The bridge process (bridge-proc.ts) and a promise-based call over its IPC channel. */
export class BridgeProcess {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly exited: Promise<number | null>;

  private constructor(readonly child: ChildProcess) {
    child.on("message", (msg: Reply) => {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new Error(`bridge process: ${msg.error}`));
    });
    this.exited = new Promise((resolve) =>
      child.once("exit", (code) => {
        for (const p of this.pending.values()) p.reject(new Error(`bridge process exited (${code})`));
        this.pending.clear();
        resolve(code);
      }),
    );
  }

  static async spawn(options: SpawnOptions = {}): Promise<BridgeProcess> {
    const sources = options.code === "sources";
    const script = sources ? join(benchDir, "bridge-proc.ts") : await bundledBridgeProc();
    // Source maps on, as bin/switchboard.js turns them on.
    const execArgv = [...(sources ? ["--import", "tsx"] : ["--enable-source-maps"]), "--expose-gc"];
    const child =
      options.cpu !== undefined
        ? spawn("taskset", ["-c", String(options.cpu), process.execPath, ...execArgv, script], {
            stdio: ["ignore", "inherit", "pipe", "ipc"],
          })
        : fork(script, [], { execArgv, stdio: ["ignore", "inherit", "pipe", "ipc"] });
    const proc = new BridgeProcess(child);
    // Pass the bridge's stderr through, except Node's repeated MaxListenersExceededWarning lines
    // (the reference connector triggers one per request under load), which are only counted.
    let partial = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      const lines = (partial + chunk.toString("utf8")).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) {
        if (/MaxListenersExceededWarning/.test(line)) proc.maxListenersWarnings++;
        else if (!/--trace-warnings/.test(line)) process.stderr.write(line + "\n");
      }
    });
    return proc;
  }

  /** MaxListenersExceededWarning lines the bridge process printed. */
  maxListenersWarnings = 0;

  call<T>(command: Command): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ ...command, id });
    });
  }

  /** CPU time of the bridge process (all its threads), µs. */
  cpu(): Promise<{ user: number; system: number }> {
    return this.call<{ user: number; system: number }>({ cmd: "cpu" });
  }

  /** For a bridge left with a backlog it would take long to drain: no clean stop. */
  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill("SIGKILL");
    await this.exited;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    await this.call({ cmd: "stop" }).catch(() => undefined);
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 20_000);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Emit and arrival times of numbered events (performance.now() clock, one process). */
export class Tracker {
  readonly emitAt: Float64Array;
  readonly arriveAt: Float64Array;
  received = 0;
  duplicates = 0;
  private resolveDone: (() => void) | null = null;
  readonly done: Promise<void>;

  constructor(readonly n: number) {
    this.emitAt = new Float64Array(n);
    this.arriveAt = new Float64Array(n);
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    if (n === 0) this.resolveDone?.();
  }

  emitted(i: number, at = performance.now()): void {
    this.emitAt[i] = at;
  }

  arrived(i: number, at: number): void {
    if (i < 0 || i >= this.n) return;
    if (this.arriveAt[i] !== 0) {
      this.duplicates++;
      return;
    }
    this.arriveAt[i] = at;
    if (++this.received === this.n) this.resolveDone?.();
  }

  /** Resolves true when all arrived, false at the timeout. */
  async wait(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    const ok = await Promise.race([this.done.then(() => true as const), timeout]);
    clearTimeout(timer);
    return ok;
  }

  /** Delivery rate (events/s) within each tenth of the run, by arrival order: a falling rate means a cost that grows. */
  rateByDecile(): number[] {
    const arrivals = this.arriveAt.filter((t) => t > 0).sort();
    const start = this.firstEmit();
    const out: number[] = [];
    let prev = start;
    for (let d = 1; d <= 10; d++) {
      const idx = Math.floor((arrivals.length * d) / 10) - 1;
      const t = arrivals[idx];
      if (t === undefined) break;
      out.push(Math.round((arrivals.length / 10 / Math.max(t - prev, 1e-3)) * 1000));
      prev = t;
    }
    return out;
  }

  lastArrival(): number {
    let last = 0;
    for (const t of this.arriveAt) if (t > last) last = t;
    return last;
  }

  firstEmit(): number {
    let first = Infinity;
    for (const t of this.emitAt) if (t > 0 && t < first) first = t;
    return first;
  }

  lastEmit(): number {
    let last = 0;
    for (const t of this.emitAt) if (t > last) last = t;
    return last;
  }

  /** Latency (ms) of every event, sorted ascending; events that never arrived count as Infinity. */
  latencies(): Float64Array {
    const out = new Float64Array(this.n);
    for (let i = 0; i < this.n; i++) {
      const a = this.arriveAt[i] ?? 0;
      out[i] = a > 0 ? a - (this.emitAt[i] ?? 0) : Infinity;
    }
    return out.sort();
  }
}

export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx] ?? NaN;
}

/** Host "steal" ticks and all ticks so far (Linux /proc/stat): CPU time the hypervisor took from this VM. */
export function cpuTicks(): { steal: number; total: number } {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    return { steal: v[7] ?? 0, total: v.reduce((a, b) => a + b, 0) };
  } catch {
    return { steal: 0, total: 0 };
  }
}

/** % of the machine's CPU time stolen by the hypervisor between two cpuTicks() readings. */
export function stealPct(a: { steal: number; total: number }, b: { steal: number; total: number }): number {
  const total = b.total - a.total;
  return total > 0 ? Math.round(((b.steal - a.steal) / total) * 1000) / 10 : 0;
}

export async function waitFor(check: () => boolean, timeoutMs: number, stepMs = 5): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return true;
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function pool<T>(
  items: T[],
  limit: number,
  fn: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i] as T, i);
    }
  });
  await Promise.all(workers);
}
