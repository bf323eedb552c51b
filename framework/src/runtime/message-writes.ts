import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import { backoffMs } from "../errors.js";
import type { KeyedQueue } from "../queue.js";
import type { MessageMapping, Store } from "../store/types.js";

/** Longest wait between two tries of a mapping write the store refused. */
const MAX_RETRY_DELAY_MS = 30_000;

/**
 * From this many busy queues on, a queue waits for its write after all. Writing behind pays when
 * a room's next event would otherwise wait idle for the store; with many rooms busy, their work
 * fills that wait, and letting every queue run ahead only puts more work in flight. Measured with
 * `npm run bench -- --only=throughput`: written behind, one busy room bridged 1.3–1.5× the events
 * per second and a hundred busy rooms 5–10% fewer; with this rule, a hundred rooms are within 5%
 * of awaiting every write.
 */
const BUSY_QUEUES = 8;

/** Same remote message (any part) as `m`. */
const sameMessage = (m: MessageMapping, network: string, channelId: string, receiver: string): boolean =>
  m.network === network && m.channelId === channelId && m.receiver === receiver;

/**
 * Message mappings written behind the room queues, read through at once.
 *
 * A mapping is written after the other side took the message. Awaiting that write inside the
 * room's queue made the next message of a busy room wait for a store round trip (a LevelDB
 * thread hop, a PostgreSQL query) on top of its own send: one room bridged at the speed of two
 * round trips per message. Here the write starts, the queue goes on, and the mapping is visible
 * to every lookup made through this class from that moment, so an edit, reply, reaction or
 * redaction of the message right behind it still finds it.
 *
 * Durability is unchanged: what finishes a journal entry waits for `whenDurable` (or `settled`),
 * so an entry is only done once its mapping is stored. If the bridge dies in between, the entry
 * is replayed at the next start and the send is deduplicated by its transaction id.
 *
 * Every bridged event passes through here, so the bookkeeping is kept to a few map operations
 * and no extra promise per event beyond the write itself.
 */
export class MessageWrites {
  private readonly byEvent = new Map<string, MessageMapping>();
  /** Pending mappings by remote id (the chat is checked on read: no key string built per event). */
  private readonly byRemote = new Map<string, MessageMapping[]>();
  /**
   * Writes in flight by sequence number; each resolves true once stored, false if given up at
   * stop. A Map keeps insertion order, so its first key is the oldest write still open.
   */
  private readonly writes = new Map<number, Promise<boolean>>();
  private lastSeq = 0;
  /**
   * What waits for the writes started before it, in order. Under load every event waits here,
   * so this is a queue woken from its head, not a Promise.all over every open write (hundreds
   * with a hundred busy rooms).
   */
  private readonly waiters: Array<{ upTo: number; wake: (stored: boolean) => void }> = [];
  private waitersHead = 0;
  /** Set when a write was given up at stop: nothing after it counts as stored. */
  private givenUp = false;
  /** Work that waited for writes (journal entries marked done), so a stop can wait for it too. */
  private readonly followUps = new Set<Promise<void>>();

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
    private readonly stopping: AbortSignal,
    /** The room queues the writes are made from (how busy the bridge is). */
    private readonly queues?: KeyedQueue,
  ) {}

  /**
   * `put` from inside a room queue: resolves when the queue may go on. That is at once while
   * few queues are busy, and once the store took the mapping when many are (see BUSY_QUEUES).
   */
  putFromQueue(mapping: MessageMapping): Promise<boolean> | undefined {
    // Waited for in its queue, the mapping is stored before anything behind it looks it up, so
    // the write needs no pending bookkeeping and lookups find it in the store.
    if ((this.queues?.depth ?? 0) >= BUSY_QUEUES) return this.writeUntilStored(mapping);
    void this.put(mapping);
    return undefined;
  }

  /** Starts storing `mapping`; lookups through this class see it from now on. */
  put(mapping: MessageMapping): Promise<boolean> {
    this.byEvent.set(mapping.eventId, mapping);
    const pending = this.byRemote.get(mapping.remoteId);
    if (!pending) this.byRemote.set(mapping.remoteId, [mapping]);
    else
      this.byRemote.set(mapping.remoteId, [
        ...pending.filter(
          (p) =>
            p.part !== mapping.part || !sameMessage(p, mapping.network, mapping.channelId, mapping.receiver),
        ),
        mapping,
      ]);
    const seq = ++this.lastSeq;
    const write = this.writeUntilStored(mapping, seq);
    this.writes.set(seq, write);
    return write;
  }

  /** After a write ends: wakes who waited for it and drops it from the pending lookups. */
  private forget(mapping: MessageMapping, seq: number): void {
    this.writes.delete(seq);
    this.wakeWaiters();
    // A later put of the same event or part replaced this one and forgets itself when stored.
    if (this.byEvent.get(mapping.eventId) === mapping) this.byEvent.delete(mapping.eventId);
    const parts = this.byRemote.get(mapping.remoteId);
    if (parts?.length === 1 && parts[0] === mapping) this.byRemote.delete(mapping.remoteId);
    else if (parts?.includes(mapping))
      this.byRemote.set(
        mapping.remoteId,
        parts.filter((p) => p !== mapping),
      );
  }

  // Not async: with nothing pending (most lookups) the store's own promise is handed back.
  byEventId(eventId: string): Promise<MessageMapping | null> {
    const pending = this.byEvent.get(eventId);
    return pending ? Promise.resolve(pending) : this.store.messageByEvent(eventId);
  }

  /** Parts in ascending order, as `Store.messageByRemote`. */
  byRemoteId(
    network: string,
    channelId: string,
    receiver: string,
    remoteId: string,
  ): Promise<MessageMapping[]> {
    const stored = this.store.messageByRemote(network, channelId, receiver, remoteId);
    const pending = this.byRemote.get(remoteId)?.filter((p) => sameMessage(p, network, channelId, receiver));
    return pending?.length ? this.merged(stored, pending) : stored;
  }

  private async merged(
    storedParts: Promise<MessageMapping[]>,
    pending: MessageMapping[],
  ): Promise<MessageMapping[]> {
    const stored = await storedParts;
    const parts = new Map(stored.map((p) => [p.part, p]));
    for (const p of pending) parts.set(p.part, p);
    return [...parts.values()].sort((a, b) => a.part - b.part);
  }

  /** True once every write started before this call is stored (false if one was given up). */
  settled(): Promise<boolean> {
    if (this.writes.size === 0) return Promise.resolve(!this.givenUp);
    return new Promise((wake) => this.waiters.push({ upTo: this.lastSeq, wake }));
  }

  private wakeWaiters(): void {
    const oldestOpen = this.writes.keys().next().value ?? Infinity;
    const waiters = this.waiters;
    while (this.waitersHead < waiters.length) {
      const waiter = waiters[this.waitersHead];
      if (!waiter || waiter.upTo >= oldestOpen) break;
      this.waitersHead++;
      waiter.wake(!this.givenUp);
    }
    if (this.waitersHead === waiters.length) {
      waiters.length = 0;
      this.waitersHead = 0;
    } else if (this.waitersHead > 1024) {
      waiters.splice(0, this.waitersHead);
      this.waitersHead = 0;
    }
  }

  /**
   * Runs `then` once the writes started so far are stored; skipped when one was given up at
   * stop (its journal entry stays pending and is redone at the next start). `then` handles its
   * own errors.
   */
  whenDurable(then: () => Promise<void>): void {
    const run = (stored: boolean): void => {
      if (!stored) return;
      const followUp = then();
      this.followUps.add(followUp);
      const done = (): void => void this.followUps.delete(followUp);
      followUp.then(done, (err: unknown) => {
        done();
        this.log.error({ err }, "work after a message mapping write failed");
      });
    };
    if (this.writes.size === 0) run(!this.givenUp);
    else this.waiters.push({ upTo: this.lastSeq, wake: run });
  }

  /** Writes and follow-ups in flight (for a stop, before the store closes). */
  get inFlight(): number {
    return this.writes.size + this.followUps.size;
  }

  /** Resolves when every write and follow-up so far has finished. */
  async drain(): Promise<void> {
    while (this.inFlight > 0) await Promise.all([...this.writes.values(), ...this.followUps]);
  }

  /**
   * The store is retried until it takes the write: a mapping lost would make a replay send the
   * message again. A stop ends the retries (the first try always runs, so a clean stop drains).
   */
  /** With `seq`, a pending write: forgotten (and its waiters woken) when it ends. */
  private async writeUntilStored(mapping: MessageMapping, seq?: number): Promise<boolean> {
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          await this.store.messagePut(mapping);
          return true;
        } catch (err) {
          const wait = backoffMs(attempt, 250, MAX_RETRY_DELAY_MS);
          if (!this.stopping.aborted && (attempt === 1 || attempt % 10 === 0))
            this.log.warn(
              { err, eventId: mapping.eventId, attempt, retryInMs: wait },
              "could not store a message mapping; retrying",
            );
          const slept =
            !this.stopping.aborted && (await sleep(wait, true, { signal: this.stopping }).catch(() => false));
          if (!slept) {
            this.log.error(
              { err, eventId: mapping.eventId },
              "a message mapping was not stored before the stop; its event is redone at the next start",
            );
            this.givenUp = true;
            return false;
          }
        }
      }
    } finally {
      if (seq !== undefined) this.forget(mapping, seq);
    }
  }
}
