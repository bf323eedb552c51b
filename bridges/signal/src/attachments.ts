import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  randomBytes,
  timingSafeEqual,
} from "node:crypto";
import { PermanentError, RateLimitedError } from "@switchboard/framework";
import { parseJson, type ChatFetch, type HttpFetch, type ServiceUrls } from "./transport.js";

/**
 * Signal attachments: the file format every Signal client reads and writes, and the CDN
 * round trips. A file is encrypted once with a fresh key, uploaded to a CDN under a key the chat
 * service hands out, and the pointer (CDN number and key, the 64-byte key, the digest, the size)
 * travels inside the end-to-end encrypted message. The CDN only ever sees ciphertext.
 *
 * Format: the plaintext is zero-padded to a size bucket, AES-256-CBC encrypted (PKCS7) under a
 * random IV, and stored as `iv || ciphertext || HMAC-SHA256(iv || ciphertext)`; the digest is
 * SHA-256 of that whole blob and is what the sender commits to in the pointer.
 */

const IV_BYTES = 16;
const MAC_BYTES = 32;
const AES_KEY_BYTES = 32;
const KEY_BYTES = AES_KEY_BYTES + 32;
const BLOCK_BYTES = 16;
// The smallest valid blob: IV, one cipher block (PKCS7 always adds at least one), MAC.
const MIN_BLOB_BYTES = IV_BYTES + BLOCK_BYTES + MAC_BYTES;

/** Everything needed to fetch and open one attachment, as an AttachmentPointer carries it. */
export interface AttachmentLocator {
  cdnNumber: number;
  cdnKey?: string;
  /** Legacy numeric id (CDN 0 pointers from old clients), as a decimal string. */
  cdnId?: string;
  /** 64 bytes: AES-256 key, then HMAC-SHA256 key. */
  key: Buffer;
  digest?: Buffer;
  /** Plaintext size; without it the padding cannot be removed. */
  size?: number;
}

export interface EncryptedAttachment {
  ciphertext: Buffer;
  key: Buffer;
  digest: Buffer;
  size: number;
}

export interface UploadedAttachment {
  cdnNumber: number;
  cdnKey: string;
  key: Buffer;
  digest: Buffer;
  size: number;
}

/**
 * The padded plaintext size Signal's clients use: the next power of 1.05, at least 541 bytes.
 * Buckets hide a file's exact size from the CDN (and anyone watching it) at a cost of at most 5%.
 */
export function paddedSize(size: number): number {
  const bucket = Math.floor(1.05 ** Math.ceil(Math.log(size) / Math.log(1.05)));
  // Float rounding must never yield a bucket smaller than the data.
  return Math.max(541, size, bucket);
}

export function encryptAttachment(plaintext: Buffer): EncryptedAttachment {
  const key = randomBytes(KEY_BYTES);
  const iv = randomBytes(IV_BYTES);
  const padded = Buffer.alloc(paddedSize(plaintext.length));
  plaintext.copy(padded);
  const cipher = createCipheriv("aes-256-cbc", key.subarray(0, AES_KEY_BYTES), iv);
  const body = Buffer.concat([iv, cipher.update(padded), cipher.final()]);
  const mac = createHmac("sha256", key.subarray(AES_KEY_BYTES)).update(body).digest();
  const ciphertext = Buffer.concat([body, mac]);
  return { ciphertext, key, digest: sha256(ciphertext), size: plaintext.length };
}

/**
 * Opens a blob made by `encryptAttachment` (or any Signal client). Everything is checked before
 * a byte of plaintext is returned: the MAC proves the blob was made with this key, the digest
 * that it is the very blob the sender pointed at, so a tampered, truncated or swapped file is an
 * error, never a corrupt file.
 */
export function decryptAttachment(
  data: Buffer,
  key: Buffer,
  digest: Buffer | undefined,
  size: number | undefined,
): Buffer {
  if (key.length !== KEY_BYTES) {
    throw new Error(`Signal attachment key is ${key.length} bytes, expected ${KEY_BYTES}`);
  }
  if (data.length < MIN_BLOB_BYTES || (data.length - IV_BYTES - MAC_BYTES) % BLOCK_BYTES !== 0) {
    throw new Error(`Signal attachment is truncated or malformed (${data.length} bytes)`);
  }
  const body = data.subarray(0, data.length - MAC_BYTES);
  const mac = createHmac("sha256", key.subarray(AES_KEY_BYTES)).update(body).digest();
  if (!timingSafeEqual(mac, data.subarray(data.length - MAC_BYTES))) {
    throw new Error("Signal attachment failed its MAC check: tampered, truncated or the wrong key");
  }
  if (digest !== undefined && !equalBytes(sha256(data), digest)) {
    throw new Error("Signal attachment does not match the digest in its pointer");
  }
  let padded: Buffer;
  try {
    const decipher = createDecipheriv(
      "aes-256-cbc",
      key.subarray(0, AES_KEY_BYTES),
      body.subarray(0, IV_BYTES),
    );
    padded = Buffer.concat([decipher.update(body.subarray(IV_BYTES)), decipher.final()]);
  } catch (cause) {
    // Reachable only if the sender itself encrypted garbage under a valid MAC.
    throw new Error("Signal attachment has invalid block padding", { cause });
  }
  if (size === undefined) return padded;
  if (!Number.isSafeInteger(size) || size < 0 || size > padded.length) {
    throw new Error(`Signal attachment pointer claims ${size} bytes but the file holds ${padded.length}`);
  }
  return padded.subarray(0, size);
}

/**
 * Fetches and opens the attachment a pointer names. Every CDN serves `<base>/attachments/<key>`
 * (CDN 0 under the legacy numeric id when the pointer has one); the downloads are public, the
 * ciphertext being useless without the pointer's key.
 */
export async function downloadAttachment(
  http: HttpFetch,
  urls: ServiceUrls,
  pointer: AttachmentLocator,
): Promise<Buffer> {
  const base = urls.cdn[pointer.cdnNumber];
  if (base === undefined) {
    throw new PermanentError(
      `the attachment is on Signal CDN ${pointer.cdnNumber}, which the bridge has no URL for (service.cdn_urls)`,
    );
  }
  const id = pointer.cdnKey || pointer.cdnId;
  if (!id) throw new PermanentError("the Signal attachment pointer names no CDN key or id");
  const res = await http({ method: "GET", url: `${trimSlash(base)}/attachments/${encodeURIComponent(id)}` });
  if (res.status === 404) {
    throw new PermanentError("the attachment is no longer on Signal's CDN (expired or deleted)");
  }
  if (res.status !== 200)
    throw new Error(`Signal CDN ${pointer.cdnNumber} answered ${res.status} to a download`);
  try {
    return decryptAttachment(res.body, pointer.key, pointer.digest, pointer.size);
  } catch (cause) {
    // The CDN will serve the same bytes on every retry.
    const why = cause instanceof Error ? cause.message : String(cause);
    throw new PermanentError(`the attachment could not be opened: ${why}`, { cause });
  }
}

export interface UploadForm {
  cdn: number;
  key: string;
  headers: Record<string, string>;
  signedUploadLocation: string;
}

/**
 * Encrypts `plaintext` and uploads it: the chat service hands out a one-time upload form (which
 * CDN, the object key, credentials as headers, where to send it), then the blob goes to that
 * CDN. Returns what the attachment pointer needs.
 */
export async function uploadAttachment(
  forms: UploadForms,
  http: HttpFetch,
  plaintext: Buffer,
): Promise<UploadedAttachment> {
  const encrypted = encryptAttachment(plaintext);
  const form = await forms(encrypted.ciphertext.length);
  if (form.cdn === 3) await uploadTus(http, form, encrypted);
  else if (form.cdn === 2) await uploadResumable(http, form, encrypted.ciphertext);
  else
    throw new Error(
      `Signal handed out an upload form for CDN ${form.cdn}, which the bridge cannot upload to`,
    );
  const { key, digest, size } = encrypted;
  return { cdnNumber: form.cdn, cdnKey: form.key, key, digest, size };
}

/** Where upload forms come from: libsignal's typed call on the chat connection, or the REST route below. */
export type UploadForms = (uploadLength: number) => Promise<UploadForm>;

/** Upload forms from the chat service's REST route (`GET /v4/attachments/form/upload`). */
export const restUploadForms =
  (chat: ChatFetch): UploadForms =>
  (uploadLength) =>
    getUploadForm(chat, uploadLength);

async function getUploadForm(chat: ChatFetch, uploadLength: number): Promise<UploadForm> {
  const res = await chat({ verb: "GET", path: `/v4/attachments/form/upload?uploadLength=${uploadLength}` });
  if (res.status === 413) throw new PermanentError("the file is larger than Signal accepts");
  if (res.status === 429) throw new RateLimitedError(retryAfterMs(res.headers));
  if (res.status !== 200)
    throw new Error(`Signal answered ${res.status} to an attachment upload form request`);
  return parseUploadForm(parseJson(res));
}

export function parseUploadForm(body: unknown): UploadForm {
  const bad = (what: string) => new Error(`Signal's attachment upload form has ${what}`);
  if (typeof body !== "object" || body === null) throw bad("no body");
  const form = body as Record<string, unknown>;
  if (typeof form.cdn !== "number" || !Number.isInteger(form.cdn)) throw bad("no CDN number");
  if (typeof form.key !== "string" || form.key === "") throw bad("no key");
  if (typeof form.signedUploadLocation !== "string" || !form.signedUploadLocation.startsWith("https://")) {
    // Credentials and ciphertext go to this URL: never over plain HTTP.
    throw bad("no https upload location");
  }
  const headers: Record<string, string> = {};
  if (form.headers !== undefined && form.headers !== null) {
    if (typeof form.headers !== "object") throw bad("malformed headers");
    for (const [name, value] of Object.entries(form.headers)) {
      if (typeof value !== "string") throw bad(`a non-string header ${name}`);
      headers[name] = value;
    }
  }
  return { cdn: form.cdn, key: form.key, headers, signedUploadLocation: form.signedUploadLocation };
}

/**
 * CDN 3 speaks TUS; one creation-with-upload POST carries the whole blob. A failed upload is
 * retried from scratch with a fresh form rather than resumed: attachments are bounded (100 MB)
 * and the form's credentials are short-lived anyway.
 */
async function uploadTus(http: HttpFetch, form: UploadForm, encrypted: EncryptedAttachment): Promise<void> {
  const length = encrypted.ciphertext.length;
  const res = await http({
    method: "POST",
    url: form.signedUploadLocation,
    headers: withHeaders(form.headers, {
      "Tus-Resumable": "1.0.0",
      "Upload-Length": String(length),
      // Signal's CDN names the object after this; a form may already carry it.
      "Upload-Metadata":
        header(form.headers, "upload-metadata") ?? `filename ${Buffer.from(form.key).toString("base64")}`,
      // Lets the CDN reject a blob corrupted on the way.
      "X-Signal-Checksum-Sha256": encrypted.digest.toString("base64"),
      "Content-Type": "application/offset+octet-stream",
    }),
    body: encrypted.ciphertext,
  });
  if (res.status < 200 || res.status > 299) {
    throw new Error(`Signal CDN 3 answered ${res.status} to an attachment upload`);
  }
  const offset = header(res.headers, "upload-offset");
  if (offset !== undefined && Number(offset) !== length) {
    throw new Error(`Signal CDN 3 took ${offset} of ${length} bytes of an attachment upload`);
  }
}

/** CDN 2 is a cloud-storage resumable upload: the signed POST opens a session, one PUT fills it. */
async function uploadResumable(http: HttpFetch, form: UploadForm, ciphertext: Buffer): Promise<void> {
  const start = await http({
    method: "POST",
    url: form.signedUploadLocation,
    headers: withHeaders(form.headers, { "Content-Length": "0", "Content-Type": "application/octet-stream" }),
  });
  const location = header(start.headers, "location");
  if (start.status !== 201 || location === undefined) {
    throw new Error(`Signal CDN 2 answered ${start.status} to opening an attachment upload`);
  }
  if (!location.startsWith("https://"))
    throw new Error("Signal CDN 2 gave an upload session that is not https");
  const put = await http({
    method: "PUT",
    url: location,
    headers: { "Content-Type": "application/octet-stream" },
    body: ciphertext,
  });
  if (put.status !== 200 && put.status !== 201) {
    throw new Error(`Signal CDN 2 answered ${put.status} to an attachment upload`);
  }
}

function retryAfterMs(headers: ReadonlyArray<readonly [string, string]>): number {
  const value = headers.find(([name]) => name.toLowerCase() === "retry-after")?.[1];
  const seconds = value === undefined ? NaN : Number(value);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : 60_000;
}

const header = (headers: Record<string, string>, name: string): string | undefined =>
  Object.entries(headers).find(([k]) => k.toLowerCase() === name)?.[1];

/** The form's headers with ours added; ours win over a form header of the same name in any case. */
function withHeaders(form: Record<string, string>, ours: Record<string, string>): Record<string, string> {
  const taken = new Set(Object.keys(ours).map((name) => name.toLowerCase()));
  const kept = Object.entries(form).filter(([name]) => !taken.has(name.toLowerCase()));
  return { ...Object.fromEntries(kept), ...ours };
}

const sha256 = (data: Buffer): Buffer => createHash("sha256").update(data).digest();

const equalBytes = (a: Buffer, b: Buffer): boolean => a.length === b.length && timingSafeEqual(a, b);

const trimSlash = (url: string): string => url.replace(/\/+$/, "");
