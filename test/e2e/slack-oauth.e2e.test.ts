/**
 * "A Matrix user logs in to Slack by OAuth when the app has it configured": `login slack`
 * hands out Slack's authorize link, the person allows the app in their browser, Slack sends the
 * browser back to the bridge's callback, and from then on their messages go out as them. Declining,
 * cancelling, a replayed or forged callback, and an account in a workspace the bridge does not
 * bridge all end the login with plain words, in the bot chat and on the page.
 *
 * The person's browser is played by the test: the Slack double's `approveOAuth`/`denyOAuth` stand
 * for pressing Allow/Cancel on Slack's page, and `fetch` follows Slack's redirect to the callback.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { startSlackDouble, type SlackDouble } from "../doubles/slack/index.js";
import { freePort } from "../harness/net.js";
import { startBridgeEnvironment, type BridgeEnvironment } from "../harness/switchboard.js";
import { slackWorkspace } from "../harness/bridge-config.js";
import { TestMatrixClient, botSays, dmWithBot } from "../harness/matrix-client.js";
import { until } from "../harness/wait.js";

/** The authorize link in the bot's answer to `login slack`. */
async function loginLink(client: TestMatrixClient, room: string, botUserId: string): Promise<string> {
  const offer = await client.waitForEvent(room, botSays(botUserId, /allow the bridge's app/));
  const url = /https?:\/\/\S+/.exec(String(offer.content.body))?.[0];
  assert.ok(url, `the bot's answer carries a link: ${String(offer.content.body)}`);
  return url;
}

/** The browser following Slack's redirect to the bridge's callback. */
async function visit(url: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { redirect: "manual" });
  return { status: res.status, text: await res.text() };
}

describe("Slack login by OAuth", () => {
  let slack: SlackDouble;
  let env: BridgeEnvironment;
  let alice: TestMatrixClient;
  let aliceSlack: { id: string; token: string };
  let bob: { id: string; token: string };
  let general: string;
  let portal: string;
  let dm: string;
  let callbackUrl: string;
  const fromBot = (text: RegExp) => botSays(env.botUserId, text);

  before(async () => {
    const port = await freePort();
    callbackUrl = `http://127.0.0.1:${port}/slack/oauth/callback`;
    slack = await startSlackDouble({
      teamName: "Acme",
      teamDomain: "acme",
      oauthRedirectUrls: [callbackUrl],
    });
    aliceSlack = slack.addUser({ name: "alice", realName: "Alice Liddell", displayName: "Alice S" });
    bob = slack.addUser({ name: "bob", realName: "Bob Builder" });
    general = slack.addChannel({ name: "general", members: [aliceSlack.id, bob.id, slack.botUserId] }).id;
    env = await startBridgeEnvironment({
      bridges: {
        slack: {
          enabled: true,
          workspaces: {
            acme: slackWorkspace(slack, {
              oauth: {
                client_id: slack.oauth.clientId,
                client_secret: slack.oauth.clientSecret,
                redirect_url: callbackUrl,
                listen_port: port,
              },
            }),
          },
        },
      },
    });
    const a = await env.hs.registerUser("alice");
    alice = new TestMatrixClient(env.hs.url, a.accessToken, a.userId);
    portal = await alice.join("#slack_acme_general:localhost");
    dm = await dmWithBot(alice, env.botUserId);
  });

  after(async () => {
    await env?.cleanup();
    await slack?.close();
  });

  test("`login slack` offers Sign in with Slack; after Allow the user is logged in and posts as themselves", async () => {
    await alice.sendText(dm, "login slack");
    const link = await loginLink(alice, dm, env.botUserId);
    const asked = new URL(link);
    assert.equal(`${asked.origin}${asked.pathname}`, slack.oauth.authorizeUrl, "Slack's authorize page");
    assert.equal(asked.searchParams.get("client_id"), slack.oauth.clientId);
    assert.equal(asked.searchParams.get("redirect_uri"), callbackUrl);
    assert.equal(asked.searchParams.get("team"), slack.team.id, "the bridged workspace is preselected");
    assert.match(asked.searchParams.get("user_scope") ?? "", /(^|,)chat:write(,|$)/);
    assert.ok(asked.searchParams.get("state"), "a state ties the callback to this login");
    const consent = await visit(link);
    assert.equal(consent.status, 200);
    assert.match(consent.text, /requesting permission to access the Acme Slack workspace/);

    const redirect = slack.approveOAuth(link, aliceSlack.id);
    assert.ok(redirect.startsWith(`${callbackUrl}?`), redirect);
    const landing = await visit(redirect);
    assert.equal(landing.status, 200, landing.text);
    assert.match(landing.text, /Signed in with Slack/);
    assert.ok(landing.text.includes(alice.userId), "the page names the Matrix account that got the login");
    await alice.waitForEvent(dm, fromBot(/Logged in to Slack as alice on Acme/));
    assert.equal(slack.calls("oauth.v2.access").length, 1);

    await alice.sendText(portal, "now as myself, by oauth");
    const sent = await until("the puppeted message on Slack", () =>
      slack.messages(general).find((m) => m.text === "now as myself, by oauth"),
    );
    assert.equal(sent.user, aliceSlack.id, "posted with alice's own token");
    assert.equal(sent.username, undefined, "not a relayed bot post");

    // The browser reloads the callback: the state was spent, nothing is exchanged twice.
    const again = await visit(redirect);
    assert.equal(again.status, 400);
    assert.match(again.text, /not valid any more/);
    assert.equal(slack.calls("oauth.v2.access").length, 1);
  });

  test("declining on Slack's page ends the login; the bot and the page say so", async () => {
    await alice.sendText(dm, "login slack");
    const link = await loginLink(alice, dm, env.botUserId);
    const landing = await visit(slack.denyOAuth(link));
    assert.match(landing.text, /You declined/);
    await alice.waitForEvent(dm, fromBot(/Slack login failed: you declined .*cancelled/));
    assert.equal(slack.calls("oauth.v2.access").length, 1, "no code to exchange");
    // The earlier login is untouched, and the bot takes commands again.
    await alice.sendText(dm, "status");
    await alice.waitForEvent(dm, fromBot(/alice on Acme \(connected\)/));
  });

  test("a callback with a state the bridge did not issue logs nobody in; `cancel` ends the wait and voids the link", async () => {
    await alice.sendText(dm, "login slack");
    const link = await loginLink(alice, dm, env.botUserId);
    // Someone else's consent, sent to the callback with a made-up state.
    const forged = new URL(slack.approveOAuth(link, bob.id));
    forged.searchParams.set("state", randomBytes(32).toString("base64url"));
    const refused = await visit(forged.toString());
    assert.equal(refused.status, 400);
    assert.match(refused.text, /not valid any more/);

    await alice.sendText(dm, "cancel");
    await alice.waitForEvent(dm, fromBot(/Login cancelled/));
    const late = await visit(slack.approveOAuth(link, aliceSlack.id));
    assert.equal(late.status, 400);
    assert.match(late.text, /not valid any more/);
    assert.equal(slack.calls("oauth.v2.access").length, 1, "neither code was exchanged");
    await sleep(500);
    const said = (await alice.syncOnce(0)).filter(({ event }) =>
      /Logged in/.test(String(event.content.body)),
    );
    assert.deepEqual(said, [], "nobody was logged in");
    await alice.sendText(portal, "still alice");
    const sent = await until("the message on Slack", () =>
      slack.messages(general).find((m) => m.text === "still alice"),
    );
    assert.equal(sent.user, aliceSlack.id, "alice's own login is still the one in use");
  });

  test("the token login is still offered next to OAuth", async () => {
    await alice.sendText(dm, "login slack nonsense");
    await alice.waitForEvent(dm, fromBot(/oauth \(.*\), token \(/));
  });

  test("every Web API call and pushed event matched Slack's published specs", () => {
    slack.assertNoSpecViolations();
  });
});

describe("Slack login by OAuth with several workspaces", () => {
  let acme: SlackDouble;
  let globex: SlackDouble;
  let env: BridgeEnvironment;
  let alice: TestMatrixClient;
  let carol: { id: string; token: string };
  let dm: string;
  const fromBot = (text: RegExp) => botSays(env.botUserId, text);

  before(async () => {
    // Both workspaces' callbacks share one listener, told apart by path.
    const port = await freePort();
    const callback = (name: string) => `http://127.0.0.1:${port}/slack/oauth/${name}`;
    acme = await startSlackDouble({ teamName: "Acme", oauthRedirectUrls: [callback("acme")] });
    globex = await startSlackDouble({ teamName: "Globex", oauthRedirectUrls: [callback("globex")] });
    carol = globex.addUser({ name: "carol" });
    const oauth = (slack: SlackDouble, name: string) => ({
      client_id: slack.oauth.clientId,
      client_secret: slack.oauth.clientSecret,
      redirect_url: callback(name),
      listen_port: port,
    });
    env = await startBridgeEnvironment({
      bridges: {
        slack: {
          enabled: true,
          workspaces: {
            acme: {
              mode: "socket",
              bot_token: acme.botToken,
              app_token: acme.appToken,
              api_url: acme.apiUrl,
              oauth: oauth(acme, "acme"),
            },
            // Slack refuses this bot token, so the workspace is not bridged; its OAuth still answers.
            globex: {
              mode: "socket",
              bot_token: "xoxb-not-this-workspaces-token",
              app_token: globex.appToken,
              api_url: globex.apiUrl,
              oauth: oauth(globex, "globex"),
            },
          },
        },
      },
    });
    const a = await env.hs.registerUser("alice");
    alice = new TestMatrixClient(env.hs.url, a.accessToken, a.userId);
    dm = await dmWithBot(alice, env.botUserId);
  });

  after(async () => {
    await env?.cleanup();
    await acme?.close();
    await globex?.close();
  });

  test("`login slack` asks which workspace; an account in one the bridge does not bridge is refused and its token given back", async () => {
    await alice.sendText(dm, "login slack");
    await alice.waitForEvent(dm, fromBot(/Which Slack workspace\? acme, globex/));
    await alice.sendText(dm, "globex");
    const link = await loginLink(alice, dm, env.botUserId);
    assert.ok(link.startsWith(globex.oauth.authorizeUrl), link);
    const landing = await visit(globex.approveOAuth(link, carol.id));
    assert.equal(landing.status, 403);
    assert.match(landing.text, /Globex.*not connected to/);
    await alice.waitForEvent(
      dm,
      fromBot(
        /Slack login failed: that account is in the Slack workspace "Globex", which this bridge is not connected to/,
      ),
    );
    await until("the unused token revoked", () => globex.calls("auth.revoke").some((c) => c.ok));
    assert.deepEqual(globex.events("tokens_revoked").at(-1)?.event.tokens, { oauth: [carol.id] });

    // The other workspace's callback, on the same port, still works.
    await alice.sendText(dm, "login slack oauth acme");
    const acmeLink = await loginLink(alice, dm, env.botUserId);
    assert.ok(acmeLink.startsWith(acme.oauth.authorizeUrl), acmeLink);
    const dave = acme.addUser({ name: "dave" });
    assert.equal((await visit(acme.approveOAuth(acmeLink, dave.id))).status, 200);
    await alice.waitForEvent(dm, fromBot(/Logged in to Slack as dave on Acme/));
  });

  test("every Web API call matched Slack's published specs", () => {
    acme.assertNoSpecViolations();
    globex.assertNoSpecViolations();
  });
});
