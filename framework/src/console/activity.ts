/**
 * Events per minute and failures in the last hour, per network and direction, for the console's
 * overview. Read from the Prometheus counters the bridge already keeps (no second count to
 * drift from /metrics), sampled every 10 s into an hour-long ring.
 */
import type { BridgeMetrics } from "../metrics.js";

const SAMPLE_MS = 10_000;
const KEEP = 360;

type Totals = Map<string, { events: number; failures: number }>;

export interface ActivityRow {
  network: string;
  direction: string;
  perMinute: number;
  failuresLastHour: number;
}

export class Activity {
  private readonly samples: Array<{ at: number; totals: Totals }> = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly metrics: BridgeMetrics) {}

  start(): void {
    void this.sample();
    this.timer = setInterval(() => void this.sample(), SAMPLE_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Rates now: against the sample about a minute old (or the oldest, early on). */
  async rows(): Promise<ActivityRow[]> {
    const now = { at: Date.now(), totals: await this.totals() };
    const minuteAgo = this.closest(now.at - 60_000) ?? now;
    const hourAgo = this.samples[0] ?? now;
    const minutes = Math.max((now.at - minuteAgo.at) / 60_000, 1 / 6);
    const rows: ActivityRow[] = [];
    for (const [key, value] of now.totals) {
      const [network, direction] = key.split("\0") as [string, string];
      const before = minuteAgo.totals.get(key) ?? { events: 0, failures: 0 };
      const hourBefore = hourAgo.totals.get(key) ?? { events: 0, failures: 0 };
      rows.push({
        network,
        direction,
        perMinute: Math.round((value.events - before.events) / minutes),
        failuresLastHour: value.failures - hourBefore.failures,
      });
    }
    return rows.sort((a, b) => `${a.network}${a.direction}`.localeCompare(`${b.network}${b.direction}`));
  }

  private closest(at: number): { at: number; totals: Totals } | undefined {
    let best: { at: number; totals: Totals } | undefined;
    for (const s of this.samples) if (s.at <= at) best = s;
    return best ?? this.samples[0];
  }

  private async sample(): Promise<void> {
    this.samples.push({ at: Date.now(), totals: await this.totals() });
    if (this.samples.length > KEEP) this.samples.shift();
  }

  private async totals(): Promise<Totals> {
    const totals: Totals = new Map();
    const entry = (network: unknown, direction: unknown) => {
      const key = `${String(network)}\0${String(direction)}`;
      let e = totals.get(key);
      if (!e) totals.set(key, (e = { events: 0, failures: 0 }));
      return e;
    };
    for (const v of (await this.metrics.events.get()).values)
      entry(v.labels.network, v.labels.direction).events += v.value;
    for (const v of (await this.metrics.failures.get()).values)
      entry(v.labels.network, v.labels.direction).failures += v.value;
    return totals;
  }
}
