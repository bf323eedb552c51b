import type { ConnectionState } from "../connector.js";
import type { Services } from "./services.js";

/**
 * What `/health` answers and the bot's `ping` says: the homeserver's reachability (a live
 * probe), each network's state with its connections, and its logins. Unhealthy (HTTP 503)
 * while the bridge is starting, the homeserver is unreachable or any network connection is
 * not CONNECTED; a user's broken login does not make the bridge unhealthy.
 */

export interface HealthReport {
  ok: boolean;
  running: boolean;
  homeserver: { reachable: boolean; latency_ms?: number; error?: string };
  networks: Record<
    string,
    {
      name: string;
      state: ConnectionState;
      connections: Record<string, { state: ConnectionState; message?: string; since: string }>;
      /** Logins by state; each login (with its owner) only for a caller holding the hs_token. */
      logins: Partial<Record<ConnectionState, number>>;
      login_details?: Array<{ login_id: string; user_id?: string; state: ConnectionState; message?: string }>;
    }
  >;
  /** Rooms and chats with work queued, and remote events not yet in Matrix. */
  queued: number;
  pending_remote: number;
}

export async function healthReport(
  s: Services,
  running: boolean,
  pendingRemote: number,
  detailed: boolean,
): Promise<HealthReport> {
  const homeserver: HealthReport["homeserver"] = { reachable: false };
  const started = Date.now();
  try {
    await s.client.request("GET", "/_matrix/client/versions", {
      attempts: 1,
      timeoutMs: 5000,
      bypassGate: true,
    });
    homeserver.reachable = true;
    homeserver.latency_ms = Date.now() - started;
  } catch (err) {
    homeserver.error = err instanceof Error ? err.message : String(err);
  }
  const networks: HealthReport["networks"] = {};
  let allConnected = true;
  for (const slot of s.networks.values()) {
    const id = slot.connector.id;
    const { state, connections } = s.states.network(id);
    if (state !== "CONNECTED") allConnected = false;
    const logins: Partial<Record<ConnectionState, number>> = {};
    const loginStates = s.states.loginsOf(id);
    for (const l of loginStates) logins[l.state] = (logins[l.state] ?? 0) + 1;
    networks[id] = {
      name: slot.connector.displayName,
      state,
      connections: Object.fromEntries(
        [...connections].map(([name, e]) => [
          name === "" ? id : name,
          { state: e.state, message: e.message, since: new Date(e.since).toISOString() },
        ]),
      ),
      logins,
    };
    if (detailed) {
      const owners = new Map((await s.store.loginsOfNetwork(id)).map((r) => [r.loginId, r.matrixUserId]));
      networks[id].login_details = loginStates.map((l) => ({
        login_id: l.loginId,
        user_id: owners.get(l.loginId),
        state: l.state,
        message: l.message,
      }));
    }
  }
  return {
    ok: running && homeserver.reachable && allConnected,
    running,
    homeserver,
    networks,
    queued: s.roomQueue.depth,
    pending_remote: pendingRemote,
  };
}

/** The same, as lines for people (the bot's `ping`). */
export function healthLines(report: HealthReport): string[] {
  const lines = [
    report.homeserver.reachable
      ? `Homeserver: OK (${report.homeserver.latency_ms ?? 0} ms)`
      : `Homeserver: unreachable (${report.homeserver.error ?? "no answer"})`,
  ];
  for (const [id, n] of Object.entries(report.networks)) {
    const parts = Object.entries(n.connections)
      .filter(([name]) => name !== id || Object.keys(n.connections).length === 1)
      .map(([name, c]) => `${name === id ? "" : `${name} `}${c.state}${c.message ? ` (${c.message})` : ""}`);
    lines.push(
      `${n.name}: ${n.state}${parts.length && !(parts.length === 1 && parts[0] === n.state) ? ` — ${parts.join(", ")}` : ""}`,
    );
  }
  lines.push(`Queued rooms: ${report.queued}; remote events waiting for Matrix: ${report.pending_remote}`);
  return lines;
}
