/**
 * Errors that carry a decision. A connector throws these from its Matrix → remote handlers
 * (and `fetchMedia`) to say *why* something failed, and the framework acts on it:
 *
 * - `UnsupportedError`: the network cannot do this at all. The room is told once; no retry.
 * - `PermanentError`: this event will never succeed (the channel is gone, the message is too
 *   long, the bridge lacks a permission). The room is told; no retry.
 * - `RateLimitedError`: the network asked us to wait. Retried after exactly that long, holding
 *   only that room's queue.
 * - Anything else is transient: retried with backoff, then the room is told and the event stays
 *   pending, retried later and at the next start.
 */

/** The network cannot carry this (a reaction on IRC, an edit where edits do not exist). */
export class UnsupportedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UnsupportedError";
  }
}

/** This event will never succeed; the message says why in words a room member understands. */
export class PermanentError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "PermanentError";
  }
}

/** The network said "slow down": retry after `retryAfterMs`. */
export class RateLimitedError extends Error {
  constructor(
    readonly retryAfterMs: number,
    message = `rate limited; retry in ${retryAfterMs} ms`,
  ) {
    super(message);
    this.name = "RateLimitedError";
  }
}

/** Thrown to connectors that emit while the bridge shuts down: do not acknowledge the event. */
export class BridgeStoppingError extends Error {
  constructor() {
    super("the bridge is stopping; the event was not accepted");
    this.name = "BridgeStoppingError";
  }
}

/**
 * Capped exponential backoff with jitter: attempt 1 waits about `firstMs`, each next one twice
 * as long, never more than `maxMs`. Jitter keeps a thousand queues that failed together from
 * retrying in the same millisecond.
 */
export function backoffMs(attempt: number, firstMs: number, maxMs: number): number {
  const base = Math.min(maxMs, firstMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(base / 2 + Math.random() * (base / 2));
}
