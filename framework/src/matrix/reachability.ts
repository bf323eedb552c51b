import { setTimeout as sleep } from "node:timers/promises";
import { backoffMs } from "../errors.js";

/**
 * Whether the homeserver is up, decided by one probe. When a request finds the homeserver
 * unreachable (connection refused, a proxy's 502/503/504, a timeout), the gate closes and a
 * single probe loop asks `/versions` with capped backoff; every request and every queue waits
 * on the gate instead of retrying on its own, so a thousand pending chats cost one request per
 * probe interval during an outage, not a thousand, and all resume the moment it answers.
 */
export class Reachability {
  private down: { since: number; reason: string } | null = null;
  private waiters = new Set<() => void>();
  private probing = false;
  private stopped = false;
  /** Called on every change (metrics, logs). */
  onChange?: (up: boolean, reason: string) => void;

  constructor(
    /** One cheap request that bypasses the gate; resolves when the homeserver answers. */
    private readonly probe: () => Promise<void>,
    private readonly maxProbeIntervalMs = 5000,
  ) {}

  get isUp(): boolean {
    return this.down === null;
  }

  /** Why and since when the homeserver is down, or null. */
  get outage(): { since: number; reason: string } | null {
    return this.down;
  }

  /** A request saw the homeserver unreachable: close the gate and start the probe. */
  markDown(reason: string): void {
    if (this.stopped) return;
    if (!this.down) {
      this.down = { since: Date.now(), reason };
      this.onChange?.(false, reason);
    }
    if (!this.probing) void this.probeLoop();
  }

  /** Resolves true once the homeserver is up, false when `timeoutMs` passes or `signal` aborts first. */
  async whenUp(timeoutMs = Infinity, signal?: AbortSignal): Promise<boolean> {
    if (!this.down) return true;
    if (signal?.aborted) return false;
    return new Promise<boolean>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (up: boolean) => {
        this.waiters.delete(wake);
        if (timer) clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        resolve(up);
      };
      const wake = () => finish(true);
      const onAbort = () => finish(false);
      this.waiters.add(wake);
      signal?.addEventListener("abort", onAbort, { once: true });
      if (Number.isFinite(timeoutMs)) {
        timer = setTimeout(() => finish(this.down === null), timeoutMs);
        timer.unref();
      }
    });
  }

  /** Ends the probe loop (bridge stop). Waiters are left to their own signals. */
  stop(): void {
    this.stopped = true;
  }

  private async probeLoop(): Promise<void> {
    this.probing = true;
    try {
      for (let attempt = 1; this.down && !this.stopped; attempt++) {
        try {
          await this.probe();
          this.up();
          return;
        } catch (err) {
          if (this.down) this.down.reason = errorText(err);
        }
        await sleep(backoffMs(attempt, 250, this.maxProbeIntervalMs), undefined, { ref: false });
      }
    } finally {
      this.probing = false;
    }
  }

  private up(): void {
    const was = this.down;
    this.down = null;
    if (was) this.onChange?.(true, `back after ${Math.round((Date.now() - was.since) / 1000)} s`);
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const w of waiters) w();
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
