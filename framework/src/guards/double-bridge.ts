import { supportsForeignBridges, type ForeignPuppet, type RemoteSender } from "../connector.js";
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

/** A Matrix user id inside free text (an IRC realname, a Slack bot's username), as other bridges put it there. */
export function matrixUserIdIn(text: string): string | undefined {
  return /@[a-z0-9._=\-/+]+:[a-z0-9.-]+(?::\d{1,5})?(?![a-z0-9.-])/i.exec(text)?.[0];
}

/** What is known of a remote user being another Matrix bridge's puppet, from the event or the connector. */
export function foreignPuppet(slot: NetworkSlot, user: RemoteSender): ForeignPuppet | undefined {
  if (user.foreign) return user.foreign;
  if (!supportsForeignBridges(slot.connector)) return undefined;
  const behind = slot.connector.foreignPuppetOf(user);
  if (behind === null) return undefined;
  return behind === true ? { unknown: true } : { matrixUserId: behind };
}

/** Whether a foreign puppet gets no ghost (membership not mirrored): only when it is surely one. */
export function isSurelyForeign(s: Services, slot: NetworkSlot, user: RemoteSender): boolean {
  if (s.config.guards.foreign_remote_puppets !== "drop") return false;
  const foreign = foreignPuppet(slot, user);
  return foreign !== undefined && !("nameHint" in foreign);
}

/**
 * Whether a remote message must not be bridged because it comes from another Matrix
 * bridge's puppet whose Matrix side this room already has. A name hint alone ("alice[m]")
 * is never proof: it counts only when a room member has that name.
 */
export async function isForeignEcho(
  s: Services,
  slot: NetworkSlot,
  sender: RemoteSender,
  roomId: string,
): Promise<boolean> {
  if (s.config.guards.foreign_remote_puppets !== "drop") return false;
  const foreign = foreignPuppet(slot, sender);
  if (!foreign) return false;
  if ("unknown" in foreign) return true;
  const members = await s.bot.joinedMemberProfiles(roomId).catch(() => []);
  if ("matrixUserId" in foreign) return members.some((m) => m.userId === foreign.matrixUserId);
  const hint = foreign.nameHint.toLowerCase();
  return members.some(
    (m) =>
      !s.isOurs(m.userId) &&
      (m.userId.slice(1, m.userId.indexOf(":")).toLowerCase() === hint ||
        m.displayname?.toLowerCase() === hint),
  );
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
    private windowMs: number,
    private threshold: number,
  ) {}

  /** A reloaded config's guards.echo_window_seconds and echo_threshold. */
  configure(windowMs: number, threshold: number): void {
    this.windowMs = windowMs;
    this.threshold = threshold;
  }

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
