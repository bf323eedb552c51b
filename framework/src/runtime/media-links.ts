import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { create as contentDisposition } from "content-disposition";
import rangeParser from "range-parser";
import { closeServer } from "../matrix/appservice.js";
import { openMedia } from "../matrix/intent.js";
import type { Services } from "./services.js";

/**
 * Public links to Matrix files, for networks that can only send links (IRC). Homeservers
 * answer media downloads only with a token now (authenticated media, MSC3916), so a plain
 * `/_matrix/media/v3/download` link is a 404 for an IRC user. Instead every file the bridge
 * sends as a link gets a random token stored with its mxc URI, and `GET /media/<token>` streams
 * it from the homeserver as the bot. The token is the only key: no mxc URI can be asked for,
 * so this is no open proxy; a redaction deletes the event's tokens.
 *
 * Hand-written on node:http because it is one route whose whole job is the headers
 * (`content-disposition` and `range-parser` do the two fiddly parts).
 */

/** 128 random bits in base64url: 22 characters, short enough for an IRC line. */
const TOKEN_BYTES = 16;
const TOKEN_PATH = /^\/media\/([A-Za-z0-9_-]{22})(?:\/[^/]*)?$/;
/** A file name in the link helps whoever reads the line; a long one only costs line space. */
const MAX_NAME_IN_URL = 40;
const AVATAR_NAMESPACE = "media:avatars";

/**
 * Types a browser may show in place: images that run no script, and plain text (a long IRC
 * message is sent as a text file, which should open as text). Everything else is a download,
 * and every answer carries `nosniff` and a sandboxing CSP so nothing is run as a page.
 */
const INLINE_TYPES = new Set([
  "image/png",
  "image/jpeg",
  "image/gif",
  "image/webp",
  "image/apng",
  "image/avif",
  "text/plain",
]);

export interface LinkSource {
  name: string;
  mimetype: string;
  /** The Matrix event the file came with: redacting it ends the link. */
  eventId?: string;
}

export class MediaLinks {
  private server: Server | null = null;
  private readonly avatars = new Map<string, string>();

  constructor(private readonly s: Pick<Services, "config" | "store" | "client" | "botUserId" | "log">) {}

  /** Where links point: `media.public_url`, else the appservice's own URL. */
  get baseUrl(): string {
    const { media, appservice } = this.s.config;
    const base = media.public_url ?? appservice.url ?? `http://${appservice.bind}:${appservice.port}`;
    return base.replace(/\/+$/, "");
  }

  /** A new public link for an mxc URI the bridge is about to send. */
  async create(mxc: string, source: LinkSource): Promise<string> {
    const token = randomBytes(TOKEN_BYTES).toString("base64url");
    const days = this.s.config.media.link_lifetime_days;
    const now = Date.now();
    await this.s.store.mediaLinkPut({
      token,
      mxc,
      name: source.name || "file",
      mimetype: source.mimetype,
      createdAt: now,
      ...(source.eventId ? { eventId: source.eventId } : {}),
      ...(days > 0 ? { expiresAt: now + days * 86_400_000 } : {}),
    });
    const name = encodeURIComponent(source.name);
    return `${this.baseUrl}/media/${token}${name && name.length <= MAX_NAME_IN_URL ? `/${name}` : ""}`;
  }

  /**
   * One lasting link per avatar (a relayed message shows the sender's picture): avatars are
   * public profile data, and one token each keeps the store from growing per message.
   */
  async avatar(mxc: string): Promise<string> {
    let token = this.avatars.get(mxc);
    if (!token) {
      token = (await this.s.store.kvGet<string>(AVATAR_NAMESPACE, mxc)) ?? undefined;
      if (!token) {
        token = randomBytes(TOKEN_BYTES).toString("base64url");
        await this.s.store.mediaLinkPut({
          token,
          mxc,
          name: "avatar",
          mimetype: "image/png",
          createdAt: Date.now(),
        });
        await this.s.store.kvSet(AVATAR_NAMESPACE, mxc, token);
      }
      this.avatars.set(mxc, token);
      if (this.avatars.size > 10_000) this.avatars.clear();
    }
    return `${this.baseUrl}/media/${token}`;
  }

  /** The event was redacted: its links stop working. */
  revokeEvent(eventId: string): Promise<number> {
    return this.s.store.mediaLinkDeleteByEvent(eventId);
  }

  prune(): Promise<number> {
    return this.s.store.mediaLinkPrune(Date.now());
  }

  /** Its own listener when `media.port` is set (otherwise the appservice port routes here). */
  async listen(): Promise<number | null> {
    const { media, appservice } = this.s.config;
    if (media.port === undefined) return null;
    const server = createServer((req, res) => {
      void this.serve(req, res).then((handled) => {
        if (!handled) plain(res, 404, "Not found.");
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(media.port, media.bind ?? appservice.bind, () => resolve());
    });
    this.server = server;
    const addr = server.address();
    return typeof addr === "object" && addr ? addr.port : media.port;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server) await closeServer(server, "all");
  }

  /** Answers `/media/…` requests; false for any other path (the caller answers those). */
  async serve(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    if (!path.startsWith("/media/")) return false;
    try {
      await this.answer(req, res, path);
    } catch (err) {
      this.s.log.warn({ err: String(err) }, "media link request failed");
      if (!res.headersSent) plain(res, 502, "The homeserver did not hand over the file; try again later.");
      else res.destroy();
    }
    return true;
  }

  private async answer(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("allow", "GET, HEAD");
      return plain(res, 405, "Only GET and HEAD.");
    }
    const token = TOKEN_PATH.exec(path)?.[1];
    const link = token ? await this.s.store.mediaLinkGet(token) : null;
    if (!link || (link.expiresAt !== undefined && link.expiresAt <= Date.now()))
      return plain(res, 404, "This link does not exist, has expired, or its message was deleted.");

    const abort = new AbortController();
    res.once("close", () => abort.abort());
    const upstream = await openMedia(this.s.client, link.mxc, this.s.botUserId, abort.signal);
    if (upstream.status !== 200) {
      upstream.body.resume();
      if (upstream.status === 404) return plain(res, 404, "The homeserver no longer has this file.");
      this.s.log.warn({ status: upstream.status, mxc: link.mxc }, "homeserver refused a media download");
      return plain(res, 502, "The homeserver did not hand over the file; try again later.");
    }
    const type = header(upstream.headers["content-type"]) ?? link.mimetype;
    const baseType = type.split(";")[0]?.trim().toLowerCase() ?? "";
    const length = Number(header(upstream.headers["content-length"]));
    res.setHeader("content-type", type);
    res.setHeader(
      "content-disposition",
      contentDisposition(link.name, { type: INLINE_TYPES.has(baseType) ? "inline" : "attachment" }),
    );
    res.setHeader("x-content-type-options", "nosniff");
    res.setHeader("content-security-policy", "sandbox; default-src 'none'");
    // A redaction must end the link, so no cache may keep the bytes.
    res.setHeader("cache-control", "no-store");
    res.setHeader("accept-ranges", Number.isFinite(length) ? "bytes" : "none");

    let body: Readable = upstream.body;
    const range = Number.isFinite(length) ? req.headers.range : undefined;
    const ranges = range ? rangeParser(length, range, { combine: true }) : undefined;
    if (ranges === -1) {
      upstream.body.resume();
      res.setHeader("content-range", `bytes */${length}`);
      return plain(res, 416, "That range is outside the file.");
    }
    // One range is served; several (rare, and allowed to be refused) get the whole file.
    if (Array.isArray(ranges) && ranges.length === 1 && ranges.type === "bytes") {
      const { start, end } = ranges[0] as rangeParser.Range;
      res.statusCode = 206;
      res.setHeader("content-range", `bytes ${start}-${end}/${length}`);
      res.setHeader("content-length", String(end - start + 1));
      body = upstream.body.pipe(byteSlice(start, end));
    } else {
      res.statusCode = 200;
      if (Number.isFinite(length)) res.setHeader("content-length", String(length));
    }
    if (req.method === "HEAD") {
      upstream.body.destroy();
      res.end();
      return;
    }
    await pipeline(body, res);
  }
}

/** Passes on bytes `start`..`end` (inclusive) of a stream. */
function byteSlice(start: number, end: number): Transform {
  let offset = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      const from = Math.max(0, start - offset);
      const to = Math.min(chunk.length, end + 1 - offset);
      offset += chunk.length;
      done(null, from < to ? chunk.subarray(from, to) : undefined);
    },
  });
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function plain(res: ServerResponse, status: number, text: string): void {
  res.statusCode = status;
  res.setHeader("content-type", "text/plain; charset=utf-8");
  res.setHeader("x-content-type-options", "nosniff");
  res.end(`${text}\n`);
}
