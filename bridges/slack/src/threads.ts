/**
 * Which thread a Slack message belongs to. A Matrix reply to a message inside a thread
 * must be posted with the thread's root ts (Slack threads are one level deep), and the
 * Matrix side only knows the message replied to.
 */
export class ThreadIndex {
  private readonly rootOf = new Map<string, string>();

  constructor(private readonly limit = 50_000) {}

  remember(chat: string, ts: string, root: string): void {
    const key = `${chat} ${ts}`;
    this.rootOf.delete(key);
    this.rootOf.set(key, root);
    if (this.rootOf.size > this.limit) {
      const oldest = this.rootOf.keys().next().value;
      if (oldest !== undefined) this.rootOf.delete(oldest);
    }
  }

  /** The root to post under when answering `ts`: its thread's root, or itself. */
  rootFor(chat: string, ts: string): string {
    return this.rootOf.get(`${chat} ${ts}`) ?? ts;
  }
}
