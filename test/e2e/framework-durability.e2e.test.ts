/**
 * "Nothing is ever lost": the bridge is killed with SIGKILL in the middle of traffic in
 * both directions and restarted; every message arrives exactly once, in order. Also: the
 * appservice endpoint rejects bad tokens and malformed bodies and keeps serving.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { ToyNetwork } from "../reference/toy-network.js";
import { startBridgeEnvironment, type BridgeEnvironment } from "../harness/switchboard.js";
import { until } from "../harness/wait.js";
import { TestMatrixClient, type MatrixTestEvent } from "../harness/matrix-client.js";

let env: BridgeEnvironment;
let toy: ToyNetwork;
let alice: TestMatrixClient;
let roomId: string;

/** Every m.room.message body in the room, oldest first, through the client-server API. */
async function timelineBodies(): Promise<Array<{ body: string; sender: string }>> {
  const res = await alice.request<{ chunk: MatrixTestEvent[] }>(
    "GET",
    `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=1000`,
  );
  return res.chunk
    .filter((e) => e.type === "m.room.message")
    .reverse()
    .map((e) => ({ body: String(e.content.body), sender: e.sender }));
}

before(async () => {
  toy = new ToyNetwork();
  await toy.listen();
  toy.addUser("bob", "Bob Remote");
  toy.addChannel("general", "General", "", ["bob"]);
  env = await startBridgeEnvironment({
    bridges: { reference: { enabled: true, url: toy.url, token: toy.bridgeToken } },
  });
  const a = await env.hs.registerUser("alice");
  alice = new TestMatrixClient(env.hs.url, a.accessToken, a.userId);
  roomId = await alice.join("#reference_general:localhost");
});

after(async () => {
  await env?.cleanup();
  await toy?.close();
});

describe("crash safety", () => {
  test("kill -9 under traffic both ways, then restart: nothing lost, nothing duplicated, order kept", async () => {
    const N = 40;
    const killAt = 12;
    const toMatrix: Promise<void>[] = [];
    for (let i = 0; i < N; i++) {
      if (i === killAt) {
        await env.bridge.kill9();
      }
      toy.post("bob", "general", `r2m-${i}`);
      toMatrix.push(alice.sendText(roomId, `m2r-${i}`).then(() => undefined));
      await toMatrix[toMatrix.length - 1];
      await sleep(i < killAt ? 40 : 5);
    }
    await Promise.all(toMatrix);
    await env.bridge.restart();

    const expectedRemote = Array.from({ length: N }, (_, i) => `m2r-${i}`);
    await until(
      "every Matrix message on the remote side",
      () => expectedRemote.every((t) => toy.channelMessages("general").some((m) => m.text === t)),
      90_000,
    ).catch((err: Error) => {
      const got = toy.channelMessages("general").map((m) => m.text);
      throw new Error(
        `${err.message}; missing ${expectedRemote.filter((t) => !got.includes(t)).join(",")}\n${env.bridge.output().slice(-3000)}`,
      );
    });
    const expectedMatrix = Array.from({ length: N }, (_, i) => `r2m-${i}`);
    await until(
      "every remote message in Matrix",
      async () => {
        const bodies = (await timelineBodies()).map((b) => b.body);
        return expectedMatrix.every((t) => bodies.includes(t));
      },
      90_000,
    ).catch(async (err: Error) => {
      const got = (await timelineBodies()).map((b) => b.body);
      throw new Error(
        `${err.message}; missing ${expectedMatrix.filter((t) => !got.includes(t)).join(",")}\n${env.bridge.output().slice(-3000)}`,
      );
    });
    await sleep(2000); // anything duplicated would show up by now

    const remoteTexts = toy
      .channelMessages("general")
      .map((m) => m.text)
      .filter((t) => t.startsWith("m2r-"));
    assert.deepEqual(remoteTexts, expectedRemote, "each Matrix message once, in order, on the remote side");
    const matrixTexts = (await timelineBodies()).filter((b) => b.body.startsWith("r2m-"));
    assert.deepEqual(
      matrixTexts.map((b) => b.body),
      expectedMatrix,
      "each remote message once, in order, in Matrix",
    );
    assert.ok(matrixTexts.every((b) => b.sender === "@reference_bob:localhost"));
  });

  test("a clean SIGTERM stop exits 0", async () => {
    const code = await env.bridge.stop();
    assert.equal(code, 0);
    assert.match(env.bridge.output(), /stopped cleanly/);
    await env.bridge.restart();
  });
});

describe("the appservice endpoint", () => {
  const url = () => `http://127.0.0.1:${env.bridge.appservicePort}/_matrix/app/v1/transactions`;

  test("no token → 401 M_UNAUTHORIZED; wrong token → 403 M_FORBIDDEN", async () => {
    const none = await fetch(`${url()}/t-none`, { method: "PUT", body: "{}" });
    assert.equal(none.status, 401);
    assert.equal(((await none.json()) as { errcode: string }).errcode, "M_UNAUTHORIZED");
    const wrong = await fetch(`${url()}/t-wrong`, {
      method: "PUT",
      body: "{}",
      headers: { authorization: "Bearer nope" },
    });
    assert.equal(wrong.status, 403);
    assert.equal(((await wrong.json()) as { errcode: string }).errcode, "M_FORBIDDEN");
    const legacyWrong = await fetch(`${url()}/t-wrong2?access_token=nope`, { method: "PUT", body: "{}" });
    assert.equal(legacyWrong.status, 403);
  });

  test("malformed bodies → 400 M_BAD_JSON, and the bridge keeps serving", async () => {
    const token = env.registration.hs_token;
    for (const body of ["{", '{"events": 5}', '{"events": [{"type": 1}]}', "[]"]) {
      const res = await fetch(`${url()}/t-bad-${encodeURIComponent(body)}?access_token=${token}`, {
        method: "PUT",
        body,
      });
      assert.equal(res.status, 400, `body ${body}`);
      assert.equal(((await res.json()) as { errcode: string }).errcode, "M_BAD_JSON");
    }
    const ok = await fetch(`${url()}/t-empty`, {
      method: "PUT",
      body: '{"events": []}',
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(ok.status, 200);
    const health = await fetch(`http://127.0.0.1:${env.bridge.metricsPort}/health`);
    assert.equal(health.status, 200);
    await alice.sendText(roomId, "still serving");
    await until("a message after the bad requests", () =>
      toy.channelMessages("general").some((m) => m.text === "still serving"),
    );
    const metrics = await until("the event counted in the metrics", async () => {
      const text = await (await fetch(`http://127.0.0.1:${env.bridge.metricsPort}/metrics`)).text();
      return /switchboard_events_total\{direction="matrix_to_remote"/.test(text) ? text : null;
    });
    assert.match(
      metrics,
      /switchboard_events_total\{direction="matrix_to_remote",network="reference",type="m.room.message"\} \d+/,
    );
  });
});
