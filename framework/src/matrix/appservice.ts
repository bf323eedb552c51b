import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { timingSafeEqual, createHash } from "node:crypto";
import type { Logger } from "pino";

/**
 * The HTTP side the homeserver calls (Application Service API v1). Plain node:http: five
 * routes do not need a web framework, and owning the parsing lets a malformed body become
 * a 400 M_BAD_JSON instead of an exception anywhere.
 */

export interface MatrixEvent {
  event_id: string;
  type: string;
  room_id: string;
  sender: string;
  state_key?: string;
  origin_server_ts?: number;
  content: Record<string, unknown>;
  redacts?: string;
  unsigned?: Record<string, unknown>;
}

export interface EphemeralEvent {
  type: string;
  room_id?: string;
  content: Record<string, unknown>;
}

export interface Transaction {
  events: MatrixEvent[];
  ephemeral: EphemeralEvent[];
}

export interface AppserviceHandlers {
  /** Must resolve only once the transaction is durable: the homeserver then drops it. */
  onTransaction(txnId: string, txn: Transaction): Promise<void>;
  /** Whether the user exists (or now does) in our namespace. */
  onUserQuery(userId: string): Promise<boolean>;
  /** Whether the alias exists now (typically: a portal was just created for it). */
  onAliasQuery(alias: string): Promise<boolean>;
  onPing?(transactionId: string | undefined): void;
  /** Requests for other routes on this port; resolves false when it is not theirs. */
  onOther?(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  /** GET /health; `detailed` when the caller holds the hs_token (per-login detail). */
  onHealth?(detailed: boolean): Promise<{ status: number; body: unknown }>;
}

const MAX_BODY = 64 * 1024 * 1024;

export class AppserviceServer {
  private server: Server | null = null;
  private readonly tokenHash: Buffer;

  constructor(
    hsToken: string,
    private readonly handlers: AppserviceHandlers,
    private readonly log: Logger,
  ) {
    // Comparing fixed-length digests keeps the comparison constant-time whatever the input length.
    this.tokenHash = createHash("sha256").update(hsToken).digest();
  }

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const server = createServer((req, res) => {
        this.route(req, res).catch((err: unknown) => {
          this.log.error({ err }, "appservice request failed");
          if (!res.headersSent)
            send(res, 500, { errcode: "M_UNKNOWN", error: "internal error; see the bridge log" });
          else res.end();
        });
      });
      server.keepAliveTimeout = 65_000;
      server.once("error", reject);
      server.listen(port, host, () => {
        this.server = server;
        const addr = server.address();
        resolve(typeof addr === "object" && addr ? addr.port : port);
      });
    });
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server) await closeServer(server, "idle");
  }

  /** Whether a request carries our hs_token (for other listeners' detailed answers). */
  isHomeserver(req: IncomingMessage): boolean {
    return this.authorized(req, new URL(req.url ?? "/", "http://localhost")) === "ok";
  }

  private authorized(req: IncomingMessage, url: URL): "ok" | "missing" | "wrong" {
    const header = req.headers.authorization;
    const token = header?.startsWith("Bearer ") ? header.slice(7) : url.searchParams.get("access_token");
    if (token === null || token === "") return "missing";
    const hash = createHash("sha256").update(token).digest();
    return timingSafeEqual(hash, this.tokenHash) ? "ok" : "wrong";
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    // Old homeservers call the unprefixed legacy paths.
    const path = url.pathname.replace(/^\/_matrix\/app\/v1(?=\/)/, "");
    if (req.method === "GET" && url.pathname === "/health" && this.handlers.onHealth) {
      const { status, body } = await this.handlers.onHealth(this.authorized(req, url) === "ok");
      return send(res, status, body);
    }

    // Other services sharing the port (media links) authenticate their own way.
    if (this.handlers.onOther && (await this.handlers.onOther(req, res))) return;
    const known = /^\/(transactions|users|rooms|ping|thirdparty)(\/|$)/.test(path);
    if (!known) {
      drain(req);
      return send(res, 404, { errcode: "M_UNRECOGNIZED", error: "Unrecognized request" });
    }
    const auth = this.authorized(req, url);
    if (auth !== "ok") {
      drain(req);
      return auth === "missing"
        ? send(res, 401, { errcode: "M_UNAUTHORIZED", error: "No hs_token given" })
        : send(res, 403, { errcode: "M_FORBIDDEN", error: "Bad hs_token" });
    }

    let m: RegExpExecArray | null;
    if ((m = /^\/transactions\/([^/]+)$/.exec(path))) {
      if (req.method !== "PUT") return methodNotAllowed(req, res);
      const body = await readJson(req, res);
      if (body === undefined) return;
      const txn = parseTransaction(body);
      if (typeof txn === "string") return send(res, 400, { errcode: "M_BAD_JSON", error: txn });
      await this.handlers.onTransaction(decodeURIComponent(m[1] ?? ""), txn);
      return send(res, 200, {});
    }
    if ((m = /^\/users\/([^/]+)$/.exec(path))) {
      if (req.method !== "GET") return methodNotAllowed(req, res);
      const found = await this.handlers.onUserQuery(decodeURIComponent(m[1] ?? ""));
      return found ? send(res, 200, {}) : send(res, 404, { errcode: "M_NOT_FOUND", error: "No such user" });
    }
    if ((m = /^\/rooms\/([^/]+)$/.exec(path))) {
      if (req.method !== "GET") return methodNotAllowed(req, res);
      const found = await this.handlers.onAliasQuery(decodeURIComponent(m[1] ?? ""));
      return found ? send(res, 200, {}) : send(res, 404, { errcode: "M_NOT_FOUND", error: "No such room" });
    }
    if (path === "/ping") {
      if (req.method !== "POST") return methodNotAllowed(req, res);
      const body = await readJson(req, res);
      if (body === undefined) return;
      const txnId =
        typeof (body as { transaction_id?: unknown }).transaction_id === "string"
          ? (body as { transaction_id: string }).transaction_id
          : undefined;
      this.handlers.onPing?.(txnId);
      return send(res, 200, {});
    }
    // Third-party lookups: no protocols published (yet).
    drain(req);
    return send(res, 404, { errcode: "M_NOT_FOUND", error: "No third-party protocols" });
  }
}

function methodNotAllowed(req: IncomingMessage, res: ServerResponse): void {
  drain(req);
  send(res, 405, { errcode: "M_UNRECOGNIZED", error: `${req.method ?? "?"} not allowed here` });
}

function drain(req: IncomingMessage): void {
  req.resume();
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/** Reads a JSON body; answers 400/413 itself and returns undefined when it is unusable. */
async function readJson(req: IncomingMessage, res: ServerResponse): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) {
      send(res, 413, { errcode: "M_TOO_LARGE", error: `body over ${MAX_BODY} bytes` });
      req.destroy();
      return undefined;
    }
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  try {
    return text === "" ? {} : (JSON.parse(text) as unknown);
  } catch (err) {
    send(res, 400, { errcode: "M_BAD_JSON", error: `body is not JSON: ${(err as Error).message}` });
    return undefined;
  }
}

/** Checks the shape we rely on; returns an error message for a malformed transaction. */
export function parseTransaction(body: unknown): Transaction | string {
  if (typeof body !== "object" || body === null || Array.isArray(body))
    return "transaction must be a JSON object";
  const b = body as Record<string, unknown>;
  const events = b.events ?? [];
  if (!Array.isArray(events)) return "events must be an array";
  for (const [i, e] of events.entries()) {
    if (typeof e !== "object" || e === null) return `events[${i}] is not an object`;
    const ev = e as Record<string, unknown>;
    if (
      typeof ev.type !== "string" ||
      typeof ev.room_id !== "string" ||
      typeof ev.sender !== "string" ||
      typeof ev.event_id !== "string"
    ) {
      return `events[${i}] lacks type, room_id, sender or event_id`;
    }
    if (ev.content === undefined || typeof ev.content !== "object" || ev.content === null) ev.content = {};
  }
  // MSC2409 used an unstable key before `ephemeral` was stable; homeservers send either.
  const ephemeral = b.ephemeral ?? b["de.sorunome.msc2409.ephemeral"] ?? [];
  if (!Array.isArray(ephemeral)) return "ephemeral must be an array";
  const eph = ephemeral.filter(
    (e): e is EphemeralEvent =>
      typeof e === "object" &&
      e !== null &&
      typeof (e as EphemeralEvent).type === "string" &&
      typeof (e as EphemeralEvent).content === "object",
  );
  return { events: events as MatrixEvent[], ephemeral: eph };
}

/**
 * Stops a listener: "idle" lets requests in flight finish (the homeserver's transactions),
 * "all" cuts open ones too (a media download may stream for minutes).
 */
export async function closeServer(server: Server, connections: "idle" | "all"): Promise<void> {
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    if (connections === "all") server.closeAllConnections();
    else server.closeIdleConnections();
  });
}
