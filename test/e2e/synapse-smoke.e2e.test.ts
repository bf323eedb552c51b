/**
 * Foundation smoke test: the real Synapse pushes a transaction to an appservice when a
 * test user messages the bridge bot in a DM, and a ghost registered through the
 * appservice replies, which the user sees through /sync. The appservice here is a
 * bare listener on purpose: this proves the homeserver harness, not the framework.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { randomBytes } from "node:crypto";
import { startHomeserver, type AppserviceRegistration, type Homeserver } from "../harness/synapse.js";
import { TestMatrixClient } from "../harness/matrix-client.js";
import { freePort } from "../harness/net.js";

interface PushedEvent {
  type: string;
  room_id: string;
  sender: string;
  state_key?: string;
  content: Record<string, unknown>;
}

let hs: Homeserver;
let listener: Server;
const pushed: PushedEvent[] = [];
const waiters: Array<() => void> = [];
let registration: AppserviceRegistration;

before(async () => {
  const port = await freePort();
  registration = {
    id: "smoke",
    url: `http://127.0.0.1:${port}`,
    as_token: randomBytes(16).toString("hex"),
    hs_token: randomBytes(16).toString("hex"),
    sender_localpart: "smokebot",
    namespaces: { users: [{ exclusive: true, regex: "@smoke_.*:localhost" }], aliases: [], rooms: [] },
    rate_limited: false,
    receive_ephemeral: true,
  };
  listener = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      if (req.headers.authorization !== `Bearer ${registration.hs_token}`) {
        res.writeHead(403, { "content-type": "application/json" }).end('{"errcode":"M_FORBIDDEN"}');
        return;
      }
      if (req.method === "PUT" && req.url?.startsWith("/_matrix/app/v1/transactions/")) {
        const txn = JSON.parse(body) as { events?: PushedEvent[] };
        pushed.push(...(txn.events ?? []));
        waiters.splice(0).forEach((w) => w());
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => listener.listen(port, "127.0.0.1", resolve));
  hs = await startHomeserver({ registrations: [registration] });
  if (hs.registrations[0]) registration = hs.registrations[0];
});

after(async () => {
  await hs?.stop();
  listener?.close();
});

async function waitForPushed(match: (e: PushedEvent) => boolean, timeoutMs = 15_000): Promise<PushedEvent> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = pushed.find(match);
    if (found) return found;
    if (Date.now() > deadline) {
      throw new Error(
        `homeserver pushed no matching event; got ${JSON.stringify(pushed.map((e) => e.type))}`,
      );
    }
    await new Promise<void>((resolve) => {
      waiters.push(resolve);
      setTimeout(resolve, 250);
    });
  }
}

test("a DM to the bridge bot reaches the appservice and a ghost's reply reaches the user", async () => {
  const alice = await hs.registerUser(`alice${randomBytes(3).toString("hex")}`);
  const aliceClient = new TestMatrixClient(hs.url, alice.accessToken, alice.userId);
  const botId = `@${registration.sender_localpart}:${hs.serverName}`;
  const as = (userId?: string) => new TestMatrixClient(hs.url + "", registration.as_token, userId ?? botId);
  const asRequest = <T>(method: string, path: string, body: unknown, userId?: string) => {
    const sep = path.includes("?") ? "&" : "?";
    return as(userId).request<T>(
      method,
      userId ? `${path}${sep}user_id=${encodeURIComponent(userId)}` : path,
      body,
    );
  };

  const roomId = await aliceClient.createRoom({
    is_direct: true,
    invite: [botId],
    preset: "trusted_private_chat",
  });
  await waitForPushed(
    (e) => e.type === "m.room.member" && e.state_key === botId && e.content.membership === "invite",
  );
  await asRequest("POST", `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, {});

  await aliceClient.sendText(roomId, "hello bridge");
  const message = await waitForPushed((e) => e.type === "m.room.message" && e.room_id === roomId);
  assert.equal(message.sender, alice.userId);
  assert.equal(message.content.body, "hello bridge");

  const ghostLocalpart = "smoke_echo";
  const ghostId = `@${ghostLocalpart}:${hs.serverName}`;
  await as().request("POST", "/_matrix/client/v3/register", {
    type: "m.login.application_service",
    username: ghostLocalpart,
  });
  await asRequest("POST", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/invite`, {
    user_id: ghostId,
  });
  await asRequest("POST", `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, {}, ghostId);
  await asRequest(
    "PUT",
    `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/smoke1`,
    { msgtype: "m.text", body: "echo: hello bridge" },
    ghostId,
  );

  const reply = await aliceClient.waitForEvent(
    roomId,
    (e) => e.type === "m.room.message" && e.sender === ghostId,
  );
  assert.equal(reply.content.body, "echo: hello bridge");
});
