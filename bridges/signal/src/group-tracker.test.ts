/** Group changes as room events (pure): a new or removed group picture becomes the room's. */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { RemoteMedia } from "@switchboard/framework";
import { changeEvents } from "./group-tracker.js";
import type { GroupChange } from "./groups.js";

const chat = { channelId: "g:abc" };
const media = (path: string): RemoteMedia => ({ key: `pic:${path}`, ref: { url: `https://cdn/${path}` } });
const change = (fields: Partial<GroupChange>): GroupChange => ({
  revision: 7,
  signed: true,
  membersAdded: [],
  membersRemoved: [],
  rolesChanged: [],
  profileKeysChanged: [],
  invited: [],
  invitesRemoved: [],
  ...fields,
});

test("a new group picture is the room's picture, fetched lazily from its CDN path", () => {
  const [only, ...rest] = changeEvents(chat, change({ avatarUrl: "groups/x/1" }), "login", "me", media);
  assert.equal(rest.length, 0);
  assert.deepEqual(only?.event, { type: "chat-update", chat, avatar: media("groups/x/1") });
  assert.equal(only?.options?.key, "group:g:abc:7:update:0");
});

test("a removed group picture removes the room's", () => {
  const events = changeEvents(chat, change({ avatarUrl: "" }), "login", "me", media);
  assert.deepEqual(events[0]?.event, { type: "chat-update", chat, avatar: null });
});

test("a change that leaves the picture alone says nothing of it", () => {
  const events = changeEvents(chat, change({ title: "New" }), "login", "me", media);
  assert.deepEqual(events[0]?.event, { type: "chat-update", chat, name: "New" });
});
