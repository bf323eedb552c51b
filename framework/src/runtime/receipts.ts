import type { ChatRef } from "../connector.js";
import { supportsMarkRead, supportsTyping } from "../connector.js";
import type { EphemeralEvent } from "../matrix/appservice.js";
import type { MessageMapping, RoomLink } from "../store/types.js";
import type { Logins } from "./logins.js";
import type { Services } from "./services.js";

/**
 * Read receipts and typing, Matrix → remote. A receipt of a logged-in user marks the
 * remote chat read up to the newest bridged message at or before it. Receipts are
 * coalesced per user and room (the latest wins), debounced, and never move backwards.
 * Connectors without the capability make this a no-op, not an error.
 */

interface Pending {
  mapping: MessageMapping;
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
    private readonly logins: Logins,
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
    if (!slot || !supportsMarkRead(slot.connector) || !slot.connector.capabilities.readReceipts.toRemote)
      return;
    for (const [eventId, byType] of Object.entries(content)) {
      if (typeof byType !== "object" || byType === null) continue;
      for (const type of ["m.read", "m.read.private"]) {
        const readers = (byType as Record<string, unknown>)[type];
        if (typeof readers !== "object" || readers === null) continue;
        for (const [userId, info] of Object.entries(readers as Record<string, { ts?: number }>)) {
          if (this.s.isOurs(userId) || !this.logins.activeFor(userId, link.network)) continue;
          const mapping =
            (await this.s.store.messageByEvent(eventId)) ??
            (await this.s.store.messageLatestBefore(
              roomId,
              typeof info?.ts === "number" ? info.ts : Date.now(),
            ));
          if (mapping && mapping.roomId === roomId) this.queue(userId, link, mapping);
        }
      }
    }
  }

  /** A logged-in user's own message also marks the chat read where they sent it. */
  afterSend(userId: string, link: RoomLink, mapping: MessageMapping): void {
    const slot = this.s.networks.get(link.network);
    if (!slot || !supportsMarkRead(slot.connector) || !this.logins.activeFor(userId, link.network)) return;
    this.queue(userId, link, mapping);
  }

  private queue(userId: string, link: RoomLink, mapping: MessageMapping): void {
    const key = `${userId} ${link.roomId}`;
    const newest = Math.max(
      this.marked.get(key) ?? -Infinity,
      this.pending.get(key)?.mapping.timestamp ?? -Infinity,
    );
    if (mapping.timestamp <= newest) return;
    const previous = this.pending.get(key);
    if (previous) clearTimeout(previous.timer);
    const timer = setTimeout(
      () => void this.flush(key, userId, link),
      this.s.config.guards.receipt_debounce_ms,
    );
    timer.unref();
    this.pending.set(key, { mapping, timer });
  }

  private async flush(key: string, userId: string, link: RoomLink): Promise<void> {
    const pending = this.pending.get(key);
    this.pending.delete(key);
    if (!pending) return;
    const slot = this.s.networks.get(link.network);
    const login = this.logins.activeFor(userId, link.network);
    if (!slot || !login || !supportsMarkRead(slot.connector)) return;
    this.marked.set(key, pending.mapping.timestamp);
    const chat: ChatRef = link.receiver
      ? { channelId: link.channelId, receiver: link.receiver }
      : { channelId: link.channelId };
    try {
      await slot.connector.markRead(chat, login, pending.mapping.remoteId);
    } catch (err) {
      this.s.log.warn(
        { err: String(err), userId, roomId: link.roomId },
        "could not mark the chat read on the remote side",
      );
    }
  }

  private async onTyping(roomId: string, content: Record<string, unknown>): Promise<void> {
    const link = await this.activeLink(roomId);
    if (!link) return;
    const slot = this.s.networks.get(link.network);
    if (!slot || !supportsTyping(slot.connector) || !slot.connector.capabilities.typing) return;
    const now = new Set(
      (Array.isArray(content.user_ids) ? (content.user_ids as unknown[]) : []).filter(
        (u): u is string => typeof u === "string" && !this.s.isOurs(u),
      ),
    );
    const before = this.typing.get(roomId) ?? new Set<string>();
    const chat: ChatRef = link.receiver
      ? { channelId: link.channelId, receiver: link.receiver }
      : { channelId: link.channelId };
    const changes: Array<[string, boolean]> = [
      ...[...now].filter((u) => !before.has(u)).map((u): [string, boolean] => [u, true]),
      ...[...before].filter((u) => !now.has(u)).map((u): [string, boolean] => [u, false]),
    ];
    if (now.size > 0) this.typing.set(roomId, now);
    else this.typing.delete(roomId);
    for (const [userId, typing] of changes) {
      const login = this.logins.activeFor(userId, link.network);
      if (!login) continue;
      await slot.connector.setTyping(chat, login, typing).catch((err: unknown) => {
        this.s.log.debug({ err: String(err) }, "typing notification failed");
      });
    }
  }

  stop(): void {
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending.clear();
  }
}
