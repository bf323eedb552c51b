/**
 * IRC → Matrix flood limits. Libera's 2021 spam waves were bridged into Matrix rooms faster
 * than moderators could clean up, so each channel has token buckets: one per IRC user in it
 * and one for the whole channel. A line that finds its bucket empty is dropped; the first drop
 * of a flood is reported so the room is told once, not once per line. Pure logic: the clock
 * is passed in.
 */

export interface FloodLimits {
  user_lines_per_second: number;
  user_burst: number;
  channel_lines_per_second: number;
  channel_burst: number;
}

/** "tell-…": dropped, and the first drop of this flood (say so in the room). */
export type FloodVerdict = "pass" | "drop" | "tell-user" | "tell-channel";

interface Bucket {
  tokens: number;
  at: number;
  /** Dropping since this flood began (reset once the bucket has refilled). */
  flooding: boolean;
}

/** Buckets idle this long are full again anyway, so they are forgotten. */
const IDLE_MS = 10 * 60_000;
const SWEEP_EVERY = 1000;

export class FloodGate {
  private readonly users = new Map<string, Bucket>();
  private readonly channels = new Map<string, Bucket>();
  private checks = 0;

  constructor(private readonly limits: FloodLimits) {}

  /** One line from `nick` (lowercased) in `channel` (lowercased) at `now` (ms). */
  check(channel: string, nick: string, now: number): FloodVerdict {
    if (++this.checks % SWEEP_EVERY === 0) this.sweep(now);
    const { limits } = this;
    const user = take(this.users, `${channel} ${nick}`, limits.user_burst, limits.user_lines_per_second, now);
    if (user !== "pass") return user === "first-drop" ? "tell-user" : "drop";
    // A flooder's dropped lines do not use up the channel's allowance; everyone's passing lines do.
    const chan = take(this.channels, channel, limits.channel_burst, limits.channel_lines_per_second, now);
    if (chan !== "pass") return chan === "first-drop" ? "tell-channel" : "drop";
    return "pass";
  }

  private sweep(now: number): void {
    for (const map of [this.users, this.channels])
      for (const [k, b] of map) if (now - b.at > IDLE_MS) map.delete(k);
  }
}

function take(
  map: Map<string, Bucket>,
  key: string,
  burst: number,
  perSecond: number,
  now: number,
): "pass" | "drop" | "first-drop" {
  const b = map.get(key) ?? { tokens: burst, at: now, flooding: false };
  b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * perSecond);
  b.at = now;
  map.set(key, b);
  // Refilled to the brim: whatever comes next is a new flood, worth a new notice.
  if (b.tokens >= burst) b.flooding = false;
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return "pass";
  }
  if (b.flooding) return "drop";
  b.flooding = true;
  return "first-drop";
}
