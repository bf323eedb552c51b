import type { ConnectionState, StateReport } from "../connector.js";
import type { BridgeMetrics } from "../metrics.js";

/**
 * The state of every network connection and every login, as connectors report it
 * (`ctx.reportState`) and as the framework sees it (start, login loading). Read by the bot's
 * `status`, `/health` and the Prometheus gauges; written on every connect and disconnect.
 */

export interface StateEntry {
  state: ConnectionState;
  message?: string;
  /** When the state last changed (ms epoch). */
  since: number;
}

export interface LoginStateEntry extends StateEntry {
  network: string;
  loginId: string;
}

const STATES: readonly ConnectionState[] = [
  "CONNECTING",
  "CONNECTED",
  "TRANSIENT_DISCONNECT",
  "BAD_CREDENTIALS",
  "LOGGED_OUT",
  "UNKNOWN_ERROR",
];

/** Worst first wins when a network has several connections (a workspace down makes Slack down). */
const SEVERITY: Record<ConnectionState, number> = {
  CONNECTED: 0,
  CONNECTING: 1,
  TRANSIENT_DISCONNECT: 2,
  LOGGED_OUT: 3,
  BAD_CREDENTIALS: 4,
  UNKNOWN_ERROR: 5,
};

/** The connection key for the network as a whole (what the framework itself reports at start). */
export const WHOLE_NETWORK = "";

export class ConnectionStates {
  private readonly networks = new Map<string, Map<string, StateEntry>>();
  private readonly logins = new Map<string, LoginStateEntry>();
  private readonly connectorReported = new Set<string>();

  constructor(
    private readonly metrics: BridgeMetrics,
    /** A login entered a new state (after it is recorded): BAD_CREDENTIALS tells its owner. */
    private readonly onLoginChange: (entry: LoginStateEntry, previous: ConnectionState | undefined) => void,
  ) {}

  report(network: string, report: StateReport, from: "connector" | "framework" = "connector"): void {
    if (from === "connector" && report.loginId === undefined && report.connection === undefined)
      this.connectorReported.add(network);
    const entry: StateEntry = { state: report.state, message: report.message, since: Date.now() };
    if (report.loginId !== undefined) {
      const key = `${network}\0${report.loginId}`;
      const previous = this.logins.get(key);
      if (previous && previous.state === entry.state) {
        previous.message = entry.message;
        return;
      }
      const next: LoginStateEntry = { ...entry, network, loginId: report.loginId };
      this.logins.set(key, next);
      this.countLogins(network);
      this.onLoginChange(next, previous?.state);
      return;
    }
    const connection = report.connection ?? WHOLE_NETWORK;
    let connections = this.networks.get(network);
    if (!connections) this.networks.set(network, (connections = new Map()));
    const previous = connections.get(connection);
    if (previous && previous.state === entry.state) {
      previous.message = entry.message;
      return;
    }
    connections.set(connection, entry);
    for (const state of STATES) {
      this.metrics.connectionState.set({ network, connection, state }, state === entry.state ? 1 : 0);
    }
  }

  /**
   * The framework's own view of a network (starting, started, start failed). Once the connector
   * has reported the whole network's state itself, it knows better and this is ignored.
   */
  reportStart(network: string, state: ConnectionState, message?: string): void {
    if (this.connectorReported.has(network)) return;
    this.report(network, { state, message }, "framework");
  }

  /** The network's state (its worst connection) and each connection. */
  network(network: string): { state: ConnectionState; connections: Map<string, StateEntry> } {
    const connections = this.networks.get(network) ?? new Map<string, StateEntry>();
    let state: ConnectionState = connections.size === 0 ? "CONNECTING" : "CONNECTED";
    for (const entry of connections.values())
      if (SEVERITY[entry.state] > SEVERITY[state]) state = entry.state;
    return { state, connections };
  }

  login(network: string, loginId: string): LoginStateEntry | undefined {
    return this.logins.get(`${network}\0${loginId}`);
  }

  loginsOf(network: string): LoginStateEntry[] {
    return [...this.logins.values()].filter((l) => l.network === network);
  }

  /** A login was logged out and deleted: it has no state any more. */
  forgetLogin(network: string, loginId: string): void {
    if (this.logins.delete(`${network}\0${loginId}`)) this.countLogins(network);
  }

  private countLogins(network: string): void {
    const counts = new Map<ConnectionState, number>(STATES.map((s) => [s, 0]));
    for (const l of this.logins.values())
      if (l.network === network) counts.set(l.state, (counts.get(l.state) ?? 0) + 1);
    for (const [state, n] of counts) this.metrics.logins.set({ network, state }, n);
  }
}
