import { test } from "node:test";
import assert from "node:assert/strict";
import type { MatrixMessage, SendResult } from "@switchboard/framework";
import type { SlackChats } from "./chats.js";
import { SlackLogin, type LoginServices } from "./logins.js";
import type { SlackOutbound, Speaker } from "./outbound.js";
import type { SlackWorkspace } from "./workspace.js";

const ws = (teamId: string) =>
  ({
    teamId,
    botUserId: `B${teamId}`,
    web: { bot: teamId },
    client: () => ({ user: teamId }),
  }) as unknown as SlackWorkspace;
const acme = ws("T1");
const globex = ws("T2");

/** Services whose outbound records who spoke and refuses the user's token when told to. */
function services(opts: { refuseToken?: boolean } = {}) {
  const spoke: Speaker[] = [];
  const failed: string[] = [];
  const closed: string[] = [];
  const outbound = {
    target: (chat: { channelId: string }) => ({ ws: chat.channelId.startsWith("T2/") ? globex : acme }),
    message: async (s: Speaker): Promise<SendResult> => {
      spoke.push(s);
      if (s.isUser && opts.refuseToken)
        throw Object.assign(new Error("token_revoked"), { data: { error: "token_revoked" } });
      return { remoteId: "1.0" };
    },
  } as unknown as SlackOutbound;
  const s: LoginServices = {
    outbound,
    chats: {} as SlackChats,
    failed: async (login, reason) => void failed.push(`${login.loginId}: ${reason}`),
    closed: (login) => void closed.push(login.loginId),
  };
  return { s, spoke, failed, closed };
}

const login = (s: LoginServices, loginId: string, workspace: SlackWorkspace) =>
  new SlackLogin(loginId, "@alice:hs", "alice", loginId.split("/")[1]!, workspace, "xoxp-1", s);

function message(channelId: string, relayed = false): MatrixMessage {
  return {
    eventId: "$e",
    roomId: "!r",
    chat: { channelId },
    sender: { userId: "@alice:hs", displayname: "Alice M", relayed },
    content: { kind: "text", text: "hi" },
    timestamp: 0,
    mentions: [],
  };
}

test("one Matrix user's logins in two workspaces: each is in its own workspace's chats and its own DMs", () => {
  const { s } = services();
  const a = login(s, "T1/U1", acme);
  const b = login(s, "T2/U9", globex);
  assert.equal(a.inChat({ channelId: "T1/C1" }), true);
  assert.equal(a.inChat({ channelId: "T2/C1" }), false);
  assert.equal(b.inChat({ channelId: "T2/C1" }), true);
  assert.equal(a.inChat({ channelId: "T1/D1", receiver: "T1/U1" }), true);
  assert.equal(a.inChat({ channelId: "T1/D1", receiver: "T1/U2" }), false, "another login's DM");
  assert.equal(b.inChat({ channelId: "T1/D1", receiver: "T1/U1" }), false);
});

test("a login sends with its own token, showing whether it relays", async () => {
  const { s, spoke } = services();
  const a = login(s, "T1/U1", acme);
  await a.sendMessage(message("T1/C1"));
  await a.sendMessage(message("T1/C1", true));
  assert.deepEqual(
    spoke.map((x) => [x.isUser, x.relays, x.slackUserId]),
    [
      [true, false, "U1"],
      [true, true, "U1"],
    ],
  );
  assert.deepEqual(spoke[0]?.web, { user: "T1" });
});

test("a token Slack refuses mid-send: reported once, the message goes out relayed by the bot, the login leaves its chats", async () => {
  const { s, spoke, failed } = services({ refuseToken: true });
  const a = login(s, "T1/U1", acme);
  const sent = await a.sendMessage(message("T1/C1"));
  assert.deepEqual(sent, { remoteId: "1.0" }, "nothing lost");
  assert.deepEqual(
    spoke.map((x) => [x.isUser, x.relays]),
    [
      [true, false],
      [false, true],
    ],
  );
  assert.deepEqual(spoke[1]?.web, { bot: "T1" }, "the workspace's bot token");
  assert.deepEqual(failed, ["T1/U1: Slack no longer accepts your token (token_revoked)"]);
  assert.equal(a.inChat({ channelId: "T1/C1" }), false);

  await a.sendMessage(message("T1/C1"));
  assert.equal(spoke.at(-1)?.isUser, false, "relayed straight away now");
  assert.equal(failed.length, 1, "told once");
});

test("logging out and disconnecting hand the login back to the connector", async () => {
  const { s, closed } = services();
  const a = login(s, "T1/U1", acme);
  await a.disconnect();
  assert.deepEqual(closed, ["T1/U1"]);
});
