import { setTimeout as sleep } from "node:timers/promises";

/**
 * A deliberately small client-server API client for tests: it plays the human Matrix
 * user, so it must not share code with the framework it is checking.
 */
export class TestMatrixClient {
  private since: string | undefined;
  private txn = 0;
  /** Rooms this user is invited to and has not joined, as seen by /sync so far. */
  readonly invites = new Set<string>();

  constructor(
    readonly baseUrl: string,
    readonly accessToken: string,
    readonly userId: string,
  ) {}

  async request<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.accessToken}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path} as ${this.userId} → ${res.status} ${text}`);
    return (text ? JSON.parse(text) : {}) as T;
  }

  /** Uploads a file to the homeserver's media repository; returns its mxc URI. */
  async upload(name: string, mimetype: string, data: Buffer): Promise<string> {
    const res = await fetch(`${this.baseUrl}/_matrix/media/v3/upload?filename=${encodeURIComponent(name)}`, {
      method: "POST",
      headers: { authorization: `Bearer ${this.accessToken}`, "content-type": mimetype },
      body: data,
    });
    if (!res.ok) throw new Error(`upload of ${name} as ${this.userId} → ${res.status} ${await res.text()}`);
    return ((await res.json()) as { content_uri: string }).content_uri;
  }

  async createRoom(body: Record<string, unknown>): Promise<string> {
    const { room_id } = await this.request<{ room_id: string }>(
      "POST",
      "/_matrix/client/v3/createRoom",
      body,
    );
    return room_id;
  }

  /** Downloads an mxc URI through the authenticated media API (new media needs the token). */
  async download(mxc: string): Promise<{ status: number; contentType: string | null; data: Buffer }> {
    const res = await fetch(
      `${this.baseUrl}/_matrix/client/v1/media/download/${mxc.slice("mxc://".length)}`,
      {
        headers: { authorization: `Bearer ${this.accessToken}` },
      },
    );
    return {
      status: res.status,
      contentType: res.headers.get("content-type"),
      data: Buffer.from(await res.arrayBuffer()),
    };
  }

  async join(roomIdOrAlias: string): Promise<string> {
    const { room_id } = await this.request<{ room_id: string }>(
      "POST",
      `/_matrix/client/v3/join/${encodeURIComponent(roomIdOrAlias)}`,
      {},
    );
    return room_id;
  }

  async sendMessage(
    roomId: string,
    content: Record<string, unknown>,
    type = "m.room.message",
  ): Promise<string> {
    const { event_id } = await this.request<{ event_id: string }>(
      "PUT",
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/${type}/t${Date.now()}-${++this.txn}`,
      content,
    );
    return event_id;
  }

  async sendText(roomId: string, body: string): Promise<string> {
    return this.sendMessage(roomId, { msgtype: "m.text", body });
  }

  /** The room's latest `limit` timeline events, oldest first (/messages, without touching /sync). */
  async timeline(roomId: string, limit = 100): Promise<MatrixTestEvent[]> {
    const res = await this.request<{ chunk: MatrixTestEvent[] }>(
      "GET",
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=${limit}`,
    );
    return res.chunk.reverse();
  }

  /** Long-polls /sync until `match` finds a timeline event in `roomId`, or throws after timeoutMs. */
  async waitForEvent(
    roomId: string,
    match: (event: MatrixTestEvent) => boolean,
    timeoutMs = 15_000,
  ): Promise<MatrixTestEvent> {
    const deadline = Date.now() + timeoutMs;
    const seen: string[] = [];
    while (Date.now() < deadline) {
      const events = await this.syncOnce(Math.min(2_000, Math.max(0, deadline - Date.now())));
      for (const { roomId: r, event } of events) {
        if (r !== roomId) continue;
        seen.push(`${event.sender} ${event.type} ${JSON.stringify(event.content).slice(0, 80)}`);
        if (match(event)) return event;
      }
      await sleep(10);
    }
    throw new Error(`no matching event in ${roomId} within ${timeoutMs} ms; saw:\n${seen.join("\n")}`);
  }

  /** One /sync call; returns the new timeline events of joined rooms. */
  async syncOnce(timeoutMs: number): Promise<Array<{ roomId: string; event: MatrixTestEvent }>> {
    const q = new URLSearchParams({ timeout: String(timeoutMs) });
    if (this.since) q.set("since", this.since);
    const res = await this.request<SyncResponse>("GET", `/_matrix/client/v3/sync?${q}`);
    this.since = res.next_batch;
    for (const roomId of Object.keys(res.rooms?.invite ?? {})) this.invites.add(roomId);
    for (const roomId of Object.keys(res.rooms?.join ?? {})) this.invites.delete(roomId);
    const out: Array<{ roomId: string; event: MatrixTestEvent }> = [];
    for (const [roomId, room] of Object.entries(res.rooms?.join ?? {})) {
      for (const event of room.timeline?.events ?? []) out.push({ roomId, event });
      for (const event of room.ephemeral?.events ?? []) out.push({ roomId, event });
    }
    return out;
  }
}

export interface MatrixTestEvent {
  type: string;
  sender: string;
  event_id?: string;
  state_key?: string;
  /** Redactions before room version 11 name their target here (later ones in content). */
  redacts?: string;
  origin_server_ts?: number;
  content: Record<string, unknown>;
}

interface SyncResponse {
  next_batch: string;
  rooms?: {
    invite?: Record<string, unknown>;
    join?: Record<
      string,
      { timeline?: { events?: MatrixTestEvent[] }; ephemeral?: { events?: MatrixTestEvent[] } }
    >;
  };
}

/** Matches a message from the bridge bot whose body matches `text`. */
export function botSays(botUserId: string, text: RegExp): (e: MatrixTestEvent) => boolean {
  return (e) => e.type === "m.room.message" && e.sender === botUserId && text.test(String(e.content.body));
}

/** Opens a DM with the bridge bot (its management room) and waits for the greeting. */
export async function dmWithBot(client: TestMatrixClient, botUserId: string): Promise<string> {
  const room = await client.createRoom({
    is_direct: true,
    invite: [botUserId],
    preset: "trusted_private_chat",
  });
  await client.waitForEvent(room, botSays(botUserId, /Say `help`/));
  return room;
}

/** Matches the member event of `userId` joining. */
export function joinOf(userId: string): (e: MatrixTestEvent) => boolean {
  return (e) => e.type === "m.room.member" && e.state_key === userId && e.content.membership === "join";
}
