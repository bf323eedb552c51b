/**
 * What the IRC bridge costs an admin who leaves it running (`npm run bench:irc:footprint`): the
 * real `switchboard start` process with only IRC enabled, the real Synapse of the test harness and
 * a local ngircd (or SWITCHBOARD_TEST_IRCD). It measures the bridge process's CPU from its start
 * to the first IRC line a Matrix client sees, then its resident memory in steady use and its peak.
 *
 * `--bin LABEL=PATH` (repeatable) runs the same method on other checkouts' `bin/switchboard.js`
 * (a `git worktree` of the commit before, with its own node_modules), one after the other in one
 * run, so each claim is a ratio; without it, this checkout's command alone.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import yaml from "js-yaml";
import { parseRegistration } from "@switchboard/registration";
import { ircdKindFromEnv, startIrcd, type Ircd } from "../test/harness/ircd.js";
import { IrcPerson } from "../test/harness/irc-client.js";
import { TestMatrixClient } from "../test/harness/matrix-client.js";
import { startHomeserver, type AppserviceRegistration } from "../test/harness/synapse.js";
import { freePort } from "./lib.js";

const LINES_IN = Number(process.env.BENCH_FOOTPRINT_LINES_IN ?? 600);
const LINES_OUT = Number(process.env.BENCH_FOOTPRINT_LINES_OUT ?? 200);
const CLK_TCK = 100;
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");

interface Footprint {
  label: string;
  bin: string;
  /** From spawn to the first IRC line seen by the Matrix client (portal, ghost and puppet exist). */
  startToFirstMessage: { cpuS: number; wallS: number };
  /** After LINES_IN IRC → Matrix and LINES_OUT Matrix → IRC lines and 10 s idle. */
  steadyRssMb: number;
  peakRssMb: number;
  totalCpuS: number;
  /** Bridge CPU per line while the lines are bridged, IRC → Matrix and Matrix → IRC, µs. */
  cpuPerLineUs: { in: number; out: number };
  /** Bridge CPU while idle (the 10 s after the lines), in ms per second. */
  idleCpuMsPerS: number;
}

/** utime + stime of a process, in seconds (its threads included). */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

async function memoryMb(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  return { rss: kb("VmRSS") / 1024, peak: kb("VmHWM") / 1024 };
}

function startBridge(bin: string, dir: string): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [bin, "start", "-c", "config.yaml"], {
    cwd: dir,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout?.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr?.on("data", (c: Buffer) => (out += c.toString()));
  return { child, output: () => out };
}

async function waitForLog(bridge: { child: ChildProcess; output: () => string }, pattern: RegExp) {
  const deadline = Date.now() + 60_000;
  while (!pattern.test(bridge.output())) {
    if (bridge.child.exitCode !== null)
      throw new Error(`the bridge exited:\n${bridge.output().slice(-3000)}`);
    if (Date.now() > deadline) throw new Error(`no ${pattern} within 60 s:\n${bridge.output().slice(-3000)}`);
    await sleep(50);
  }
}

async function stopBridge(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await Promise.race([exited, sleep(15_000).then(() => child.kill("SIGKILL"))]);
}

async function measure(label: string, bin: string, ircd: Ircd): Promise<Footprint> {
  const dir = await mkdtemp(join(tmpdir(), "switchboard-footprint-"));
  const channel = `#fp${Math.random().toString(36).slice(2, 8)}`;
  const raw: Record<string, unknown> = {
    homeserver: { url: "http://127.0.0.1:1", domain: "localhost", retry_interval_ms: 500 },
    appservice: {
      id: "switchboard",
      bind: "127.0.0.1",
      port: await freePort(),
      registration: "registration.yaml",
    },
    store: { path: "./data" },
    encryption: { key: "bench-encryption-key-that-is-long-enough-1234" },
    permissions: { "*": "relay", localhost: "user" },
    logging: { level: "info", format: "json" },
    bridges: {
      irc: {
        enabled: true,
        networks: {
          test: {
            host: ircd.host,
            port: ircd.port,
            bot_nick: "fpbot",
            send_rate: { lines_per_second: 50, burst: 50 },
            // One IRC person sends every line here; the spam limits would drop most of them.
            flood: {
              user_lines_per_second: 1000,
              user_burst: 1000,
              channel_lines_per_second: 1000,
              channel_burst: 1000,
            },
          },
        },
      },
    },
  };
  await writeFile(join(dir, "config.yaml"), yaml.dump(raw));
  const reg = spawn(process.execPath, [bin, "registration", "-c", "config.yaml", "-o", "registration.yaml"], {
    cwd: dir,
    stdio: "ignore",
  });
  if ((await new Promise((r) => reg.once("exit", r))) !== 0) throw new Error(`${label}: registration failed`);
  const registration = parseRegistration(await readFile(join(dir, "registration.yaml"), "utf8"));
  const hs = await startHomeserver({ registrations: [registration as unknown as AppserviceRegistration] });
  (raw.homeserver as Record<string, unknown>).url = hs.url;
  await writeFile(join(dir, "config.yaml"), yaml.dump(raw));
  const carol = await IrcPerson.connect(ircd, `carol${label.slice(0, 3)}`);
  try {
    await carol.join(channel);
    const user = await hs.registerUser(`alice_${label.replace(/\W/g, "")}`);
    const alice = new TestMatrixClient(hs.url, user.accessToken, user.userId);

    // Setup, not measured: the portal, carol's ghost and alice's puppet exist afterwards.
    let bridge = startBridge(bin, dir);
    await waitForLog(bridge, /Switchboard is running/);
    const room = await alice.join(`#irc_test_${channel}:localhost`);
    carol.say(channel, "setup");
    await alice.waitForEvent(room, (e) => e.content.body === "setup", 60_000);
    await alice.sendText(room, "hello");
    await carol.waitFor((l) => l.type === "privmsg" && l.text === "hello", 60_000);
    await stopBridge(bridge.child);

    // The measured start: carol talks every 100 ms until alice sees a line.
    const t0 = Date.now();
    bridge = startBridge(bin, dir);
    const pid = bridge.child.pid!;
    let seen = false;
    const talking = (async () => {
      for (let i = 0; !seen; i++) {
        carol.say(channel, `first ${i}`);
        await sleep(100);
      }
    })();
    await alice.waitForEvent(
      room,
      (e) => typeof e.content.body === "string" && e.content.body.startsWith("first "),
      120_000,
    );
    const startToFirstMessage = { cpuS: await cpuSeconds(pid), wallS: (Date.now() - t0) / 1000 };
    seen = true;
    await talking;

    // Steady use: both directions at a human pace, then idle.
    const cpuBeforeIn = await cpuSeconds(pid);
    for (let i = 0; i < LINES_IN; i++) {
      carol.say(channel, `in ${i}`);
      if (i % 10 === 9) await sleep(200);
    }
    await alice.waitForEvent(room, (e) => e.content.body === `in ${LINES_IN - 1}`, 120_000);
    const cpuBeforeOut = await cpuSeconds(pid);
    for (let i = 0; i < LINES_OUT; i++) {
      await alice.sendText(room, `out ${i}`);
    }
    await carol.waitFor((l) => l.type === "privmsg" && l.text === `out ${LINES_OUT - 1}`, 120_000);
    const cpuAfterOut = await cpuSeconds(pid);
    const cpuPerLineUs = {
      in: Math.round(((cpuBeforeOut - cpuBeforeIn) * 1e6) / LINES_IN),
      out: Math.round(((cpuAfterOut - cpuBeforeOut) * 1e6) / LINES_OUT),
    };
    await sleep(10_000);
    const mem = await memoryMb(pid);
    const totalCpuS = await cpuSeconds(pid);
    const idleCpuMsPerS = Math.round(((totalCpuS - cpuAfterOut) * 1000) / 10);
    await stopBridge(bridge.child);
    return {
      label,
      bin,
      startToFirstMessage,
      steadyRssMb: mem.rss,
      peakRssMb: mem.peak,
      totalCpuS,
      cpuPerLineUs,
      idleCpuMsPerS,
    };
  } finally {
    carol.quit();
    await hs.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

function candidates(argv: string[]): Array<{ label: string; bin: string }> {
  const out: Array<{ label: string; bin: string }> = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] !== "--bin") throw new Error(`unknown argument ${argv[i]} (usage: --bin LABEL=PATH ...)`);
    const [label, path] = (argv[++i] ?? "").split("=");
    if (!label || !path) throw new Error("--bin takes LABEL=PATH/TO/bin/switchboard.js");
    out.push({ label, bin: resolve(path) });
  }
  return out.length > 0 ? out : [{ label: "this", bin: join(repoRoot, "bin", "switchboard.js") }];
}

async function main(): Promise<void> {
  const list = candidates(process.argv.slice(2));
  const ircd = await startIrcd({ kind: ircdKindFromEnv() });
  const results: Footprint[] = [];
  try {
    for (const { label, bin } of list) {
      const r = await measure(label, bin, ircd);
      results.push(r);
      console.log(
        `${label}: start → first message ${r.startToFirstMessage.cpuS.toFixed(2)} s CPU ` +
          `(${r.startToFirstMessage.wallS.toFixed(1)} s wall); steady RSS ${r.steadyRssMb.toFixed(0)} MB, ` +
          `peak ${r.peakRssMb.toFixed(0)} MB; CPU for the whole run ${r.totalCpuS.toFixed(2)} s; ` +
          `per line ${r.cpuPerLineUs.in} µs IRC → Matrix, ${r.cpuPerLineUs.out} µs Matrix → IRC; ` +
          `idle ${r.idleCpuMsPerS} ms CPU/s`,
      );
    }
  } finally {
    await ircd.stop();
  }
  const base = results[0];
  if (base && results.length > 1) {
    for (const r of results.slice(1)) {
      const ratio = (a: number, b: number) => (a / b).toFixed(2);
      console.log(
        `${r.label} / ${base.label}: CPU to first message ${ratio(r.startToFirstMessage.cpuS, base.startToFirstMessage.cpuS)}×, ` +
          `steady RSS ${ratio(r.steadyRssMb, base.steadyRssMb)}×, peak ${ratio(r.peakRssMb, base.peakRssMb)}×, ` +
          `whole-run CPU ${ratio(r.totalCpuS, base.totalCpuS)}×, ` +
          `per line ${ratio(r.cpuPerLineUs.in, base.cpuPerLineUs.in)}× in, ${ratio(r.cpuPerLineUs.out, base.cpuPerLineUs.out)}× out`,
      );
    }
  }
  await writeFile(
    join(repoRoot, "bench", "results-irc-footprint.json"),
    JSON.stringify(results, null, 2) + "\n",
  );
}

await main();
