import {
  createServer,
  request,
  Agent,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { performance } from "node:perf_hooks";

/**
 * A minimal "homeserver" for the benchmark: it answers every client-server API call the bridge
 * makes instantly with plausible JSON (no persistence, no auth beyond the as_token check), counts
 * what it receives, records when each m.room.message send arrives, and pushes appservice
 * transactions to the bridge the way Synapse does: one transaction in flight, each holding
 * every event queued meanwhile (up to `maxEventsPerTxn`, Synapse's limit is 100).
 */

export interface SinkOptions {
  domain: string;
  asToken: string;
  hsToken: string;
  /** The bridge's appservice base URL (for pings and transactions). */
  appserviceUrl: string;
  maxEventsPerTxn?: number;
}

export interface BenchMatrixEvent {
  event_id: string;
  type: string;
  room_id: string;
  sender: string;
  origin_server_ts: number;
  content: Record<string, unknown>;
}

/** Called for every m.room.message send, at arrival (performance.now() clock). */
export type SendListener = (
  roomId: string,
  sender: string,
  content: Record<string, unknown>,
  at: number,
) => void;

const json = (res: ServerResponse, status: number, body: unknown): void => {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
};

const notFound = (res: ServerResponse, error = "Not found"): void =>
  json(res, 404, { errcode: "M_NOT_FOUND", error });

export class HomeserverSink {
  private server: Server | null = null;
  url = "";
  /** Counts by route name (e.g. "send", "join", "register"). */
  readonly counts = new Map<string, number>();
  /** m.room.message sends received (first delivery of each transaction id). */
  messageSends = 0;
  /** Sends that reused a transaction id already seen (the bridge resending). */
  duplicateSends = 0;
  /** Paths nothing here answers: a non-empty list means the sink is missing a route. */
  readonly unknown = new Map<string, number>();
  /** Alias localpart (room_alias_name) → room id, from createRoom. */
  readonly roomsByAlias = new Map<string, string>();
  onSend: SendListener | null = null;

  private nextRoom = 1;
  private nextEvent = 1;
  private nextMedia = 1;
  private readonly txnEvents = new Map<string, string>();
  private readonly media = new Map<string, { data: Buffer; type: string }>();
  private readonly profiles = new Map<string, { displayname?: string; avatar_url?: string }>();

  // ---- transaction pusher ----
  private readonly queue: BenchMatrixEvent[] = [];
  private pushing = false;
  private nextTxn = 1;
  /** Transactions: one connection, one in flight (as Synapse). */
  private readonly txnAgent = new Agent({ keepAlive: true, maxSockets: 1 });
  /** Everything else the "homeserver" asks the appservice (pings, alias queries). */
  private readonly otherAgent = new Agent({ keepAlive: true, maxSockets: 16 });
  /** Transactions delivered (200) and events in them. */
  txnsSent = 0;
  txnEventsSent = 0;
  txnErrors = 0;
  /** Resolved whenever the pusher's queue empties and nothing is in flight. */
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly opts: SinkOptions) {}

  async listen(): Promise<string> {
    const server = createServer((req, res) => this.route(req, res));
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const addr = server.address();
    this.url = `http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}`;
    this.server = server;
    return this.url;
  }

  async close(): Promise<void> {
    this.txnAgent.destroy();
    this.otherAgent.destroy();
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private count(name: string): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + 1);
  }

  private route(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const at = performance.now();
      try {
        this.handle(req, res, Buffer.concat(chunks), at);
      } catch (err) {
        json(res, 500, { errcode: "M_UNKNOWN", error: String(err) });
      }
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse, raw: Buffer, at: number): void {
    const rawUrl = req.url ?? "/";
    const q = rawUrl.indexOf("?");
    const path = q < 0 ? rawUrl : rawUrl.slice(0, q);
    const query = new URLSearchParams(q < 0 ? "" : rawUrl.slice(q + 1));
    const method = req.method ?? "GET";
    if (path === "/_matrix/client/versions") {
      this.count("versions");
      return json(res, 200, { versions: ["v1.1", "v1.5", "v1.11", "v1.12"], unstable_features: {} });
    }
    if (req.headers.authorization !== `Bearer ${this.opts.asToken}`) {
      return json(res, 401, { errcode: "M_UNKNOWN_TOKEN", error: "bad as_token" });
    }
    const asUser = query.get("user_id") ?? `@switchboard:${this.opts.domain}`;
    const body = (): Record<string, unknown> =>
      raw.length > 0 && (req.headers["content-type"] ?? "").startsWith("application/json")
        ? (JSON.parse(raw.toString("utf8")) as Record<string, unknown>)
        : {};
    const seg = path.split("/").map((s) => decodeURIComponent(s));
    // seg: ["", "_matrix", "client", "v3", ...]
    const api = seg.slice(0, 4).join("/");

    if (api === "/_matrix/client/v3" || api === "/_matrix/client/r0") {
      const rest = seg.slice(4);
      const [a, b, c, d, e] = rest;
      if (a === "rooms" && b !== undefined) {
        if (c === "send" && method === "PUT" && d !== undefined && e !== undefined) {
          this.count("send");
          const key = `${asUser}\0${e}`;
          let eventId = this.txnEvents.get(key);
          if (eventId === undefined) {
            eventId = `$e${this.nextEvent++}`;
            this.txnEvents.set(key, eventId);
            if (d === "m.room.message") {
              this.messageSends++;
              this.onSend?.(b, asUser, body(), at);
            }
          } else {
            this.duplicateSends++;
          }
          return json(res, 200, { event_id: eventId });
        }
        if (c === "state") {
          if (method === "PUT") {
            this.count("state-put");
            return json(res, 200, { event_id: `$e${this.nextEvent++}` });
          }
          this.count("state-get");
          if (d === undefined) return json(res, 200, []);
          if (d === "m.room.power_levels")
            return json(res, 200, { users: { [`@switchboard:${this.opts.domain}`]: 100 }, users_default: 0 });
          return notFound(res, "Event not found");
        }
        if (c === "redact") {
          this.count("redact");
          return json(res, 200, { event_id: `$e${this.nextEvent++}` });
        }
        if (c === "joined_members") {
          this.count("joined_members");
          return json(res, 200, { joined: {} });
        }
        if (c === "invite" || c === "leave" || c === "kick" || c === "receipt" || c === "typing") {
          this.count(c);
          return json(res, 200, {});
        }
      }
      if (a === "join" && b !== undefined) {
        this.count("join");
        return json(res, 200, { room_id: b });
      }
      if (a === "register") {
        this.count("register");
        const username = String(body().username ?? "");
        return json(res, 200, { user_id: `@${username}:${this.opts.domain}` });
      }
      if (a === "account" && b === "whoami") {
        this.count("whoami");
        return json(res, 200, { user_id: asUser, is_guest: false });
      }
      if (a === "profile" && b !== undefined) {
        if (method === "PUT") {
          this.count("profile-put");
          const p = this.profiles.get(b) ?? {};
          Object.assign(p, body());
          this.profiles.set(b, p);
          return json(res, 200, {});
        }
        this.count("profile-get");
        const p = this.profiles.get(b);
        if (p) return json(res, 200, c ? { [c]: p[c as keyof typeof p] } : p);
        // A real user the sink never saw: make up a plausible profile.
        return json(res, 200, { displayname: b.slice(1, b.indexOf(":")) });
      }
      if (a === "createRoom") {
        this.count("createRoom");
        const roomId = `!room${this.nextRoom++}:${this.opts.domain}`;
        const alias = body().room_alias_name;
        if (typeof alias === "string") this.roomsByAlias.set(alias, roomId);
        return json(res, 200, { room_id: roomId });
      }
      if (a === "directory" && b === "room") {
        this.count(`directory-${method.toLowerCase()}`);
        if (method === "GET") {
          const alias = c ?? "";
          const roomId = this.roomsByAlias.get(alias.slice(1, alias.indexOf(":")));
          return roomId ? json(res, 200, { room_id: roomId, servers: [this.opts.domain] }) : notFound(res);
        }
        return json(res, 200, {});
      }
    }
    if (path === "/_matrix/media/v3/upload" && method === "POST") {
      this.count("upload");
      const id = `m${this.nextMedia++}`;
      this.media.set(id, {
        data: raw,
        type: String(req.headers["content-type"] ?? "application/octet-stream"),
      });
      return json(res, 200, { content_uri: `mxc://${this.opts.domain}/${id}` });
    }
    if (path.startsWith("/_matrix/client/v1/media/download/")) {
      this.count("download");
      const m = this.media.get(seg[7] ?? "");
      if (!m) return notFound(res, "Media not found");
      res.writeHead(200, { "content-type": m.type, "content-length": m.data.length });
      res.end(m.data);
      return;
    }
    if (seg[3] === "v1" && seg[4] === "appservice" && seg[6] === "ping" && method === "POST") {
      this.count("ping");
      const started = performance.now();
      const transactionId = body().transaction_id;
      this.asRequest("POST", "/_matrix/app/v1/ping", { transaction_id: transactionId })
        .then((status) =>
          status === 200
            ? json(res, 200, { duration_ms: Math.round(performance.now() - started) })
            : json(res, 502, { errcode: "M_BAD_STATUS", error: `appservice answered ${status}` }),
        )
        .catch((err: unknown) => json(res, 502, { errcode: "M_CONNECTION_FAILED", error: String(err) }));
      return;
    }
    const key = `${method} ${path.replace(/![^/]+|@[^/]+|%24[^/]+|\$[^/]+/g, "*")}`;
    this.unknown.set(key, (this.unknown.get(key) ?? 0) + 1);
    json(res, 404, { errcode: "M_UNRECOGNIZED", error: "Unrecognized request" });
  }

  /** One request to the appservice with the hs_token; resolves with the status code. */
  asRequest(
    method: string,
    path: string,
    payload?: unknown,
    agent: Agent = this.otherAgent,
  ): Promise<number> {
    const text = payload === undefined ? undefined : JSON.stringify(payload);
    const url = new URL(path, this.opts.appserviceUrl);
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        {
          method,
          agent,
          headers: {
            authorization: `Bearer ${this.opts.hsToken}`,
            ...(text === undefined
              ? {}
              : { "content-type": "application/json", "content-length": Buffer.byteLength(text) }),
          },
        },
        (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(text);
    });
  }

  /** Asks the bridge about a room alias (makes it create the portal); true when it says the alias exists. */
  async queryAlias(alias: string): Promise<boolean> {
    const status = await this.asRequest("GET", `/_matrix/app/v1/rooms/${encodeURIComponent(alias)}`);
    return status === 200;
  }

  /** Queues events for delivery; they go out in the next transaction(s), one in flight at a time. */
  push(events: BenchMatrixEvent[]): void {
    for (const e of events) this.queue.push(e);
    if (!this.pushing) void this.pump();
  }

  get queued(): number {
    return this.queue.length;
  }

  /** Resolves when every queued event has been delivered (acknowledged with a 200). */
  idle(): Promise<void> {
    if (!this.pushing && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async pump(): Promise<void> {
    this.pushing = true;
    const max = this.opts.maxEventsPerTxn ?? 100;
    try {
      while (this.queue.length > 0) {
        const events = this.queue.splice(0, max);
        const txnId = `bench${process.pid}-${this.nextTxn++}`;
        // Like Synapse: retry the same transaction until the appservice accepts it.
        for (let attempt = 0; ; attempt++) {
          let status = 0;
          try {
            status = await this.asRequest(
              "PUT",
              `/_matrix/app/v1/transactions/${txnId}`,
              { events, ephemeral: [] },
              this.txnAgent,
            );
          } catch {
            status = 0;
          }
          if (status === 200) break;
          this.txnErrors++;
          if (attempt > 20) throw new Error(`transaction ${txnId} refused (${status})`);
          await new Promise((r) => setTimeout(r, 50 * (attempt + 1)));
        }
        this.txnsSent++;
        this.txnEventsSent += events.length;
      }
    } finally {
      this.pushing = false;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }
}
