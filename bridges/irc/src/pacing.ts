/**
 * How one network's connections are paced, so that the server's limits set the pace and not
 * ours: a cap on registrations in flight (the server answers each as fast as it can), and,
 * after a network-wide outage, one probe (the bot) instead of every puppet probing a dead
 * server on its own backoff.
 */

/** Caps how many connections of a network are being opened at once. */
export class ConnectLimiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(private readonly concurrency: number) {}

  /** `first`: jump the queue (the bot, which everyone else waits for after an outage). */
  async run<T>(task: () => Promise<T>, options: { first?: boolean } = {}): Promise<T> {
    if (this.active >= this.concurrency) {
      await new Promise<void>((resolve) =>
        options.first ? this.waiting.unshift(resolve) : this.waiting.push(resolve),
      );
    }
    this.active++;
    try {
      return await task();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

/**
 * Whether the server answers, as the bot's connection last saw it. When every connection
 * drops at once (netsplit, server restart), probing is left to the bot: puppets wait here,
 * so a long outage costs one connection attempt per puppet, not one per backoff step, and
 * they all come back as soon as the server does instead of at the end of a long backoff.
 */
export class ServerReachability {
  private up = false;
  private readonly waiting = new Set<() => void>();
  /** Every verdict of the bot's connection (connected, closed), e.g. for the bridge's connection state. */
  onSet?: (up: boolean) => void;

  get isUp(): boolean {
    return this.up;
  }

  set(up: boolean): void {
    this.up = up;
    this.onSet?.(up);
    if (!up) return;
    for (const release of [...this.waiting]) release();
  }

  /**
   * Resolves once the server answers again, or after `maxWaitMs`: the bot may be the only one
   * refused (its nick banned, its SASL account broken), and puppets must not wait for it forever.
   */
  whenUp(maxWaitMs: number): Promise<void> {
    if (this.up) return Promise.resolve();
    return new Promise((resolve) => {
      const release = () => {
        clearTimeout(timer);
        this.waiting.delete(release);
        resolve();
      };
      const timer = setTimeout(release, maxWaitMs);
      timer.unref();
      this.waiting.add(release);
    });
  }

  /** Connections waiting for the server (for status and tests). */
  get waitingCount(): number {
    return this.waiting.size;
  }
}
