import { test } from "node:test";
import assert from "node:assert/strict";
import type { BridgeContext, EmitOptions, RemoteEvent } from "@switchboard/framework";
import { EchoTable } from "./echoes.js";
import { SlackInbound } from "./inbound.js";
import type { SlackLogin } from "./logins.js";
import { ThreadIndex } from "./threads.js";
import type { ChannelInfo, SlackWorkspace } from "./workspace.js";

function fakes(channels: Record<string, Partial<ChannelInfo>>, members: Record<string, string[]>) {
  const emitted: Array<{ event: RemoteEvent; key?: string }> = [];
  const ctx = {
    emit: async (event: RemoteEvent, options?: EmitOptions) =>
      void emitted.push({ event, key: options?.key }),
  } as unknown as BridgeContext;
  const ws = {
    teamId: "T1",
    botUserId: "UBOT",
    channels: new Map(),
    user: async (id: string) => ({ id: `T1/${id}`, displayname: id }),
    channel: async (id: string) => (channels[id] ? { id, name: id, ...channels[id] } : null),
  } as unknown as SlackWorkspace;
  const noted: string[] = [];
  const login = (loginId: string) =>
    ({
      loginId,
      slackUserId: loginId.split("/")[1],
      web: {},
      isMember: async (channel: string) => (members[channel] ?? []).includes(loginId),
      noteMembership: (channel: string, member: boolean) =>
        void noted.push(`${loginId} ${channel} ${member}`),
    }) as unknown as SlackLogin;
  const logins = [login("T1/U1"), login("T1/U2")];
  const inbound = new SlackInbound(ctx, new EchoTable(), new ThreadIndex(), () => logins);
  return { inbound, ws, emitted, noted };
}

test("a login joining or leaving a channel is also that login's membership, keyed by the Slack event", async () => {
  const { inbound, ws, emitted, noted } = fakes({ G5: { isPrivate: true } }, {});
  await inbound.handle(ws, {
    event_id: "Ev1",
    event: { type: "member_joined_channel", user: "U1", channel: "G5", channel_type: "G" },
  });
  assert.deepEqual(
    emitted.map(({ event, key }) => [event.type, key]),
    [
      ["member", "slack:T1:Ev1"],
      ["login-membership", "slack:T1:Ev1:login:T1/U1"],
    ],
  );
  assert.deepEqual(emitted[1]?.event, {
    type: "login-membership",
    chat: { channelId: "T1/G5" },
    loginId: "T1/U1",
    membership: "join",
  });
  assert.deepEqual(noted, ["T1/U1 G5 true"], "the login's membership cache follows");

  await inbound.handle(ws, {
    event_id: "Ev2",
    event: { type: "member_left_channel", user: "U1", channel: "C7", channel_type: "C" },
  });
  assert.deepEqual(emitted.at(-1)?.event, {
    type: "login-membership",
    chat: { channelId: "T1/C7" },
    loginId: "T1/U1",
    membership: "leave",
  });

  const before = emitted.length;
  await inbound.handle(ws, {
    event_id: "Ev3",
    event: { type: "member_joined_channel", user: "U8", channel: "C7" },
  });
  assert.deepEqual(
    emitted.slice(before).map(({ event }) => event.type),
    ["member"],
    "someone without a login",
  );
});

test("a DM is one chat per logged-in member, its receiver the login id", async () => {
  const { inbound, ws } = fakes({ D1: { isIm: true } }, { D1: ["T1/U2"] });
  assert.deepEqual(await inbound.chatsFor(ws, "D1"), [{ channelId: "T1/D1", receiver: "T1/U2" }]);
  assert.deepEqual(await inbound.chatsFor(ws, "C1"), [{ channelId: "T1/C1" }]);
});
