import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { sniffContentType } from "./cdn.js";
import { DiscordApiError, unauthorized } from "./errors.js";
import type { Gateway } from "./gateway.js";
import type { Interactions } from "./interactions.js";
import type { Model } from "./model.js";
import { matchRoute, pathKnown, type Route, type UploadedFile } from "./rest-api.js";
import type { SpecChecker } from "./spec-check.js";
import { tokenMatches } from "./token-check.js";
import type { ApiCall } from "./types.js";

/**
 * The double's one HTTP listener, standing in for discord.com/api (REST v10), cdn.discordapp.com and
 * media.discordapp.net (attachments and avatars) and gateway.discord.gg (WebSocket upgrades). It owns
 * what happens around a REST call: parsing JSON and multipart bodies, `Authorization: Bot` checks,
 * rate-limit buckets and injected 429s, spec checks of request and answer, and the call log.
 */

export interface RateLimitRule {
  route: string | RegExp | undefined;
  remaining: number;
  retryAfterSeconds: number;
  global: boolean;
}

export interface HttpServerDeps {
  model: Model;
  interactions: Interactions;
  gateway: Gateway;
  routes: Route[];
  spec: SpecChecker | undefined;
  violations: string[];
  calls: ApiCall[];
  rateLimits: RateLimitRule[];
  bucket: { limit: number; windowMs: number };
}

const MAX_BODY = 25 * 1024 * 1024;
/** A 1×1 transparent PNG: Discord's default avatars, which the double does not draw. */
const DEFAULT_AVATAR = Buffer.from(
  "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082",
  "hex",
);

class BodyTooLarge extends Error {}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY) chunks.push(chunk);
    });
    req.on("end", () => (size > MAX_BODY ? reject(new BodyTooLarge()) : resolve(Buffer.concat(chunks))));
    req.on("error", reject);
  });
}

function contentType(req: IncomingMessage): string {
  return (req.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}

const invalidJson = () => new DiscordApiError(400, 50109, "The request body contains invalid JSON.");

/** JSON, or multipart with `payload_json` (and/or plain form fields) plus `files[n]`. */
async function parseBody(
  req: IncomingMessage,
  raw: Buffer,
): Promise<{ body: unknown; files: UploadedFile[] }> {
  const type = contentType(req);
  if (raw.length === 0) return { body: undefined, files: [] };
  if (type === "application/json") {
    try {
      return { body: JSON.parse(raw.toString("utf8")) as unknown, files: [] };
    } catch {
      throw invalidJson();
    }
  }
  if (type === "multipart/form-data") {
    const form = await new Response(raw, {
      headers: { "content-type": req.headers["content-type"] ?? "" },
    }).formData();
    const files: UploadedFile[] = [];
    let body: Record<string, unknown> = {};
    for (const [field, value] of form.entries()) {
      if (typeof value === "string") {
        if (field === "payload_json") {
          try {
            body = { ...body, ...(JSON.parse(value) as Record<string, unknown>) };
          } catch {
            throw invalidJson();
          }
        } else {
          body[field] = value;
        }
      } else {
        files.push({
          field,
          filename: value.name,
          contentType: value.type,
          data: Buffer.from(await value.arrayBuffer()),
        });
      }
    }
    return { body, files };
  }
  if (type === "application/x-www-form-urlencoded") {
    return { body: Object.fromEntries(new URLSearchParams(raw.toString("utf8"))), files: [] };
  }
  throw new DiscordApiError(400, 50035, "Invalid Form Body");
}

/** The path's "major parameter", which Discord's buckets are kept per. */
function majorParameter(params: Record<string, string>): string {
  return (
    params.channel_id ??
    params.guild_id ??
    (params.webhook_id ? `${params.webhook_id}/${params.webhook_token ?? ""}` : "")
  );
}

interface Window {
  startedAt: number;
  used: number;
}

export class DiscordHttpServer {
  private readonly server: Server;
  private readonly windows = new Map<string, Window>();

  constructor(private readonly deps: HttpServerDeps) {
    this.server = createServer((req, res) => {
      this.serve(req, res).catch((err: unknown) => {
        deps.violations.push(
          `internal error in the Discord double serving ${req.method} ${req.url}: ${String(err)}`,
        );
        if (!res.headersSent) this.json(res, 500, { code: 0, message: "500: Internal Server Error" });
        else res.destroy();
      });
    });
    this.server.on("upgrade", (req, socket, head: Buffer) => deps.gateway.handleUpgrade(req, socket, head));
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(0, "127.0.0.1", () => resolve());
    });
    const address = this.server.address();
    if (address === null || typeof address === "string") throw new Error("Discord double: no TCP address");
    return address.port;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private json(
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ): void {
    if (status === 204 || body === undefined) {
      res.writeHead(status, headers);
      res.end();
      return;
    }
    const text = JSON.stringify(body);
    res.writeHead(status, {
      "Content-Type": "application/json",
      "Content-Length": Buffer.byteLength(text),
      ...headers,
    });
    res.end(text);
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://double");
    const m = /^\/api\/v(\d+)(\/.*)$/.exec(url.pathname);
    if (m) {
      if (m[1] !== "10" && m[1] !== "9")
        return this.json(res, 400, { code: 50041, message: "Invalid API version provided" });
      return this.rest(m[2] ?? "/", url, req, res);
    }
    if (req.method === "GET" || req.method === "HEAD") return this.cdn(url, req, res);
    this.json(res, 404, { code: 0, message: "404: Not Found" });
  }

  private async rest(path: string, url: URL, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { deps } = this;
    const method = req.method ?? "GET";
    const found = matchRoute(deps.routes, method, path);
    let raw: Buffer;
    try {
      raw = await readBody(req);
    } catch (err) {
      if (err instanceof BodyTooLarge)
        return this.json(res, 413, { code: 40005, message: "Request entity too large" });
      throw err;
    }
    if (!found) {
      const known = pathKnown(deps.routes, path);
      return this.json(res, known ? 405 : 404, {
        code: 0,
        message: known ? "405: Method Not Allowed" : "404: Not Found",
      });
    }
    const { route, params } = found;
    const template = `${method} ${route.path}`;
    const operationId = deps.spec?.operation(method, route.path)?.operationId;
    const call: ApiCall = {
      route: template,
      ...(operationId !== undefined ? { operationId } : {}),
      path,
      query: Object.fromEntries(url.searchParams),
      body: undefined,
      files: [],
      auth:
        route.auth === "bot" ? "bot" : params.webhook_token || params.interaction_token ? "webhook" : "none",
      status: 0,
    };
    deps.calls.push(call);
    const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      call.status = status;
      const code = (body as { code?: unknown } | undefined)?.code;
      if (status >= 400 && typeof code === "number") call.code = code;
      if (deps.spec) deps.violations.push(...deps.spec.checkResponse(method, route.path, status, body));
      this.json(res, status, body, headers);
    };

    if (route.auth === "bot") {
      const header = req.headers.authorization ?? "";
      const token = /^Bot\s+(\S+)$/.exec(header)?.[1] ?? "";
      if (!tokenMatches(token, deps.model.bot.token)) return answer(401, unauthorized().body());
    }

    const bucketKey = `${template} ${majorParameter(params)}`;
    const bucketHash = createHash("md5").update(template).digest("hex");
    const injected = this.takeInjected(template, operationId);
    if (injected) {
      return answer(
        429,
        {
          message: "You are being rate limited.",
          retry_after: injected.retryAfterSeconds,
          global: injected.global,
        },
        this.limitHeaders(bucketHash, 0, injected.retryAfterSeconds, {
          "Retry-After": String(Math.ceil(injected.retryAfterSeconds)),
          "X-RateLimit-Scope": injected.global ? "global" : "user",
          ...(injected.global ? { "X-RateLimit-Global": "true" } : {}),
        }),
      );
    }
    const window = this.useBucket(bucketKey);
    const resetAfter = Math.max(0, deps.bucket.windowMs - (Date.now() - window.startedAt)) / 1000;
    if (window.used > deps.bucket.limit) {
      // The client went over what the headers told it: a real 429, as Discord answers.
      return answer(
        429,
        { message: "You are being rate limited.", retry_after: resetAfter, global: false },
        this.limitHeaders(bucketHash, 0, resetAfter, {
          "Retry-After": String(Math.ceil(resetAfter)),
          "X-RateLimit-Scope": "user",
        }),
      );
    }
    const headers = this.limitHeaders(bucketHash, deps.bucket.limit - window.used, resetAfter);

    let parsed: { body: unknown; files: UploadedFile[] };
    try {
      parsed = await parseBody(req, raw);
    } catch (err) {
      if (err instanceof DiscordApiError) return answer(err.status, err.body(), headers);
      throw err;
    }
    call.body = parsed.body;
    call.files = parsed.files.map((f) => ({
      field: f.field,
      filename: f.filename,
      contentType: f.contentType,
      size: f.data.length,
    }));
    if (deps.spec) {
      deps.violations.push(
        ...deps.spec.checkRequest({
          method,
          route: route.path,
          pathParams: params,
          query: url.searchParams,
          body: parsed.body,
          contentType: contentType(req),
        }),
      );
    }
    try {
      const result = route.run({
        model: deps.model,
        interactions: deps.interactions,
        params,
        query: url.searchParams,
        body: parsed.body,
        files: parsed.files,
        gatewayUrl: deps.gateway.url,
      });
      answer(result.status ?? (result.body === undefined ? 204 : 200), result.body, headers);
    } catch (err) {
      if (err instanceof DiscordApiError) return answer(err.status, err.body(), headers);
      throw err;
    }
  }

  private takeInjected(template: string, operationId: string | undefined): RateLimitRule | undefined {
    const rule = this.deps.rateLimits.find(
      (r) =>
        r.remaining > 0 &&
        (r.route === undefined ||
          (typeof r.route === "string"
            ? r.route === template || r.route === operationId
            : r.route.test(template))),
    );
    if (rule) rule.remaining -= 1;
    return rule;
  }

  private useBucket(key: string): Window {
    const now = Date.now();
    let w = this.windows.get(key);
    if (!w || now - w.startedAt >= this.deps.bucket.windowMs) {
      w = { startedAt: now, used: 0 };
      this.windows.set(key, w);
    }
    w.used += 1;
    return w;
  }

  private limitHeaders(
    bucket: string,
    remaining: number,
    resetAfter: number,
    extra: Record<string, string> = {},
  ): Record<string, string> {
    return {
      "X-RateLimit-Bucket": bucket,
      "X-RateLimit-Limit": String(this.deps.bucket.limit),
      "X-RateLimit-Remaining": String(Math.max(0, remaining)),
      "X-RateLimit-Reset": ((Date.now() + resetAfter * 1000) / 1000).toFixed(3),
      "X-RateLimit-Reset-After": resetAfter.toFixed(3),
      ...extra,
    };
  }

  /** cdn.discordapp.com / media.discordapp.net: signed attachments, avatars, default avatars, emoji. */
  private cdn(url: URL, req: IncomingMessage, res: ServerResponse): void {
    const { model } = this.deps;
    const send = (status: number, type: string, data: Buffer | string) => {
      res.writeHead(status, { "Content-Type": type, "Content-Length": Buffer.byteLength(data) });
      res.end(req.method === "HEAD" ? undefined : data);
    };
    const gone = () => send(404, "text/plain; charset=utf-8", "This content is no longer available.");
    const att = /^\/(?:cdn|media)(\/attachments\/(\d+)\/(\d+)\/([^/]+))$/.exec(url.pathname);
    if (att) {
      const record = model.attachments.get(att[3] ?? "");
      if (!record || record.channelId !== att[2] || encodeURIComponent(record.filename) !== att[4])
        return gone();
      if (!model.cdn.verify(att[1] ?? "", url.searchParams)) return gone();
      return send(200, record.contentType ?? sniffContentType(record.data), record.data);
    }
    const avatar = /^\/cdn\/avatars\/(\d+)\/([0-9a-f]{32})\.(png|jpg|jpeg|webp|gif)$/.exec(url.pathname);
    if (avatar) {
      const [, id = "", hash = ""] = avatar;
      const user = model.users.get(id);
      if (user?.avatar === hash && user.avatarData)
        return send(200, sniffContentType(user.avatarData), user.avatarData);
      const hook = model.webhooks.get(id);
      if (hook?.avatar === hash && hook.avatarData)
        return send(200, sniffContentType(hook.avatarData), hook.avatarData);
      // A webhook message's avatar_url: Discord proxies the image; the double points back at it.
      const original = model.personaAvatars.get(hash);
      if (original) {
        res.writeHead(302, { Location: original, "Content-Length": 0 });
        res.end();
        return;
      }
      return gone();
    }
    const memberAvatar = /^\/cdn\/guilds\/(\d+)\/users\/(\d+)\/avatars\/([0-9a-f]{32})\.\w+$/.exec(
      url.pathname,
    );
    if (memberAvatar) {
      const m = model.guilds.get(memberAvatar[1] ?? "")?.members.get(memberAvatar[2] ?? "");
      if (m && m.avatar === memberAvatar[3] && m.avatarData)
        return send(200, sniffContentType(m.avatarData), m.avatarData);
      return gone();
    }
    const emoji = /^\/cdn\/emojis\/(\d+)\.(png|gif|webp|jpg|jpeg)$/.exec(url.pathname);
    if (emoji) {
      for (const g of model.guilds.values()) {
        const e = g.emojis.get(emoji[1] ?? "");
        if (e)
          return e.image
            ? send(200, sniffContentType(e.image), e.image)
            : send(200, "image/png", DEFAULT_AVATAR);
      }
      return gone();
    }
    const sticker = /^\/cdn\/stickers\/(\d+)\.(png|gif|json)$/.exec(url.pathname);
    if (sticker) {
      for (const g of model.guilds.values()) {
        const s = g.stickers.get(sticker[1] ?? "");
        if (s) return send(200, s.format === 3 ? "application/json" : sniffContentType(s.image), s.image);
      }
      return gone();
    }
    if (/^\/cdn\/embed\/avatars\/\d\.png$/.test(url.pathname)) return send(200, "image/png", DEFAULT_AVATAR);
    gone();
  }
}
