import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { MatrixError, enc, type MatrixClient } from "./client.js";

/**
 * Acting as one Matrix user of the appservice (the bot or a ghost). An Intent is two
 * fields and a pointer to shared caches, made on demand and thrown away: ghosts must
 * scale to 100k, so nothing here is per-ghost state that lives on (no timers, no maps).
 */

/** Caches shared by every intent: which users are registered and who is joined where. */
export class IntentCaches {
  readonly registered = new Set<string>();
  /** "roomId userId" for memberships we know to be joined. */
  private readonly joined = new Set<string>();

  isJoined(roomId: string, userId: string): boolean {
    return this.joined.has(`${roomId} ${userId}`);
  }
  setJoined(roomId: string, userId: string, joined: boolean): void {
    if (joined) this.joined.add(`${roomId} ${userId}`);
    else this.joined.delete(`${roomId} ${userId}`);
  }
  get joinedCount(): number {
    return this.joined.size;
  }
}

export interface SendOptions {
  /** Remote timestamp (appservice `ts` massaging). */
  ts?: number;
  /** Transaction id; the same id never sends twice (derive it from a stable remote key). */
  txnId?: string;
}

export class Intent {
  constructor(
    readonly userId: string,
    private readonly client: MatrixClient,
    private readonly caches: IntentCaches,
    /** The bot's intent, used to invite this user into rooms it must join. */
    private readonly bot: Intent | null,
  ) {}

  get isBot(): boolean {
    return this.bot === null;
  }

  private req<T>(
    method: string,
    path: string,
    body?: unknown,
    query?: Record<string, string | number | undefined>,
  ) {
    return this.client.request<T>(method, path, { body, query, asUser: this.userId });
  }

  async ensureRegistered(): Promise<void> {
    if (this.caches.registered.has(this.userId)) return;
    const localpart = this.userId.slice(1, this.userId.indexOf(":"));
    try {
      await this.client.request("POST", "/_matrix/client/v3/register", {
        body: { type: "m.login.application_service", username: localpart, inhibit_login: true },
      });
    } catch (err) {
      if (!(err instanceof MatrixError && err.errcode === "M_USER_IN_USE")) throw err;
    }
    this.caches.registered.add(this.userId);
  }

  async ensureJoined(roomId: string): Promise<void> {
    if (this.caches.isJoined(roomId, this.userId)) return;
    await this.ensureRegistered();
    try {
      await this.req("POST", `/_matrix/client/v3/join/${enc(roomId)}`, {});
    } catch (err) {
      // Ghosts cannot join invite-only rooms on their own: the bot invites them first.
      if (!(err instanceof MatrixError && err.errcode === "M_FORBIDDEN" && this.bot)) throw err;
      await this.bot.invite(roomId, this.userId);
      await this.req("POST", `/_matrix/client/v3/join/${enc(roomId)}`, {});
    }
    this.caches.setJoined(roomId, this.userId, true);
  }

  async invite(roomId: string, userId: string): Promise<void> {
    try {
      await this.req("POST", `/_matrix/client/v3/rooms/${enc(roomId)}/invite`, { user_id: userId });
    } catch (err) {
      // Already joined or invited: nothing to do.
      if (
        err instanceof MatrixError &&
        err.errcode === "M_FORBIDDEN" &&
        /already in the room|is already joined/i.test(err.error)
      )
        return;
      throw err;
    }
  }

  async leave(roomId: string, reason?: string): Promise<void> {
    try {
      await this.req("POST", `/_matrix/client/v3/rooms/${enc(roomId)}/leave`, reason ? { reason } : {});
    } finally {
      this.caches.setJoined(roomId, this.userId, false);
    }
  }

  async kick(roomId: string, userId: string, reason?: string): Promise<void> {
    await this.req("POST", `/_matrix/client/v3/rooms/${enc(roomId)}/kick`, { user_id: userId, reason });
    this.caches.setJoined(roomId, userId, false);
  }

  async sendEvent(
    roomId: string,
    type: string,
    content: unknown,
    options: SendOptions = {},
  ): Promise<string> {
    await this.ensureJoined(roomId);
    const txnId = options.txnId ?? `sb${Date.now()}${Math.random().toString(36).slice(2)}`;
    const { event_id } = await this.req<{ event_id: string }>(
      "PUT",
      `/_matrix/client/v3/rooms/${enc(roomId)}/send/${enc(type)}/${enc(txnId)}`,
      content,
      { ts: options.ts },
    );
    return event_id;
  }

  async sendState(roomId: string, type: string, stateKey: string, content: unknown): Promise<string> {
    const { event_id } = await this.req<{ event_id: string }>(
      "PUT",
      `/_matrix/client/v3/rooms/${enc(roomId)}/state/${enc(type)}/${enc(stateKey)}`,
      content,
    );
    return event_id;
  }

  /**
   * Changes a room's power levels by read-modify-write, one change at a time per room: two
   * writers reading the same levels would each drop the other's change (a remote role mirrored
   * while the activation sync writes the members' levels). `change` edits `users` in place and
   * says whether anything changed; nothing is sent when not.
   */
  updatePowerLevels(roomId: string, change: (users: Record<string, number>) => boolean): Promise<void> {
    const previous = this.powerLevelWrites.get(roomId) ?? Promise.resolve();
    const next = previous.then(async () => {
      const pl =
        (await this.getState<{ users?: Record<string, number> }>(roomId, "m.room.power_levels")) ?? {};
      const users = { ...(pl.users ?? {}) };
      if (!change(users)) return;
      await this.sendState(roomId, "m.room.power_levels", "", { ...pl, users });
    });
    const settled = next.catch(() => undefined);
    this.powerLevelWrites.set(roomId, settled);
    void settled.then(() => {
      if (this.powerLevelWrites.get(roomId) === settled) this.powerLevelWrites.delete(roomId);
    });
    return next;
  }

  private readonly powerLevelWrites = new Map<string, Promise<void>>();

  async getState<T>(roomId: string, type: string, stateKey = ""): Promise<T | null> {
    try {
      return await this.req<T>(
        "GET",
        `/_matrix/client/v3/rooms/${enc(roomId)}/state/${enc(type)}/${enc(stateKey)}`,
      );
    } catch (err) {
      if (err instanceof MatrixError && err.errcode === "M_NOT_FOUND") return null;
      throw err;
    }
  }

  async getAllState(
    roomId: string,
  ): Promise<Array<{ type: string; state_key: string; sender: string; content: Record<string, unknown> }>> {
    return this.req("GET", `/_matrix/client/v3/rooms/${enc(roomId)}/state`);
  }

  async getEvent(
    roomId: string,
    eventId: string,
  ): Promise<{ sender: string; content: Record<string, unknown> } | null> {
    try {
      return await this.req("GET", `/_matrix/client/v3/rooms/${enc(roomId)}/event/${enc(eventId)}`);
    } catch (err) {
      if (err instanceof MatrixError && (err.status === 404 || err.status === 403)) return null;
      throw err;
    }
  }

  async joinedMembers(roomId: string): Promise<string[]> {
    const res = await this.req<{ joined: Record<string, unknown> }>(
      "GET",
      `/_matrix/client/v3/rooms/${enc(roomId)}/joined_members`,
    );
    return Object.keys(res.joined);
  }

  /** Joined members with their room display names (one call). */
  async joinedMemberProfiles(roomId: string): Promise<Array<{ userId: string; displayname?: string }>> {
    const res = await this.req<{ joined: Record<string, { display_name?: string | null }> }>(
      "GET",
      `/_matrix/client/v3/rooms/${enc(roomId)}/joined_members`,
    );
    return Object.entries(res.joined).map(([userId, p]) =>
      p.display_name ? { userId, displayname: p.display_name } : { userId },
    );
  }

  async redact(roomId: string, eventId: string, reason?: string, txnId?: string): Promise<void> {
    await this.ensureJoined(roomId);
    await this.req(
      "PUT",
      `/_matrix/client/v3/rooms/${enc(roomId)}/redact/${enc(eventId)}/${enc(txnId ?? `r${Date.now()}${Math.random()}`)}`,
      reason ? { reason } : {},
    );
  }

  async setDisplayname(displayname: string): Promise<void> {
    await this.ensureRegistered();
    await this.req("PUT", `/_matrix/client/v3/profile/${enc(this.userId)}/displayname`, { displayname });
  }

  async setAvatarUrl(avatarUrl: string): Promise<void> {
    await this.ensureRegistered();
    await this.req("PUT", `/_matrix/client/v3/profile/${enc(this.userId)}/avatar_url`, {
      avatar_url: avatarUrl,
    });
  }

  async getProfile(userId: string): Promise<{ displayname?: string; avatar_url?: string }> {
    try {
      return await this.req("GET", `/_matrix/client/v3/profile/${enc(userId)}`);
    } catch (err) {
      if (err instanceof MatrixError && err.status === 404) return {};
      throw err;
    }
  }

  async sendReceipt(
    roomId: string,
    eventId: string,
    type: "m.read" | "m.read.private" = "m.read",
  ): Promise<void> {
    await this.ensureJoined(roomId);
    await this.req(
      "POST",
      `/_matrix/client/v3/rooms/${enc(roomId)}/receipt/${enc(type)}/${enc(eventId)}`,
      {},
    );
  }

  async setTyping(roomId: string, typing: boolean, timeoutMs = 30_000): Promise<void> {
    await this.ensureJoined(roomId);
    await this.req("PUT", `/_matrix/client/v3/rooms/${enc(roomId)}/typing/${enc(this.userId)}`, {
      typing,
      ...(typing ? { timeout: timeoutMs } : {}),
    });
  }

  async createRoom(body: Record<string, unknown>): Promise<string> {
    await this.ensureRegistered();
    const { room_id } = await this.req<{ room_id: string }>("POST", "/_matrix/client/v3/createRoom", body);
    this.caches.setJoined(room_id, this.userId, true);
    return room_id;
  }

  async setAlias(alias: string, roomId: string): Promise<void> {
    await this.req("PUT", `/_matrix/client/v3/directory/room/${enc(alias)}`, { room_id: roomId });
  }

  async deleteAlias(alias: string): Promise<void> {
    await this.req("DELETE", `/_matrix/client/v3/directory/room/${enc(alias)}`);
  }

  async resolveAlias(alias: string): Promise<string | null> {
    try {
      const { room_id } = await this.req<{ room_id: string }>(
        "GET",
        `/_matrix/client/v3/directory/room/${enc(alias)}`,
      );
      return room_id;
    } catch (err) {
      if (err instanceof MatrixError && err.status === 404) return null;
      throw err;
    }
  }

  /** Authenticated media upload (v1 media API); returns the mxc URI. */
  async upload(data: Buffer, contentType: string, filename?: string): Promise<string> {
    const { content_uri } = await this.client.request<{ content_uri: string }>(
      "POST",
      "/_matrix/media/v3/upload",
      {
        raw: { data, contentType },
        query: { filename },
        asUser: this.userId,
      },
    );
    return content_uri;
  }

  /** Authenticated media download (MSC3916, client v1). */
  async download(mxc: string): Promise<{ data: Buffer; contentType: string }> {
    const m = /^mxc:\/\/([^/]+)\/([^/?#]+)$/.exec(mxc);
    if (!m) throw new Error(`not an mxc URI: ${mxc}`);
    return this.client.download(
      `/_matrix/client/v1/media/download/${enc(m[1] ?? "")}/${enc(m[2] ?? "")}`,
      this.userId,
    );
  }
}

/** A homeserver's answer to a media download: status, headers and the body, not yet read. */
export interface MediaResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable;
}

/**
 * Opens an mxc URI's bytes as a stream, through the authenticated client API (MSC3916) and,
 * on a homeserver that does not know that endpoint, the legacy media API.
 */
export async function openMedia(
  client: MatrixClient,
  mxc: string,
  asUser: string,
  signal?: AbortSignal,
): Promise<MediaResponse> {
  const m = /^mxc:\/\/([^/]+)\/([^/?#]+)$/.exec(mxc);
  if (!m) throw new Error(`not an mxc URI: ${mxc}`);
  const tail = `${enc(m[1] ?? "")}/${enc(m[2] ?? "")}`;
  const res = await client.stream(`/_matrix/client/v1/media/download/${tail}`, { asUser, signal });
  let answer: MediaResponse = { status: res.statusCode, headers: res.headers, body: res.body };
  if (![400, 404, 405].includes(res.statusCode)) return answer;
  const text = await res.body.text().catch(() => "");
  answer = { ...answer, body: Readable.from([Buffer.from(text)]) };
  // M_NOT_FOUND is a missing file; an endpoint the server lacks answers M_UNRECOGNIZED (or 405).
  if (res.statusCode !== 405 && !text.includes("M_UNRECOGNIZED")) return answer;
  const legacy = await client.stream(`/_matrix/media/v3/download/${tail}`, { asUser, signal });
  return { status: legacy.statusCode, headers: legacy.headers, body: legacy.body };
}

/** A transaction id that is the same every time for the same remote event. */
export function stableTxnId(...parts: string[]): string {
  return "sb" + createHash("sha256").update(parts.join("\0")).digest("base64url").slice(0, 32);
}
