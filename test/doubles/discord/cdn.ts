import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * The double's stand-in for cdn.discordapp.com and media.discordapp.net. Attachment links are signed
 * like Discord's since 2024 (`?ex=<expiry hex>&is=<issued hex>&hm=<hmac>`): a link with a missing
 * or altered signature, or one past its expiry, answers 404 "This content is no longer available.",
 * so a bridge that strips the query string or caches links for days fails here as it would there.
 */

/** How long a signed attachment link works (Discord: about 24 hours). */
const LINK_LIFETIME_S = 24 * 60 * 60;

export class Cdn {
  private readonly key = randomBytes(32);
  /** http://127.0.0.1:<port>, set once the listener has a port. */
  origin = "";

  get cdnBase(): string {
    return `${this.origin}/cdn`;
  }

  private sign(path: string, ex: string, is: string): string {
    return createHmac("sha256", this.key).update(`${path}|${ex}|${is}`).digest("hex");
  }

  private signedQuery(path: string): string {
    const now = Math.floor(Date.now() / 1000);
    const ex = (now + LINK_LIFETIME_S).toString(16);
    const is = now.toString(16);
    return `ex=${ex}&is=${is}&hm=${this.sign(path, ex, is)}&`;
  }

  attachmentPath(channelId: string, attachmentId: string, filename: string): string {
    return `/attachments/${channelId}/${attachmentId}/${encodeURIComponent(filename)}`;
  }

  attachmentUrl(channelId: string, attachmentId: string, filename: string): string {
    const path = this.attachmentPath(channelId, attachmentId, filename);
    return `${this.cdnBase}${path}?${this.signedQuery(path)}`;
  }

  proxyUrl(channelId: string, attachmentId: string, filename: string): string {
    const path = this.attachmentPath(channelId, attachmentId, filename);
    return `${this.origin}/media${path}?${this.signedQuery(path)}`;
  }

  /** True if the query carries a valid, unexpired signature for the path. */
  verify(path: string, query: URLSearchParams): boolean {
    const ex = query.get("ex") ?? "";
    const is = query.get("is") ?? "";
    const hm = query.get("hm") ?? "";
    if (!/^[0-9a-f]+$/.test(ex) || !/^[0-9a-f]+$/.test(is) || !/^[0-9a-f]{64}$/.test(hm)) return false;
    if (Number.parseInt(ex, 16) * 1000 < Date.now()) return false;
    return timingSafeEqual(Buffer.from(this.sign(path, ex, is), "hex"), Buffer.from(hm, "hex"));
  }
}

/** What the CDN serves: a content type from the first bytes, since the double never transcodes. */
export function sniffContentType(data: Buffer, fallback = "application/octet-stream"): string {
  if (data.subarray(0, 8).equals(Buffer.from("89504e470d0a1a0a", "hex"))) return "image/png";
  if (data[0] === 0xff && data[1] === 0xd8) return "image/jpeg";
  if (data.subarray(0, 4).toString("latin1") === "GIF8") return "image/gif";
  if (data.subarray(0, 4).toString("latin1") === "RIFF" && data.subarray(8, 12).toString("latin1") === "WEBP")
    return "image/webp";
  return fallback;
}

const BY_EXTENSION: Record<string, string> = {
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  txt: "text/plain; charset=utf-8",
  json: "application/json; charset=utf-8",
  pdf: "application/pdf",
  mp4: "video/mp4",
  ogg: "audio/ogg",
  mp3: "audio/mpeg",
};

/** Discord guesses an attachment's content_type from its name when the upload does not say. */
export function contentTypeFromName(filename: string): string | undefined {
  const ext = filename.split(".").at(-1)?.toLowerCase() ?? "";
  return BY_EXTENSION[ext];
}

/** Width and height of a PNG, GIF or JPEG, which Discord reports on image attachments. */
export function imageSize(data: Buffer): { width: number; height: number } | undefined {
  const type = sniffContentType(data);
  if (type === "image/png" && data.length >= 24)
    return { width: data.readUInt32BE(16), height: data.readUInt32BE(20) };
  if (type === "image/gif" && data.length >= 10)
    return { width: data.readUInt16LE(6), height: data.readUInt16LE(8) };
  if (type === "image/jpeg") {
    let i = 2;
    while (i + 9 < data.length) {
      if (data[i] !== 0xff) return undefined;
      const marker = data[i + 1]!;
      const len = data.readUInt16BE(i + 2);
      if (marker >= 0xc0 && marker <= 0xc3)
        return { width: data.readUInt16BE(i + 7), height: data.readUInt16BE(i + 5) };
      i += 2 + len;
    }
  }
  return undefined;
}
