/**
 * The Slack bridge over the Events API (an admin who runs it behind a public URL instead of
 * Socket Mode): signed requests are verified, forged or replayed ones refused, and a
 * workspace whose token Slack refuses is reported once without stopping the others.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { slackSignature, startSlackDouble, type SlackDouble } from "../doubles/slack/index.js";
import { freePort } from "../harness/net.js";
import { startBridgeEnvironment, type BridgeEnvironment } from "../harness/switchboard.js";
import { TestMatrixClient } from "../harness/matrix-client.js";

let slack: SlackDouble;
let env: BridgeEnvironment;
let alice: TestMatrixClient;
let bob: { id: string };
let general: string;
let portal: string;
let eventsUrl: string;

before(async () => {
  const port = await freePort();
  eventsUrl = `http://127.0.0.1:${port}/slack/events`;
  slack = await startSlackDouble({ teamName: "HQ", eventsUrl, eventsRetryTimeoutMs: 3000 });
  bob = slack.addUser({ name: "bob", displayName: "Bob" });
  general = slack.addChannel({ name: "general", members: [bob.id, slack.botUserId] }).id;
  env = await startBridgeEnvironment({
    bridges: {
      slack: {
        enabled: true,
        workspaces: {
          hq: {
            mode: "events",
            bot_token: slack.botToken,
            signing_secret: slack.signingSecret,
            events_port: port,
            api_url: slack.apiUrl,
          },
          // A workspace whose token Slack refuses: reported, not fatal.
          broken: {
            mode: "socket",
            bot_token: "xoxb-not-a-real-token",
            app_token: "xapp-not-a-real-token",
            api_url: slack.apiUrl,
          },
        },
      },
    },
  });
  const a = await env.hs.registerUser("alice");
  alice = new TestMatrixClient(env.hs.url, a.accessToken, a.userId);
});

after(async () => {
  await env?.cleanup();
  await slack?.close();
});

describe("Slack bridge over the Events API", () => {
  test("a refused workspace token is named in the log and the other workspace is bridged", async () => {
    assert.match(
      env.bridge.output(),
      /Slack refused a token of bridges\.slack\.workspaces\.broken \(invalid_auth\)/,
    );
    portal = await alice.join("#slack_hq_general:localhost");
    slack.postAs(bob.id, general, "over http");
    await alice.waitForEvent(portal, (e) => e.content.body === "over http");
  });

  test("a request with a wrong signature is refused; Slack's retry, signed properly, is bridged once", async () => {
    slack.corruptSignatures(1);
    slack.postAs(bob.id, general, "first try forged");
    await alice.waitForEvent(portal, (e) => e.content.body === "first try forged");
    const attempts = slack
      .eventDeliveries()
      .filter((d) => d.transport === "events_api" && d.httpStatus === 401);
    assert.ok(attempts.length >= 1, "the forged attempt was answered 401");
    await sleep(500);
    const again = (await alice.syncOnce(0)).filter(({ event }) => event.content.body === "first try forged");
    assert.deepEqual(again, [], "bridged exactly once");
  });

  test("a correctly signed request outside the five-minute window is refused and not bridged", async () => {
    const oldTs = Math.floor(Date.now() / 1000) - 10 * 60;
    const body = JSON.stringify({
      token: "x",
      team_id: slack.team.id,
      api_app_id: slack.appId,
      type: "event_callback",
      event_id: "EvREPLAYED1",
      event_time: oldTs,
      event: {
        type: "message",
        channel: general,
        user: bob.id,
        text: "replayed from long ago",
        ts: `${oldTs}.000100`,
        event_ts: `${oldTs}.000100`,
        channel_type: "channel",
      },
    });
    const res = await fetch(eventsUrl, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-slack-request-timestamp": String(oldTs),
        "x-slack-signature": slackSignature(slack.signingSecret, oldTs, body),
      },
      body,
    });
    assert.equal(res.status, 401);
    slack.postAs(bob.id, general, "after the replay");
    const seen: string[] = [];
    await alice.waitForEvent(portal, (e) => {
      seen.push(String(e.content.body));
      return e.content.body === "after the replay";
    });
    assert.ok(!seen.includes("replayed from long ago"));
  });

  test("every call and event matched Slack's published specs", () => {
    slack.assertNoSpecViolations();
  });
});
