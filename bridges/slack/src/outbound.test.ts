import { test } from "node:test";
import assert from "node:assert/strict";
import type { WebClient } from "@slack/web-api";
import type { MatrixMessage } from "@switchboard/framework";
import { PermanentError } from "@switchboard/framework";
import { EchoTable } from "./echoes.js";
import { SlackOutbound, asLogin, body, shareTs, type Speaker } from "./outbound.js";
import { ThreadIndex } from "./threads.js";
import type { SlackWorkspace } from "./workspace.js";

const slackRefusal = (code: string) => Object.assign(new Error(code), { data: { ok: false, error: code } });

/** A WebClient that records calls; `answers` says what each method returns. */
function fakeWeb(answers: Record<string, (args: Record<string, unknown>) => unknown> = {}) {
  const calls: Array<{ method: string; args: Record<string, unknown> }> = [];
  const call = (method: string) => async (args: Record<string, unknown>) => {
    calls.push({ method, args });
    return answers[method]?.(args) ?? { ok: true };
  };
  const web = {
    chat: { postMessage: call("chat.postMessage"), update: call("chat.update"), delete: call("chat.delete") },
    reactions: { add: call("reactions.add"), remove: call("reactions.remove") },
    files: { info: call("files.info") },
    filesUploadV2: call("filesUploadV2"),
  };
  return { web: web as unknown as WebClient, calls };
}

function outbound(): SlackOutbound {
  const ws = { teamId: "T1", botUserId: "UBOT" } as unknown as SlackWorkspace;
  return new SlackOutbound(new EchoTable(), new ThreadIndex(), (team) => (team === "T1" ? ws : undefined));
}

const speaker = (web: WebClient, over: Partial<Speaker> = {}): Speaker => ({
  web,
  slackUserId: "UBOT",
  isUser: false,
  relays: true,
  ...over,
});

function message(over: Partial<MatrixMessage> = {}): MatrixMessage {
  return {
    eventId: "$e",
    roomId: "!r",
    chat: { channelId: "T1/C1" },
    sender: { userId: "@alice:hs", displayname: "Alice M", avatarUrl: "https://hs/a.png", relayed: true },
    content: { kind: "text", text: "hello" },
    timestamp: 0,
    mentions: [],
    ...over,
  };
}

test("the share ts is read from a file's shares, public or private, in the chat it was sent to", () => {
  const file = {
    id: "F1",
    shares: { private: { C1: [{ ts: "1.000100" }] }, public: { C9: [{ ts: "2.0" }] } },
  };
  assert.equal(shareTs(file, "C1"), "1.000100");
  assert.equal(shareTs(file, "C9"), "2.0");
  assert.equal(shareTs(file, "C2"), undefined);
  assert.equal(shareTs({ id: "F1" }, "C1"), undefined, "Slack's answer without shares");
  assert.equal(shareTs(undefined, "C1"), undefined);
});

test("the bot relays with Slack's username and icon; a person's account relaying names the sender in the text", async () => {
  const { web, calls } = fakeWeb({ "chat.postMessage": () => ({ ok: true, ts: "5.000001" }) });
  const out = outbound();
  const sent = await out.message(speaker(web), message());
  assert.deepEqual(sent, { remoteId: "5.000001", timestamp: 5000 });
  assert.equal(calls[0]?.args.username, "Alice M");
  assert.equal(calls[0]?.args.icon_url, "https://hs/a.png");
  assert.equal(calls[0]?.args.text, "hello");

  await out.message(speaker(web, { isUser: true, relays: false }), message());
  assert.equal(calls[1]?.args.username, undefined, "a user's own message carries no persona");
  assert.equal(calls[1]?.args.text, "hello");

  await out.message(speaker(web, { isUser: true, relays: true }), message());
  assert.equal(calls[2]?.args.username, undefined);
  assert.equal(calls[2]?.args.text, "*Alice M*: hello");
});

test("relayed text escapes the sender's name; emotes name their sender", () => {
  const sender = { displayname: "<b> & co" };
  assert.equal(body({ isUser: true, relays: true }, sender, "text", "hi"), "*&lt;b&gt; &amp; co*: hi");
  assert.equal(body({ isUser: false, relays: true }, sender, "emote", "waves"), "_&lt;b&gt; &amp; co waves_");
  assert.equal(body({ isUser: true, relays: false }, sender, "text", "hi"), "hi");
});

test("a Matrix file keeps its share ts in the mapping's meta; reactions and replies on it use that ts", async () => {
  const { web, calls } = fakeWeb({
    // As the Slack double answers files.completeUploadExternal: id and title, no shares.
    filesUploadV2: () => ({ ok: true, files: [{ ok: true, files: [{ id: "F7", title: "notes.txt" }] }] }),
    "files.info": () => ({ ok: true, file: { id: "F7", shares: { public: { C1: [{ ts: "7.000100" }] } } } }),
    "chat.postMessage": () => ({ ok: true, ts: "8.000001" }),
  });
  const out = outbound();
  const data = Buffer.from("notes");
  const sent = await out.message(
    speaker(web),
    message({
      content: {
        kind: "file",
        text: "notes.txt",
        media: { name: "notes.txt", mimetype: "text/plain", download: async () => data },
      },
    }),
  );
  assert.deepEqual(sent, { remoteId: "file:F7", timestamp: 7000, meta: { ts: "7.000100" } });
  assert.deepEqual(
    calls.map((c) => c.method),
    ["filesUploadV2", "files.info"],
  );

  const target = { remoteId: sent.remoteId!, meta: sent.meta };
  await out.react(speaker(web), { chat: { channelId: "T1/C1" }, target, key: "🎉" }, true);
  assert.deepEqual(calls.at(-1), {
    method: "reactions.add",
    args: { channel: "C1", timestamp: "7.000100", name: "tada" },
  });

  await out.message(speaker(web), message({ threadRoot: target }));
  assert.equal(calls.at(-1)?.args.thread_ts, "7.000100", "a thread on the file's message");
});

test("an upload answer that names the share needs no files.info", async () => {
  const { web, calls } = fakeWeb({
    filesUploadV2: () => ({
      ok: true,
      files: [{ ok: true, files: [{ id: "F8", shares: { private: { C1: [{ ts: "9.000200" }] } } }] }],
    }),
  });
  const sent = await outbound().message(
    speaker(web),
    message({
      content: {
        kind: "image",
        text: "a.png",
        media: { name: "a.png", mimetype: "image/png", download: async () => Buffer.from("x") },
      },
    }),
  );
  assert.deepEqual(sent.meta, { ts: "9.000200" });
  assert.deepEqual(
    calls.map((c) => c.method),
    ["filesUploadV2"],
  );
});

test("a file whose message Slack never named cannot be reacted to, and says why", async () => {
  const { web } = fakeWeb();
  await assert.rejects(
    outbound().react(
      speaker(web),
      { chat: { channelId: "T1/C1" }, target: { remoteId: "file:F1" }, key: "👍" },
      true,
    ),
    PermanentError,
  );
});

test("a login whose token Slack refuses is reported and the call runs again relayed; an edit is not relayed", async () => {
  const { web: own } = fakeWeb();
  const { web: bot } = fakeWeb();
  const user = speaker(own, { isUser: true, relays: false, slackUserId: "U1" });
  const relay = speaker(bot);
  const broken: string[] = [];
  const used: Speaker[] = [];
  const call = async (s: Speaker) => {
    used.push(s);
    if (s === user) throw slackRefusal("token_revoked");
    return "sent";
  };
  const broke = async (code: string) => void broken.push(code);
  assert.equal(await asLogin(user, relay, broke, call), "sent");
  assert.deepEqual(used, [user, relay]);
  assert.deepEqual(broken, ["token_revoked"]);

  await assert.rejects(asLogin(user, relay, broke, call, false), /token_revoked/);
  assert.deepEqual(broken, ["token_revoked", "token_revoked"]);

  const other = async () => Promise.reject(slackRefusal("channel_not_found"));
  await assert.rejects(asLogin(user, relay, broke, other), /channel_not_found/);
  assert.equal(broken.length, 2, "another refusal is not the token's fault");
});
