/**
 * IRC bridge benchmark (`npm run bench:irc`): the IRC connector against a real local ircd
 * (ngircd, or SWITCHBOARD_TEST_IRCD), with the framework replaced by a counting context so the
 * figures are the IRC side's own: puppet connections opened and registered, memory per
 * puppet connection, and lines per second each way.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { IrcConnector } from "@switchboard/bridge-irc";
import { ircdKindFromEnv, startIrcd } from "../test/harness/ircd.js";
import { IrcPerson } from "../test/harness/irc-client.js";
import { benchNetwork, heapMb, joinAs, sendAs, stubContext } from "./irc-stub.js";

const PUPPETS = Number(process.env.BENCH_IRC_PUPPETS ?? 1000);
const MESSAGES = Number(process.env.BENCH_IRC_MESSAGES ?? 5000);

async function main(): Promise<void> {
  if (!(globalThis as { gc?: () => void }).gc) {
    console.error("run with --expose-gc (npm run bench:irc does)");
  }
  const kind = ircdKindFromEnv();
  const ircd = await startIrcd({ kind });
  const { ctx, received } = stubContext({ bench: benchNetwork(ircd, PUPPETS) }, [
    { channelId: "bench/#bench" },
  ]);
  const connector = new IrcConnector();
  await connector.start(ctx);
  const listener = await IrcPerson.connect(ircd, "listener");
  await listener.join("#bench");

  // 1. Puppets: N Matrix users join the channel, each through their own connection.
  const before = heapMb();
  const t0 = Date.now();
  await Promise.all(
    Array.from({ length: PUPPETS }, (_, i) =>
      joinAs(connector, `@user${i}:bench`, { channelId: "bench/#bench" }),
    ),
  );
  const registeredMs = Date.now() - t0;
  let joinedMs: number;
  for (;;) {
    const names = await listener.names("#bench");
    if (names.length >= PUPPETS + 2) {
      joinedMs = Date.now() - t0;
      break;
    }
    if (Date.now() - t0 > 300_000) throw new Error(`only ${names.length} in #bench after 5 minutes`);
    await sleep(500);
  }
  await sleep(2000);
  const perPuppetKb = ((heapMb() - before) * 1024) / PUPPETS;

  // 2. Matrix → IRC: messages from 100 different puppets, until the listener has them all.
  const seenBefore = listener.seen.length;
  const t1 = Date.now();
  for (let i = 0; i < MESSAGES; i++) {
    void sendAs(connector, {
      eventId: `$e${i}`,
      roomId: "!r:x",
      chat: { channelId: "bench/#bench" },
      sender: { userId: `@user${i % 100}:bench`, displayname: `user${i % 100}`, relayed: false },
      content: { kind: "text", text: `m2i ${i}` },
      timestamp: Date.now(),
      mentions: [],
    });
  }
  while (listener.seen.length - seenBefore < MESSAGES) {
    if (Date.now() - t1 > 120_000) break;
    await sleep(20);
  }
  const m2iMs = Date.now() - t1;
  const m2iDelivered = listener.seen.length - seenBefore;

  // 3. IRC → Matrix: one IRC user talks; the bridge's listener hands each line to the framework.
  const t2 = Date.now();
  for (let i = 0; i < MESSAGES; i++) listener.say("#bench", `i2m ${i}`);
  while (received.length < MESSAGES && Date.now() - t2 < 120_000) await sleep(20);
  const i2mMs = Date.now() - t2;

  const rows = [
    ["ircd", `${kind}`],
    [`${PUPPETS} puppet connections registered`, `${(registeredMs / 1000).toFixed(1)} s`],
    [`${PUPPETS} puppets joined the channel`, `${(joinedMs / 1000).toFixed(1)} s`],
    ["heap per puppet connection", `${perPuppetKb.toFixed(0)} KB`],
    ["Matrix → IRC", `${Math.round((m2iDelivered / m2iMs) * 1000)} lines/s (${m2iDelivered}/${MESSAGES})`],
    [
      "IRC → Matrix",
      `${Math.round((received.length / i2mMs) * 1000)} lines/s (${received.length}/${MESSAGES})`,
    ],
  ];
  for (const [k, v] of rows) console.log(`${String(k).padEnd(40)} ${v}`);
  listener.quit();
  await connector.stop();
  await ircd.stop();
  process.exit(0);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
