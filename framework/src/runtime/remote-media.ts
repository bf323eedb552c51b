import type { MediaRef } from "../connector.js";
import { supportsMediaFetch } from "../connector.js";
import { PermanentError } from "../errors.js";
import type { Services } from "./services.js";

/**
 * Remote bytes for a `MediaRef`: through the connector when it fetches its own files (tokens,
 * decryption keys), else one plain GET. A ref is plain JSON, so this works the same for an
 * event that arrived a second ago and for one replayed from the journal after a crash.
 */
export async function fetchRemoteMedia(
  s: Services,
  network: string,
  ref: MediaRef,
): Promise<{ data: Buffer; mimetype?: string }> {
  const connector = s.networks.get(network)?.connector;
  if (connector && supportsMediaFetch(connector)) return connector.fetchMedia(ref);
  return fetchUrl(ref.url);
}

/** A plain GET; 404/410 mean the file is gone for good. */
export async function fetchUrl(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ data: Buffer; mimetype?: string }> {
  // fetch, not undici's request: remote CDNs redirect, and this is not a hot path.
  const res = await fetch(url, { headers, redirect: "follow" });
  const data = Buffer.from(await res.arrayBuffer());
  if (res.status === 404 || res.status === 410)
    throw new PermanentError(`the file at ${url} is gone (${res.status})`);
  if (!res.ok) throw new Error(`GET ${url} answered ${res.status}`);
  return { data, mimetype: res.headers.get("content-type") ?? undefined };
}
