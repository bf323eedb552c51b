/**
 * Netsplit recovery benchmark (`npm run bench:irc:netsplit`): BENCH_IRC_PUPPETS puppets (500)
 * in one channel through the IRC connector, then the local ircd goes away for
 * BENCH_IRC_OUTAGE_S seconds (30) and comes back, which is how a netsplit or a server restart
 * looks from a bridge: every connection drops at once and the channel is gone.
 *
 * Measured: the time from the server answering again until every puppet is back in the
 * channel (as the server's NAMES shows it, not the bridge's own view), peak RSS and heap from
 * the drop to full recovery, and TCP connection attempts (a reconnect storm shows up there).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { IrcConnector, type NetworkStats } from "@switchboard/bridge-irc";
import { ircdKindFromEnv, startIrcd } from "../test/harness/ircd.js";
import { IrcPerson } from "../test/harness/irc-client.js";
import { benchNetwork, joinAs, stubContext } from "./irc-stub.js";

const PUPPETS = Number(process.env.BENCH_IRC_PUPPETS ?? 500);
const OUTAGE_MS = Number(process.env.BENCH_IRC_OUTAGE_S ?? 30) * 1000;
const GIVE_UP_MS = 10 * 60_000;
const CHANNEL = "#bench";

/** Nicks in the channel other than the observer's, by the server's NAMES. */
async function othersInChannel(observer: IrcPerson): Promise<number> {
  const names = await observer.names(CHANNEL);
  return names.filter((n) => n.replace(/^[@+%~&]+/, "") !== observer.nick).length;
}

/** Polls until the bot and every puppet are in the channel; returns when that was first seen. */
async function untilAllIn(observer: IrcPerson, startedAt: number): Promise<number> {
  for (;;) {
    if ((await othersInChannel(observer)) >= PUPPETS + 1) return Date.now();
    if (Date.now() - startedAt > GIVE_UP_MS) throw new Error(`not all puppets back after ${GIVE_UP_MS} ms`);
    await sleep(250);
  }
}

class PeakMemory {
  rssMb = 0;
  heapMb = 0;
  private readonly timer = setInterval(() => this.sample(), 100);
  sample(): void {
    const m = process.memoryUsage();
    this.rssMb = Math.max(this.rssMb, m.rss / 1024 / 1024);
    this.heapMb = Math.max(this.heapMb, m.heapUsed / 1024 / 1024);
  }
  stop(): void {
    clearInterval(this.timer);
    this.sample();
  }
}

function only(stats: NetworkStats[]): NetworkStats {
  const [s] = stats;
  if (!s) throw new Error("the connector has no network");
  return s;
}

async function main(): Promise<void> {
  const kind = ircdKindFromEnv();
  const ircd = await startIrcd({ kind });
  const { ctx } = stubContext({ bench: benchNetwork(ircd, PUPPETS) }, [{ channelId: `bench/${CHANNEL}` }]);
  const connector = new IrcConnector();
  await connector.start(ctx);

  // Setup: every puppet registered and in the channel, as in `bench:irc`.
  const t0 = Date.now();
  await Promise.all(
    Array.from({ length: PUPPETS }, (_, i) =>
      joinAs(connector, `@user${i}:bench`, { channelId: `bench/${CHANNEL}` }),
    ),
  );
  const first = await IrcPerson.connect(ircd, "observer");
  await first.join(CHANNEL);
  const setupMs = (await untilAllIn(first, t0)) - t0;
  const before = only(connector.stats());
  const memBefore = process.memoryUsage();

  // The outage: the server stops (every connection drops) and stays away for OUTAGE_MS.
  const peak = new PeakMemory();
  const tDown = Date.now();
  await ircd.restart(() => sleep(OUTAGE_MS));
  const tUp = Date.now();
  const during = only(connector.stats());

  let registeredAt: number | null = null;
  const watchRegistered = (async () => {
    while (registeredAt === null && Date.now() - tUp < GIVE_UP_MS) {
      const s = only(connector.stats());
      if (s.botReady && s.puppetsReady >= PUPPETS) registeredAt = Date.now();
      else await sleep(100);
    }
  })();
  const observer = await IrcPerson.connect(ircd, "observer2");
  await observer.join(CHANNEL);
  const joinedAt = await untilAllIn(observer, tUp);
  await watchRegistered;
  peak.stop();
  const after = only(connector.stats());

  const attempts = after.puppetAttempts - before.puppetAttempts;
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const rows: Array<[string, string]> = [
    ["ircd", kind],
    [`${PUPPETS} puppets registered and joined (setup)`, s(setupMs)],
    ["outage (server down → answering again)", s(tUp - tDown)],
    ["puppets registered after the server is back", registeredAt === null ? "never" : s(registeredAt - tUp)],
    ["puppets back in the channel (NAMES)", s(joinedAt - tUp)],
    [
      "memory before the outage",
      `RSS ${(memBefore.rss / 1048576).toFixed(0)} MB, heap ${(memBefore.heapUsed / 1048576).toFixed(0)} MB`,
    ],
    [
      "peak memory, outage and recovery",
      `RSS ${peak.rssMb.toFixed(0)} MB, heap ${peak.heapMb.toFixed(0)} MB`,
    ],
    [
      "puppet connection attempts while down",
      `${during.puppetAttempts - before.puppetAttempts} (${((during.puppetAttempts - before.puppetAttempts) / PUPPETS).toFixed(2)} per puppet)`,
    ],
    [
      "puppet connection attempts, outage + recovery",
      `${attempts} (${(attempts / PUPPETS).toFixed(2)} per puppet; most for one puppet since start: ${after.maxPuppetAttempts})`,
    ],
    ["bot connection attempts, outage + recovery", String(after.botAttempts - before.botAttempts)],
  ];
  for (const [k, v] of rows) console.log(`${k.padEnd(48)} ${v}`);
  observer.quit();
  await connector.stop();
  await ircd.stop();
  process.exit(0);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
