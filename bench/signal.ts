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
import { pino } from "pino";
import type { BridgeContext, LoginClient, LoginStep, RemoteEvent } from "@switchboard/framework";
import { SignalConnector } from "@switchboard/bridge-signal";
import { startMockSignal, type MockSignal } from "@switchboard/bridge-signal/testing";
import type { PrimaryDevice } from "@signalapp/mock-server";

const MESSAGES = Number(process.env.BENCH_SIGNAL_MESSAGES ?? 2000);
const LOGINS = Number(process.env.BENCH_SIGNAL_LOGINS ?? 20);

function heapMb(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed / 1024 / 1024;
}

/** Characters of login state held (each one a UTF-16 unit in the heap). */
function stateBytes(kv: Map<string, unknown>): number {
  let n = 0;
  for (const [k, v] of kv) if (k.startsWith("login\0")) n += k.length + String(v).length;
  return n;
}

function context(mock: MockSignal, kv: Map<string, unknown>, received: number[]): BridgeContext {
  const base = `https://localhost:${mock.port}`;
  const ns = (loginId: string, key: string) => `login\0${loginId}\0${key}`;
  return {
    network: "signal",
    config: {
      enabled: true,
      device_name: "bench",
      link_timeout_seconds: 300,
      redact_expired: true,
      prekeys: { refill_below: 10, batch: 100, rotate_days: 2 },
      service: {
        environment: "local",
        local_port: mock.port,
        root_certificate: mock.rootCertificate,
        cdn_urls: { "0": base, "2": base, "3": `${base}/cdn3` },
        storage_url: `${base}/storageService`,
        trust_roots: [mock.trustRoot],
        zkgroup_public_params: mock.zkPublicParams,
        link_username: "aci",
      },
    },
    log: pino({ level: process.env.BENCH_LOG_LEVEL ?? "warn" }),
    emit: async (event: RemoteEvent) => {
      if (event.type === "message") received.push(Date.now());
    },
    kvGet: async <T>(key: string) => (kv.get(key) as T | undefined) ?? null,
    kvSet: async (key, value) => void kv.set(key, value),
    kvDelete: async (key) => void kv.delete(key),
    kvList: async () => [],
    loginState: (loginId) => ({
      get: async (key) => (kv.get(ns(loginId, key)) as string | undefined) ?? null,
      set: async (key, value) => void kv.set(ns(loginId, key), value),
      delete: async (key) => void kv.delete(ns(loginId, key)),
      list: async (prefix) =>
        [...kv.entries()]
          .filter(([key]) => key.startsWith(ns(loginId, prefix)))
          .sort(([a], [b]) => (a < b ? -1 : 1))
          .map(([key, value]) => ({ key: key.slice(ns(loginId, "").length), value: value as string })),
    }),
    updateCredentials: async () => {},
    mentionHtml: (_id, name) => name,
    loginFailed: async () => {},
    notifyUser: async () => {},
    uploadMedia: async () => ({ mxc: "mxc://x/y", link: "http://x/y" }),
    noticeInChat: async () => {},
    reportState: () => {},
    openDm: async () => "!dm:x",
    linkedChats: async () => [],
  };
}

interface Linked {
  phone: PrimaryDevice;
  record: { loginId: string; matrixUserId: string; remoteName: string; credentials: unknown };
  client: LoginClient;
  device: Awaited<ReturnType<Awaited<ReturnType<MockSignal["server"]["waitForProvision"]>>["complete"]>>;
}

/** Links a new phone the way the bot DM does: the QR URL goes to the mock phone. */
async function link(mock: MockSignal, connector: SignalConnector, i: number): Promise<Linked> {
  const phone = await mock.server.createPrimaryDevice({ profileName: `Phone ${i}` });
  const provisioning = mock.server.waitForProvision();
  const login = connector.createLogin("qr", `@user${i}:bench`);
  const shown = await login.start();
  if (shown.type !== "display" || !shown.url) throw new Error("no QR URL");
  const provision = await provisioning;
  const completing = provision.complete({ provisionURL: shown.url, primaryDevice: phone });
  const step = (await login.wait!()) as Extract<LoginStep, { type: "complete" }>;
  const record = {
    loginId: step.loginId,
    matrixUserId: `@user${i}:bench`,
    remoteName: step.remoteName,
    credentials: step.credentials,
  };
  const client = await connector.loadLogin(record);
  const device = await completing;
  return { phone, record, client, device };
}

async function main(): Promise<void> {
  const mock = await startMockSignal();
  const kv = new Map<string, unknown>();
  const received: number[] = [];
  const ctx = context(mock, kv, received);
  let connector = new SignalConnector();
  await connector.start(ctx);

  // 1. One login: a contact's burst of pre-encrypted envelopes.
  const first = await link(mock, connector, 0);
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
  for (let i = 1; i < LOGINS; i++) rest.push(await link(mock, connector, i));
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
