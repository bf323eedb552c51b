import type { RemoteUser } from "../connector.js";
import type { Intent } from "../matrix/intent.js";
import type { GhostRecord } from "../store/types.js";
import { fetchRemoteMedia } from "./remote-media.js";
import type { Services } from "./services.js";

/**
 * Remote users as Matrix ghosts. The localpart is the bridge prefix plus the escaped
 * *stable* remote id (never the display name), so renames never change a ghost's id.
 * Escaping is reversible and injective: a–z, 0–9, '.', '-' stay; '_' doubles; A–Z become
 * '_' + lowercase; anything else is '=' + hex per UTF-8 byte.
 */
export function escapeLocalpart(id: string): string {
  let out = "";
  for (const byte of Buffer.from(id, "utf8")) {
    const ch = String.fromCharCode(byte);
    if (/[a-z0-9.-]/.test(ch)) out += ch;
    else if (ch === "_") out += "__";
    else if (/[A-Z]/.test(ch)) out += "_" + ch.toLowerCase();
    else out += "=" + byte.toString(16).padStart(2, "0");
  }
  return out;
}

export function unescapeLocalpart(escaped: string): string | null {
  const bytes: number[] = [];
  for (let i = 0; i < escaped.length; i++) {
    const ch = escaped[i] ?? "";
    if (ch === "_") {
      const next = escaped[i + 1];
      if (next === "_") bytes.push(0x5f);
      else if (next !== undefined && /[a-z]/.test(next)) bytes.push(next.toUpperCase().charCodeAt(0));
      else return null;
      i++;
    } else if (ch === "=") {
      const hex = escaped.slice(i + 1, i + 3);
      if (!/^[0-9a-f]{2}$/.test(hex)) return null;
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (/[a-z0-9.-]/.test(ch)) {
      bytes.push(ch.charCodeAt(0));
    } else {
      return null;
    }
  }
  return Buffer.from(bytes).toString("utf8");
}

/** Recently used ghost records: active senders are looked up on every message. */
const RECENT_GHOSTS = 10_000;

export class Ghosts {
  private readonly recent = new Map<string, GhostRecord>();

  constructor(private readonly s: Services) {}

  private async record(userId: string): Promise<GhostRecord | null> {
    const hit = this.recent.get(userId);
    if (hit) {
      this.recent.delete(userId);
      this.recent.set(userId, hit);
      return hit;
    }
    const record = await this.s.store.ghostGet(userId);
    if (record) this.remember(record);
    return record;
  }

  private remember(record: GhostRecord): void {
    this.recent.delete(record.userId);
    this.recent.set(record.userId, record);
    if (this.recent.size > RECENT_GHOSTS) {
      const oldest = this.recent.keys().next().value;
      if (oldest !== undefined) this.recent.delete(oldest);
    }
  }

  userId(network: string, remoteId: string): string {
    const slot = this.s.networks.get(network);
    if (!slot) throw new Error(`no enabled bridge "${network}"`);
    const localpart = slot.connector.ghostLocalpart?.(remoteId) ?? escapeLocalpart(remoteId);
    return `@${slot.userPrefix}${localpart}:${this.s.domain}`;
  }

  /** The remote id behind a ghost user id, or null when it is not one of ours. */
  remoteIdOf(userId: string): { network: string; remoteId: string } | null {
    const slot = this.s.networkOfGhost(userId);
    if (!slot) return null;
    const localpart = userId.slice(1 + slot.userPrefix.length, userId.lastIndexOf(":"));
    const remoteId = slot.connector.remoteIdFromLocalpart
      ? slot.connector.remoteIdFromLocalpart(localpart)
      : unescapeLocalpart(localpart);
    return remoteId === null ? null : { network: slot.connector.id, remoteId };
  }

  /** Registers the ghost if needed and brings its profile up to date; returns its intent. */
  async ensure(network: string, user: RemoteUser): Promise<Intent> {
    const userId = this.userId(network, user.id);
    const intent = this.s.intent(userId);
    let record = await this.record(userId);
    if (!record) {
      record = {
        userId,
        network,
        remoteId: user.id,
        displayname: null,
        avatarUrl: null,
        avatarKey: null,
        registered: false,
      };
    }
    if (!record.registered) {
      await intent.ensureRegistered();
      record.registered = true;
      await this.s.store.ghostPut(record);
      this.s.metrics.ghosts.inc({ network });
    }
    let changed = false;
    const name = user.displayname?.trim();
    if (name && name !== record.displayname) {
      await intent.setDisplayname(name);
      record.displayname = name;
      changed = true;
    }
    if (user.avatar && user.avatar.key !== record.avatarKey) {
      try {
        const { data, mimetype } = await fetchRemoteMedia(this.s, network, user.avatar.ref);
        record.avatarUrl = await intent.upload(data, mimetype ?? "application/octet-stream", "avatar");
        await intent.setAvatarUrl(record.avatarUrl);
        record.avatarKey = user.avatar.key;
        changed = true;
      } catch (err) {
        this.s.log.warn({ err: String(err), userId }, "could not sync a ghost's avatar; keeping the old one");
      }
    }
    if (changed) await this.s.store.ghostPut(record);
    this.remember(record);
    return intent;
  }
}
