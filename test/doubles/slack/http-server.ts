import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { EventDelivery } from "./event-delivery.js";
import type { OAuthApp } from "./oauth.js";
import { DEFAULT_AVATAR_PNG, mimetypeFromName } from "./slack-objects.js";
import type { SocketModeServer } from "./socket-mode.js";
import type { SpecChecker } from "./spec-check.js";
import type { ApiCall } from "./types.js";
import { METHODS, type Caller, type Params } from "./web-api.js";
import { SlackApiError, type SlackEvent, type Workspace } from "./workspace.js";

/**
 * The double's one HTTP listener, standing in for slack.com/api, slack.com/oauth/v2/authorize (the
 * OAuth consent page), files.slack.com (uploads and downloads), the avatar CDN and
 * wss-primary.slack.com (WebSocket upgrades). It owns what happens
 * around a Web API call: parsing, auth, injected rate limits, spec checks, the call log, and
 * whether the call's events go out before or after its response.
 */

export interface RateLimitRule {
  method: string | RegExp | undefined;
  remaining: number;
  retryAfterSeconds: number;
}

export interface HttpServerDeps {
  ws: Workspace;
  delivery: EventDelivery;
  socket: SocketModeServer;
  spec: SpecChecker | undefined;
  violations: string[];
  calls: ApiCall[];
  rateLimits: RateLimitRule[];
  eventBeforeResponse: boolean;
  oauth: OAuthApp;
}

const MAX_BODY = 100 * 1024 * 1024;

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) req.destroy(new Error("body too large"));
      else chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function bearer(req: IncomingMessage): string | undefined {
  const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? "");
  return m?.[1];
}

/** `Authorization: Basic base64(user:password)`, how oauth.v2.access prefers client credentials. */
function basicAuth(req: IncomingMessage): { user: string; password: string } | undefined {
  const m = /^Basic\s+(\S+)$/i.exec(req.headers.authorization ?? "");
  if (!m?.[1]) return undefined;
  const decoded = Buffer.from(m[1], "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  return colon < 0 ? undefined : { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function contentType(req: IncomingMessage): string {
  return (req.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}

async function multipart(req: IncomingMessage, body: Buffer): Promise<FormData> {
  return new Response(body, { headers: { "content-type": req.headers["content-type"] ?? "" } }).formData();
}

/** Query string plus body, as Slack reads them: form, JSON or multipart. */
async function parseParams(req: IncomingMessage, body: Buffer): Promise<{ params: Params; json: boolean }> {
  const params: Params = Object.fromEntries(new URL(req.url ?? "/", "http://double").searchParams);
  if (body.length === 0) return { params, json: false };
  const type = contentType(req);
  if (type === "application/json") {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString("utf8"));
    } catch {
      throw new SlackApiError("invalid_json");
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      throw new SlackApiError("json_not_object");
    }
    return { params: { ...params, ...(parsed as Params) }, json: true };
  }
  if (type === "multipart/form-data") {
    const form = await multipart(req, body);
    for (const [key, value] of form.entries()) if (typeof value === "string") params[key] = value;
    return { params, json: false };
  }
  if (type === "application/x-www-form-urlencoded" || type === "") {
    Object.assign(params, Object.fromEntries(new URLSearchParams(body.toString("utf8"))));
    return { params, json: false };
  }
  throw new SlackApiError("invalid_post_type", type);
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

export class SlackHttpServer {
  private readonly server: Server;
  private port = 0;

  constructor(private readonly deps: HttpServerDeps) {
    this.server = createServer((req, res) => {
      this.route(req, res).catch((err: unknown) => {
        deps.violations.push(`internal error in the Slack double serving ${req.url}: ${String(err)}`);
        if (!res.headersSent) sendJson(res, 500, { ok: false, error: "internal_error" });
        else res.destroy();
      });
    });
    this.server.on("upgrade", (req, socket, head: Buffer) => deps.socket.handleUpgrade(req, socket, head));
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(0, "127.0.0.1", () => resolve());
    });
    const address = this.server.address();
    if (address === null || typeof address === "string") throw new Error("Slack double: no TCP address");
    this.port = address.port;
    return this.port;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://double");
    const path = url.pathname;
    if (path === "/oauth/v2/authorize" && (req.method === "GET" || req.method === "HEAD")) {
      const { status, html } = this.deps.oauth.page(url.searchParams);
      res.writeHead(status, { "Content-Type": "text/html; charset=utf-8" });
      res.end(req.method === "HEAD" ? undefined : html);
      return;
    }
    if (path.startsWith("/api/")) return this.api(decodeURIComponent(path.slice("/api/".length)), req, res);
    if (path.startsWith("/upload/v1/") && req.method === "POST") return this.upload(path.slice(11), req, res);
    if (path.startsWith("/files-pri/")) return this.download(path, req, res);
    if (path.startsWith("/avatars/")) {
      res.writeHead(200, { "Content-Type": "image/png", "Content-Length": DEFAULT_AVATAR_PNG.length });
      res.end(DEFAULT_AVATAR_PNG);
      return;
    }
    if (path === "/login") {
      res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
      res.end(
        "<!DOCTYPE html><html><head><title>Sign in | Slack</title></head><body>Sign in to Slack</body></html>",
      );
      return;
    }
    res.writeHead(404, { "Content-Type": "text/plain" });
    res.end("not found");
  }

  private takeRateLimit(method: string): RateLimitRule | undefined {
    const rule = this.deps.rateLimits.find(
      (r) =>
        r.remaining > 0 &&
        (r.method === undefined ||
          (typeof r.method === "string" ? r.method === method : r.method.test(method))),
    );
    if (rule) rule.remaining -= 1;
    return rule;
  }

  private async api(method: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { ws, spec, violations, calls, delivery } = this.deps;
    const body = await readBody(req);
    let params: Params = {};
    let json = false;
    let parseError: SlackApiError | undefined;
    try {
      ({ params, json } = await parseParams(req, body));
    } catch (err) {
      if (!(err instanceof SlackApiError)) throw err;
      parseError = err;
    }
    // JSON bodies must authenticate with the header; a token inside JSON is ignored, as by Slack.
    const token = bearer(req) ?? (!json && typeof params.token === "string" ? params.token : "");
    delete params.token;
    const call = (status: number, result: Record<string, unknown>): ApiCall => ({
      method,
      token,
      params,
      status,
      ok: result.ok === true,
      ...(typeof result.error === "string" ? { error: result.error } : {}),
    });

    const limit = this.takeRateLimit(method);
    if (limit) {
      const result = { ok: false, error: "ratelimited" };
      calls.push(call(429, result));
      sendJson(res, 429, result, { "Retry-After": String(limit.retryAfterSeconds) });
      return;
    }

    const known = spec?.hasMethod(method) ?? false;
    if (known && spec && !parseError) violations.push(...spec.checkRequest(method, params, json));
    const events: SlackEvent[] = [];
    let result: Record<string, unknown>;
    const sink = ws.sink;
    ws.sink = (e) => events.push(e); // hold the call's events until we decide when they go out
    try {
      if (parseError) throw parseError;
      const handler = METHODS[method];
      if (!handler) throw new SlackApiError("unknown_method", method);
      let caller: Caller = { token, kind: "client", userId: undefined };
      if (!handler.clientAuth) {
        const record = ws.authenticate(token);
        if (!handler.tokens.includes(record.kind)) throw new SlackApiError("not_allowed_token_type");
        caller = { token, kind: record.kind, userId: record.userId };
      }
      const base = ws.urls.base;
      result = {
        ok: true,
        ...handler.run({
          ws,
          caller,
          params,
          openSocketUrl: () => this.deps.socket.issueUrl(base.replace(/^http/, "ws"), ws.mint.uuid()),
          uploadUrl: (uploadId) => `${base}upload/v1/${uploadId}`,
          oauth: this.deps.oauth,
          basicAuth: basicAuth(req),
        }),
      };
    } catch (err) {
      if (!(err instanceof SlackApiError)) {
        violations.push(
          `internal error in the Slack double's ${method}: ${(err as Error).stack ?? String(err)}`,
        );
        result = { ok: false, error: "internal_error" };
      } else {
        result = { ok: false, error: err.code };
      }
    } finally {
      ws.sink = sink;
    }
    if (known && spec) violations.push(...spec.checkResponse(method, result));
    calls.push(call(200, result));

    if (this.deps.eventBeforeResponse) {
      // The echo race: the app hears about its own post before it learns the post's ts.
      await Promise.all(events.map((e) => delivery.publish(e)));
      sendJson(res, 200, result);
    } else {
      res.once("finish", () => {
        for (const e of events) void delivery.publish(e);
      });
      sendJson(res, 200, result);
    }
  }

  /** The upload_url of files.getUploadURLExternal: raw bytes or a multipart form with one file. */
  private async upload(uploadId: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { ws, violations } = this.deps;
    const body = await readBody(req);
    let data = body;
    if (contentType(req) === "multipart/form-data") {
      const form = await multipart(req, body);
      const file = [...form.values()].find((v): v is File => typeof v !== "string");
      if (file) data = Buffer.from(await file.arrayBuffer());
    }
    const fileId = ws.uploads.get(uploadId);
    const file = fileId === undefined ? undefined : ws.files.get(fileId);
    if (!file || !ws.receiveUpload(uploadId, data, mimetypeFromName(file.name))) {
      res.writeHead(404, { "Content-Type": "text/plain" });
      res.end("upload_url unknown or already used");
      return;
    }
    if (data.length !== file.declaredLength) {
      violations.push(
        `upload of ${file.id} (${file.name}) sent ${data.length} bytes but files.getUploadURLExternal declared length=${file.declaredLength}`,
      );
    }
    res.writeHead(200, { "Content-Type": "text/plain" });
    res.end(`OK - ${data.length}`);
  }

  /**
   * url_private(_download). Without a workspace token Slack does not say 401: it redirects to its
   * sign-in page, so a client that forgets the header "downloads" an HTML page. So does the double.
   */
  private download(path: string, req: IncomingMessage, res: ServerResponse): void {
    const { ws } = this.deps;
    const m = /^\/files-pri\/([A-Z0-9]+)-([A-Z0-9]+)\/(download\/)?[^/]+$/.exec(path);
    let authorized: boolean;
    try {
      authorized = ws.authenticate(bearer(req) ?? "").kind !== "app";
    } catch {
      authorized = false;
    }
    if (!authorized) {
      res.writeHead(302, { Location: `${ws.urls.base}login?redir=${encodeURIComponent(path)}` });
      res.end();
      return;
    }
    const file = m && m[1] === ws.team.id ? ws.files.get(m[2] ?? "") : undefined;
    if (!file?.data) {
      res.writeHead(404, { "Content-Type": "text/plain" });
      res.end("file not found");
      return;
    }
    res.writeHead(200, {
      "Content-Type": file.mimetype,
      "Content-Length": file.data.length,
      ...(m?.[3] ? { "Content-Disposition": `attachment; filename="${encodeURIComponent(file.name)}"` } : {}),
    });
    res.end(req.method === "HEAD" ? undefined : file.data);
  }
}
