/**
 * Logins as network clients, on the real Synapse with two Slack workspaces (two doubles under
 * the real Bolt and Web API): one Matrix user logged into both posts as themselves in each;
 * a channel their login joins on Slack gets a portal they are invited to (and leave with);
 * logging out of one workspace leaves the other posting as them, and its DMs flowing.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startSlackDouble, type SlackDouble } from "../doubles/slack/index.js";
import { slackWorkspace } from "../harness/bridge-config.js";
import { startBridgeEnvironment, type BridgeEnvironment } from "../harness/switchboard.js";
import { until } from "../harness/wait.js";
import { TestMatrixClient, botSays } from "../harness/matrix-client.js";

let env: BridgeEnvironment;
let acme: SlackDouble;
let beta: SlackDouble;
let alice: TestMatrixClient;
let dm: string;
const users: Record<string, { id: string; token: string }> = {};
const channels: Record<string, string> = {};
const fromBot = (text: RegExp) => botSays(env.botUserId, text);

before(async () => {
  acme = await startSlackDouble({ teamName: "Acme", teamDomain: "acme" });
  beta = await startSlackDouble({ teamName: "Beta", teamDomain: "beta" });
  for (const [name, slack] of [
    ["acme", acme],
    ["beta", beta],
  ] as const) {
    users[`${name}-bob`] = slack.addUser({ name: "bob", realName: "Bob", displayName: "Bob" });
    users[`${name}-alice`] = slack.addUser({ name: "alice", realName: "Alice", displayName: "Alice S" });
    channels[`${name}-general`] = slack.addChannel({
      name: "general",
      members: [users[`${name}-bob`]!.id, users[`${name}-alice`]!.id, slack.botUserId],
    }).id;
  }
  channels["beta-random"] = beta.addChannel({
    name: "random",
    members: [users["beta-bob"]!.id, beta.botUserId],
  }).id;
  env = await startBridgeEnvironment({
    bridges: {
      slack: { enabled: true, workspaces: { acme: slackWorkspace(acme), beta: slackWorkspace(beta) } },
    },
  });
  const a = await env.hs.registerUser("alice");
  alice = new TestMatrixClient(env.hs.url, a.accessToken, a.userId);
  await alice.request("PUT", `/_matrix/client/v3/profile/${encodeURIComponent(a.userId)}/displayname`, {
    displayname: "Alice M",
  });
  dm = await alice.createRoom({ is_direct: true, invite: [env.botUserId], preset: "trusted_private_chat" });
  await alice.waitForEvent(dm, fromBot(/Say `help`/));
});

after(async () => {
  await env?.cleanup();
  await acme?.close();
  await beta?.close();
});

/** A room the user is invited to but has not joined, if any. */
async function pendingInvite(): Promise<string | null> {
  await alice.syncOnce(500);
  return [...alice.invites][0] ?? null;
}

describe("one Matrix user, two Slack workspaces", () => {
  const portals: Record<string, string> = {};

  test("logged into both, they post as themselves in each", async () => {
    await alice.sendText(dm, `login slack token ${users["acme-alice"]!.token}`);
    await alice.waitForEvent(dm, fromBot(/Logged in to Slack as alice on Acme/));
    await alice.sendText(dm, `login slack token ${users["beta-alice"]!.token}`);
    await alice.waitForEvent(dm, fromBot(/Logged in to Slack as alice on Beta/));
    await alice.sendText(dm, "status");
    await alice.waitForEvent(dm, fromBot(/alice on Acme \(connected\)[\s\S]*alice on Beta \(connected\)/));

    for (const [name, slack] of [
      ["acme", acme],
      ["beta", beta],
    ] as const) {
      portals[name] = await alice.join(`#slack_${name}_general:localhost`);
      await alice.sendText(portals[name], `as myself in ${name}`);
      const sent = await until(`the message in ${name}`, () =>
        slack.messages(channels[`${name}-general`]!).find((m) => m.text === `as myself in ${name}`),
      );
      assert.equal(sent.user, users[`${name}-alice`]!.id);
      assert.equal(sent.username, undefined);
    }
  });

  test("a channel their login joins on Slack gets a portal they are invited to, and leave with", async () => {
    beta.joinChannel(users["beta-alice"]!.id, channels["beta-random"]!);
    const invite = await until("the portal invite", pendingInvite);
    const room = await alice.join(invite);
    const name = await alice.request<{ name: string }>(
      "GET",
      `/_matrix/client/v3/rooms/${encodeURIComponent(room)}/state/m.room.name/`,
    );
    assert.equal(name.name, "#random");
    beta.leaveChannel(users["beta-alice"]!.id, channels["beta-random"]!);
    const removal = await until("alice removed from the portal", async () =>
      (await alice.timeline(room, 30)).find(
        (e) => e.type === "m.room.member" && e.state_key === alice.userId && e.content.membership === "leave",
      ),
    );
    assert.equal(removal.sender, env.botUserId);
  });

  test("logging out of one leaves the other posting as them and its DMs flowing", async () => {
    await alice.sendText(dm, "logout slack");
    await alice.waitForEvent(dm, fromBot(/Your Slack logins:[\s\S]*alice on Acme[\s\S]*alice on Beta/));
    await alice.sendText(dm, "logout slack alice on Acme");
    await alice.waitForEvent(dm, fromBot(/Logged out of Slack as alice on Acme/));

    await alice.sendText(portals.beta!, "still myself in beta");
    const own = await until("the beta message", () =>
      beta.messages(channels["beta-general"]!).find((m) => m.text === "still myself in beta"),
    );
    assert.equal(own.user, users["beta-alice"]!.id);
    await alice.sendText(portals.acme!, "relayed in acme now");
    const relayed = await until("the acme message", () =>
      acme.messages(channels["acme-general"]!).find((m) => m.text === "relayed in acme now"),
    );
    assert.equal(relayed.username, "Alice M");
    assert.notEqual(relayed.user, users["acme-alice"]!.id);

    const dmChannel = beta.openDm([users["beta-bob"]!.id, users["beta-alice"]!.id]).id;
    beta.postAs(users["beta-bob"]!.id, dmChannel, "psst, beta alice");
    // Other invites may be pending (the workspace's space): the DM portal is the one with the message.
    const candidates = new Set<string>();
    await until(
      "the DM in its portal",
      async () => {
        await alice.syncOnce(500);
        for (const room of alice.invites) if (!candidates.has(room)) candidates.add(await alice.join(room));
        for (const room of candidates) {
          const found = (await alice.timeline(room, 20)).find((e) => e.content.body === "psst, beta alice");
          if (found) return found;
        }
        return undefined;
      },
      20_000,
    );
    acme.assertNoSpecViolations();
    beta.assertNoSpecViolations();
  });
});
