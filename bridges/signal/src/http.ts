import { Agent, request } from "undici";
import type { HttpFetch } from "./transport.js";

/**
 * HTTPS to the CDNs and the storage service with undici, trusting `rootCertificate` (PEM) when
 * one is configured (a staging or test server's own CA) instead of the system roots.
 */
export function httpFetch(rootCertificate?: string): { fetch: HttpFetch; close: () => Promise<void> } {
  const agent = new Agent({
    connect: rootCertificate ? { ca: rootCertificate } : {},
    keepAliveTimeout: 30_000,
  });
  const fetch: HttpFetch = async (req) => {
    const res = await request(req.url, {
      method: req.method,
      headers: req.headers,
      body: req.body ? Buffer.from(req.body) : undefined,
      dispatcher: agent,
      headersTimeout: 30_000,
      bodyTimeout: 60_000,
    });
    const body = Buffer.from(await res.body.arrayBuffer());
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k] = String(v);
    return { status: res.statusCode, headers, body };
  };
  return { fetch, close: () => agent.close() };
}
