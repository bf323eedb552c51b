import { setTimeout as sleep } from "node:timers/promises";
import type { ChatRef, HistoryMessage, NetworkClient, ReadsHistory, RemoteEvent } from "../connector.js";
import { supportsHistory } from "../connector.js";
import { BridgeStoppingError, PermanentError, UnsupportedError, backoffMs } from "../errors.js";
import type { RoomLink } from "../store/types.js";
import { chatOf, type Clients } from "./clients.js";
import { chatKey } from "./portals.js";
import type { NetworkSlot, Services } from "./services.js";

/**
 * History import: a chat's past brought into its portal, oldest first, each message sent by its
 * sender's ghost with its original timestamp, through the same journal and room queue as live
 * events (so a message that also arrives live is bridged once, by its key and its mapping).
 *
 * Networks page history newest first, and Matrix shows events in the order they are sent. So an
 * import runs in two passes over the same pages: a scan walks back from the newest message,
 * keeping only each page's cursor, until it has the span asked for; then the pages are fetched
 * again from the oldest and imported. Memory stays one page plus a cursor per page, whatever the
 * size of the history. Its state (the cursors, the next page) is stored after every page, so a
 * restart goes on where it stopped; an imported page replayed after a crash is deduplicated.
 *
 * A new portal's import comes before its live messages: those are journaled as they arrive and
 * held until the import is done (RemoteIn's `holdFor`). `!backfill` in an existing portal imports
 * what is missing and holds nothing: what it finds goes after what the room already has.
 */

/** How much history: the newest N messages, those of the last N days, or all the network returns. */
export type HistorySpan = { messages: number } | { days: number } | "all";

/** The setting or the `!backfill` words: "1000 messages", "30 days", "all" ("off": null). */
export function parseSpan(text: string): HistorySpan | null | undefined {
  const t = text.trim().toLowerCase();
  if (t === "off") return null;
  if (t === "all") return "all";
  const m = /^([1-9][0-9]{0,8})\s*(messages?|days?)?$/.exec(t);
  if (!m) return undefined;
  const n = Number(m[1]);
  return m[2]?.startsWith("day") ? { days: n } : { messages: n };
}

export function describeSpan(span: HistorySpan): string {
  if (span === "all") return "all the history the network returns";
  if ("days" in span) return `the last ${span.days} day${span.days === 1 ? "" : "s"}`;
  return `the last ${span.messages} message${span.messages === 1 ? "" : "s"}`;
}

/** Stored per chat while its import runs (kv namespace `history-import`, key: the chat's key). */
export interface ImportState {
  network: string;
  chat: ChatRef;
  roomId: string;
  span: HistorySpan;
  /** A new portal's import: the chat's live events wait for it. */
  initial: boolean;
  /** Oldest time imported (days spans), ms. */
  since?: number;
  /** Cursors of the pages found by the scan, newest first (the first is null: from the newest). */
  pages?: Array<string | null>;
  /** Messages of the oldest page that are older than the span, skipped. */
  skipOldest?: number;
  /** The scan reached the start of what the network returns. */
  reachedStart?: boolean;
  /** Pages imported, counted from the oldest. */
  done: number;
  imported: number;
  oldest?: number;
  startedAt: number;
}

/** What the import needs from the remote → Matrix pipeline. */
export interface ImportPipeline {
  /** Journals an imported event and resolves once it is delivered (or was already). */
  emitImported(network: string, event: RemoteEvent, key: string): Promise<void>;
  /** Live events of this chat wait until `release`. */
  holdFor(queueKey: string): void;
  release(queueKey: string): void;
}

const NAMESPACE = "history-import";
/** Messages asked for per page: Slack's and Discord's history methods take 100 and more. */
export const PAGE_SIZE = 100;
/** Imports running at once; each holds one room's live events, and all share the rate limits. */
const CONCURRENT = 2;
/** A progress notice in the room every this many messages. */
const PROGRESS_EVERY = 1000;

export class HistoryImports {
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly active = new Set<string>();

  constructor(
    private readonly s: Services,
    private readonly clients: Clients,
    private readonly pipeline: ImportPipeline,
  ) {}

  /** The network's setting for new portals; null when off or when it cannot read history. */
  spanForNewPortal(slot: NetworkSlot): HistorySpan | null {
    const setting = slot.section.history_import;
    const span = parseSpan(typeof setting === "string" ? setting : "1000 messages");
    return span ?? null;
  }

  /** Whether an import of this chat is under way (stored and not finished). */
  isImporting(network: string, chat: ChatRef): boolean {
    return this.active.has(chatKey(network, chat));
  }

  /**
   * Starts importing a chat's history into its portal. With `initial`, the chat's live events
   * wait until it is done. Returns false (nothing started) when the network cannot read history
   * or an import of the chat is already running.
   */
  async begin(slot: NetworkSlot, link: RoomLink, span: HistorySpan, initial: boolean): Promise<boolean> {
    const chat = chatOf(link);
    const key = chatKey(slot.connector.id, chat);
    if (this.active.has(key)) return false;
    const client = await this.clients.forLookup(slot, chat);
    if (!client || !supportsHistory(client)) return false;
    const state: ImportState = {
      network: slot.connector.id,
      chat,
      roomId: link.roomId,
      span,
      initial,
      ...(typeof span === "object" && "days" in span ? { since: Date.now() - span.days * 86_400_000 } : {}),
      done: 0,
      imported: 0,
      startedAt: Date.now(),
    };
    await this.s.store.kvSet(NAMESPACE, key, state);
    this.start(key, state);
    return true;
  }

  /**
   * At start, before the journal's replay: the imports a stop or a crash interrupted hold their
   * chats' live events again. They go on with `go`, after the replay has queued what the journal
   * holds (their own pending events first).
   */
  async resume(): Promise<{ count: number; go: () => void }> {
    const stored = (await this.s.store.kvList<ImportState>(NAMESPACE, "")).filter((e) =>
      this.s.networks.has(e.value.network),
    );
    for (const { key, value } of stored) this.hold(key, value);
    return { count: stored.length, go: () => stored.forEach(({ key, value }) => void this.run(key, value)) };
  }

  private start(key: string, state: ImportState): void {
    this.hold(key, state);
    void this.run(key, state);
  }

  private hold(key: string, state: ImportState): void {
    this.active.add(key);
    if (state.initial) this.pipeline.holdFor(key);
  }

  private async run(key: string, state: ImportState): Promise<void> {
    await this.slot();
    let finished: boolean;
    try {
      finished = await this.importAll(key, state);
    } catch (err) {
      if (err instanceof BridgeStoppingError || this.s.stopping.aborted) return this.freeSlot();
      // Refused for good (the chat is gone, the network says no): told, and not retried.
      finished = true;
      this.s.log.warn({ err: String(err), chat: key }, "history import stopped");
      await this.notice(state, `Could not import this chat's history: ${(err as Error).message}`);
    }
    this.freeSlot();
    // A stop leaves the state for the next start, and the live events journaled behind it.
    if (!finished) return;
    await this.s.store.kvDelete(NAMESPACE, key).catch((err: unknown) => {
      this.s.log.warn({ err: String(err), chat: key }, "could not clear a finished history import");
    });
    this.active.delete(key);
    if (state.initial) this.pipeline.release(key);
  }

  private freeSlot(): void {
    this.running--;
    this.waiting.shift()?.();
  }

  private async slot(): Promise<void> {
    if (this.running >= CONCURRENT) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running++;
  }

  /** Returns false when the bridge began stopping first. */
  private async importAll(key: string, state: ImportState): Promise<boolean> {
    const slot = this.s.networks.get(state.network);
    if (!slot) return true;
    if (!state.pages) {
      const scanned = await this.scan(slot, state);
      if (!scanned) return false;
      Object.assign(state, scanned);
      await this.s.store.kvSet(NAMESPACE, key, state);
    }
    const pages = state.pages ?? [];
    let lastNotice = Math.floor(state.imported / PROGRESS_EVERY);
    while (state.done < pages.length) {
      const index = pages.length - 1 - state.done;
      const page = await this.page(slot, state, pages[index] ?? null);
      if (!page) return false;
      let messages = page.messages;
      if (index === pages.length - 1 && state.skipOldest) messages = messages.slice(state.skipOldest);
      if (state.since !== undefined) messages = messages.filter((m) => m.timestamp >= state.since!);
      await this.importPage(state.network, messages);
      state.done++;
      state.imported += messages.length;
      if (messages[0] && (state.oldest === undefined || messages[0].timestamp < state.oldest))
        state.oldest = messages[0].timestamp;
      await this.s.store.kvSet(NAMESPACE, key, state);
      if (this.s.stopping.aborted) return false;
      if (Math.floor(state.imported / PROGRESS_EVERY) > lastNotice && state.done < pages.length) {
        lastNotice = Math.floor(state.imported / PROGRESS_EVERY);
        await this.notice(
          state,
          `Importing history: ${state.imported.toLocaleString("en")} messages so far.`,
        );
      }
    }
    await this.notice(state, this.summary(state));
    this.s.log.info(
      { chat: key, imported: state.imported, ms: Date.now() - state.startedAt },
      "history import done",
    );
    return true;
  }

  /** One page's events, in order; resolves once every one of them is in Matrix (or was). */
  private async importPage(network: string, messages: HistoryMessage[]): Promise<void> {
    const delivered: Array<Promise<void>> = [];
    for (const message of messages)
      for (const { event, key } of message.events)
        delivered.push(this.pipeline.emitImported(network, event, key));
    await Promise.all(delivered);
  }

  /** The cursors of the pages holding the span, newest first; null when stopped first. */
  private async scan(
    slot: NetworkSlot,
    state: ImportState,
  ): Promise<Pick<ImportState, "pages" | "skipOldest" | "reachedStart"> | null> {
    const pages: Array<string | null> = [];
    let cursor: string | null = null;
    let count = 0;
    for (;;) {
      const page = await this.page(slot, state, cursor);
      if (!page) return null;
      // The newest page pinned where the scan saw it: what is said from now on arrives live.
      pages.push(cursor ?? page.again ?? null);
      count += page.messages.length;
      const span = state.span;
      if (typeof span === "object" && "messages" in span && count >= span.messages)
        return { pages, skipOldest: count - span.messages, reachedStart: false };
      const oldest = page.messages[0]?.timestamp;
      if (state.since !== undefined && oldest !== undefined && oldest < state.since)
        return { pages, reachedStart: false };
      if (page.older === null || page.messages.length === 0) return { pages, reachedStart: true };
      cursor = page.older;
    }
  }

  /** A page, retried with backoff while the network fails for a while; null when stopping. */
  private async page(slot: NetworkSlot, state: ImportState, cursor: string | null) {
    for (let attempt = 1; ; attempt++) {
      if (this.s.stopping.aborted) return null;
      const client: (NetworkClient & ReadsHistory) | null = await this.historyClient(slot, state.chat);
      try {
        if (!client)
          throw new UnsupportedError("the network has no client that can read this chat's history");
        return await client.historyPage(state.chat, cursor, PAGE_SIZE);
      } catch (err) {
        if (err instanceof PermanentError || err instanceof UnsupportedError) throw err;
        const wait = backoffMs(attempt, 1000, 60_000);
        if (attempt === 1 || attempt % 10 === 0)
          this.s.log.warn(
            { err: String(err), network: state.network, attempt, retryInMs: wait },
            "could not read a page of a chat's history yet; retrying",
          );
        const slept = await sleep(wait, true, { signal: this.s.stopping }).catch(() => false);
        if (!slept) return null;
      }
    }
  }

  private async historyClient(
    slot: NetworkSlot,
    chat: ChatRef,
  ): Promise<(NetworkClient & ReadsHistory) | null> {
    const client = await this.clients.forLookup(slot, chat);
    return client && supportsHistory(client) ? client : null;
  }

  private summary(state: ImportState): string {
    const n = state.imported.toLocaleString("en");
    const back = state.oldest !== undefined ? `, back to ${day(state.oldest)}` : "";
    const head = `History imported: ${n} message${state.imported === 1 ? "" : "s"}${back}.`;
    // The network stopped returning older messages before the span was reached.
    const short =
      state.reachedStart && state.span !== "all"
        ? " The network returns nothing older, so that is as far back as this chat's history goes here."
        : "";
    return head + short;
  }

  private async notice(state: ImportState, text: string): Promise<void> {
    await this.s.bot
      .sendEvent(state.roomId, "m.room.message", { msgtype: "m.notice", body: text })
      .catch((err: unknown) =>
        this.s.log.warn({ err: String(err) }, "could not post a history import notice"),
      );
  }

  /** For `status`: the imports under way. */
  async list(): Promise<ImportState[]> {
    return (await this.s.store.kvList<ImportState>(NAMESPACE, "")).map((e) => e.value);
  }
}

function day(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
