/**
 * Recognises the Slack events the bridge's own sends cause, so they never come back into
 * Matrix. Slack may deliver the event for a message before `chat.postMessage` returns its
 * ts (the race behind matrix-appservice-slack's duplicate messages), so a message event in
 * a chat with a send in flight waits for that send to settle, then is compared with the
 * ts and file ids Slack returned. Edits, deletes and reactions are known before the call,
 * so they are registered up front and consumed by the first matching event.
 */

const REMEMBERED = 10_000;

/** Insertion-ordered set that forgets its oldest entries past a bound. */
class BoundedSet {
  private readonly items = new Set<string>();
  constructor(private readonly limit: number) {}
  add(key: string): void {
    this.items.delete(key);
    this.items.add(key);
    if (this.items.size > this.limit) {
      const oldest = this.items.values().next().value;
      if (oldest !== undefined) this.items.delete(oldest);
    }
  }
  take(key: string): boolean {
    return this.items.delete(key);
  }
  has(key: string): boolean {
    return this.items.has(key);
  }
}

export interface SentIds {
  ts?: string;
  fileIds?: string[];
}

export class EchoTable {
  private readonly inFlight = new Map<string, Set<Promise<unknown>>>();
  private readonly sent = new BoundedSet(REMEMBERED);
  private readonly expected = new BoundedSet(REMEMBERED);

  /** Runs a send in `chat`, remembering what Slack says it created. */
  async track<T>(chat: string, send: () => Promise<T>, idsOf: (result: T) => SentIds): Promise<T> {
    const running = send();
    let pending = this.inFlight.get(chat);
    if (!pending) this.inFlight.set(chat, (pending = new Set()));
    pending.add(running);
    try {
      const result = await running;
      const ids = idsOf(result);
      if (ids.ts) this.sent.add(`${chat} ${ids.ts}`);
      for (const id of ids.fileIds ?? []) this.sent.add(`${chat} file:${id}`);
      return result;
    } finally {
      pending.delete(running);
      if (pending.size === 0) this.inFlight.delete(chat);
    }
  }

  /** Whether a message event is the echo of one of our sends (waits for sends in flight in `chat`). */
  async isOwnMessage(chat: string, ts: string, fileIds: string[] = []): Promise<boolean> {
    const pending = this.inFlight.get(chat);
    if (pending) await Promise.allSettled([...pending]);
    if (this.sent.has(`${chat} ${ts}`)) return true;
    return fileIds.length > 0 && fileIds.every((id) => this.sent.has(`${chat} file:${id}`));
  }

  /** Registers an edit, delete or reaction the bridge is about to make. */
  expect(key: string): void {
    this.expected.add(key);
  }

  /** True once for an event the bridge caused itself. */
  consume(key: string): boolean {
    return this.expected.take(key);
  }
}
