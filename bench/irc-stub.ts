/**
 * What the IRC benchmarks put in place of the framework: a counting `BridgeContext`, so their
 * figures are the IRC side's own, and a typed network config, so a new config key is a compile
 * error here instead of an `undefined` at run time.
 */
import { pino } from "pino";
import type { BridgeContext, ChatRef, MatrixMessage, RemoteEvent } from "@switchboard/framework";
import { supportsMembership } from "@switchboard/framework";
import type { IrcConnector, IrcNetworkConfig } from "@switchboard/bridge-irc";
import type { Ircd } from "../test/harness/ircd.js";

/** A network on the local ircd with flood limits out of the way and one connect per listen slot. */
export function benchNetwork(ircd: Ircd, puppets: number): IrcNetworkConfig {
  return {
    host: ircd.host,
    port: ircd.port,
    tls: false,
    bot_nick: "benchbot",
    nick_template: "{name}[m]",
    ident_template: "{localpart}",
    realname_template: "{userId} (Matrix)",
    max_clients: puppets + 10,
    idle_timeout_seconds: 0,
    excluded_users: [],
    sync_membership: { irc_to_matrix: false, matrix_to_irc: true },
    send_rate: { lines_per_second: 1000, burst: 1000 },
    reconnect_initial_delay_ms: 1000,
    // BENCH_IRC_CONNECT_CONCURRENCY tries other values; more than the listen backlog stalls handshakes.
    connect_concurrency: Number(
      process.env.BENCH_IRC_CONNECT_CONCURRENCY ?? Math.min(8, ircd.limits.listenBacklog),
    ),
    max_lines: 5,
    edit_style: "star",
    ops_power_level: 0,
    ops_from_power_level: null,
    voice_from_power_level: null,
    foreign_bridges: { nick_hints: ["[m]", "|m", "-m"], realname_patterns: [] },
    // The benchmark floods on purpose: measure the bridge, not the spam guard.
    flood: { user_lines_per_second: 1e6, user_burst: 1e6, channel_lines_per_second: 1e6, channel_burst: 1e6 },
    channel_keys: {},
    plumb_ops_only: false,
    allowed_commands: [],
  };
}

export interface StubContext {
  ctx: BridgeContext;
  /** Arrival times (ms) of the IRC messages the connector handed to the framework. */
  received: number[];
}

export function stubContext(networks: Record<string, IrcNetworkConfig>, linked: ChatRef[]): StubContext {
  const received: number[] = [];
  const kv = new Map<string, unknown>();
  const ctx: BridgeContext = {
    network: "irc",
    config: { enabled: true, networks },
    log: pino({ level: process.env.BENCH_LOG_LEVEL ?? "warn" }),
    emit: async (event: RemoteEvent) => {
      if (event.type === "message") received.push(Date.now());
    },
    kvGet: async <T>(key: string) => (kv.get(key) as T | undefined) ?? null,
    kvSet: async (key, value) => void kv.set(key, value),
    kvDelete: async (key) => void kv.delete(key),
    kvList: async <T>(prefix: string) =>
      [...kv.entries()]
        .filter(([key]) => key.startsWith(prefix))
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([key, value]) => ({ key, value: value as T })),
    loginState: (loginId) => {
      const ns = (key: string) => `login\0${loginId}\0${key}`;
      return {
        get: async (key) => (kv.get(ns(key)) as string | undefined) ?? null,
        set: async (key, value) => void kv.set(ns(key), value),
        delete: async (key) => void kv.delete(ns(key)),
        list: async (prefix) =>
          [...kv.entries()]
            .filter(([key]) => key.startsWith(ns(prefix)))
            .map(([key, value]) => ({ key: key.slice(ns("").length), value: value as string })),
      };
    },
    updateCredentials: async () => {},
    mentionHtml: (_id, name) => name,
    loginFailed: async () => {},
    notifyUser: async () => {},
    uploadMedia: async () => ({ mxc: "mxc://x/y", link: "http://x/y" }),
    noticeInChat: async () => {},
    reportState: () => {},
    openDm: async () => "!dm:x",
    linkedChats: async () => linked,
  };
  return { ctx, received };
}

export function heapMb(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed / 1024 / 1024;
}

/** A Matrix user joins a linked channel, as the framework does it: through their own IRC connection. */
export async function joinAs(connector: IrcConnector, userId: string, chat: ChatRef): Promise<void> {
  const login = await connector.implicitLogin(userId, chat);
  if (!login || !supportsMembership(login)) throw new Error(`${userId} gets no IRC connection`);
  await login.joinChat(chat, { userId, displayname: userId.slice(1, userId.indexOf(":")), relayed: false });
}

/** A Matrix message, sent as the framework would: through the sender's own connection. */
export async function sendAs(connector: IrcConnector, msg: MatrixMessage): Promise<void> {
  const login = await connector.implicitLogin(msg.sender.userId, msg.chat);
  await (login ?? connector.bot).sendMessage(msg);
}
