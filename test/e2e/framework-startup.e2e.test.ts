/**
 * Start-up as an admin meets it: a registration whose url the homeserver cannot reach is named
 * with its remedy at start (the spec's appservice ping) instead of transactions that silently
 * never come; and a Slack workspace whose API never answers does not hold up the bridge or the
 * other workspace, and shows as still connecting in /health.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { ToyNetwork } from "../reference/toy-network.js";
import { startSlackDouble, type SlackDouble } from "../doubles/slack/index.js";
import { startBridgeEnvironment, type BridgeEnvironment } from "../harness/switchboard.js";
import { slackWorkspace } from "../harness/bridge-config.js";
import { TestMatrixClient } from "../harness/matrix-client.js";
import { freePort } from "../harness/net.js";
import { until } from "../harness/wait.js";

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

describe("start-up", () => {
  test("a registration url the homeserver cannot reach: the ping names the remedy, and the bridge still runs", async () => {
    const toy = new ToyNetwork();
    await toy.listen();
    cleanups.push(() => toy.close());
    const closedPort = await freePort();
    const env: BridgeEnvironment = await startBridgeEnvironment({
      bridges: { reference: { enabled: true, url: toy.url, token: toy.bridgeToken } },
      appserviceUrl: `http://127.0.0.1:${closedPort}`,
    });
    cleanups.push(() => env.cleanup());
    assert.match(
      env.bridge.output(),
      /the homeserver cannot connect to this appservice: check the registration's url \(it must reach 127\.0\.0\.1:\d+ from the homeserver/,
    );
    await env.cleanup();
  });

  test("a Slack workspace whose API never answers holds up neither the bridge nor the other workspace", async () => {
    // Accepts connections and never answers: the worst kind of unreachable.
    const sockets = new Set<Socket>();
    const blackHole: Server = createServer((socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => blackHole.listen(0, "127.0.0.1", resolve));
    const holePort = (blackHole.address() as { port: number }).port;
    cleanups.push(async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => blackHole.close(() => resolve()));
    });
    const slack: SlackDouble = await startSlackDouble({ teamName: "Acme", teamDomain: "acme" });
    cleanups.push(() => slack.close());
    const bob = slack.addUser({ name: "bob", realName: "Bob Builder", displayName: "Bob" });
    const general = slack.addChannel({ name: "general", members: [bob.id, slack.botUserId] }).id;
    const started = Date.now();
    const env = await startBridgeEnvironment({
      bridges: {
        slack: {
          enabled: true,
          workspaces: {
            acme: slackWorkspace(slack),
            silent: {
              mode: "socket",
              bot_token: "xoxb-silent",
              app_token: "xapp-silent",
              api_url: `http://127.0.0.1:${holePort}/api/`,
            },
          },
        },
      },
      extraConfig: { startup: { network_timeout_seconds: 5 } },
    });
    cleanups.push(() => env.cleanup());
    assert.ok(Date.now() - started < 60_000, "the bridge started without waiting for the silent workspace");
    assert.match(env.bridge.output(), /the Slack bridge is slow to start; going on without waiting/);

    const health = await fetch(`http://127.0.0.1:${env.bridge.metricsPort}/health`);
    assert.equal(health.status, 503, "unhealthy while a workspace is not connected");
    const body = (await health.json()) as {
      networks: { slack: { state: string; connections: Record<string, { state: string }> } };
    };
    assert.equal(body.networks.slack.connections.acme?.state, "CONNECTED");
    assert.equal(body.networks.slack.connections.silent?.state, "CONNECTING");
    assert.equal(body.networks.slack.state, "CONNECTING");

    const a = await env.hs.registerUser("alice");
    const alice = new TestMatrixClient(env.hs.url, a.accessToken, a.userId);
    const room = await alice.join("#slack_acme_general:localhost");
    slack.postAs(bob.id, general, "acme works meanwhile");
    await alice.waitForEvent(room, (e) => e.content.body === "acme works meanwhile");
    await alice.sendText(room, "and back to slack");
    await until("the Matrix message on Slack", () =>
      slack.messages(general).some((m) => m.text === "and back to slack"),
    );
  });
});
