/**
 * The provisioning API on the real bridge process and the real Synapse, with the reference
 * connector: authentication (shared secret, Matrix access tokens checked with the homeserver),
 * a login started and completed over HTTP (token and QR flows), links listed, created and removed,
 * a held activation approved, and bad requests answered 4xx while the server keeps serving.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import yaml from "js-yaml";
import { ToyNetwork } from "../reference/toy-network.js";
import { startBridgeEnvironment, type BridgeEnvironment } from "../harness/switchboard.js";
import { freePort } from "../harness/net.js";
import { until } from "../harness/wait.js";
import { TestMatrixClient, botSays, joinOf } from "../harness/matrix-client.js";

const SECRET = "provisioning-secret-for-the-tests";

let env: BridgeEnvironment;
let toy: ToyNetwork;
let alice: TestMatrixClient;
let admin: TestMatrixClient;
let mallory: TestMatrixClient;
let base: string;

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

async function call(
  method: string,
  path: string,
  token: string | null,
  body?: unknown,
  raw?: string,
): Promise<Answer> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined || raw !== undefined ? { "content-type": "application/json" } : {}),
    },
    body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

const as = (client: TestMatrixClient) => client.accessToken;

before(async () => {
  toy = new ToyNetwork();
  await toy.listen();
  toy.addUser("bob", "Bob Remote");
  toy.addUser("alice-toy", "Alice on Toy");
  toy.addChannel("general", "General", "", ["bob", "alice-toy"]);
  toy.addChannel("random", "Random", "", ["bob"]);
  // Five members, over the activation limit of 3 below: its portal waits for an admin.
  toy.addChannel("crowd", "Crowd", "", ["bob", "c1", "c2", "c3", "c4"]);
  for (const id of ["c1", "c2", "c3", "c4"]) toy.addUser(id, `Crowd ${id}`);
  const port = await freePort();
  env = await startBridgeEnvironment({
    bridges: { reference: { enabled: true, url: toy.url, token: toy.bridgeToken } },
    extraConfig: {
      admins: ["@admin:localhost"],
      permissions: { "*": "relay", localhost: "user", "@mallory:localhost": "block" },
      guards: { activation_limit: 3 },
      provisioning: { enabled: true, bind: "127.0.0.1", port, shared_secret: SECRET },
    },
  });
  base = `http://127.0.0.1:${port}/_matrix/provision`;
  const a = await env.hs.registerUser("alice");
  alice = new TestMatrixClient(env.hs.url, a.accessToken, a.userId);
  const b = await env.hs.registerUser("admin");
  admin = new TestMatrixClient(env.hs.url, b.accessToken, b.userId);
  const m = await env.hs.registerUser("mallory");
  mallory = new TestMatrixClient(env.hs.url, m.accessToken, m.userId);
});

after(async () => {
  await env?.cleanup();
  await toy?.close();
});

describe("provisioning API", () => {
  test("no token → 401, a wrong one → 403; the shared secret needs user_id; an access token is checked with the homeserver", async () => {
    const none = await call("GET", "/v3/whoami", null);
    assert.equal(none.status, 401);
    assert.equal(none.body.errcode, "M_MISSING_TOKEN");
    const wrong = await call("GET", "/v3/whoami", "not-a-token");
    assert.equal(wrong.status, 403);
    assert.equal(wrong.body.errcode, "M_UNKNOWN_TOKEN");
    const secretAlone = await call("GET", "/v3/whoami", SECRET);
    assert.equal(secretAlone.status, 400);
    const viaSecret = await call("GET", `/v3/whoami?user_id=${encodeURIComponent(alice.userId)}`, SECRET);
    assert.equal(viaSecret.status, 200, JSON.stringify(viaSecret.body));
    assert.equal(viaSecret.body.user_id, alice.userId);
    const viaToken = await call("GET", "/v3/whoami", as(alice));
    assert.equal(viaToken.status, 200);
    assert.equal(viaToken.body.user_id, alice.userId);
    assert.equal(viaToken.body.bridge_bot, env.botUserId);
    // An OpenID token (what a widget can get) is checked with the homeserver's userinfo.
    const openid = await alice.request<{ access_token: string }>(
      "POST",
      `/_matrix/client/v3/user/${encodeURIComponent(alice.userId)}/openid/request_token`,
      {},
    );
    const viaOpenId = await call("GET", "/v3/whoami", `openid:${openid.access_token}`);
    assert.equal(viaOpenId.status, 200, JSON.stringify(viaOpenId.body));
    assert.equal(viaOpenId.body.user_id, alice.userId);
    assert.equal((await call("GET", "/v3/whoami", "openid:made-up")).status, 403);
    // A token may not speak for someone else.
    const impersonating = await call(
      "GET",
      `/v3/whoami?user_id=${encodeURIComponent(admin.userId)}`,
      as(alice),
    );
    assert.equal(impersonating.status, 403);
    // The bridge's permissions apply: a blocked user is refused, admin routes need an admin.
    assert.equal((await call("GET", "/v3/whoami", as(mallory))).status, 403);
    assert.equal((await call("GET", "/v3/activations", as(alice))).status, 403);
    assert.equal((await call("GET", "/v3/activations", as(admin))).status, 200);
    assert.equal((await call("GET", "/nonet/v3/whoami", as(alice))).status, 404);
  });

  test("a token login started and completed over the API; a wrong token is refused with 400", async () => {
    const flows = await call("GET", "/reference/v3/login/flows", as(alice));
    assert.deepEqual(
      (flows.body.flows as Array<{ id: string }>).map((f) => f.id),
      ["token", "qr"],
    );
    const bad = await call("POST", "/reference/v3/login/start/token", as(alice));
    assert.equal(bad.status, 200, JSON.stringify(bad.body));
    assert.equal(bad.body.type, "user_input");
    const fields = (bad.body.user_input as { fields: Array<{ id: string }> }).fields;
    assert.equal(fields.length, 1);
    const field = fields[0]?.id as string;
    const refused = await call(
      "POST",
      `/reference/v3/login/step/${String(bad.body.login_id)}/${String(bad.body.step_id)}/user_input`,
      as(alice),
      { [field]: "wrong-token" },
    );
    assert.equal(refused.status, 400);
    assert.equal(refused.body.errcode, "M_LOGIN_FAILED");

    const start = await call("POST", "/reference/v3/login/start/token", as(alice));
    const processId = String(start.body.login_id);
    const stepId = String(start.body.step_id);
    // Someone else cannot answer alice's login.
    const other = await call(
      "POST",
      `/reference/v3/login/step/${processId}/${stepId}/user_input`,
      as(admin),
      {
        [field]: "x",
      },
    );
    assert.equal(other.status, 404);
    // A stale step id is refused, not applied to the current step.
    const stale = await call(
      "POST",
      `/reference/v3/login/step/${processId}/not-this-step/user_input`,
      as(alice),
      {
        [field]: "x",
      },
    );
    assert.equal(stale.status, 400);
    const token = toy.users.get("alice-toy")?.token as string;
    const done = await call("POST", `/reference/v3/login/step/${processId}/${stepId}/user_input`, as(alice), {
      [field]: token,
    });
    assert.equal(done.status, 200, JSON.stringify(done.body));
    assert.equal(done.body.type, "complete");
    assert.deepEqual((done.body.complete as Record<string, unknown>).user_login_id, "alice-toy");
    const logins = await call("GET", "/reference/v3/logins", as(alice));
    assert.deepEqual(logins.body.login_ids, ["alice-toy"]);

    // The login is real: alice's messages in a portal now go out as her.
    const room = await alice.join("#reference_general:localhost");
    await alice.sendText(room, "sent as myself");
    const sent = await until("alice's message", () =>
      toy.channelMessages("general").find((m) => m.text === "sent as myself"),
    );
    assert.equal(sent.sender, "alice-toy");
  });

  test("a QR login waits in display_and_wait until the code is scanned", async () => {
    toy.addUser("admin-phone", "Admin's Phone");
    const start = await call("POST", "/reference/v3/login/start/qr", as(admin));
    assert.equal(start.body.type, "display_and_wait");
    const display = start.body.display_and_wait as { type: string; data: string };
    assert.equal(display.type, "qr");
    assert.match(display.data, /^toy:\/\/link\//);
    const waiting = call(
      "POST",
      `/reference/v3/login/step/${String(start.body.login_id)}/${String(start.body.step_id)}/display_and_wait`,
      as(admin),
    );
    toy.approveLink(display.data.slice("toy://link/".length), "admin-phone");
    const done = await waiting;
    assert.equal(done.status, 200, JSON.stringify(done.body));
    assert.equal(done.body.type, "complete");
    assert.equal((done.body.complete as Record<string, unknown>).user_login_id, "admin-phone");
    const out = await call("POST", "/reference/v3/logout/admin-phone", as(admin));
    assert.equal(out.status, 200);
    assert.deepEqual((await call("GET", "/reference/v3/logins", as(admin))).body.login_ids, []);
    assert.equal((await call("POST", "/reference/v3/logout/admin-phone", as(admin))).status, 404);
  });

  test("links: a room is linked to a chat, listed, bridges, and is unlinked", async () => {
    const roomId = await alice.createRoom({
      name: "Random on Matrix",
      invite: [env.botUserId],
      preset: "public_chat",
    });
    await alice.waitForEvent(roomId, joinOf(env.botUserId));
    // Only someone who administers the room may link it.
    await admin.join(roomId);
    const notTheirs = await call("POST", "/v3/links", as(admin), {
      room_id: roomId,
      network: "reference",
      chat: "random",
    });
    assert.equal(notTheirs.status, 400);
    assert.match(String(notTheirs.body.error), /room admin/);

    const linked = await call("POST", "/v3/links", as(alice), {
      room_id: roomId,
      network: "reference",
      chat: "random",
    });
    assert.equal(linked.status, 200, JSON.stringify(linked.body));
    assert.equal(linked.body.chat_id, "random");
    assert.equal(linked.body.state, "active");
    const mine = await call("GET", "/v3/links", as(alice));
    assert.ok((mine.body.links as Array<{ room_id: string }>).some((l) => l.room_id === roomId));
    toy.post("bob", "random", "hello through an API link");
    await alice.waitForEvent(roomId, (e) => e.content.body === "hello through an API link");

    assert.equal((await call("DELETE", `/v3/links/${encodeURIComponent(roomId)}`, as(mallory))).status, 403);
    const unlinked = await call("DELETE", `/v3/links/${encodeURIComponent(roomId)}`, as(alice));
    assert.equal(unlinked.status, 200, JSON.stringify(unlinked.body));
    assert.equal((await call("DELETE", `/v3/links/${encodeURIComponent(roomId)}`, as(alice))).status, 404);
    await alice.sendText(roomId, "after the unlink");
    await new Promise((r) => setTimeout(r, 1000));
    assert.ok(!toy.channelMessages("random").some((m) => m.text === "after the unlink"));
  });

  test("a held activation is listed with its member count and approved through the API", async () => {
    const roomId = await alice.join("#reference_crowd:localhost");
    await alice.waitForEvent(roomId, botSays(env.botUserId, /waits for a bridge admin/));
    const pending = await call("GET", "/v3/activations", as(admin));
    const held = (pending.body.activations as Array<{ room_id: string; members: number }>).find(
      (a) => a.room_id === roomId,
    );
    assert.ok(held, JSON.stringify(pending.body));
    assert.equal(held.members, 5);
    assert.equal(
      (await call("POST", `/v3/activations/${encodeURIComponent(roomId)}/approve`, as(alice))).status,
      403,
    );
    const approved = await call("POST", `/v3/activations/${encodeURIComponent(roomId)}/approve`, as(admin), {
      mode: "lazy",
    });
    assert.equal(approved.status, 200, JSON.stringify(approved.body));
    toy.post("c1", "crowd", "the crowd speaks");
    await alice.waitForEvent(roomId, (e) => e.content.body === "the crowd speaks");
    assert.equal(
      (await call("POST", `/v3/activations/${encodeURIComponent(roomId)}/approve`, as(admin))).status,
      404,
    );
  });

  test("malformed requests get a 4xx with an errcode, and the server keeps serving", async () => {
    for (const raw of ["{", "[]", '"text"', "null"]) {
      const res = await call("POST", "/v3/links", as(alice), undefined, raw);
      assert.equal(res.status, 400, raw);
      assert.equal(res.body.errcode, "M_BAD_JSON", raw);
    }
    const missing = await call("POST", "/v3/links", as(alice), {
      room_id: "!x:localhost",
      network: "reference",
    });
    assert.equal(missing.status, 400);
    assert.match(String(missing.body.error), /"chat"/);
    const typed = await call("POST", "/v3/links", as(alice), { room_id: 5, network: "reference", chat: "x" });
    assert.equal(typed.status, 400);
    const huge = await call(
      "POST",
      "/v3/links",
      as(alice),
      undefined,
      `{"room_id": "${"x".repeat(100_000)}"}`,
    );
    assert.equal(huge.status, 413);
    assert.equal((await call("PUT", "/v3/links", as(alice))).status, 405);
    assert.equal((await call("GET", "/v3/nothing-here", as(alice))).status, 404);
    const still = await call("GET", "/v3/whoami", as(alice));
    assert.equal(still.status, 200);
    const doc = await call("GET", "/v3/openapi.json", as(alice));
    assert.equal(doc.body.openapi, "3.1.0");
  });

  test("SIGHUP reloads permissions from the config file; what needs a restart is named; a broken file changes nothing", async () => {
    assert.equal((await call("GET", "/v3/whoami", as(mallory))).status, 403);
    const original = await readFile(env.bridge.configPath, "utf8");
    const config = yaml.load(original) as Record<string, Record<string, unknown>>;
    (config.permissions as Record<string, string>)["@mallory:localhost"] = "user";
    (config.homeserver as Record<string, unknown>).retry_interval_ms = 750;
    await writeFile(env.bridge.configPath, yaml.dump(config));
    env.bridge.signal("SIGHUP");
    await env.bridge.waitForLog(
      /Config reloaded permissions; changed but only applied at the next restart: homeserver/,
    );
    assert.equal((await call("GET", "/v3/whoami", as(mallory))).status, 200);

    await writeFile(env.bridge.configPath, "permissions: [this is not\n");
    env.bridge.signal("SIGHUP");
    await env.bridge.waitForLog(/The config did not load, so nothing changed/);
    assert.equal(
      (await call("GET", "/v3/whoami", as(mallory))).status,
      200,
      "the last good config still applies",
    );
    await writeFile(env.bridge.configPath, original);
  });
});
