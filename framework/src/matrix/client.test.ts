import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import pino from "pino";
import { classifyFailure, HomeserverUnavailableError, MatrixClient, MatrixError } from "./client.js";

/**
 * The client's outage handling against a real local HTTP server that goes away and comes back:
 * requests wait for one probe instead of each hammering the dead port, and all resume together.
 */

const log = pino({ level: "silent" });
const servers: Server[] = [];
after(() => {
  for (const s of servers) s.close();
});

/** A minimal homeserver on `port` (0 = any) counting the requests it gets per path. */
async function serve(port = 0): Promise<{ server: Server; port: number; hits: Map<string, number> }> {
  const hits = new Map<string, number>();
  const server = createServer((req, res) => {
    const path = (req.url ?? "").split("?")[0] ?? "";
    hits.set(path, (hits.get(path) ?? 0) + 1);
    res.writeHead(200, { "content-type": "application/json" });
    res.end(path === "/_matrix/client/versions" ? '{"versions":["v1.11"]}' : '{"ok":true}');
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  servers.push(server);
  return { server, port: (server.address() as AddressInfo).port, hits };
}

describe("MatrixClient during a homeserver outage", () => {
  test("requests wait for the one probe, then all go through once the homeserver is back", async () => {
    const first = await serve();
    const port = first.port;
    await new Promise<void>((resolve) => first.server.close(() => resolve()));
    const client = new MatrixClient({ homeserverUrl: `http://127.0.0.1:${port}`, asToken: "t", log });
    // 20 queues want the homeserver while it is down.
    const calls = Array.from({ length: 20 }, (_, i) =>
      client.request<{ ok: boolean }>("PUT", `/_matrix/client/v3/x/${i}`, { body: {}, outageWaitMs: 30_000 }),
    );
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(client.reachability.isUp, false, "the gate is closed");
    const back = await serve(port);
    const results = await Promise.all(calls);
    assert.ok(results.every((r) => r.ok));
    assert.equal(client.reachability.isUp, true);
    const probes = back.hits.get("/_matrix/client/versions") ?? 0;
    assert.ok(probes <= 2, `one probe decided (saw ${probes})`);
    const puts = [...back.hits].filter(([p]) => p.startsWith("/_matrix/client/v3/x/")).length;
    assert.equal(puts, 20, "each waiting request went out once the homeserver answered");
    await client.close();
  });

  test("past its patience a request throws HomeserverUnavailableError without touching the network", async () => {
    const gone = await serve();
    const port = gone.port;
    await new Promise<void>((resolve) => gone.server.close(() => resolve()));
    const client = new MatrixClient({ homeserverUrl: `http://127.0.0.1:${port}`, asToken: "t", log });
    await assert.rejects(client.request("GET", "/a", { outageWaitMs: 300 }), HomeserverUnavailableError);
    const t0 = Date.now();
    await assert.rejects(
      client.request("GET", "/b", { outageWaitMs: 200, attempts: 1 }),
      HomeserverUnavailableError,
    );
    assert.ok(Date.now() - t0 < 2000);
    await client.close();
  });
});

describe("classifyFailure", () => {
  const m = (status: number, errcode = "M_UNKNOWN") => new MatrixError(status, errcode, "x", "PUT", "/p");
  test("outage, rate limit, transient and permanent are told apart", () => {
    assert.equal(classifyFailure(new HomeserverUnavailableError("down")).kind, "outage");
    for (const s of [502, 503, 504]) assert.equal(classifyFailure(m(s)).kind, "outage");
    assert.equal(classifyFailure(m(500)).kind, "transient");
    assert.deepEqual(classifyFailure(new MatrixError(429, "M_LIMIT_EXCEEDED", "x", "PUT", "/p", 1234)), {
      kind: "rate-limited",
      retryAfterMs: 1234,
    });
    assert.equal(classifyFailure(m(400, "M_LIMIT_EXCEEDED")).kind, "rate-limited");
    assert.equal(classifyFailure(m(403, "M_FORBIDDEN")).kind, "permanent");
    assert.equal(classifyFailure(m(413, "M_TOO_LARGE")).kind, "permanent");
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" });
    assert.equal(classifyFailure(refused).kind, "outage");
    assert.equal(classifyFailure(new TypeError("fetch failed", { cause: refused })).kind, "outage");
    assert.equal(classifyFailure(new Error("a bug")).kind, "other");
  });
});
