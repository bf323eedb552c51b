import type { LoginClient, Meta } from "../connector.js";
import { supportsMarkRead, supportsTyping } from "../connector.js";
import type { EphemeralEvent } from "../matrix/appservice.js";
import type { MessageMapping, RoomLink } from "../store/types.js";
import { chatOf, type Clients } from "./clients.js";
import type { Services } from "./services.js";

/**
 * Read receipts and typing, Matrix → remote. A receipt of a logged-in user marks the
 * remote chat read, through their own login in the chat, up to the newest bridged message
 * at or before it. Receipts are
 * coalesced per user and room (the latest wins), debounced, and never move backwards.
 * Connectors without the capability make this a no-op, not an error.
 */

interface Pending {
  mapping: MessageMapping;
  login: LoginClient;
  timer: NodeJS.Timeout;
}

export class Receipts {
  /** Newest timestamp marked read per "user room": receipts never move backwards. */
  private readonly marked = new Map<string, number>();
  private readonly pending = new Map<string, Pending>();
  /** Who we last told the remote side is typing, per room. */
  private readonly typing = new Map<string, Set<string>>();

  constructor(
    private readonly s: Services,
    private readonly clients: Clients,
  ) {}

  async onEphemeral(event: EphemeralEvent): Promise<void> {
    if (event.type === "m.receipt" && event.room_id) await this.onReceipt(event.room_id, event.content);
    else if (event.type === "m.typing" && event.room_id) await this.onTyping(event.room_id, event.content);
  }

  private async activeLink(roomId: string): Promise<RoomLink | null> {
    const link = await this.s.link(roomId);
    return link && link.state === "active" ? link : null;
  }

  private async onReceipt(roomId: string, content: Record<string, unknown>): Promise<void> {
    const link = await this.activeLink(roomId);
    if (!link) return;
    const slot = this.s.networks.get(link.network);
    if (!slot) return;
    for (const [eventId, byType] of Object.entries(content)) {
      if (typeof byType !== "object" || byType === null) continue;
      for (const type of ["m.read", "m.read.private"]) {
        const readers = (byType as Record<string, unknown>)[type];
        if (typeof readers !== "object" || readers === null) continue;
        for (const [userId, info] of Object.entries(readers as Record<string, { ts?: number }>)) {
          if (this.s.isOurs(userId)) continue;
          const login = await this.clients.own(slot, chatOf(link), userId);
          if (!login || !supportsMarkRead(login) || !login.capabilities(chatOf(link)).readReceipts) continue;
          const mapping =
            (await this.s.mappings.byEventId(eventId)) ??
            (await this.s.store.messageLatestBefore(
              roomId,
              typeof info?.ts === "number" ? info.ts : Date.now(),
            ));
          if (mapping && mapping.roomId === roomId) this.queue(login, link, mapping);
        }
      }
    }
  }

  /** A logged-in user's own message also marks the chat read where they sent it. */
  afterSend(login: LoginClient, link: RoomLink, mapping: MessageMapping): void {
    if (!supportsMarkRead(login) || !login.capabilities(chatOf(link)).readReceipts) return;
    this.queue(login, link, mapping);
  }

  private queue(login: LoginClient, link: RoomLink, mapping: MessageMapping): void {
    const key = `${login.loginId} ${link.roomId}`;
    const newest = Math.max(
      this.marked.get(key) ?? -Infinity,
      this.pending.get(key)?.mapping.timestamp ?? -Infinity,
    );
    if (mapping.timestamp <= newest) return;
    const previous = this.pending.get(key);
    if (previous) clearTimeout(previous.timer);
    const timer = setTimeout(() => void this.flush(key, link), this.s.config.guards.receipt_debounce_ms);
    timer.unref();
    this.pending.set(key, { mapping, login, timer });
  }

  private async flush(key: string, link: RoomLink): Promise<void> {
    const pending = this.pending.get(key);
    this.pending.delete(key);
    if (!pending) return;
    const { login, mapping } = pending;
    if (!supportsMarkRead(login)) return;
    this.marked.set(key, mapping.timestamp);
    try {
      const target = mapping.meta
        ? { remoteId: mapping.remoteId, meta: mapping.meta as Meta }
        : { remoteId: mapping.remoteId };
      await login.markRead(chatOf(link), target);
    } catch (err) {
      this.s.log.warn(
        { err: String(err), loginId: login.loginId, roomId: link.roomId },
        "could not mark the chat read on the remote side",
      );
    }
  }

  private async onTyping(roomId: string, content: Record<string, unknown>): Promise<void> {
    const link = await this.activeLink(roomId);
    if (!link) return;
    const slot = this.s.networks.get(link.network);
    if (!slot) return;
    const now = new Set(
      (Array.isArray(content.user_ids) ? (content.user_ids as unknown[]) : []).filter(
        (u): u is string => typeof u === "string" && !this.s.isOurs(u),
      ),
    );
    const before = this.typing.get(roomId) ?? new Set<string>();
    const chat = chatOf(link);
    const changes: Array<[string, boolean]> = [
      ...[...now].filter((u) => !before.has(u)).map((u): [string, boolean] => [u, true]),
      ...[...before].filter((u) => !now.has(u)).map((u): [string, boolean] => [u, false]),
    ];
    if (now.size > 0) this.typing.set(roomId, now);
    else this.typing.delete(roomId);
    for (const [userId, typing] of changes) {
      const login = await this.clients.own(slot, chat, userId);
      if (!login || !supportsTyping(login) || !login.capabilities(chat).typing) continue;
      await login.setTyping(chat, typing).catch((err: unknown) => {
        this.s.log.debug({ err: String(err) }, "typing notification failed");
      });
    }
  }

  stop(): void {
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending.clear();
  }
}
