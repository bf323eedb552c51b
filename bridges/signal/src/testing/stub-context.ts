import { setTimeout as sleep } from "node:timers/promises";
import { pino } from "pino";
import type { BridgeContext, ChatRef, LoginClient, LoginStep, RemoteEvent } from "@switchboard/framework";
import type { PrimaryDevice } from "@signalapp/mock-server";
import type { SignalConnector } from "../connector.js";
import type { MockSignal } from "./mock-signal.js";

/**
 * Test-only: the framework replaced by a recording `BridgeContext` over an in-memory login
 * state, for the package's own tests and `bench:signal`, and linking a mock phone the way the
 * bot DM does.
 */

/** `p`, or a rejection naming `what` after `ms` (the timer does not keep the process alive). */
export const within = <T>(p: Promise<T>, ms: number, what: string): Promise<T> =>
  Promise.race([
    p,
    sleep(ms, undefined, { ref: false }).then(() =>
      Promise.reject(new Error(`timed out waiting for ${what}`)),
    ),
  ]);

/** Characters of login state held (each one a UTF-16 unit in the heap). */
export function stateBytes(kv: Map<string, unknown>): number {
  let n = 0;
  for (const [k, v] of kv) if (k.startsWith("login\0")) n += k.length + String(v).length;
  return n;
}

export function stubSignalContext(
  mock: MockSignal,
  kv: Map<string, unknown>,
  received: number[],
  /** Decides each emit: throw to refuse it (as the framework does while stopping). */
  gate: (event: RemoteEvent) => void = () => undefined,
  /** Where the connector's notices in chats go (the framework posts them in the chat's room). */
  notices: Array<{ chat: ChatRef; text: string }> = [],
): BridgeContext {
  const ns = (loginId: string, key: string) => `login\0${loginId}\0${key}`;
  return {
    network: "signal",
    config: {
      enabled: true,
      device_name: "bench",
      link_timeout_seconds: 300,
      redact_expired: true,
      prekeys: { refill_below: 10, batch: 100, rotate_days: 2 },
      service: mock.serviceConfig(),
    },
    log: pino({ level: process.env.BENCH_LOG_LEVEL ?? "warn" }),
    emit: async (event: RemoteEvent) => {
      gate(event);
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
    noticeInChat: async (chat, text) => void notices.push({ chat, text }),
    reportState: () => {},
    openDm: async () => "!dm:x",
    linkedChats: async () => [],
  };
}

export interface Linked {
  phone: PrimaryDevice;
  record: { loginId: string; matrixUserId: string; remoteName: string; credentials: unknown };
  client: LoginClient;
  device: Awaited<ReturnType<Awaited<ReturnType<MockSignal["server"]["waitForProvision"]>>["complete"]>>;
}

/**
 * Links a device the way the bot DM does: the QR URL goes to a new mock phone, or to `phone`
 * (which then has one more linked device).
 */
export async function linkWithMock(
  mock: MockSignal,
  connector: SignalConnector,
  i: number,
  existing?: PrimaryDevice,
): Promise<Linked> {
  const phone = existing ?? (await mock.server.createPrimaryDevice({ profileName: `Phone ${i}` }));
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
