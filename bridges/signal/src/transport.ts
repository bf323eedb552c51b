/**
 * How the Signal modules reach Signal's services. The chat service (REST over the login's
 * authenticated websocket, via libsignal's `Net`) and the plain-HTTPS services (CDNs, the
 * storage/group service) are passed in as these small functions, so each module is testable
 * against Signal's mock server without the connector around it.
 */

export interface ChatRequest {
  verb: "GET" | "PUT" | "POST" | "DELETE" | "PATCH";
  /** Path with query: "/v2/keys?identity=aci". */
  path: string;
  headers?: Array<[string, string]>;
  body?: Uint8Array;
}

export interface ChatResponse {
  status: number;
  headers: ReadonlyArray<readonly [string, string]>;
  body: Uint8Array | undefined;
}

/** A request over the login's authenticated chat connection. */
export type ChatFetch = (request: ChatRequest) => Promise<ChatResponse>;

export interface HttpRequest {
  method: "GET" | "PUT" | "POST" | "PATCH" | "DELETE" | "HEAD";
  /** Absolute URL. */
  url: string;
  headers?: Record<string, string>;
  body?: Uint8Array;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** An HTTPS request to one of Signal's other services, trusting the configured root certificate. */
export type HttpFetch = (request: HttpRequest) => Promise<HttpResponse>;

/** Where Signal's plain-HTTPS services are (production defaults in config.ts). */
export interface ServiceUrls {
  /** CDN base URLs by CDN number (0, 2, 3). */
  cdn: Record<number, string>;
  /** The storage service, which also serves the groups v2 API. */
  storage: string;
}

export const json = (body: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(body));

/** Parses a JSON response body; null for an empty one. Throws with the status on bad JSON. */
export function parseJson(res: { status: number; body: Uint8Array | undefined }): unknown {
  if (!res.body || res.body.length === 0) return null;
  try {
    return JSON.parse(new TextDecoder().decode(res.body)) as unknown;
  } catch {
    throw new Error(`Signal answered ${res.status} with a body that is not JSON`);
  }
}
