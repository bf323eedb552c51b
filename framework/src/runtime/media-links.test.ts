/**
 * The media proxy's own decisions, against a stand-in for a homeserver's media endpoints: the
 * fallback to the legacy path on a homeserver without authenticated media (Synapse 1.160, the
 * one the end-to-end tests run, always has it), missing files, ranges, HEAD, expiry, its own
 * listener. The real path (Synapse with authenticated media, an IRC client) is in
 * test/e2e/irc-deployments.
 */
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { pino } from "pino";
import { parseConfig } from "../config/load.js";
import { MatrixClient } from "../matrix/client.js";
import { NedbStore } from "../store/nedb.js";
import { MediaLinks } from "./media-links.js";

const FILE = Buffer.from("0123456789abcdefghij");
const log = pino({ level: "silent" });

/** A homeserver's media API: `modern` answers the v1 client path, otherwise only the legacy one. */
function fakeHomeserver(modern: boolean): { server: Server; asked: string[] } {
  const asked: string[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "").split("?")[0] ?? "";
    asked.push(path);
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (req.headers.authorization !== "Bearer as-token") return json(401, { errcode: "M_MISSING_TOKEN" });
    const m = /^\/_matrix\/(client\/v1\/media|media\/v3)\/download\/hs\/(\w+)$/.exec(path);
    if (!m) return json(404, { errcode: "M_UNRECOGNIZED", error: "Unrecognized request" });
    if (m[1] === "client/v1/media" && !modern) return json(404, { errcode: "M_UNRECOGNIZED" });
    if (m[2] !== "there") return json(404, { errcode: "M_NOT_FOUND", error: "Not found" });
    res.writeHead(200, { "content-type": "text/html", "content-length": String(FILE.length) });
    res.end(FILE);
  });
  return { server, asked };
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

async function setUp(modern: boolean, media: Record<string, unknown> = {}) {
  const hs = fakeHomeserver(modern);
  const port = await listen(hs.server);
  const config = parseConfig(
    JSON.stringify({
      homeserver: { url: `http://127.0.0.1:${port}`, domain: "hs" },
      appservice: { port: 9999 },
      media,
    }),
  );
  const store = new NedbStore({ inMemory: true });
  await store.open();
  const client = new MatrixClient({ homeserverUrl: config.homeserver.url, asToken: "as-token", log });
  const links = new MediaLinks({ config, store, client, botUserId: "@bot:hs", log });
  const server = createServer((req, res) => {
    void links.serve(req, res).then((handled) => {
      if (!handled) res.writeHead(418).end();
    });
  });
  const proxyPort = await listen(server);
  const local = (url: string) => url.replace(links.baseUrl, `http://127.0.0.1:${proxyPort}`);
  const close = async () => {
    await links.close();
    await client.close();
    await store.close();
    server.close();
    hs.server.close();
  };
  return { links, store, asked: hs.asked, local, close };
}

describe("MediaLinks", () => {
  let env: Awaited<ReturnType<typeof setUp>>;
  before(async () => {
    env = await setUp(false, { public_url: "https://bridge.example.org/" });
  });
  after(() => env.close());

  test("a link is public_url/media/<22 characters>/<name>; the legacy path serves it where v1 is unknown", async () => {
    const url = await env.links.create("mxc://hs/there", { name: "page one.html", mimetype: "text/html" });
    assert.match(url, /^https:\/\/bridge\.example\.org\/media\/[A-Za-z0-9_-]{22}\/page%20one\.html$/);
    const res = await fetch(env.local(url));
    assert.equal(res.status, 200);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), FILE);
    // HTML is never shown in place: a download, sniffing off, scripts sandboxed.
    assert.equal(res.headers.get("content-disposition"), 'attachment; filename="page one.html"');
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    assert.match(res.headers.get("content-security-policy") ?? "", /sandbox/);
    assert.deepEqual(env.asked.slice(-2), [
      "/_matrix/client/v1/media/download/hs/there",
      "/_matrix/media/v3/download/hs/there",
    ]);
  });

  test("ranges: one is served as 206, one past the end is 416; HEAD sends headers only", async () => {
    const url = env.local(await env.links.create("mxc://hs/there", { name: "f.bin", mimetype: "x/y" }));
    const part = await fetch(url, { headers: { range: "bytes=15-" } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get("content-range"), "bytes 15-19/20");
    assert.equal(await part.text(), "fghij");
    const beyond = await fetch(url, { headers: { range: "bytes=50-60" } });
    assert.equal(beyond.status, 416);
    assert.equal(beyond.headers.get("content-range"), "bytes */20");
    const head = await fetch(url, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-length"), "20");
    assert.equal((await fetch(url, { method: "POST" })).status, 405);
  });

  test("a file the homeserver lost is 404; so are unknown, revoked and expired tokens", async () => {
    const lost = await env.links.create("mxc://hs/gone", { name: "x", mimetype: "x/y" });
    assert.equal((await fetch(env.local(lost))).status, 404);
    assert.equal((await fetch(env.local(`${env.links.baseUrl}/media/${"a".repeat(22)}`))).status, 404);
    assert.equal((await fetch(env.local(`${env.links.baseUrl}/media/mxc%3A%2F%2Fhs%2Fthere`))).status, 404);

    const revoked = await env.links.create("mxc://hs/there", { name: "x", mimetype: "x/y", eventId: "$e" });
    assert.equal(await env.links.revokeEvent("$e"), 1);
    assert.equal((await fetch(env.local(revoked))).status, 404);

    const url = await env.links.create("mxc://hs/there", { name: "x", mimetype: "x/y" });
    const token = /\/media\/([^/]+)/.exec(url)?.[1] ?? "";
    const link = await env.store.mediaLinkGet(token);
    assert.ok(link);
    await env.store.mediaLinkPut({ ...link, expiresAt: Date.now() - 1 });
    assert.equal((await fetch(env.local(url))).status, 404);
  });

  test("other paths are left to the caller", async () => {
    assert.equal((await fetch(env.local(`${env.links.baseUrl}/health`))).status, 418);
  });
});

describe("MediaLinks with link_lifetime_days and its own listener", () => {
  test("links expire after the configured days; media.port serves them without the appservice", async () => {
    const env = await setUp(true, { port: 0, link_lifetime_days: 2 });
    try {
      const port = await env.links.listen();
      assert.ok(port);
      const url = await env.links.create("mxc://hs/there", { name: "a.png", mimetype: "image/png" });
      const token = /\/media\/([^/]+)/.exec(url)?.[1] ?? "";
      const link = await env.store.mediaLinkGet(token);
      const days = ((link?.expiresAt ?? 0) - (link?.createdAt ?? 0)) / 86_400_000;
      assert.equal(days, 2);
      const res = await fetch(`http://127.0.0.1:${port}/media/${token}`);
      assert.equal(res.status, 200);
      assert.equal(await res.text(), FILE.toString());
      assert.equal(
        env.asked.at(-1),
        "/_matrix/client/v1/media/download/hs/there",
        "v1 when the homeserver has it",
      );
      assert.equal((await fetch(`http://127.0.0.1:${port}/elsewhere`)).status, 404);
    } finally {
      await env.close();
    }
  });
});
