import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/** The bridge's Prometheus metrics, on a registry of its own (several bridges in one test process). */
export class BridgeMetrics {
  readonly registry = new Registry();
  readonly transactions = new Counter({
    name: "switchboard_transactions_total",
    help: "Appservice transactions received from the homeserver",
    labelNames: ["outcome"] as const,
    registers: [this.registry],
  });
  readonly events = new Counter({
    name: "switchboard_events_total",
    help: "Events bridged, by direction and network",
    labelNames: ["direction", "network", "type"] as const,
    registers: [this.registry],
  });
  readonly failures = new Counter({
    name: "switchboard_failures_total",
    help: "Events that could not be bridged",
    labelNames: ["direction", "network"] as const,
    registers: [this.registry],
  });
  readonly latency = new Histogram({
    name: "switchboard_bridge_latency_seconds",
    help: "Time from receiving an event to delivering it on the other side",
    labelNames: ["direction", "network"] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: "switchboard_queue_depth",
    help: "Rooms or chats with work queued",
    labelNames: ["direction"] as const,
    registers: [this.registry],
  });
  readonly ghosts = new Gauge({
    name: "switchboard_ghosts",
    help: "Ghost users known to the bridge",
    labelNames: ["network"] as const,
    registers: [this.registry],
  });
  readonly portals = new Gauge({
    name: "switchboard_rooms",
    help: "Bridged rooms by network and kind",
    labelNames: ["network", "kind"] as const,
    registers: [this.registry],
  });

  readonly connectionState = new Gauge({
    name: "switchboard_connection_state",
    help: "1 for the state each network connection is in (CONNECTED, TRANSIENT_DISCONNECT, ...), 0 for the others",
    labelNames: ["network", "connection", "state"] as const,
    registers: [this.registry],
  });
  readonly logins = new Gauge({
    name: "switchboard_logins",
    help: "User logins by network and connection state",
    labelNames: ["network", "state"] as const,
    registers: [this.registry],
  });
  readonly homeserverUp = new Gauge({
    name: "switchboard_homeserver_reachable",
    help: "1 while the homeserver answers, 0 during an outage (events wait in the journal)",
    registers: [this.registry],
  });
  readonly retries = new Counter({
    name: "switchboard_retries_total",
    help: "Delivery attempts that failed and will be retried, by direction, network and reason",
    labelNames: ["direction", "network", "reason"] as const,
    registers: [this.registry],
  });
  readonly dropped = new Counter({
    name: "switchboard_dropped_total",
    help: "Events given up on for good (a permanent refusal), by direction, network and reason",
    labelNames: ["direction", "network", "reason"] as const,
    registers: [this.registry],
  });

  constructor(defaults = true) {
    if (defaults) collectDefaultMetrics({ register: this.registry, prefix: "switchboard_" });
  }
}
