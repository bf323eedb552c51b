import { setTimeout as sleep } from "node:timers/promises";
import type { ChatRef, NetworkClient, RemoteUser } from "../connector.js";
import { supportsMembers } from "../connector.js";
import type { Clients } from "../runtime/clients.js";
import type { Ghosts } from "../runtime/ghosts.js";
import type { NetworkSlot, Services } from "../runtime/services.js";
import type { RoomLink } from "../store/types.js";
import { isSurelyForeign } from "./double-bridge.js";

/**
 * The "100 users" rule. Bridging a big channel creates a ghost for every remote member at
 * once; above the limit of members *new to this bridge* (no ghost yet) a link waits for a
 * bridge admin. Approved links sync their members at a paced rate (or, in lazy mode, only
 * members who speak get a ghost). All state lives on the link, so it survives restarts.
 */

export type SyncMode = "full" | "lazy";

export interface Assessment {
  allowed: boolean;
  exempt: boolean;
  members: number;
  newMembers: number;
  limit: number;
}

interface SyncState {
  done: number;
  total: number;
}

/** A token bucket shared by every membership sync, so the homeserver sees one steady rate. */
class Pacer {
  private next = 0;
  /** Read at each step, so a reloaded guards.ghost_rate_per_second applies to syncs under way. */
  constructor(private readonly perSecond: () => number) {}
  async wait(): Promise<void> {
    const now = Date.now();
    const at = Math.max(now, this.next);
    this.next = at + 1000 / this.perSecond();
    if (at > now) await sleep(at - now);
  }
}

export class ActivationGuard {
  private readonly pacer: Pacer;
  private readonly syncing = new Set<string>();
  private stopped = false;

  constructor(
    private readonly s: Services,
    private readonly ghosts: Ghosts,
    private readonly clients: Clients,
    private readonly notifyAdmins: (text: string) => Promise<void>,
  ) {
    this.pacer = new Pacer(() => s.config.guards.ghost_rate_per_second);
  }

  limitFor(slot: NetworkSlot): number {
    return slot.section.activation_limit ?? this.s.config.guards.activation_limit;
  }

  /** Counts the chat's members that have no ghost yet and compares with the limit. */
  async assess(slot: NetworkSlot, chat: ChatRef): Promise<Assessment> {
    const limit = this.limitFor(slot);
    const exempt = (slot.section.activation_exempt ?? []).includes(chat.channelId);
    const client = await this.lister(slot, chat);
    if (exempt || !client) {
      return { allowed: true, exempt, members: 0, newMembers: 0, limit };
    }
    const members = await client.getMembers(chat);
    let newMembers = 0;
    for (const m of members) if (!(await this.s.store.ghostByRemote(slot.connector.id, m.id))) newMembers++;
    return { allowed: newMembers <= limit, exempt, members: members.length, newMembers, limit };
  }

  /** A client that can list the chat's members, if any can. */
  private async lister(
    slot: NetworkSlot,
    chat: ChatRef,
  ): Promise<(NetworkClient & { getMembers(chat: ChatRef): Promise<RemoteUser[]> }) | null> {
    const client = await this.clients.forLookup(slot, chat);
    return client && supportsMembers(client) ? client : null;
  }

  /** Words for the requester and the admins about a link held for approval. */
  explain(link: RoomLink, a: Assessment, chatName: string): string {
    return (
      `${chatName} has ${a.members} members, ${a.newMembers} of them new to this bridge — more than the limit of ${a.limit}. ` +
      `Bridging it would create ${a.newMembers} Matrix users at once, so it waits for a bridge admin. ` +
      `Nothing is bridged until then. Admins: \`approve ${link.roomId}\` (all members), ` +
      `\`approve ${link.roomId} lazy\` (only members who speak) or \`deny ${link.roomId}\`.`
    );
  }

  async holdForApproval(link: RoomLink, a: Assessment, chatName: string): Promise<void> {
    const text = this.explain(link, a, chatName);
    // What an admin deciding from the console or the provisioning API needs to see.
    link.meta = { ...link.meta, members: a.members, newMembers: a.newMembers, chatName };
    await this.s.saveLink(link);
    await this.s.bot
      .sendEvent(link.roomId, "m.room.message", { msgtype: "m.notice", body: text })
      .catch((err: unknown) => this.s.log.warn({ err: String(err) }, "could not post the approval notice"));
    await this.notifyAdmins(`Pending approval: ${link.network} ${link.channelId} in ${link.roomId}. ${text}`);
  }

  async approve(link: RoomLink, mode: SyncMode, by: string): Promise<string> {
    if (link.state === "active") return "That link is already active.";
    link.state = "active";
    link.meta = { ...link.meta, mode, approvedBy: by, approvedAt: Date.now() };
    await this.s.saveLink(link);
    await this.s.bot
      .sendEvent(link.roomId, "m.room.message", {
        msgtype: "m.notice",
        body:
          mode === "lazy"
            ? "A bridge admin approved this room in lazy mode: messages now cross, and remote members appear when they speak."
            : "A bridge admin approved this room: messages now cross, and remote members are added gradually.",
      })
      .catch(() => undefined);
    if (mode === "full") this.startSync(link);
    return `Approved ${link.roomId} (${mode}).`;
  }

  async deny(link: RoomLink, by: string): Promise<string> {
    link.state = "denied";
    link.meta = { ...link.meta, deniedBy: by, deniedAt: Date.now() };
    await this.s.saveLink(link);
    await this.s.bot
      .sendEvent(link.roomId, "m.room.message", {
        msgtype: "m.notice",
        body: "A bridge admin declined to bridge this room. Nothing will be bridged.",
      })
      .catch(() => undefined);
    return `Denied ${link.roomId}.`;
  }

  /** Adds every remote member to the room at the paced rate; progress is kept on the link. */
  startSync(link: RoomLink): void {
    if (this.syncing.has(link.roomId)) return;
    const slot = this.s.networks.get(link.network);
    if (!slot) return;
    this.syncing.add(link.roomId);
    void this.sync(slot, link)
      .catch((err: unknown) =>
        this.s.log.warn({ err: String(err), roomId: link.roomId }, "membership sync stopped"),
      )
      .finally(() => this.syncing.delete(link.roomId));
  }

  /** Picks up syncs a restart interrupted. */
  async resume(): Promise<void> {
    for (const link of await this.s.store.linkList({ state: "active" })) {
      const sync = link.meta.sync as SyncState | undefined;
      if (sync && sync.done < sync.total) this.startSync(link);
    }
  }

  stop(): void {
    this.stopped = true;
  }

  private async sync(slot: NetworkSlot, link: RoomLink): Promise<void> {
    const chat: ChatRef = link.receiver
      ? { channelId: link.channelId, receiver: link.receiver }
      : { channelId: link.channelId };
    const client = await this.lister(slot, chat);
    if (!client) return;
    const members: RemoteUser[] = await client.getMembers(chat);
    const state: SyncState = { done: 0, total: members.length };
    link.meta = { ...link.meta, sync: state };
    await this.s.saveLink(link);
    const levels: Record<string, number> = {};
    for (const member of members) {
      if (this.stopped) return;
      const current = await this.s.link(link.roomId);
      if (!current || current.state !== "active") return;
      state.done++;
      // Another bridge's puppet of a Matrix user gets no ghost (double-bridge.ts).
      if (!isSurelyForeign(this.s, slot, { userId: member.id, ...member })) {
        await this.pacer.wait();
        const intent = await this.ghosts.ensure(slot.connector.id, member);
        await intent.ensureJoined(link.roomId);
        if (member.level) levels[intent.userId] = member.level;
      }
      if (state.done % 25 === 0 || state.done === state.total) {
        current.meta = { ...current.meta, sync: { ...state } };
        await this.s.saveLink(current);
      }
    }
    await this.applyLevels(link.roomId, levels);
  }

  /** The members' remote standing (IRC operators) as power levels: one state event for all. */
  private async applyLevels(roomId: string, levels: Record<string, number>): Promise<void> {
    if (Object.keys(levels).length === 0) return;
    await this.s.bot
      .updatePowerLevels(roomId, (users) => {
        // A level the room already gives someone is the room's decision: only new ones are added.
        let changed = false;
        for (const [userId, level] of Object.entries(levels)) {
          if (users[userId] !== undefined) continue;
          users[userId] = level;
          changed = true;
        }
        return changed;
      })
      .catch((err: unknown) => {
        this.s.log.warn({ err: String(err), roomId }, "could not mirror remote roles into power levels");
      });
  }

  /** "synced 40/120 members" for `status`, or null when there is nothing in progress. */
  progress(link: RoomLink): string | null {
    const sync = link.meta.sync as SyncState | undefined;
    if (!sync) return null;
    return sync.done < sync.total
      ? `adding members ${sync.done}/${sync.total}`
      : `all ${sync.total} members added`;
  }
}
