import { execFile, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import type { IncomingMessage, Server } from "node:http";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { promisify } from "node:util";
import { startPostgres, type PgCluster } from "@switchboard/framework/testing/postgres";
import { format, resolveConfig } from "prettier";
import { ToyNetwork } from "../test/reference/toy-network.js";
import type { Calibration, HeapResult, StartResult, StoreSpec } from "./bridge-proc.js";
import { fillStore, ghostRemoteId, portalChannel } from "./fill-store.js";
import {
  benchDir,
  BridgeProcess,
  cpuTicks,
  freePort,
  hasTaskset,
  percentile,
  pinProcess,
  pinSelf,
  pool,
  stealPct,
  Tracker,
  waitFor,
} from "./lib.js";
import { HomeserverSink, type BenchMatrixEvent } from "./sink.js";

/**
 * `npm run bench [-- flags]`: the framework with the reference connector, against a homeserver
 * sink (sink.ts) and the toy network. This process (the "driver", pinned to CPU 0 when taskset
 * exists) runs both; the bridge runs alone in a child process (bridge-proc.ts) pinned to CPU 1,
 * so events/s is what one core of bridge does. Prints a table and writes bench/results.json.
 *
 * Flags:
 *   --quick            small smoke version (writes results-quick.json)
 *   --full             also: 50k ghosts made live, both directions at once at the target rate,
 *                      and bursts of exactly 20,000 events (takes well over 5 minutes on a slow bridge)
 *   --n=<N>            events per throughput burst (default: 20,000, or ~12 s worth at the rate the
 *                      warm-up measured when the bridge is slower than that)
 *   --only=a,b         scenarios: throughput, latency, ghosts, store
 *   --store            instead of those: NeDB vs PostgreSQL (`npm run bench:store`, see storeComparison;
 *                      writes results-store.json)
 *   --profile          V8 CPU profile of the bridge over each measured run (see profile-summary.ts)
 *   --verbose          also print the work per event (store calls, requests to each side)
 *   --no-pin           no taskset pinning
 *   --sources          run the bridge's sources through tsx instead of the bundle that ships
 */

const argv = process.argv.slice(2);
const flag = (name: string): boolean => argv.includes(`--${name}`);
const option = (name: string): string | undefined =>
  argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const list = (name: string): string[] => (option(name)?.split(",") ?? []).filter(Boolean);

const QUICK = flag("quick");
const FULL = flag("full");
const VERBOSE = flag("verbose");
const STORE = flag("store");
const SOURCES = flag("sources");
const ONLY = list("only");
const FIXED_N = option("n") !== undefined ? Number(option("n")) : FULL ? 20_000 : undefined;
const wants = (name: string): boolean => ONLY.length === 0 || ONLY.includes(name);

const P = QUICK
  ? {
      maxN: 2_000,
      minN: 1_000,
      burstSeconds: 5,
      channels: 10,
      senders: 5,
      lowRate: 100,
      lowSeconds: 2,
      latencyRate: 300,
      latencySeconds: 2,
      graceMs: 3_000,
      ghostWarm: 200,
      ghostLive: [1_000, 3_000],
      ghostChannels: 5,
      idleGhosts: 5_000,
      startPortals: 1_000,
      startGhosts: 10_000,
      startMessages: 20_000,
      startRepeats: 3,
      timeoutMs: 60_000,
    }
  : {
      maxN: 20_000,
      minN: 2_000,
      burstSeconds: 12,
      channels: 100,
      senders: 10,
      lowRate: 100,
      lowSeconds: 5,
      latencyRate: 1_000,
      latencySeconds: 10,
      graceMs: 5_000,
      ghostWarm: 1_000,
      ghostLive: FULL ? [10_000, 50_000] : [10_000],
      ghostChannels: 20,
      idleGhosts: 50_000,
      startPortals: 10_000,
      startGhosts: 100_000,
      startMessages: 200_000,
      startRepeats: 5,
      timeoutMs: 180_000,
    };

const TARGETS = {
  /** Issue 18: one busy room, each way (order kept). */
  eventsPerSec: 3_000,
  /** Issue 18: over 100 rooms. */
  manyRoomsRemoteToMatrix: 5_000,
  manyRoomsMatrixToRemote: 10_000,
  p99Ms: 20,
  bytesPerGhost: 2_048,
  startMs: 5_000,
  /** Issue 18: with 200k message mappings too, on the embedded store. */
  startWithMessagesMs: 2_000,
  postgresStartMs: 1_000,
};
const DOMAIN = "localhost";
const NETWORK = "reference";
const ENCRYPTION_KEY = "bench-encryption-key-that-is-long-enough-0123456789";

// ---------- machine and pinning ----------

const cores = availableParallelism();
const cpuModel =
  /model name\s*:\s*(.*)/.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1]?.trim() ?? "unknown";
const PIN = cores >= 2 && !flag("no-pin") && hasTaskset();
const DRIVER_CPU = 0;
const BRIDGE_CPU = 1;
if (PIN) pinSelf(DRIVER_CPU);
const profileDir = flag("profile") ? join(tmpdir(), `switchboard-bench-profiles-${Date.now()}`) : undefined;
if (profileDir) mkdirSync(profileDir, { recursive: true });

const round = (x: number, digits = 0): number => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};
const log = (line: string): void => console.log(line);

// ---------- the toy network, with arrival times of what the bridge sends ----------

type ToyMessage = ReturnType<ToyNetwork["post"]>;

class BenchToy extends ToyNetwork {
  onBridgePost: ((channel: string, text: string, at: number) => void) | null = null;
  /** HTTP requests the bridge made to the toy network, by path. */
  readonly requests = new Map<string, number>();

  override async listen(port = 0): Promise<string> {
    const url = await super.listen(port);
    const server = (this as unknown as { server: Server }).server;
    server.on("request", (req: IncomingMessage) => {
      const path = (req.url ?? "/").split("?")[0]?.replace(/^\/(users|channels|files)\/.*/, "/$1/*") ?? "/";
      this.requests.set(path, (this.requests.get(path) ?? 0) + 1);
    });
    return url;
  }

  override post(sender: string, channel: string, text: string, extra: Partial<ToyMessage> = {}): ToyMessage {
    const message = super.post(sender, channel, text, extra);
    if (sender === "bridge") this.onBridgePost?.(channel, text, performance.now());
    return message;
  }
}

// ---------- environment: toy network + sink + bridge process ----------

interface Env {
  toy: BenchToy;
  sink: HomeserverSink;
  bridge: BridgeProcess;
  store: StoreSpec;
  ownStore: boolean;
  start: StartResult;
  /** Portal room ids, by channel index. */
  rooms: string[];
  channels: string[];
}

interface RunSlot {
  runId: number;
  tracker: Tracker;
}
let runCounter = 0;
let r2mSlot: RunSlot | null = null;
let m2rSlot: RunSlot | null = null;

async function makeEnv(options: {
  /** Default: a fresh NeDB directory, removed by closeEnv. */
  store?: StoreSpec;
  channels: string[];
  senders: number;
  profileStart?: string;
}): Promise<Env> {
  const toy = new BenchToy();
  await toy.listen();
  for (const id of options.channels) toy.addChannel(id, `Channel ${id}`, `Topic of ${id}`);
  for (let i = 0; i < options.senders; i++) toy.addUser(`s${i}`, `Sender ${i}`);
  const asToken = randomBytes(16).toString("hex");
  const hsToken = randomBytes(16).toString("hex");
  const asPort = await freePort();
  const sink = new HomeserverSink({
    domain: DOMAIN,
    asToken,
    hsToken,
    appserviceUrl: `http://127.0.0.1:${asPort}`,
  });
  await sink.listen();
  sink.onSend = (_roomId, _sender, content, at) => {
    const m = typeof content.body === "string" ? /^r(\d+):(\d+)$/.exec(content.body) : null;
    if (m && r2mSlot && Number(m[1]) === r2mSlot.runId) r2mSlot.tracker.arrived(Number(m[2]), at);
  };
  toy.onBridgePost = (_channel, text, at) => {
    const m = /^m(\d+):(\d+)$/.exec(text);
    if (m && m2rSlot && Number(m[1]) === m2rSlot.runId) m2rSlot.tracker.arrived(Number(m[2]), at);
  };
  const ownStore = options.store === undefined;
  const store: StoreSpec = options.store ?? {
    type: "nedb",
    directory: await mkdtemp(join(tmpdir(), "switchboard-bench-")),
  };
  const bridge = await BridgeProcess.spawn({
    cpu: PIN ? BRIDGE_CPU : undefined,
    code: SOURCES ? "sources" : "bundle",
  });
  const start = await bridge.call<StartResult>({
    cmd: "start",
    args: {
      config: {
        homeserver: { url: sink.url, domain: DOMAIN, retry_interval_ms: 200 },
        appservice: { id: "switchboard", bind: "127.0.0.1", port: asPort, registration: "registration.yaml" },
        store: store.type === "nedb" ? { path: store.directory } : { type: "postgres", url: store.url },
        encryption: { key: ENCRYPTION_KEY },
        permissions: { "*": "relay", [DOMAIN]: "user" },
        metrics: { enabled: false },
        logging: { level: "error" },
        bridges: { [NETWORK]: { enabled: true, url: toy.url, token: toy.bridgeToken } },
      },
      store,
      registration: { id: "switchboard", asToken, hsToken },
      encryptionKey: ENCRYPTION_KEY,
      logLevel: "error",
      profileFile:
        profileDir && options.profileStart
          ? join(profileDir, `${options.profileStart}.cpuprofile`)
          : undefined,
    },
  });
  return { toy, sink, bridge, store, ownStore, start, rooms: [], channels: options.channels };
}

let maxListenersWarnings = 0;

/** `kill`: for a bridge left with a backlog (draining it is not what we measure). */
async function closeEnv(env: Env, how: "stop" | "kill" = "stop"): Promise<void> {
  if (how === "kill") await env.bridge.kill();
  else await env.bridge.stop();
  maxListenersWarnings += env.bridge.maxListenersWarnings;
  await env.sink.close();
  await env.toy.close();
  if (env.ownStore && env.store.type === "nedb")
    await rm(env.store.directory, { recursive: true, force: true });
}

/** Alias queries, as a homeserver makes when someone joins #reference_<channel>:localhost. */
async function createPortals(env: Env): Promise<number> {
  const t0 = performance.now();
  await pool(env.channels, 8, async (channel) => {
    const alias = `#${NETWORK}_${channel}:${DOMAIN}`;
    if (!(await env.sink.queryAlias(alias)))
      throw new Error(`the bridge did not create a portal for ${alias}`);
  });
  env.rooms = env.channels.map((c) => {
    const room = env.sink.roomsByAlias.get(`${NETWORK}_${c}`);
    if (!room) throw new Error(`no room for ${c}`);
    return room;
  });
  return performance.now() - t0;
}

// ---------- one measured run ----------

type Direction = "r2m" | "m2r";
interface RunSpec {
  direction: Direction;
  n: number;
  rooms: number;
}

interface RunOutcome {
  direction: Direction;
  n: number;
  rooms: number;
  received: number;
  complete: boolean;
  duplicates: number;
  /** First emit to last arrival (or to the deadline). */
  elapsedMs: number;
  eventsPerSec: number;
  /** Paced runs: the rate the pacer actually offered. */
  offeredPerSec?: number;
  /** M→R: when the bridge had acknowledged (journaled) every transaction. */
  acceptedAfterMs?: number;
  /** Bridge process CPU (every thread) over the run, % of one core; of which kernel time. */
  bridgeCpuPct: number;
  bridgeSysPct: number;
  /** Bridge CPU time per delivered event (all runs measured together), µs. */
  bridgeCpuUsPerEvent: number;
  /** Work per delivered event (all runs measured together): store calls, requests to each side. */
  perEvent: {
    store: Record<string, number>;
    homeserver: Record<string, number>;
    network: Record<string, number>;
  };
  /** Delivery rate within each tenth of the events. */
  rateByDecile: number[];
  driverCpuPct: number;
  /** % of the machine's CPU time the hypervisor stole during the run (noise indicator). */
  stealPct: number;
  /** Latency percentiles (ms); null = beyond the deadline (the event had not arrived). */
  p50Ms: number | null;
  p90Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

interface Emitter {
  slot: RunSlot;
  emit(i: number): void;
  flush(): void;
}

function emitter(env: Env, spec: RunSpec): Emitter {
  const slot: RunSlot = { runId: ++runCounter, tracker: new Tracker(spec.n) };
  const prefix = `${spec.direction === "r2m" ? "r" : "m"}${slot.runId}:`;
  const senders = P.senders;
  if (spec.direction === "r2m") {
    r2mSlot = slot;
    return {
      slot,
      emit: (i) => {
        slot.tracker.emitted(i);
        env.toy.post(`s${i % senders}`, env.channels[i % spec.rooms] ?? "", `${prefix}${i}`);
      },
      flush: () => undefined,
    };
  }
  m2rSlot = slot;
  let batch: BenchMatrixEvent[] = [];
  return {
    slot,
    emit: (i) => {
      slot.tracker.emitted(i);
      batch.push({
        event_id: `$bench${slot.runId}_${i}`,
        type: "m.room.message",
        room_id: env.rooms[i % spec.rooms] ?? "",
        sender: `@user${i % senders}:${DOMAIN}`,
        origin_server_ts: Date.now(),
        content: { msgtype: "m.text", body: `${prefix}${i}` },
      });
    },
    // Events the "homeserver" persisted in one tick reach its transaction queue together.
    flush: () => {
      if (batch.length === 0) return;
      env.sink.push(batch);
      batch = [];
    },
  };
}

const ms = (x: number): number | null => (Number.isFinite(x) ? round(x, 2) : null);

/**
 * Emits the runs' events (all at once, or paced at `ratePerSec`) and waits until every one has
 * arrived, or until `graceMs` after the last emit (paced) / the timeout (bursts).
 */
async function measure(
  env: Env,
  runs: RunSpec[],
  opts: { ratePerSec?: number; graceMs?: number; label?: string; settle?: boolean } = {},
): Promise<RunOutcome[]> {
  const { ratePerSec, label } = opts;
  if (profileDir && label) await env.bridge.call({ cmd: "profileStart" });
  const emitters = runs.map((r) => emitter(env, r));
  const calls0 = await env.bridge.call<Record<string, number>>({ cmd: "storeCalls" });
  const hs0 = new Map(env.sink.counts);
  const net0 = new Map(env.toy.requests);
  const cpu0 = await env.bridge.cpu();
  const d0 = process.cpuUsage();
  const ticks0 = cpuTicks();
  const t0 = performance.now();
  if (ratePerSec === undefined) {
    for (const [k, e] of emitters.entries()) {
      for (let i = 0; i < (runs[k]?.n ?? 0); i++) e.emit(i);
      e.flush();
    }
  } else {
    // Every millisecond, emit what the schedule says is due: a steady rate, not bursts.
    const counts = emitters.map(() => 0);
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        const due = Math.floor(((performance.now() - t0) * ratePerSec) / 1000);
        let finished = true;
        for (const [k, e] of emitters.entries()) {
          const n = runs[k]?.n ?? 0;
          let c = counts[k] ?? 0;
          while (c < Math.min(due, n)) e.emit(c++);
          counts[k] = c;
          e.flush();
          if (c < n) finished = false;
        }
        if (finished) {
          clearInterval(timer);
          resolve();
        }
      }, 1);
    });
  }
  let acceptedAfterMs: number | undefined;
  const accepted = runs.some((r) => r.direction === "m2r")
    ? env.sink.idle().then(() => (acceptedAfterMs = performance.now() - t0))
    : Promise.resolve();
  const waitMs = opts.graceMs ?? P.timeoutMs;
  const oks = await Promise.all(emitters.map((e) => e.slot.tracker.wait(waitMs)));
  await Promise.race([accepted, new Promise((r) => setTimeout(r, 200))]);
  const tDone = performance.now();
  const cpu1 = await env.bridge.cpu();
  const d1 = process.cpuUsage(d0);
  const steal = stealPct(ticks0, cpuTicks());
  const calls1 = await env.bridge.call<Record<string, number>>({ cmd: "storeCalls" });
  if (profileDir && label) {
    const file = join(profileDir, `${label}.cpuprofile`);
    await env.bridge.call({ cmd: "profileStop", args: { file } });
    log(`  (profile: ${file})`);
  }
  const wall = tDone - t0;
  const totalReceived = emitters.reduce((a, e) => a + e.slot.tracker.received, 0);
  const perEvent = (
    after: Map<string, number> | Record<string, number>,
    before: Map<string, number> | Record<string, number>,
  ) => {
    const a = after instanceof Map ? Object.fromEntries(after) : after;
    const b = before instanceof Map ? Object.fromEntries(before) : before;
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(a)) {
      const d = (v - (b[k] ?? 0)) / Math.max(1, totalReceived);
      if (d >= 0.005) out[k] = round(d, 2);
    }
    return out;
  };
  const work = {
    store: perEvent(calls1, calls0),
    homeserver: perEvent(env.sink.counts, hs0),
    network: perEvent(env.toy.requests, net0),
  };
  const outcomes = emitters.map((e, k): RunOutcome => {
    const tr = e.slot.tracker;
    const run = runs[k] as RunSpec;
    const end = oks[k] ? tr.lastArrival() : tDone;
    const elapsedMs = end - tr.firstEmit();
    const lat = tr.latencies();
    const emitSpan = (tr.lastEmit() - tr.firstEmit()) / 1000;
    return {
      direction: run.direction,
      n: run.n,
      rooms: run.rooms,
      received: tr.received,
      complete: oks[k] ?? false,
      duplicates: tr.duplicates,
      elapsedMs: round(elapsedMs),
      eventsPerSec: round((tr.received / elapsedMs) * 1000),
      offeredPerSec: ratePerSec === undefined ? undefined : round(run.n / Math.max(emitSpan, 1e-3)),
      acceptedAfterMs:
        run.direction === "m2r" && acceptedAfterMs !== undefined ? round(acceptedAfterMs) : undefined,
      bridgeCpuPct: round(((cpu1.user + cpu1.system - cpu0.user - cpu0.system) / 1000 / wall) * 100),
      bridgeSysPct: round(((cpu1.system - cpu0.system) / 1000 / wall) * 100),
      bridgeCpuUsPerEvent: round(
        (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / Math.max(1, totalReceived),
      ),
      driverCpuPct: round(((d1.user + d1.system) / 1000 / wall) * 100),
      stealPct: steal,
      perEvent: work,
      rateByDecile: tr.rateByDecile(),
      p50Ms: ms(percentile(lat, 50)),
      p90Ms: ms(percentile(lat, 90)),
      p99Ms: ms(percentile(lat, 99)),
      maxMs: ms(percentile(lat, 100)),
    };
  });
  r2mSlot = null;
  m2rSlot = null;
  // Let the bridge finish its bookkeeping (mappings, journal) before the next run.
  if (opts.settle !== false)
    await env.bridge.call({ cmd: "settle", args: { quietMs: 100, timeoutMs: P.timeoutMs } });
  return outcomes;
}

const fmtMs = (x: number | null, graceMs?: number): string =>
  x === null ? `> ${graceMs ?? "?"} ms (not arrived)` : `${x} ms`;

function describe(o: RunOutcome, graceMs?: number): string {
  const dir = o.direction === "r2m" ? "remote→Matrix" : "Matrix→remote";
  const lat = `p50 ${fmtMs(o.p50Ms, graceMs)}, p99 ${fmtMs(o.p99Ms, graceMs)}, max ${fmtMs(o.maxMs, graceMs)}`;
  return (
    `  ${dir} ${o.n} events / ${o.rooms} room(s): ${o.eventsPerSec} ev/s over ${o.elapsedMs} ms` +
    `${o.complete ? "" : ` (${o.received}/${o.n} arrived)`}; ${lat}; bridge CPU ${o.bridgeCpuPct}% (sys ${o.bridgeSysPct}%, ${o.bridgeCpuUsPerEvent} µs/event), driver CPU ${o.driverCpuPct}%${o.stealPct >= 1 ? `, host steal ${o.stealPct}%` : ""}` +
    (o.offeredPerSec !== undefined ? `; offered ${o.offeredPerSec}/s` : "") +
    (o.acceptedAfterMs !== undefined ? `; every transaction acked after ${o.acceptedAfterMs} ms` : "") +
    (o.duplicates > 0 ? `; ${o.duplicates} DUPLICATES` : "") +
    (VERBOSE
      ? `\n    per event: ${JSON.stringify(o.perEvent)}\n    ev/s by tenth: ${o.rateByDecile.join(" ")}`
      : "")
  );
}

// ---------- scenarios ----------

const results: Record<string, unknown> = {};

function burstSize(warmRate: number): number {
  if (FIXED_N !== undefined) return FIXED_N;
  const n = Math.round((warmRate * P.burstSeconds) / 1000) * 1000;
  return Math.max(P.minN, Math.min(P.maxN, n));
}

interface BurstSizes {
  r2m: number;
  m2r: number;
}

interface Bursts {
  remoteToMatrix: { oneRoom?: RunOutcome; manyRooms?: RunOutcome };
  matrixToRemote: { oneRoom?: RunOutcome; manyRooms?: RunOutcome };
}

/** Warm-up (JIT; every ghost registered and joined everywhere), which also sizes the bursts. */
async function warmUp(env: Env): Promise<BurstSizes> {
  const warm = P.channels * P.senders;
  const [wr] = await measure(env, [{ direction: "r2m", n: warm, rooms: P.channels }]);
  const [wm] = await measure(env, [{ direction: "m2r", n: warm, rooms: P.channels }]);
  return { r2m: burstSize(wr?.eventsPerSec ?? 0), m2r: burstSize(wm?.eventsPerSec ?? 0) };
}

/** Figures 1 and 2 on a warmed-up bridge: a burst into 1 portal, then one over every portal, each way. */
async function bursts(env: Env, n: BurstSizes, labelPrefix = ""): Promise<Bursts> {
  const burst = async (direction: Direction, rooms: number, label: string) => {
    const [o] = await measure(env, [{ direction, n: n[direction], rooms }], {
      label: `${labelPrefix}${label}`,
    });
    if (o) log(describe(o));
    return o;
  };
  log(`Remote → Matrix throughput: ${n.r2m} messages posted at once, until the sink has every send`);
  const r1 = await burst("r2m", 1, "r2m-1room");
  const rn = await burst("r2m", P.channels, "r2m-rooms");
  log(
    `Matrix → remote throughput: ${n.m2r} events in transactions of 100 (one in flight), until the toy network has all`,
  );
  const m1 = await burst("m2r", 1, "m2r-1room");
  const mn = await burst("m2r", P.channels, "m2r-rooms");
  return { remoteToMatrix: { oneRoom: r1, manyRooms: rn }, matrixToRemote: { oneRoom: m1, manyRooms: mn } };
}

/** Figures 1 and 2, latency at a low rate, and heap per message mapping. */
async function throughput(): Promise<void> {
  const channels = Array.from({ length: P.channels }, (_, i) => `c${i}`);
  const env = await makeEnv({ channels, senders: P.senders });
  try {
    const portalMs = await createPortals(env);
    log(
      `  bridge started in ${round(env.start.startMs)} ms; ${P.channels} portals created in ${round(portalMs)} ms`,
    );
    const n = await warmUp(env);
    await env.bridge.call({ cmd: "pruneJournal" });
    const heapBefore = await env.bridge.call<HeapResult>({ cmd: "heap" });
    Object.assign(results, await bursts(env, n));
    let mapped = 2 * n.r2m + 2 * n.m2r;

    const nLow = P.lowRate * P.lowSeconds;
    log(
      `Latency at a low steady rate (${P.lowRate}/s for ${P.lowSeconds} s, ${P.channels} rooms): the per-event cost without queueing`,
    );
    const lr = (
      await measure(env, [{ direction: "r2m", n: nLow, rooms: P.channels }], {
        ratePerSec: P.lowRate,
        label: "low-r2m",
      })
    )[0];
    const lm = (
      await measure(env, [{ direction: "m2r", n: nLow, rooms: P.channels }], {
        ratePerSec: P.lowRate,
        label: "low-m2r",
      })
    )[0];
    for (const o of [lr, lm]) if (o) log(describe(o));
    results.latencyLowRate = { rate: P.lowRate, seconds: P.lowSeconds, r2m: lr, m2r: lm };
    mapped += 2 * nLow;

    // What each bridged message leaves in memory for message_retention_days (mapping + indexes).
    await env.bridge.call({ cmd: "pruneJournal" });
    const heapAfter = await env.bridge.call<HeapResult>({ cmd: "heap" });
    const perMessage = round((heapAfter.heapUsed - heapBefore.heapUsed) / mapped);
    results.heapPerMessageMapping = {
      messages: mapped,
      bytes: perMessage,
      heapUsedMB: round(heapAfter.heapUsed / 1048576, 1),
    };
    log(
      `  heap kept per bridged message (its mapping, kept for message_retention_days): ${perMessage} B over ${mapped} messages`,
    );
    const unknown = [...env.sink.unknown.entries()];
    if (unknown.length > 0) log(`  sink: unanswered routes ${JSON.stringify(unknown)}`);
    results.sinkCounts = Object.fromEntries(env.sink.counts);
    results.sinkDuplicateSends = env.sink.duplicateSends;
  } finally {
    await closeEnv(env);
  }
}

/** Figure 3: p50/p99 at the target rate, each direction on a fresh bridge (killed after: no drain). */
async function latency(): Promise<void> {
  const n = P.latencyRate * P.latencySeconds;
  log(
    `Latency at a steady ${P.latencyRate} events/s for ${P.latencySeconds} s (${P.channels} rooms; deadline ${P.graceMs} ms after the last emit)`,
  );
  const out: Record<string, unknown> = {
    rate: P.latencyRate,
    seconds: P.latencySeconds,
    deadlineMs: P.graceMs,
  };
  const cases: Array<[string, RunSpec[]]> = [
    ["r2m", [{ direction: "r2m", n, rooms: P.channels }]],
    ["m2r", [{ direction: "m2r", n, rooms: P.channels }]],
  ];
  if (FULL)
    cases.push([
      "bothWays",
      [
        { direction: "r2m", n, rooms: P.channels },
        { direction: "m2r", n, rooms: P.channels },
      ],
    ]);
  for (const [name, runs] of cases) {
    const channels = Array.from({ length: P.channels }, (_, i) => `c${i}`);
    const env = await makeEnv({ channels, senders: P.senders });
    let complete = true;
    try {
      await createPortals(env);
      await measure(env, [{ direction: "r2m", n: P.channels * P.senders, rooms: P.channels }]);
      await measure(env, [{ direction: "m2r", n: P.channels * P.senders, rooms: P.channels }]);
      const o = await measure(env, runs, {
        ratePerSec: P.latencyRate,
        graceMs: P.graceMs,
        label: `lat-${name}`,
        settle: false,
      });
      complete = o.every((x) => x.complete);
      if (name === "bothWays") log("  both directions at once:");
      for (const x of o) log(describe(x, P.graceMs));
      out[name] = o.length === 1 ? o[0] : o;
    } finally {
      await closeEnv(env, complete ? "stop" : "kill");
    }
  }
  results.latency = out;
}

/** Figure 4 (live): distinct remote users join portals; heap before/after, with and without their journal entries. */
async function ghostsLive(): Promise<void> {
  log(`Memory per ghost, made live: distinct remote users join ${P.ghostChannels} portals`);
  const channels = Array.from({ length: P.ghostChannels }, (_, i) => `g${i}`);
  const env = await makeEnv({ channels, senders: 0 });
  try {
    await createPortals(env);
    let made = 0;
    const joins = (): number => env.sink.counts.get("join") ?? 0;
    const addGhosts = async (count: number): Promise<number> => {
      const base = joins();
      const t0 = performance.now();
      for (let i = made; i < made + count; i++) {
        env.toy.addUser(`u${i}`, `Ghost user ${i}`);
        env.toy.join(`u${i}`, channels[i % channels.length] ?? "");
      }
      made += count;
      if (!(await waitFor(() => joins() >= base + count, P.timeoutMs * 2, 20)))
        throw new Error(`only ${joins() - base} of ${count} ghosts joined`);
      const elapsed = performance.now() - t0;
      await env.bridge.call({ cmd: "settle", args: { quietMs: 200, timeoutMs: 60_000 } });
      return elapsed;
    };
    await addGhosts(P.ghostWarm);
    await env.bridge.call({ cmd: "pruneJournal" });
    const base = await env.bridge.call<HeapResult>({ cmd: "heap" });
    const steps: Array<Record<string, number>> = [];
    let previous = 0;
    for (const target of P.ghostLive) {
      const elapsed = await addGhosts(target - previous);
      const withJournal = await env.bridge.call<HeapResult>({ cmd: "heap" });
      const pruned = await env.bridge.call<number>({ cmd: "pruneJournal" });
      const idle = await env.bridge.call<HeapResult>({ cmd: "heap" });
      const step = {
        ghosts: target,
        ghostsPerSec: round(((target - previous) / elapsed) * 1000),
        bytesPerGhostIdle: round((idle.heapUsed - base.heapUsed) / target),
        bytesPerGhostWithJournal: round((withJournal.heapUsed - base.heapUsed) / target),
        journalEntriesPruned: pruned,
        heapUsedMB: round(idle.heapUsed / 1048576, 1),
        rssMB: round(idle.rss / 1048576, 1),
      };
      previous = target;
      steps.push(step);
      log(
        `  ${target} ghosts: ${step.bytesPerGhostIdle} B/ghost once idle (journal pruned), ${step.bytesPerGhostWithJournal} B/ghost while their join events are still journaled (the first hour); heap ${step.heapUsedMB} MB, rss ${step.rssMB} MB; made at ${step.ghostsPerSec} ghosts/s`,
      );
    }
    const counts = await env.bridge.call<Record<string, number>>({ cmd: "counts" });
    results.ghostsLive = {
      warmup: P.ghostWarm,
      baseHeapMB: round(base.heapUsed / 1048576, 1),
      steps,
      counts,
    };
  } finally {
    await closeEnv(env);
  }
}

interface FillSizes {
  portals: number;
  ghosts: number;
  messages: number;
}

/** A NeDB directory pre-filled by fill-store.ts, as this network's bridge would have written it. */
async function fillNedb(directory: string, sizes: FillSizes): Promise<{ fillMs: number; bytes: number }> {
  const t0 = performance.now();
  const { bytes } = await fillStore(directory, {
    network: NETWORK,
    domain: DOMAIN,
    userPrefix: `${NETWORK}_`,
    ...sizes,
  });
  return { fillMs: performance.now() - t0, bytes };
}

/** Whether the store the bridge opened holds what fillNedb wrote: counts, and a ghost, portal and mapping looked up. */
async function checkFilled(
  env: Env,
  { portals, ghosts, messages }: FillSizes,
): Promise<{ counts: { ghosts: number; links: number }; verified: boolean }> {
  const counts = await env.bridge.call<{ ghosts: number; links: number }>({ cmd: "counts" });
  let verified = counts.ghosts === ghosts && counts.links === portals;
  if (ghosts > 0 && portals > 0) {
    const probe = Math.floor(ghosts / 2);
    const eventId = messages > 0 ? `$event${Math.floor(messages / 2)}` : undefined;
    const sample = await env.bridge.call<{
      ghost: { userId: string } | null;
      links: unknown[];
      message: { eventId: string } | null;
    }>({
      cmd: "lookup",
      args: {
        network: NETWORK,
        remoteId: ghostRemoteId(probe),
        channelId: portalChannel(Math.floor(portals / 2)),
        eventId,
      },
    });
    verified &&=
      sample.ghost?.userId === `@${NETWORK}_${ghostRemoteId(probe)}:${DOMAIN}` &&
      sample.links.length === 1 &&
      (eventId === undefined || sample.message?.eventId === eventId);
  }
  return { counts, verified };
}

/** Figure 4 (idle, after a restart) and figure 5: bridges started on pre-filled stores. */
async function storeScenarios(): Promise<void> {
  /** A bridge on a store filled now, checked against what was filled; the store is kept. */
  const startOn = async (portals: number, ghosts: number, label: string, messages = 0) => {
    const storeDir = await mkdtemp(join(tmpdir(), "switchboard-bench-store-"));
    const { fillMs, bytes } = await fillNedb(storeDir, { portals, ghosts, messages });
    return { ...(await restartOn(storeDir, label, { portals, ghosts, messages })), fillMs, bytes, storeDir };
  };
  /** A bridge on a store an earlier start left, checked against what was filled. */
  const restartOn = async (
    storeDir: string,
    label: string,
    filled: { portals: number; ghosts: number; messages: number },
  ) => {
    const env = await makeEnv({
      store: { type: "nedb", directory: storeDir },
      channels: [],
      senders: 0,
      profileStart: label,
    });
    try {
      const { counts, verified } = await checkFilled(env, filled);
      const heap = await env.bridge.call<HeapResult>({ cmd: "heap" });
      return { start: env.start, heap, counts, verified };
    } finally {
      await closeEnv(env);
    }
  };

  log(
    `Memory per idle ghost after a restart: bridge started on a store with ${P.idleGhosts} ghosts vs an empty one`,
  );
  const empty = await startOn(0, 0, "start-empty");
  const withGhosts = await startOn(0, P.idleGhosts, "start-ghosts");
  const perGhost = round((withGhosts.heap.heapUsed - empty.heap.heapUsed) / P.idleGhosts);
  log(
    `  ${P.idleGhosts} ghosts: ${perGhost} B/ghost (heap ${round(withGhosts.heap.heapUsed / 1048576, 1)} MB vs ${round(empty.heap.heapUsed / 1048576, 1)} MB)${withGhosts.verified ? "" : " (STORE NOT AS FILLED)"}`,
  );
  results.ghostsIdleAfterRestart = {
    ghosts: P.idleGhosts,
    bytesPerGhost: perGhost,
    heapEmptyMB: round(empty.heap.heapUsed / 1048576, 1),
    heapWithGhostsMB: round(withGhosts.heap.heapUsed / 1048576, 1),
    verified: withGhosts.verified,
  };
  await rm(empty.storeDir, { recursive: true, force: true });
  await rm(withGhosts.storeDir, { recursive: true, force: true });

  log(`Start time with ${P.startPortals} portals and ${P.startGhosts} ghosts in the NeDB store`);
  const runs: Array<Record<string, unknown>> = [];
  let storeDir: string | null = null;
  let fill: { fillMs: number; bytes: number } | null = null;
  // Twice on the same directory: the first load reads the files as written, the second what NeDB compacted.
  for (let attempt = 1; attempt <= 2; attempt++) {
    let r;
    if (storeDir === null) {
      r = await startOn(P.startPortals, P.startGhosts, `start-${attempt}`);
      storeDir = r.storeDir;
      fill = { fillMs: r.fillMs, bytes: r.bytes };
    } else {
      r = await restartOn(storeDir, `start-${attempt}`, {
        portals: P.startPortals,
        ghosts: P.startGhosts,
        messages: 0,
      });
    }
    runs.push({
      startMs: round(r.start.startMs),
      storeOpenMs: round(r.start.openMs),
      heapUsedMB: round(r.heap.heapUsed / 1048576, 1),
      verified: r.verified,
    });
    log(
      `  start #${attempt}: ${round(r.start.startMs)} ms (of which store load ${round(r.start.openMs)} ms); heap ${round(r.heap.heapUsed / 1048576, 1)} MB; store holds ${r.counts.ghosts} ghosts, ${r.counts.links} links${r.verified ? " (verified)" : " (NOT AS FILLED)"}`,
    );
  }
  if (storeDir) await rm(storeDir, { recursive: true, force: true });

  // Every bridged message leaves a mapping for message_retention_days (90 by default), and NeDB
  // loads all of them at start: the same store with some message history.
  log(
    `Start time with ${P.startPortals} portals, ${P.startGhosts} ghosts and ${P.startMessages} message mappings`,
  );
  // Twice as well: right after the fill, LevelDB is still compacting what the fill wrote, on the
  // bridge's core; the second start is the store as a running bridge leaves it.
  const withMessages = await startOn(P.startPortals, P.startGhosts, "start-messages-1", P.startMessages);
  const messageStarts = [
    withMessages,
    await restartOn(withMessages.storeDir, "start-messages-2", {
      portals: P.startPortals,
      ghosts: P.startGhosts,
      messages: P.startMessages,
    }),
  ].map((r, i) => {
    log(
      `  start #${i + 1}: ${round(r.start.startMs)} ms (of which store load ${round(r.start.openMs)} ms); heap ${round(r.heap.heapUsed / 1048576, 1)} MB${r.verified ? " (verified)" : " (NOT AS FILLED)"}`,
    );
    return {
      startMs: round(r.start.startMs),
      storeOpenMs: round(r.start.openMs),
      heapUsedMB: round(r.heap.heapUsed / 1048576, 1),
      verified: r.verified,
    };
  });
  await rm(withMessages.storeDir, { recursive: true, force: true });
  results.startTimeWithMessages = {
    portals: P.startPortals,
    ghosts: P.startGhosts,
    messages: P.startMessages,
    ...messageStarts[0],
    runs: messageStarts,
  };
  results.startTime = {
    portals: P.startPortals,
    ghosts: P.startGhosts,
    datafileMB: round((fill?.bytes ?? 0) / 1048576, 1),
    fillMs: round(fill?.fillMs ?? 0),
    runs,
  };
}

// ---------- NeDB vs PostgreSQL (--store) ----------

const runFile = promisify(execFile);
const repoRoot = join(benchDir, "..");

interface CopyResult {
  /** The whole `switchboard store copy` command: process start, NeDB load, copy, verification. */
  wallMs: number;
  /** The copy and verification alone, as the command reports them. */
  reportedSeconds: number | null;
  /** The command said counts and checksums of every collection match. */
  verified: boolean;
  output: string;
}

/** `switchboard store copy` as an admin runs it (bin/switchboard.js), from the NeDB directory `dir/data`. */
async function storeCopy(dir: string, url: string): Promise<CopyResult> {
  const config = join(dir, "config.yaml");
  // All that `store copy` reads: the store section, and the appservice port, where it asks whether
  // the bridge is running (a port that was just free answers nothing). JSON is YAML.
  await writeFile(
    config,
    JSON.stringify({
      homeserver: { url: "http://127.0.0.1:1", domain: DOMAIN },
      appservice: { port: await freePort() },
      store: { path: "./data" },
      encryption: { key: ENCRYPTION_KEY },
      metrics: { enabled: false },
    }),
  );
  const cli = [join(repoRoot, "bin", "switchboard.js"), "store", "copy", "-c", config, "--to", url];
  // On the bridge's CPU, as the bridge would run there; PostgreSQL is on the driver's (pinPostgres).
  const [file, args] = PIN
    ? ["taskset", ["-c", String(BRIDGE_CPU), process.execPath, ...cli]]
    : [process.execPath, cli];
  const t0 = performance.now();
  const { stdout, stderr } = await runFile(file, args, { cwd: repoRoot }).catch((error: unknown) => {
    const e = error as { stdout?: string; stderr?: string; message?: string };
    throw new Error(`switchboard store copy failed: ${e.stderr || e.stdout || e.message}`);
  });
  const wallMs = performance.now() - t0;
  const output = `${stdout}${stderr}`.trim();
  const reported = /\bin ([\d.]+) s:/.exec(output)?.[1];
  return {
    wallMs,
    reportedSeconds: reported === undefined ? null : Number(reported),
    verified: /counts and checksums of all \d+ collections verified/.test(output),
    output,
  };
}

/**
 * With taskset, the throwaway cluster's postmaster and what it has forked so far go on the driver's
 * CPU; backends it forks later inherit that. The bridge's CPU stays the bridge's alone, as with
 * NeDB, so events/s still means one core of bridge (with the database on another). Returns how
 * many processes were pinned.
 */
function pinPostgres(directory: string, cpu: number): number {
  const pid = Number(readFileSync(join(directory, "data", "postmaster.pid"), "utf8").split("\n")[0]);
  let children: number[] = [];
  try {
    children = execFileSync("pgrep", ["-P", String(pid)], { encoding: "utf8" })
      .split("\n")
      .filter(Boolean)
      .map(Number);
  } catch {
    // pgrep exits 1 when there are none.
  }
  return [pid, ...children].filter((p) => pinProcess(p, cpu)).length;
}

interface StartRun {
  startMs: number;
  storeOpenMs: number;
}

const median = (xs: number[]): number => percentile(Float64Array.from(xs).sort(), 50);

/**
 * `--store` (`npm run bench:store`): the move from NeDB to PostgreSQL, measured in one run. The
 * 10k-portal / 100k-ghost / 200k-mapping NeDB store of figure 5 is copied with the real
 * `switchboard store copy` into a fresh database on a throwaway cluster (startPostgres()); then, on
 * each store, start time (median of P.startRepeats; the stores take turns, so load from elsewhere
 * on the machine falls on both alike) and figures 1 and 2 on that same data.
 */
async function storeComparison(): Promise<void> {
  const sizes: FillSizes = { portals: P.startPortals, ghosts: P.startGhosts, messages: P.startMessages };
  const root = await mkdtemp(join(tmpdir(), "switchboard-bench-copy-"));
  let cluster: PgCluster | null = null;
  try {
    const nedb: StoreSpec = { type: "nedb", directory: join(root, "data") };
    log(
      `Store copy: NeDB with ${sizes.portals} portals, ${sizes.ghosts} ghosts and ${sizes.messages} message mappings to PostgreSQL (switchboard store copy)`,
    );
    const fill = await fillNedb(nedb.directory, sizes);
    cluster = await startPostgres();
    const pinned = PIN && cluster.directory ? pinPostgres(cluster.directory, DRIVER_CPU) : 0;
    const postgres: StoreSpec = { type: "postgres", url: await cluster.createDatabase() };
    const copy = await storeCopy(root, postgres.url);
    log(
      `  ${round(copy.wallMs / 1000, 1)} s for the whole command (copy and verification ${copy.reportedSeconds ?? "?"} s); ${copy.verified ? "verified" : "NOT VERIFIED"}`,
    );
    if (!copy.verified) throw new Error(`store copy did not report a verified copy:\n${copy.output}`);
    results.storeCopy = {
      ...sizes,
      datafileMB: round(fill.bytes / 1048576, 1),
      fillMs: round(fill.fillMs),
      wallMs: round(copy.wallMs),
      reportedSeconds: copy.reportedSeconds,
      verified: copy.verified,
      output: copy.output.split("\n")[0],
      postgresPinnedToCpu: pinned > 0 ? DRIVER_CPU : null,
    };

    const stores = [nedb, postgres];
    log(`Start time on each store (${P.startRepeats} times each, taking turns)`);
    const starts = { nedb: [] as StartRun[], postgres: [] as StartRun[] };
    const verified = { nedb: false, postgres: false };
    for (let attempt = 1; attempt <= P.startRepeats; attempt++) {
      for (const store of stores) {
        const env = await makeEnv({
          store,
          channels: [],
          senders: 0,
          profileStart: `${store.type}-start-${attempt}`,
        });
        try {
          if (attempt === 1) verified[store.type] = (await checkFilled(env, sizes)).verified;
        } finally {
          await closeEnv(env);
        }
        starts[store.type].push({ startMs: round(env.start.startMs), storeOpenMs: round(env.start.openMs) });
        log(
          `  ${store.type} #${attempt}: ${round(env.start.startMs)} ms (of which store open ${round(env.start.openMs)} ms)`,
        );
      }
    }
    const summary = (type: StoreSpec["type"]) => ({
      medianMs: round(median(starts[type].map((r) => r.startMs))),
      storeOpenMedianMs: round(median(starts[type].map((r) => r.storeOpenMs))),
      verified: verified[type],
      runs: starts[type],
    });
    results.startTimeByStore = { ...sizes, nedb: summary("nedb"), postgres: summary("postgres") };

    const channels = Array.from({ length: P.channels }, (_, i) => `c${i}`);
    const byStore: Partial<Record<StoreSpec["type"], Bursts>> = {};
    let n: BurstSizes | undefined;
    for (const store of stores) {
      log(`Throughput on ${store.type} (the store above, ${P.channels} new portals)`);
      const env = await makeEnv({ store, channels, senders: P.senders });
      try {
        await createPortals(env);
        const warm = await warmUp(env);
        // Both stores get the bursts NeDB's warm-up sized: the same work, so the rates compare.
        n ??= warm;
        byStore[store.type] = await bursts(env, n, `${store.type}-`);
      } finally {
        await closeEnv(env);
      }
    }
    results.throughputByStore = byStore;
  } finally {
    await cluster?.stop();
    await rm(root, { recursive: true, force: true });
  }
}

// ---------- report ----------

const verdict = (ok: boolean): string => (ok ? "ok" : "MISSED");

/** Columns padded to their widest cell; the first row is the header. */
function printTable(rows: string[][]): void {
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length))) ?? [];
  const line = (r: string[]) => r.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join(" | ");
  log("");
  log(line(rows[0] ?? []));
  log(widths.map((w) => "-".repeat(w)).join("-|-"));
  for (const r of rows.slice(1)) log(line(r));
}

function table(): void {
  const rows: string[][] = [["Figure", "Result", "Target", ""]];
  const tp = (label: string, o: RunOutcome | undefined, manyRoomsTarget: number) => {
    if (!o) return;
    // The many-room targets are for 100 rooms; --quick spreads over fewer and keeps the one-room target.
    const target = o.rooms >= 100 ? manyRoomsTarget : TARGETS.eventsPerSec;
    rows.push([
      `${label}, ${o.n} msgs, ${o.rooms} room${o.rooms === 1 ? "" : "s"}`,
      `${o.eventsPerSec} ev/s${o.complete ? "" : " (incomplete)"} [bridge CPU ${o.bridgeCpuPct}%]`,
      `>= ${target} ev/s`,
      verdict(o.complete && o.eventsPerSec >= target),
    ]);
  };
  const r2m = results.remoteToMatrix as { oneRoom?: RunOutcome; manyRooms?: RunOutcome } | undefined;
  const m2r = results.matrixToRemote as { oneRoom?: RunOutcome; manyRooms?: RunOutcome } | undefined;
  tp("1. Remote→Matrix", r2m?.oneRoom, TARGETS.manyRoomsRemoteToMatrix);
  tp("1. Remote→Matrix", r2m?.manyRooms, TARGETS.manyRoomsRemoteToMatrix);
  tp("2. Matrix→remote", m2r?.oneRoom, TARGETS.manyRoomsMatrixToRemote);
  tp("2. Matrix→remote", m2r?.manyRooms, TARGETS.manyRoomsMatrixToRemote);
  const lr = (label: string, o: RunOutcome | undefined, graceMs?: number, target = true) => {
    if (!o) return;
    rows.push([
      label,
      `p50 ${fmtMs(o.p50Ms, graceMs)}, p99 ${fmtMs(o.p99Ms, graceMs)}; ${o.eventsPerSec} ev/s delivered [CPU ${o.bridgeCpuPct}%]`,
      target ? `p99 < ${TARGETS.p99Ms} ms` : "-",
      target ? verdict(o.p99Ms !== null && o.p99Ms < TARGETS.p99Ms) : "",
    ]);
  };
  const lat = results.latency as { r2m?: RunOutcome; m2r?: RunOutcome; bothWays?: RunOutcome[] } | undefined;
  lr(`3. Latency remote→Matrix @${P.latencyRate}/s`, lat?.r2m, P.graceMs);
  lr(`3. Latency Matrix→remote @${P.latencyRate}/s`, lat?.m2r, P.graceMs);
  lr(`3. Latency r→M, both ways @${P.latencyRate}/s`, lat?.bothWays?.[0], P.graceMs);
  lr(`3. Latency M→r, both ways @${P.latencyRate}/s`, lat?.bothWays?.[1], P.graceMs);
  const low = results.latencyLowRate as { r2m?: RunOutcome; m2r?: RunOutcome } | undefined;
  lr(`   (latency remote→Matrix @${P.lowRate}/s)`, low?.r2m, undefined, false);
  lr(`   (latency Matrix→remote @${P.lowRate}/s)`, low?.m2r, undefined, false);
  const gl = results.ghostsLive as { steps: Array<Record<string, number>> } | undefined;
  for (const s of gl?.steps ?? []) {
    rows.push([
      `4. Heap per ghost, ${s.ghosts} made live`,
      `${s.bytesPerGhostIdle} B idle; ${s.bytesPerGhostWithJournal} B while journaled (1st hour)`,
      `< ${TARGETS.bytesPerGhost} B`,
      verdict((s.bytesPerGhostIdle ?? Infinity) < TARGETS.bytesPerGhost),
    ]);
  }
  const gi = results.ghostsIdleAfterRestart as { ghosts: number; bytesPerGhost: number } | undefined;
  if (gi)
    rows.push([
      `4. Heap per ghost, ${gi.ghosts} loaded at start`,
      `${gi.bytesPerGhost} B`,
      `< ${TARGETS.bytesPerGhost} B`,
      verdict(gi.bytesPerGhost < TARGETS.bytesPerGhost),
    ]);
  const hm = results.heapPerMessageMapping as { bytes: number; messages: number } | undefined;
  if (hm) rows.push([`   (heap per bridged message)`, `${hm.bytes} B (over ${hm.messages} msgs)`, "-", ""]);
  const st = results.startTime as { runs: Array<{ startMs: number; storeOpenMs: number }> } | undefined;
  for (const [i, r] of (st?.runs ?? []).entries()) {
    rows.push([
      `5. Start, ${P.startPortals} portals + ${P.startGhosts} ghosts (#${i + 1})`,
      `${r.startMs} ms (store load ${r.storeOpenMs} ms)`,
      `< ${TARGETS.startMs} ms`,
      verdict(r.startMs < TARGETS.startMs),
    ]);
  }
  const sm = results.startTimeWithMessages as
    { messages: number; runs: Array<{ startMs: number; storeOpenMs: number }> } | undefined;
  for (const [i, r] of (sm?.runs ?? []).entries()) {
    rows.push([
      `5. Start, same + ${sm?.messages} message mappings (#${i + 1})`,
      `${r.startMs} ms (store load ${r.storeOpenMs} ms)`,
      `< ${TARGETS.startWithMessagesMs} ms`,
      verdict(r.startMs < TARGETS.startWithMessagesMs),
    ]);
  }
  printTable(rows);
}

/** --store: each figure on NeDB and on PostgreSQL, and their ratio. */
function storeTable(): void {
  const rows: string[][] = [["Figure", "NeDB", "PostgreSQL", "PostgreSQL / NeDB"]];
  const copy = results.storeCopy as CopyResult | undefined;
  if (copy)
    rows.push([
      "store copy NeDB → PostgreSQL (whole command)",
      "-",
      `${round(copy.wallMs / 1000, 1)} s, ${copy.verified ? "verified" : "NOT VERIFIED"}`,
      "",
    ]);
  const ratio = (pg: number, nedb: number): string => (nedb > 0 ? `${round(pg / nedb, 2)}×` : "-");
  type StartSummary = { medianMs: number; storeOpenMedianMs: number; verified: boolean; runs: StartRun[] };
  const st = results.startTimeByStore as { nedb: StartSummary; postgres: StartSummary } | undefined;
  if (st) {
    const cell = (s: StartSummary) => {
      const all = s.runs.map((r) => r.startMs);
      return `${s.medianMs} ms (${Math.min(...all)}–${Math.max(...all)}; open ${s.storeOpenMedianMs} ms)${s.verified ? "" : " NOT AS FILLED"}`;
    };
    rows.push([
      `start, median of ${st.nedb.runs.length} (PostgreSQL < ${TARGETS.postgresStartMs} ms: ${verdict(st.postgres.medianMs < TARGETS.postgresStartMs)})`,
      cell(st.nedb),
      cell(st.postgres),
      ratio(st.postgres.medianMs, st.nedb.medianMs),
    ]);
  }
  const tp = results.throughputByStore as Partial<Record<StoreSpec["type"], Bursts>> | undefined;
  const cell = (o: RunOutcome | undefined) =>
    o ? `${o.eventsPerSec} ev/s${o.complete ? "" : " (incomplete)"} [CPU ${o.bridgeCpuPct}%]` : "-";
  const figure = (label: string, pick: (b: Bursts) => RunOutcome | undefined) => {
    const nedb = tp?.nedb ? pick(tp.nedb) : undefined;
    const pg = tp?.postgres ? pick(tp.postgres) : undefined;
    if (!nedb && !pg) return;
    const o = nedb ?? pg;
    rows.push([
      `${label}, ${o?.n} msgs, ${o?.rooms} room${o?.rooms === 1 ? "" : "s"}`,
      cell(nedb),
      cell(pg),
      nedb && pg ? ratio(pg.eventsPerSec, nedb.eventsPerSec) : "-",
    ]);
  };
  figure("remote→Matrix", (b) => b.remoteToMatrix.oneRoom);
  figure("remote→Matrix", (b) => b.remoteToMatrix.manyRooms);
  figure("Matrix→remote", (b) => b.matrixToRemote.oneRoom);
  figure("Matrix→remote", (b) => b.matrixToRemote.manyRooms);
  printTable(rows);
}

async function main(): Promise<void> {
  const machine = {
    nproc: cores,
    cpu: cpuModel,
    node: process.version,
    pinned: PIN ? { driverCpu: DRIVER_CPU, bridgeCpu: BRIDGE_CPU } : false,
  };
  log(
    `Switchboard bench${QUICK ? " (quick)" : ""}${FULL ? " (full)" : ""}${STORE ? " (NeDB vs PostgreSQL)" : ""}: ${cores} cores, ${cpuModel}, Node ${process.version}; ` +
      (PIN ? `driver on CPU ${DRIVER_CPU}, bridge process on CPU ${BRIDGE_CPU}` : "no CPU pinning"),
  );
  const started = performance.now();
  const ticksStart = cpuTicks();
  // What basic operations cost on this machine, measured from the bridge's CPU: the figures below
  // scale with these (a loopback HTTP round trip or an async file append can cost 10x here what
  // it costs on another box).
  const calEnv = await makeEnv({ channels: [], senders: 0 });
  // Forked from this process, so on the driver's CPU too.
  const floorServer = spawn(process.execPath, [join(import.meta.dirname, "floor-server.mjs")], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const floorPort = await new Promise<number>((resolve, reject) => {
    floorServer.stdout.once("data", (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
    floorServer.once("exit", (code) => reject(new Error(`floor-server.mjs exited (${code})`)));
  });
  const calibration = await calEnv.bridge.call<Calibration>({
    cmd: "calibrate",
    args: { url: `${calEnv.sink.url}/_matrix/client/versions`, floorUrl: `http://127.0.0.1:${floorPort}/` },
  });
  floorServer.kill();
  await closeEnv(calEnv);
  log(
    `  calibration (bridge CPU): HTTP round trip to a minimal server ${calibration.floorRoundTripUs} µs (${calibration.floorRoundTripCpuUs} µs CPU; ` +
      `${calibration.floorPacedRoundTripCpuUs} µs CPU 10 ms apart), ` +
      `to the sink ${calibration.httpRoundTripUs} µs (${calibration.httpRoundTripCpuUs} µs CPU); ` +
      `fs.promises.appendFile ${calibration.asyncAppendUs} µs, appendFileSync ${calibration.syncAppendUs} µs; JSON.stringify (small object) ${calibration.jsonStringifyNs} ns`,
  );
  results.calibration = calibration;
  if (STORE) {
    await storeComparison();
    storeTable();
  } else {
    if (wants("throughput")) await throughput();
    if (wants("latency")) await latency();
    if (wants("ghosts")) await ghostsLive();
    if (wants("store")) await storeScenarios();
    table();
  }
  if (maxListenersWarnings > 0)
    log(
      `\nnote: the bridge printed ${maxListenersWarnings} MaxListenersExceededWarning lines (AbortSignal listeners; see the report)`,
    );
  const out = {
    date: new Date().toISOString(),
    quick: QUICK,
    full: FULL,
    machine,
    params: { ...P, fixedN: FIXED_N ?? null },
    targets: TARGETS,
    totalSeconds: round((performance.now() - started) / 1000, 1),
    hostStealPct: stealPct(ticksStart, cpuTicks()),
    maxListenersWarnings,
    ...results,
  };
  // The framework as it is goes to results.json; smoke runs and patched runs never overwrite it.
  const file = `results${STORE ? "-store" : ""}${QUICK ? "-quick" : ""}.json`;
  // Formatted as the repository's prettier config wants it, so `npm run lint` stays clean after a run.
  const path = join(benchDir, file);
  await writeFile(
    path,
    await format(JSON.stringify(out), { ...(await resolveConfig(path)), parser: "json" }),
  );
  log(`\nwrote bench/${file} (${out.totalSeconds} s)${profileDir ? `; CPU profiles in ${profileDir}` : ""}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
