/** Signal content as remote events (pure): the phone's read syncs name the chat the message is in. */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { ChatRef } from "@switchboard/framework";
import { toRemoteEvents, type InboundContext } from "./inbound.js";
import type { Opened } from "./receiver.js";

const self = "11111111-1111-4111-8111-111111111111";
const carol = "22222222-2222-4222-8222-222222222222";
const group: ChatRef = { channelId: "g:Zm9v" };

const ctx = (known: Record<string, ChatRef>): InboundContext => ({
  loginId: self,
  selfAci: self,
  groupChat: () => group,
  mentionHtml: (_aci, name) => name,
  nameOf: (aci) => aci,
  chatOfMessage: (id) => known[id] ?? null,
});

const readSync = (timestamp: number): Opened => ({
  kind: "opened",
  sender: self,
  senderDevice: 1,
  timestamp: Date.now(),
  serverTimestamp: Date.now(),
  content: { syncMessage: { read: [{ senderAci: carol, timestamp }] } },
  sealed: false,
});

test("a read on the phone of a group message moves the read marker in the group's room", () => {
  const [read] = toRemoteEvents(ctx({ [`${carol}:1000`]: group }), readSync(1000), () => null);
  assert.deepEqual(read?.event, {
    type: "read",
    chat: group,
    userId: self,
    upTo: `${carol}:1000`,
    fromLogin: self,
  });
});

test("a read of a message the login does not remember is taken for the DM with its author", () => {
  const [read] = toRemoteEvents(ctx({}), readSync(2000), () => null);
  assert.deepEqual(read?.event.type === "read" && read.event.chat, { channelId: carol, receiver: self });
});
