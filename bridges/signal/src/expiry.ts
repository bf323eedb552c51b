import type { ChatRef, LoginState } from "@switchboard/framework";

/**
 * Disappearing messages: a bridged copy of a message sent with a timer is redacted in Matrix
 * when the timer runs out (counted from the message's sent time; Signal's phones count an
 * incoming message from when it is read, so the Matrix copy goes no later than the phone's).
 * Pending expiries live in the login's state, keyed by time, so a restart keeps them.
 */

export interface Expiring {
  chat: ChatRef;
  id: string;
}

const pad = (ms: number): string => String(ms).padStart(15, "0");

export class Expiries {
  private timer: NodeJS.Timeout | null = null;
  private nextAt = Infinity;
  private stopped = false;

  constructor(
    private readonly state: LoginState,
    private readonly expire: (item: Expiring) => Promise<void>,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** The chat's current timer in seconds (0: off), as last seen on Signal. */
  async timerOf(channelId: string): Promise<number> {
    return Number((await this.state.get(`timer:${channelId}`)) ?? 0);
  }

  async setTimer(channelId: string, seconds: number): Promise<void> {
    if ((await this.timerOf(channelId)) === seconds) return;
    await this.state.set(`timer:${channelId}`, String(seconds));
  }

  async schedule(at: number, item: Expiring): Promise<void> {
    await this.state.set(`expire:${pad(at)}:${item.id}`, JSON.stringify(item));
    this.arm(at);
  }

  /** Runs what is due now and arms the timer for the next (call at start). */
  async run(): Promise<void> {
    if (this.stopped) return;
    this.nextAt = Infinity;
    const now = Date.now();
    for (const { key, value } of await this.state.list("expire:")) {
      const at = Number(key.slice("expire:".length, "expire:".length + 15));
      if (at > now) {
        this.arm(at);
        break;
      }
      try {
        await this.expire(JSON.parse(value) as Expiring);
        await this.state.delete(key);
      } catch (err) {
        this.onError(err);
        this.arm(now + 60_000);
        break;
      }
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private arm(at: number): void {
    if (this.stopped || at >= this.nextAt) return;
    this.nextAt = at;
    if (this.timer) clearTimeout(this.timer);
    // setTimeout holds at most ~24.8 days; a later expiry is re-armed when that one fires.
    const delay = Math.min(Math.max(0, at - Date.now()), 2 ** 31 - 1);
    this.timer = setTimeout(() => void this.run(), delay);
    this.timer.unref();
  }
}
