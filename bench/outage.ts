/**
 * Homeserver outage benchmark (`npm run bench:outage`): how long after the homeserver answers
 * again until the backlog that built up while it was down is in Matrix. The real Synapse (the
 * test harness's, on SQLite), the real `switchboard start` process and the reference connector:
 * the homeserver is halted, N toy-network messages are posted (journaled by the bridge), the
 * homeserver is started again, and the clock runs from its first answer to /versions until
 * /health says nothing is pending and the room holds all N messages.
 *
 * Scenarios (BENCH_OUTAGE_SIZES, default "10,1000"): each N into one chat, and N spread over
 * 10 chats; then, as the baseline, the largest burst posted while the homeserver is up (from the
 * first post to the last delivery). Prints a table and writes bench/results-outage.json.
 */
import { writeFile } from "node:fs/promises";
import { cpus } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { ToyNetwork } from "../test/reference/toy-network.js";
import { startBridgeEnvironment } from "../test/harness/switchboard.js";
import { TestMatrixClient } from "../test/harness/matrix-client.js";

const SIZES = (process.env.BENCH_OUTAGE_SIZES ?? "10,1000").split(",").map(Number);
const CHATS = [1, 10];

interface Row {
  /** "backlog": posted while the homeserver was down; "live": the same posted while it is up (baseline). */
  kind: "backlog" | "live";
  events: number;
  chats: number;
  /** From the homeserver's first answer to the last event in Matrix. */
  deliveredMs: number;
  eventsPerSecond: number;
}

async function pendingRemote(port: number): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/health`);
  return ((await res.json()) as { pending_remote: number }).pending_remote;
}

async function main(): Promise<void> {
  const toy = new ToyNetwork();
  await toy.listen();
  toy.addUser("bob", "Bob Remote");
  const channels = Array.from({ length: Math.max(...CHATS) }, (_, i) => `c${i}`);
  for (const c of channels) toy.addChannel(c, c, "", ["bob"]);
  const env = await startBridgeEnvironment({
    bridges: { reference: { enabled: true, url: toy.url, token: toy.bridgeToken } },
  });
  const rows: Row[] = [];
  try {
    const a = await env.hs.registerUser("alice");
    const alice = new TestMatrixClient(env.hs.url, a.accessToken, a.userId);
    const rooms = new Map<string, string>();
    for (const c of channels) rooms.set(c, await alice.join(`#reference_${c}:localhost`));
    // Warm up: the ghost exists and has joined every room, as in a portal that is in use.
    for (const c of channels) toy.post("bob", c, `warm-up ${c}`);
    await waitUntil(async () => (await pendingRemote(env.bridge.metricsPort)) === 0, 60_000);

    let run = 0;
    for (const n of SIZES) {
      for (const chats of CHATS) {
        run++;
        await env.hs.halt();
        for (let i = 0; i < n; i++) toy.post("bob", channels[i % chats] ?? "c0", `r${run}-${i}`);
        // Every event journaled and waiting for the homeserver.
        await waitUntil(async () => (await pendingRemote(env.bridge.metricsPort)) >= n, 120_000);
        await env.hs.resume();
        const t0 = performance.now();
        await waitUntil(async () => (await pendingRemote(env.bridge.metricsPort)) === 0, 600_000, 20);
        const deliveredMs = Math.round(performance.now() - t0);
        let inMatrix = 0;
        for (const c of channels.slice(0, chats)) {
          const timeline = await alice.timeline(rooms.get(c) ?? "", Math.min(1000, n + 50));
          inMatrix += timeline.filter((e) => String(e.content.body).startsWith(`r${run}-`)).length;
        }
        if (inMatrix !== n)
          throw new Error(`expected ${n} events in Matrix after run ${run}, found ${inMatrix}`);
        rows.push({
          kind: "backlog",
          events: n,
          chats,
          deliveredMs,
          eventsPerSecond: Math.round((n / deliveredMs) * 1000),
        });
        console.log(
          `${n} events in ${chats} chat(s): delivered ${deliveredMs} ms after the homeserver was back`,
        );
      }
    }
    // Baseline: the largest burst posted while the homeserver is up, from the first post to the last delivery.
    const n = Math.max(...SIZES);
    for (const chats of CHATS) {
      run++;
      const t0 = performance.now();
      for (let i = 0; i < n; i++) toy.post("bob", channels[i % chats] ?? "c0", `r${run}-${i}`);
      await sleep(200);
      await waitUntil(async () => (await pendingRemote(env.bridge.metricsPort)) === 0, 600_000, 20);
      const deliveredMs = Math.round(performance.now() - t0);
      rows.push({
        kind: "live",
        events: n,
        chats,
        deliveredMs,
        eventsPerSecond: Math.round((n / deliveredMs) * 1000),
      });
      console.log(`${n} events in ${chats} chat(s) with the homeserver up: delivered in ${deliveredMs} ms`);
    }
  } finally {
    await env.cleanup();
    await toy.close();
  }
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, Node ${process.version}`;
  console.table(rows);
  await writeFile(
    new URL("./results-outage.json", import.meta.url),
    JSON.stringify({ machine, date: new Date().toISOString(), rows }, null, 2) + "\n",
  );
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
