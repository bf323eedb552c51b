import { appendFileSync } from "node:fs";
import { appendFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Agent, request } from "undici";
import { Session } from "node:inspector/promises";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { pino } from "pino";
import { Bridge, parseConfig, type Store } from "@switchboard/framework";
import { NedbStore, PostgresStore } from "@switchboard/framework/stores";
import { ReferenceConnector } from "../test/reference/connector.js";

/**
 * The bridge under test, alone in its own process (pinned to one core by run.ts when `taskset`
 * exists), driven over the IPC channel. Keeping the sink and the toy network out of this process
 * means its event loop, CPU time and heap are the framework's alone.
 */

/** The store the bridge runs on; run.ts puts the same in the config's `store` section. */
export type StoreSpec = { type: "nedb"; directory: string } | { type: "postgres"; url: string };

export interface StartArgs {
  config: Record<string, unknown>;
  store: StoreSpec;
  registration: { id: string; asToken: string; hsToken: string };
  encryptionKey: string;
  logLevel: "silent" | "error";
  /** Write a CPU profile of new Bridge(...).start() here. */
  profileFile?: string;
}

export interface StartResult {
  port: number;
  /** store.open() alone: NeDB loads every datafile; PostgreSQL connects and checks the schema. */
  openMs: number;
  /** new Bridge(...) + start(), including the store load. */
  startMs: number;
}

export interface HeapResult {
  heapUsed: number;
  heapTotal: number;
  external: number;
  rss: number;
}

export type Command =
  | { cmd: "start"; args: StartArgs }
  | { cmd: "heap" }
  | { cmd: "cpu" }
  | { cmd: "settle"; args: { quietMs: number; timeoutMs: number } }
  | { cmd: "pruneJournal" }
  | { cmd: "counts" }
  | { cmd: "lookup"; args: { network: string; remoteId: string; channelId: string; eventId?: string } }
  | { cmd: "storeCalls" }
  | { cmd: "calibrate"; args: { url: string; floorUrl: string } }
  | { cmd: "profileStart" }
  | { cmd: "profileStop"; args: { file: string } }
  | { cmd: "stop" };

export type Request = Command & { id: number };
export type Reply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

let bridge: Bridge | null = null;
let profiler: Session | null = null;
/** Store calls by method since start: the per-event work, counted. */
const storeCalls = new Map<string, number>();

function countStoreCalls(target: Store): void {
  const proto = Object.getPrototypeOf(target) as Record<string, unknown>;
  const self = target as unknown as Record<string, unknown>;
  for (const name of Object.getOwnPropertyNames(proto)) {
    const fn = proto[name];
    if (name === "constructor" || typeof fn !== "function" || name === "open" || name === "close") continue;
    if (!/^(journal|link|ghost|user|login|message|kv)/.test(name)) continue;
    self[name] = (...args: unknown[]) => {
      storeCalls.set(name, (storeCalls.get(name) ?? 0) + 1);
      return (fn as (...a: unknown[]) => unknown).apply(target, args);
    };
  }
}
let store: Store | null = null;

const gc = (globalThis as { gc?: () => void }).gc;

function heap(): HeapResult {
  if (!gc) throw new Error("run with --expose-gc");
  // Several passes: weak references and finalizers (undici, NeDB caches) free in later cycles.
  for (let i = 0; i < 4; i++) gc();
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, rss: m.rss };
}

async function handle(c: Command): Promise<unknown> {
  switch (c.cmd) {
    case "start": {
      const { args } = c;
      const config = parseConfig(JSON.stringify(args.config), "bench config", {
        reference: new ReferenceConnector().configSchema,
      });
      if (args.profileFile) await handle({ cmd: "profileStart" });
      const started = performance.now();
      store =
        args.store.type === "nedb"
          ? new NedbStore({ directory: args.store.directory })
          : new PostgresStore({ url: args.store.url });
      countStoreCalls(store);
      bridge = new Bridge({
        config,
        registration: args.registration,
        store,
        connectors: [new ReferenceConnector()],
        log: pino({ level: args.logLevel }, pino.destination(2)),
        encryptionKey: args.encryptionKey,
        homeserverWaitMs: 10_000,
      });
      // start() opens the store first; opening it here too (open() is shared) times the load alone.
      const opening = store.open();
      const starting = bridge.start();
      await opening;
      const openMs = performance.now() - started;
      await starting;
      const result: StartResult = { port: bridge.port, openMs, startMs: performance.now() - started };
      if (args.profileFile) await handle({ cmd: "profileStop", args: { file: args.profileFile } });
      return result;
    }
    case "heap":
      return heap();
    case "cpu":
      return process.cpuUsage();
    case "storeCalls":
      return Object.fromEntries(storeCalls);
    case "calibrate":
      return calibrate(c.args.url, c.args.floorUrl);
    case "settle": {
      // Waits until no room queue has work for `quietMs` in a row.
      const b = need();
      const deadline = Date.now() + c.args.timeoutMs;
      let quietSince = Date.now();
      while (Date.now() < deadline) {
        if (b.services.roomQueue.depth > 0) quietSince = Date.now();
        else if (Date.now() - quietSince >= c.args.quietMs) return true;
        await new Promise((r) => setTimeout(r, 5));
      }
      return false;
    }
    case "pruneJournal":
      // What Bridge's hourly maintenance does to done entries once they are an hour old.
      return needStore().journalPrune(Date.now() + 1);
    case "counts": {
      const s = needStore();
      const b = need();
      return {
        ghosts: await s.ghostCount(),
        links: await s.linkCount(),
        registeredCache: b.services.caches.registered.size,
        joinedCache: b.services.caches.joinedCount,
        queueDepth: b.services.roomQueue.depth,
        remoteJournalPending: (await s.journalPending("remote")).length,
        matrixJournalPending: (await s.journalPending("matrix")).length,
      };
    }
    case "lookup": {
      const s = needStore();
      const { network, remoteId, channelId, eventId } = c.args;
      return {
        ghost: await s.ghostByRemote(network, remoteId),
        links: await s.linksByChannel(network, channelId, ""),
        message: eventId === undefined ? null : await s.messageByEvent(eventId),
      };
    }
    case "profileStart": {
      profiler = new Session();
      profiler.connect();
      await profiler.post("Profiler.enable");
      await profiler.post("Profiler.setSamplingInterval", { interval: 200 });
      await profiler.post("Profiler.start");
      return true;
    }
    case "profileStop": {
      if (!profiler) return false;
      const { profile } = await profiler.post("Profiler.stop");
      profiler.disconnect();
      profiler = null;
      await writeFile(c.args.file, JSON.stringify(profile));
      return true;
    }
    case "stop": {
      if (bridge) await bridge.stop();
      bridge = null;
      store = null;
      setTimeout(() => process.exit(0), 10);
      return true;
    }
  }
}

export interface Calibration {
  /**
   * One sequential HTTP round trip with undici.request to bench/floor-server.mjs, the smallest
   * node:http server, in its own process on the driver's CPU: wall and CPU µs. This is the floor
   * for a design that makes one request per event with the homeserver on another core.
   */
  floorRoundTripUs: number;
  floorRoundTripCpuUs: number;
  /**
   * CPU µs of one round trip to the minimal server at a human pace (10 ms apart): the process
   * sleeps between them, and waking up is most of the cost (the low-rate figures are this).
   */
  floorPacedRoundTripCpuUs: number;
  /** The same to the sink (the driver process): what the bench's homeserver adds to the floor. */
  httpRoundTripUs: number;
  httpRoundTripCpuUs: number;
  /** fs.promises.appendFile of one short line (what NeDB does per write). */
  asyncAppendUs: number;
  /** fs.appendFileSync of one short line. */
  syncAppendUs: number;
  /** JSON.stringify of a small object, ns: plain CPU speed. */
  jsonStringifyNs: number;
}

/** Machine calibration, from the bridge's CPU: what the basic operations cost here. */
async function calibrate(url: string, floorUrl: string): Promise<Calibration> {
  // Warmed up long enough for undici's and the server path's code to be optimized: the CPU figure
  // is the whole process's, so JIT compiler threads at work would count (200 round trips of
  // warm-up, the old figure, measured ~2x the steady cost). The best of three rounds is reported.
  const roundTrip = async (target: string) => {
    const agent = new Agent({ connections: 1 });
    const once = async () => void (await (await request(target, { dispatcher: agent })).body.text());
    for (let i = 0; i < 3000; i++) await once();
    let best = { wallUs: Infinity, cpuUs: Infinity };
    for (let round = 0; round < 3; round++) {
      const n = 2000;
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      for (let i = 0; i < n; i++) await once();
      const wallUs = ((performance.now() - t0) * 1000) / n;
      const c = process.cpuUsage(c0);
      if ((c.user + c.system) / n < best.cpuUs) best = { wallUs, cpuUs: (c.user + c.system) / n };
    }
    await agent.close();
    return best;
  };
  const paced = async (target: string) => {
    const agent = new Agent({ connections: 1 });
    const n = 200;
    await (await request(target, { dispatcher: agent })).body.text();
    const c0 = process.cpuUsage();
    for (let i = 0; i < n; i++) {
      await (await request(target, { dispatcher: agent })).body.text();
      await sleep(10);
    }
    const c = process.cpuUsage(c0);
    await agent.close();
    return (c.user + c.system) / n;
  };
  const floor = await roundTrip(floorUrl);
  const floorPaced = await paced(floorUrl);
  const sink = await roundTrip(url);
  const file = join(tmpdir(), `switchboard-bench-calibrate-${process.pid}`);
  let n = 500;
  let t0 = performance.now();
  for (let i = 0; i < n; i++) await appendFile(file, `{"_id":"${i}","x":"calibration"}\n`);
  const asyncAppendUs = ((performance.now() - t0) * 1000) / n;
  n = 2000;
  t0 = performance.now();
  for (let i = 0; i < n; i++) appendFileSync(file, `{"_id":"${i}","x":"calibration"}\n`);
  const syncAppendUs = ((performance.now() - t0) * 1000) / n;
  await rm(file, { force: true });
  const o = { a: 1, b: "hello world", c: [1, 2, 3], d: { e: "x".repeat(50) } };
  n = 200_000;
  let len = 0;
  t0 = performance.now();
  for (let i = 0; i < n; i++) len += JSON.stringify(o).length;
  const jsonStringifyNs = ((performance.now() - t0) * 1e6) / n + (len < 0 ? 1 : 0);
  const r = (x: number) => Math.round(x * 10) / 10;
  return {
    floorRoundTripUs: r(floor.wallUs),
    floorRoundTripCpuUs: r(floor.cpuUs),
    floorPacedRoundTripCpuUs: r(floorPaced),
    httpRoundTripUs: r(sink.wallUs),
    httpRoundTripCpuUs: r(sink.cpuUs),
    asyncAppendUs: r(asyncAppendUs),
    syncAppendUs: r(syncAppendUs),
    jsonStringifyNs: r(jsonStringifyNs),
  };
}

function need(): Bridge {
  if (!bridge) throw new Error("bridge not started");
  return bridge;
}

function needStore(): Store {
  if (!store) throw new Error("bridge not started");
  return store;
}

process.on("message", (msg: Request) => {
  handle(msg).then(
    (result) => process.send?.({ id: msg.id, ok: true, result } satisfies Reply),
    (err: unknown) =>
      process.send?.({
        id: msg.id,
        ok: false,
        error: err instanceof Error ? (err.stack ?? err.message) : String(err),
      } satisfies Reply),
  );
});
process.on("disconnect", () => process.exit(0));
