import { supportsForeignBridges, type RemoteSender } from "../connector.js";
import type { NetworkSlot, Services } from "../runtime/services.js";

/**
 * Double-bridge detection: a channel bridged twice makes ghosts of ghosts ("alice[m]") and
 * duplicates every message. Three checks: another bridge already in the Matrix room, remote
 * users who are another Matrix bridge's puppets, and an echo loop guard for what slips by.
 */

const BRIDGE_EVENTS = new Set(["m.bridge", "uk.half-shot.bridge"]);

/** Reasons the room already looks bridged to this network by someone else (empty: none). */
export async function otherBridgesIn(s: Services, roomId: string, slot: NetworkSlot): Promise<string[]> {
  const state = await s.bot.getAllState(roomId).catch(() => []);
  const reasons: string[] = [];
  for (const ev of state) {
    if (!BRIDGE_EVENTS.has(ev.type) || Object.keys(ev.content).length === 0) continue;
    const bot = typeof ev.content.bridgebot === "string" ? ev.content.bridgebot : ev.sender;
    if (bot === s.botUserId) continue;
    const protocol = (ev.content.protocol as { id?: string; displayname?: string } | undefined) ?? {};
    reasons.push(`${bot} already bridges this room (${protocol.displayname ?? protocol.id ?? ev.type})`);
  }
  const patterns = [
    ...s.config.guards.foreign_puppet_patterns.map((p) => new RegExp(p)),
    ...(supportsForeignBridges(slot.connector) ? (slot.connector.foreignMatrixPuppets ?? []) : []),
  ];
  if (patterns.length > 0) {
    const members = state
      .filter((ev) => ev.type === "m.room.member" && ev.content.membership === "join")
      .map((ev) => ev.state_key);
    const foreign = members.filter((m) => !s.isOurs(m) && patterns.some((p) => p.test(m)));
    if (foreign.length > 0) {
      reasons.push(
        `members ${foreign.slice(0, 3).join(", ")}${foreign.length > 3 ? ` and ${foreign.length - 3} more` : ""} look like another bridge's ${slot.connector.displayName} users`,
      );
    }
  }
  return reasons;
}

/**
 * Whether a remote message must not be bridged because it comes from another Matrix
 * bridge's puppet whose Matrix side this room already has.
 */
export async function isForeignEcho(
  s: Services,
  slot: NetworkSlot,
  sender: RemoteSender,
  roomId: string,
): Promise<boolean> {
  if (s.config.guards.foreign_remote_puppets !== "drop" || !supportsForeignBridges(slot.connector))
    return false;
  const behind = slot.connector.foreignPuppetOf(sender);
  if (behind === null) return false;
  if (behind === true) return true;
  // Known Matrix user: the room already receives them from Matrix if they are in it.
  const members = await s.bot.joinedMembers(roomId).catch(() => [] as string[]);
  return members.includes(behind);
}

interface Sent {
  text: string;
  identity: string;
  at: number;
}

/**
 * Remembers what each room sent to the remote side for a short window. The same text
 * coming back from a *different* remote identity is a loop (someone else bridges the
 * channel back); past a threshold within the window the link is paused.
 */
export class EchoGuard {
  private readonly sent = new Map<string, Sent[]>();
  private readonly flags = new Map<string, number[]>();
  private static readonly PER_ROOM = 50;

  constructor(
    private readonly windowMs: number,
    private readonly threshold: number,
  ) {}

  private static normalize(text: string): string {
    return text.replace(/\s+/g, " ").trim();
  }

  recordSent(roomId: string, text: string, identity: string, now = Date.now()): void {
    const t = EchoGuard.normalize(text);
    if (!t) return;
    const list = (this.sent.get(roomId) ?? []).filter((e) => now - e.at < this.windowMs);
    list.push({ text: t, identity, at: now });
    if (list.length > EchoGuard.PER_ROOM) list.shift();
    this.sent.set(roomId, list);
  }

  /** Checks a remote message; returns "loop" when the threshold is reached, "echo" when flagged, else "ok". */
  check(roomId: string, text: string, remoteSender: string, now = Date.now()): "ok" | "echo" | "loop" {
    const t = EchoGuard.normalize(text);
    const list = (this.sent.get(roomId) ?? []).filter((e) => now - e.at < this.windowMs);
    if (list.length === 0) {
      this.sent.delete(roomId);
      return "ok";
    }
    this.sent.set(roomId, list);
    // Another bridge usually prefixes the relayed name ("<alice> text"), so compare the ending.
    const hit = list.find(
      (e) => e.identity !== remoteSender && t.length > 0 && (t === e.text || t.endsWith(` ${e.text}`)),
    );
    if (!hit) return "ok";
    const flags = (this.flags.get(roomId) ?? []).filter((at) => now - at < this.windowMs);
    flags.push(now);
    this.flags.set(roomId, flags);
    return flags.length >= this.threshold ? "loop" : "echo";
  }

  reset(roomId: string): void {
    this.flags.delete(roomId);
    this.sent.delete(roomId);
  }
}
