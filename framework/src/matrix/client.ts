import { Agent, request, type Dispatcher } from "undici";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import { Reachability } from "./reachability.js";

/**
 * The client-server API as the appservice speaks it: one keep-alive connection pool,
 * the as_token, `?user_id=` masquerading for ghosts, and the retry rules every call
 * needs (429 with retry_after_ms, backoff on 5xx and network errors). Hand-written
 * because matrix-bot-sdk / matrix-appservice-bridge cannot be installed here (their
 * crypto dependency downloads a native binary at install time).
 */

export class MatrixError extends Error {
  constructor(
    readonly status: number,
    readonly errcode: string,
    readonly error: string,
    readonly method: string,
    readonly path: string,
    readonly retryAfterMs?: number,
  ) {
    super(`${method} ${path.split("?")[0]} → ${status} ${errcode}: ${error}`);
    this.name = "MatrixError";
  }
}

/** The homeserver is known to be down (the gate stayed closed for the request's patience). */
export class HomeserverUnavailableError extends Error {
  constructor(reason: string) {
    super(`the homeserver is unreachable (${reason})`);
    this.name = "HomeserverUnavailableError";
  }
}

/**
 * What a failed homeserver call means for the event behind it:
 * - `outage`: the homeserver is down or restarting: wait for it (the reachability gate), lose nothing;
 * - `rate-limited`: 429 / M_LIMIT_EXCEEDED: wait `retryAfterMs` (or back off), this chat only;
 * - `transient`: another 5xx: retry this chat with backoff;
 * - `permanent`: any other 4xx (M_FORBIDDEN for a banned ghost, M_TOO_LARGE): retrying cannot help;
 * - `other`: not a homeserver answer at all (a bug, a remote fetch): the caller decides.
 */
export type HomeserverFailure =
  | { kind: "outage" }
  | { kind: "rate-limited"; retryAfterMs?: number }
  | { kind: "transient" }
  | { kind: "permanent" }
  | { kind: "other" };

export function classifyFailure(err: unknown): HomeserverFailure {
  if (err instanceof HomeserverUnavailableError) return { kind: "outage" };
  if (err instanceof MatrixError) {
    if (err.status === 429 || err.errcode === "M_LIMIT_EXCEEDED")
      return { kind: "rate-limited", retryAfterMs: err.retryAfterMs };
    if (err.status === 502 || err.status === 503 || err.status === 504) return { kind: "outage" };
    if (err.status >= 500) return { kind: "transient" };
    return { kind: "permanent" };
  }
  return isNetworkError(err) ? { kind: "outage" } : { kind: "other" };
}

/** Connection refused/reset, DNS, timeouts: undici's and Node's socket-level errors. */
function isNetworkError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code ?? (err.cause as { code?: unknown } | undefined)?.code;
  if (typeof code === "string" && /^(E[A-Z]+|UND_ERR_[A-Z_]+)$/.test(code)) return true;
  return err.name === "SocketError" || /fetch failed|other side closed|socket/i.test(err.message);
}

export interface RequestOptions {
  /** Masquerade as this user (appservice `user_id` query parameter). */
  asUser?: string;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  /** Raw bytes (media upload). */
  raw?: { data: Buffer; contentType: string };
  /** Give up after this many attempts on retryable errors. */
  attempts?: number;
  /** Per-attempt timeout. */
  timeoutMs?: number;
  /**
   * How long to wait for the homeserver to come back when it is known to be down before
   * throwing HomeserverUnavailableError (default 15 s). Queues that must not lose anything
   * catch that error and wait on `reachability` themselves.
   */
  outageWaitMs?: number;
  /** A probe or a health check: goes out even while the homeserver is marked down, and marks nothing. */
  bypassGate?: boolean;
}

export interface MatrixClientOptions {
  homeserverUrl: string;
  asToken: string;
  log: Logger;
  /** Connections to the homeserver (keep-alive). */
  connections?: number;
}

export class MatrixClient {
  private readonly dispatcher: Dispatcher;
  private readonly base: string;
  /** Shared by every call of this client: one probe decides when an outage is over. */
  readonly reachability: Reachability;

  constructor(private readonly opts: MatrixClientOptions) {
    this.base = opts.homeserverUrl.replace(/\/+$/, "");
    this.reachability = new Reachability(async () => {
      await this.once("GET", "/_matrix/client/versions", { timeoutMs: 5000 });
    });
    this.dispatcher = new Agent({
      connections: opts.connections ?? 32,
      keepAliveTimeout: 30_000,
      pipelining: 1,
    });
  }

  get homeserverUrl(): string {
    return this.base;
  }

  async close(): Promise<void> {
    this.reachability.stop();
    await this.dispatcher.close();
  }

  /** JSON request with retries; throws MatrixError for a Matrix error answer. */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const attempts = options.attempts ?? 6;
    let delay = 250;
    for (let attempt = 1; ; attempt++) {
      if (!options.bypassGate && !this.reachability.isUp) {
        // Known outage: wait for the one probe instead of adding to the requests it refuses.
        const up = await this.reachability.whenUp(options.outageWaitMs ?? 15_000);
        if (!up) throw new HomeserverUnavailableError(this.reachability.outage?.reason ?? "no answer");
      }
      try {
        return await this.once<T>(method, path, options);
      } catch (err) {
        const failure = classifyFailure(err);
        if (failure.kind === "outage" && !options.bypassGate) {
          this.reachability.markDown(err instanceof Error ? err.message : String(err));
          if (attempt >= attempts) throw err;
          continue;
        }
        const retryable =
          failure.kind === "rate-limited" || failure.kind === "transient" || failure.kind === "outage";
        if (!retryable || attempt >= attempts) throw err;
        const wait =
          err instanceof MatrixError && err.retryAfterMs !== undefined
            ? err.retryAfterMs
            : delay + Math.floor(Math.random() * delay);
        this.opts.log.debug(
          { method, path: path.split("?")[0], attempt, wait, err: String(err) },
          "retrying homeserver call",
        );
        await sleep(wait);
        delay = Math.min(delay * 2, 30_000);
      }
    }
  }

  private async once<T>(method: string, path: string, options: RequestOptions): Promise<T> {
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(options.query ?? {})) if (v !== undefined) query.set(k, String(v));
    if (options.asUser) query.set("user_id", options.asUser);
    const qs = query.toString();
    const url = `${this.base}${path}${qs ? (path.includes("?") ? "&" : "?") + qs : ""}`;
    const headers: Record<string, string> = { authorization: `Bearer ${this.opts.asToken}` };
    let body: string | Buffer | undefined;
    if (options.raw) {
      headers["content-type"] = options.raw.contentType;
      body = options.raw.data;
    } else if (options.body !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(options.body);
    }
    const res = await request(url, {
      method: method as Dispatcher.HttpMethod,
      headers,
      body,
      dispatcher: this.dispatcher,
      headersTimeout: options.timeoutMs ?? 60_000,
      bodyTimeout: options.timeoutMs ?? 60_000,
    });
    const text = await res.body.text();
    if (res.statusCode >= 200 && res.statusCode < 300) {
      return (text ? JSON.parse(text) : {}) as T;
    }
    let errcode = "M_UNKNOWN";
    let error = text.slice(0, 200);
    let retryAfterMs: number | undefined;
    try {
      const parsed = JSON.parse(text) as { errcode?: string; error?: string; retry_after_ms?: number };
      errcode = parsed.errcode ?? errcode;
      error = parsed.error ?? error;
      retryAfterMs = parsed.retry_after_ms;
    } catch {
      // not JSON (a proxy's error page): keep the text
    }
    if (res.statusCode === 429 && retryAfterMs === undefined) {
      const header = res.headers["retry-after"];
      const seconds = Number(Array.isArray(header) ? header[0] : header);
      if (Number.isFinite(seconds)) retryAfterMs = seconds * 1000;
    }
    throw new MatrixError(res.statusCode, errcode, error, method, path, retryAfterMs);
  }

  /**
   * A streaming GET, answered whatever its status: the media proxy passes bytes on without
   * holding a whole file, and tells a missing file from an unknown endpoint itself.
   */
  async stream(
    path: string,
    opts: { asUser?: string; signal?: AbortSignal } = {},
  ): Promise<Dispatcher.ResponseData> {
    const query = opts.asUser ? `?user_id=${encodeURIComponent(opts.asUser)}` : "";
    return request(`${this.base}${path}${query}`, {
      method: "GET",
      headers: { authorization: `Bearer ${this.opts.asToken}` },
      dispatcher: this.dispatcher,
      signal: opts.signal,
      headersTimeout: 30_000,
      bodyTimeout: 60_000,
    });
  }

  /** Raw bytes (media download). */
  async download(path: string, asUser?: string): Promise<{ data: Buffer; contentType: string }> {
    const query = asUser ? `?user_id=${encodeURIComponent(asUser)}` : "";
    const res = await request(`${this.base}${path}${query}`, {
      method: "GET",
      headers: { authorization: `Bearer ${this.opts.asToken}` },
      dispatcher: this.dispatcher,
    });
    const data = Buffer.from(await res.body.arrayBuffer());
    if (res.statusCode !== 200)
      throw new MatrixError(res.statusCode, "M_UNKNOWN", data.toString().slice(0, 200), "GET", path);
    const ct = res.headers["content-type"];
    return { data, contentType: (Array.isArray(ct) ? ct[0] : ct) ?? "application/octet-stream" };
  }
}

export const enc = encodeURIComponent;
