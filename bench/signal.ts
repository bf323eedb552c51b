/**
 * Signal bridge benchmark (`npm run bench:signal`): the Signal connector against Signal's own
 * mock server (real libsignal on both sides), with the framework replaced by a counting context
 * over an in-memory login state, so the figures are the Signal side's own:
 *  - envelopes per second decrypted and handed to the framework for one login (the contact's
 *    envelopes are encrypted before the clock starts, so the mock's own libsignal work is not
 *    counted against the bridge);
 *  - heap per idle, connected login;
 *  - start time with stored logins (opening their state, connecting, checking their keys).
 */
import { SignalConnector } from "@switchboard/bridge-signal";
import {
  linkWithMock,
  startMockSignal,
  stateBytes,
  stubSignalContext,
  type Linked,
} from "@switchboard/bridge-signal/testing";

const MESSAGES = Number(process.env.BENCH_SIGNAL_MESSAGES ?? 2000);
const LOGINS = Number(process.env.BENCH_SIGNAL_LOGINS ?? 20);

function heapMb(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed / 1024 / 1024;
}

async function main(): Promise<void> {
  const mock = await startMockSignal();
  const kv = new Map<string, unknown>();
  const received: number[] = [];
  const ctx = stubSignalContext(mock, kv, received);
  let connector = new SignalConnector();
  await connector.start(ctx);

  // 1. One login: a contact's burst of pre-encrypted envelopes.
  const first = await linkWithMock(mock, connector, 0);
  const contact = await mock.server.createPrimaryDevice({ profileName: "Contact" });
  await contact.addSingleUseKey(first.device, await first.device.popSingleUseKey());
  const envelopes: Array<Buffer<ArrayBuffer>> = [];
  for (let i = 0; i < MESSAGES; i++)
    envelopes.push(Buffer.from(new Uint8Array(await contact.encryptText(first.device, `message ${i}`))));
  const t0 = Date.now();
  await Promise.all(envelopes.map((e) => mock.server.send(first.device, e)));
  while (received.length < MESSAGES) await new Promise((r) => setTimeout(r, 5));
  const ms = Date.now() - t0;
  const perSecond = Math.round((MESSAGES / ms) * 1000);

  // 2. Idle logins: heap per connected login, and how much of it is the login state the
  // in-memory stand-in store holds (NeDB keeps its records in memory the same way).
  const before = heapMb();
  const stateBefore = stateBytes(kv);
  const rest: Linked[] = [];
  for (let i = 1; i < LOGINS; i++) rest.push(await linkWithMock(mock, connector, i));
  await new Promise((r) => setTimeout(r, 1000));
  const perLogin = (heapMb() - before) / (LOGINS - 1);
  const statePerLogin = (stateBytes(kv) - stateBefore) / (LOGINS - 1);

  // 3. Start with every login stored: a fresh connector loads them all.
  await connector.stop();
  connector = new SignalConnector();
  await connector.start(ctx);
  const t1 = Date.now();
  await Promise.all([first, ...rest].map((l) => connector.loadLogin(l.record)));
  const startMs = Date.now() - t1;
  await connector.stop();
  await mock.close();

  const result = {
    machine: `${(await import("node:os")).cpus().length} cores, Node ${process.version}`,
    messagesPerSecond: perSecond,
    messages: MESSAGES,
    heapPerIdleLoginKb: Math.round(perLogin * 1024),
    loginStatePerLoginKb: Math.round(statePerLogin / 1024),
    startMsWithStoredLogins: startMs,
    logins: LOGINS,
  };
  console.log(JSON.stringify(result, null, 2));
  process.exit(0);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
