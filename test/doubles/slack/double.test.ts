import assert from "node:assert/strict";
import { createServer, type IncomingHttpHeaders } from "node:http";
import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { test, type TestContext } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { App, LogLevel, SocketModeReceiver } from "@slack/bolt";
import { InstallProvider, type Installation, type InstallURLOptions } from "@slack/oauth";
import { ErrorCode, WebClient } from "@slack/web-api";
import { WebSocket } from "ws";
import { until } from "../../harness/wait.js";
import { slackSignature, startSlackDouble, type SlackDouble, type SlackDoubleOptions } from "./index.js";
import { loadSpecChecker } from "./spec-check.js";

/**
 * The double is only useful if the real clients cannot tell it from Slack, so every test here
 * drives it with @slack/web-api and @slack/bolt (or, for the wire protocol, a bare WebSocket).
 */

const SPEC_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../../../../shared/specs/slack");

/** Cleanups run last-in first-out, so a client stops before the double it talks to closes. */
const cleanups = new WeakMap<TestContext, Array<() => unknown>>();
function defer(t: TestContext, cleanup: () => unknown): void {
  let stack = cleanups.get(t);
  if (!stack) {
    const fresh: Array<() => unknown> = [];
    cleanups.set(t, fresh);
    t.after(async () => {
      for (const fn of fresh.reverse()) await fn();
    });
    stack = fresh;
  }
  stack.push(cleanup);
}

async function double(t: TestContext, opts: SlackDoubleOptions = {}): Promise<SlackDouble> {
  const d = await startSlackDouble(opts);
  defer(t, () => d.close());
  return d;
}

function web(
  d: SlackDouble,
  token: string,
  extra: ConstructorParameters<typeof WebClient>[1] = {},
): WebClient {
  return new WebClient(token, { slackApiUrl: d.apiUrl, logLevel: LogLevel.ERROR, ...extra });
}

/** The Slack error code of a rejected Web API call. */
function slackError(code: string) {
  return (err: unknown) => (err as { data?: { error?: string } }).data?.error === code;
}

test("Web API: a bot posts, edits, reacts and deletes; state, events and errors match Slack", async (t) => {
  const d = await double(t);
  const alice = d.addUser({ name: "alice", realName: "Alice Liddell" });
  const ch = d.addChannel({ name: "general", members: [alice.id, d.botUserId] });
  const elsewhere = d.addChannel({ name: "elsewhere", members: [alice.id] });
  const hidden = d.addChannel({ name: "hidden", isPrivate: true, members: [alice.id] });
  const bot = web(d, d.botToken);

  const first = await bot.chat.postMessage({ channel: ch.id, text: "hello from Matrix" });
  const ghost = await bot.chat.postMessage({
    channel: ch.id,
    text: "as a ghost",
    username: "Bob (Matrix)",
    icon_url: "https://example.org/bob.png",
  });
  assert.equal(ghost.message?.subtype, "bot_message");
  assert.equal(ghost.message?.username, "Bob (Matrix)");
  assert.deepEqual(ghost.message?.icons, { image_48: "https://example.org/bob.png" });
  assert.equal(ghost.message?.user, undefined, "a bot_message has no user");
  const human = d.postAs(alice.id, ch.id, "hi bot");

  await bot.chat.update({ channel: ch.id, ts: first.ts ?? "", text: "hello from Matrix (edited)" });
  await bot.reactions.add({ channel: ch.id, timestamp: human, name: "thumbsup" });
  await assert.rejects(
    bot.reactions.add({ channel: ch.id, timestamp: human, name: "thumbsup" }),
    slackError("already_reacted"),
  );
  await assert.rejects(
    bot.reactions.remove({ channel: ch.id, timestamp: human, name: "tada" }),
    slackError("no_reaction"),
  );
  await assert.rejects(bot.chat.delete({ channel: ch.id, ts: human }), slackError("cant_delete_message"));
  await bot.chat.delete({ channel: ch.id, ts: ghost.ts ?? "" });
  await assert.rejects(
    bot.chat.postMessage({ channel: elsewhere.id, text: "x" }),
    slackError("not_in_channel"),
  );
  await assert.rejects(
    bot.chat.postMessage({ channel: hidden.id, text: "x" }),
    slackError("channel_not_found"),
  );
  await assert.rejects(bot.apiCall("chat.nonsense"), slackError("unknown_method"));
  // A user id as channel: the bot writes in its im with that user. Legacy attachments get ids.
  const dm = await bot.chat.postMessage({
    channel: alice.id,
    attachments: [{ text: "legacy", color: "#36a64f" }],
  });
  assert.match(dm.channel ?? "", /^D/);
  assert.deepEqual(d.message(dm.channel ?? "", dm.ts ?? "")?.attachments, [
    { id: 1, text: "legacy", color: "#36a64f" },
  ]);
  d.postAs(alice.id, elsewhere.id, "the bot is not in here");

  assert.deepEqual(
    d.messages(ch.id).map((m) => [m.text, m.user, m.edited?.user]),
    [
      ["hello from Matrix (edited)", d.botUserId, d.botUserId],
      ["hi bot", alice.id, undefined],
    ],
  );
  assert.deepEqual(d.message(ch.id, human)?.reactions, [
    { name: "thumbsup", users: [d.botUserId], count: 1 },
  ]);
  const got = await bot.reactions.get({ channel: ch.id, timestamp: human });
  assert.deepEqual(got.message?.reactions, [{ name: "thumbsup", users: [d.botUserId], count: 1 }]);

  // The bridge's own posts produce events too (that is how echoes happen); the channel the bot is
  // not in produces none.
  assert.deepEqual(
    d
      .events("message")
      .filter((w) => w.event.channel === ch.id)
      .map((w) => {
        const e = w.event as {
          subtype?: string;
          text?: string;
          message?: { text?: string };
          deleted_ts?: string;
        };
        return [e.subtype ?? "", e.text ?? e.message?.text ?? e.deleted_ts];
      }),
    [
      ["", "hello from Matrix"],
      ["bot_message", "as a ghost"],
      ["", "hi bot"],
      ["message_changed", "hello from Matrix (edited)"],
      ["message_deleted", ghost.ts],
    ],
  );
  const [reaction] = d.events("reaction_added");
  assert.deepEqual(reaction?.event.item, { type: "message", channel: ch.id, ts: human });
  assert.equal(reaction?.event.item_user, alice.id);
  d.assertNoSpecViolations();
});

test("conversations.history pages newest first by cursor and honours oldest/latest/inclusive; replies put the root first", async (t) => {
  const d = await double(t);
  const alice = d.addUser({ name: "alice" });
  const ch = d.addChannel({ name: "history", members: [alice.id, d.botUserId] });
  const bot = web(d, d.botToken);
  const ts = ["m1", "m2", "m3", "m4", "m5"].map((text) => d.postAs(alice.id, ch.id, text));
  const [, m2 = "", m3 = "", m4 = ""] = ts;
  const r1 = d.postAs(alice.id, ch.id, { text: "r1", threadTs: m3 });
  const r2 = await bot.chat.postMessage({ channel: ch.id, text: "r2", thread_ts: m3 });

  const pages: string[][] = [];
  let cursor: string | undefined;
  do {
    const page = await bot.conversations.history({ channel: ch.id, limit: 2, ...(cursor ? { cursor } : {}) });
    pages.push((page.messages ?? []).map((m) => m.text ?? ""));
    assert.equal(page.has_more, Boolean(page.response_metadata?.next_cursor));
    cursor = page.response_metadata?.next_cursor;
  } while (cursor);
  assert.deepEqual(pages, [["m5", "m4"], ["m3", "m2"], ["m1"]]);

  const window = async (inclusive: boolean) =>
    (
      (await bot.conversations.history({ channel: ch.id, oldest: m2, latest: m4, inclusive })).messages ?? []
    ).map((m) => m.text);
  assert.deepEqual(await window(true), ["m4", "m3", "m2"]);
  assert.deepEqual(await window(false), ["m3"]);

  const root = d.message(ch.id, m3);
  assert.equal(root?.reply_count, 2);
  assert.equal(root?.latest_reply, r2.ts);
  assert.deepEqual(
    d.messages(ch.id).map((m) => m.text),
    ["m1", "m2", "m3", "m4", "m5"],
  );
  const thread = await bot.conversations.replies({ channel: ch.id, ts: m3 });
  assert.deepEqual(
    thread.messages?.map((m) => m.text),
    ["m3", "r1", "r2"],
  );
  const viaReply = await bot.conversations.replies({ channel: ch.id, ts: r1 });
  assert.deepEqual(
    viaReply.messages?.map((m) => m.ts),
    [m3, r1, r2.ts],
  );
  assert.deepEqual(
    d.replies(ch.id, m3).map((m) => m.text),
    ["m3", "r1", "r2"],
  );

  const everyone: string[] = [];
  for await (const page of bot.paginate("users.list", { limit: 1 })) {
    everyone.push(...((page as { members?: Array<{ id: string }> }).members ?? []).map((u) => u.id));
  }
  assert.deepEqual(new Set(everyone), new Set([d.botUserId, "USLACKBOT", alice.id]));
  d.assertNoSpecViolations();
});

test("conversations.mark stores a user's read marker and refuses bot tokens", async (t) => {
  const d = await double(t);
  const alice = d.addUser({ name: "alice" });
  const ch = d.addChannel({ name: "reading", members: [alice.id, d.botUserId] });
  const ts = d.postAs(alice.id, ch.id, "read me");
  await web(d, alice.token).conversations.mark({ channel: ch.id, ts });
  assert.equal(d.readMarker(alice.id, ch.id), ts);
  await assert.rejects(
    web(d, d.botToken).conversations.mark({ channel: ch.id, ts }),
    slackError("not_allowed_token_type"),
  );
  assert.equal(d.readMarker(d.botUserId, ch.id), undefined);
  d.assertNoSpecViolations();
});

test("files.uploadV2 runs the external upload flow end to end; url_private needs a workspace token", async (t) => {
  const d = await double(t);
  const alice = d.addUser({ name: "alice" });
  const ch = d.addChannel({ name: "files", members: [alice.id, d.botUserId] });
  const bot = web(d, d.botToken);
  const data = Buffer.from([0, 1, 2, 250, 251, 252, 10, 13, 0x41]);

  await bot.files.uploadV2({
    channel_id: ch.id,
    file: data,
    filename: "notes.txt",
    title: "Notes",
    initial_comment: "the notes",
  });
  assert.deepEqual(
    d.calls().map((c) => c.method),
    ["files.getUploadURLExternal", "files.completeUploadExternal"],
  );
  const [shared] = d.messages(ch.id);
  assert.equal(shared?.subtype, "file_share");
  assert.equal(shared?.text, "the notes");
  const file = shared?.files?.[0];
  assert.equal(file?.name, "notes.txt");
  assert.equal(file?.title, "Notes");
  assert.equal(file?.mimetype, "text/plain");
  assert.equal(file?.size, data.length);
  assert.deepEqual(d.fileContent(file?.id ?? "")?.data, data);

  const authed = await fetch(file?.url_private_download ?? "", {
    headers: { Authorization: `Bearer ${d.botToken}` },
  });
  assert.equal(authed.status, 200);
  assert.deepEqual(Buffer.from(await authed.arrayBuffer()), data);
  // Like Slack: no token is not a 401 but a redirect to the sign-in page, which a careless client saves as the file.
  const noWorkspaceToken: Array<Record<string, string>> = [{}, { Authorization: `Bearer ${d.appToken}` }];
  for (const headers of noWorkspaceToken) {
    const anonymous = await fetch(file?.url_private ?? "", { headers });
    assert.equal(anonymous.status, 200);
    assert.match(anonymous.headers.get("content-type") ?? "", /^text\/html/);
    assert.match(await anonymous.text(), /Sign in/);
  }

  const info = await bot.files.info({ file: file?.id ?? "" });
  const shares = info.file?.shares as { public?: Record<string, Array<{ ts: string }>> } | undefined;
  assert.equal(shares?.public?.[ch.id]?.[0]?.ts, shared?.ts);

  const png = Buffer.from("89504e470d0a1a0a", "hex");
  const upload = d.uploadAs(alice.id, ch.id, {
    name: "cat.png",
    data: png,
    mimetype: "image/png",
    text: "a cat",
  });
  const event = d.events("message").at(-1)?.event as {
    subtype?: string;
    files?: Array<{ id: string; mimetype: string }>;
  };
  assert.equal(event.subtype, "file_share");
  assert.deepEqual(
    event.files?.map((f) => [f.id, f.mimetype]),
    [[upload.fileId, "image/png"]],
  );
  assert.deepEqual(d.fileContent(upload.fileId)?.data, png);
  d.assertNoSpecViolations();
});

test("a 429 with Retry-After is retried by WebClient after waiting; a revoked token fails with token_revoked", async (t) => {
  const d = await double(t);
  const alice = d.addUser({ name: "alice" });
  const ch = d.addChannel({ name: "limits", members: [alice.id, d.botUserId] });
  const bot = web(d, d.botToken, { retryConfig: { retries: 2, minTimeout: 0, maxTimeout: 1 } });

  d.rateLimit({ method: "chat.postMessage", count: 1, retryAfterSeconds: 1 });
  const started = Date.now();
  await bot.chat.postMessage({ channel: ch.id, text: "after the limit" });
  assert.ok(Date.now() - started >= 950, `WebClient waited only ${Date.now() - started} ms`);
  assert.deepEqual(
    d.calls("chat.postMessage").map((c) => [c.status, c.error]),
    [
      [429, "ratelimited"],
      [200, undefined],
    ],
  );
  assert.deepEqual(
    d.messages(ch.id).map((m) => m.text),
    ["after the limit"],
  );

  d.rateLimit({ method: /^conversations\./, count: 1, retryAfterSeconds: 7 });
  const strict = web(d, d.botToken, { rejectRateLimitedCalls: true });
  await assert.rejects(
    strict.conversations.info({ channel: ch.id }),
    (e: { code?: string; retryAfter?: number }) =>
      e.code === ErrorCode.RateLimitedError && e.retryAfter === 7,
  );

  const asAlice = web(d, alice.token);
  assert.equal((await asAlice.auth.test()).user_id, alice.id);
  d.revokeToken(alice.token);
  await assert.rejects(asAlice.auth.test(), slackError("token_revoked"));
  assert.deepEqual(d.events("tokens_revoked")[0]?.event.tokens, { oauth: [alice.id] });
  d.assertNoSpecViolations();
});

test("OAuth: @slack/oauth's InstallProvider gets a user token through the consent page, approveOAuth and oauth.v2.access", async (t) => {
  // The app's callback, as a bridge would serve it; the double needs its URL as a Redirect URL.
  const installed: Array<{ installation: Installation; options: InstallURLOptions }> = [];
  const failures: string[] = [];
  const callback = createServer((req, res) => {
    // Requests arrive only once `installer` (below) exists.
    void installer.handleCallback(req, res, {
      success: (installation, options, _req, response) => {
        installed.push({ installation: installation as Installation, options });
        response.end("ok");
      },
      failure: (error, _options, _req, response) => {
        failures.push(error.code);
        response.end("failed");
      },
    });
  });
  await new Promise<void>((ok) => callback.listen(0, "127.0.0.1", () => ok()));
  defer(t, () => new Promise<void>((ok) => callback.close(() => ok())));
  const port = (callback.address() as { port: number }).port;
  const redirectUri = `http://127.0.0.1:${port}/slack/oauth/callback`;
  const d = await double(t, { oauthRedirectUrls: [`http://127.0.0.1:${port}/slack/oauth`] });
  const alice = d.addUser({ name: "alice" });
  const installer = new InstallProvider({
    clientId: d.oauth.clientId,
    clientSecret: d.oauth.clientSecret,
    stateSecret: "a state secret",
    // The link is handed out directly (no install page setting a state cookie).
    legacyStateVerification: true,
    authorizationUrl: d.oauth.authorizeUrl,
    clientOptions: { slackApiUrl: d.apiUrl },
    logLevel: LogLevel.ERROR,
  });
  const link = (metadata: string) =>
    installer.generateInstallUrl({
      scopes: [],
      userScopes: ["chat:write", "im:read"],
      redirectUri,
      metadata,
    });

  const url = await link("first");
  const consent = await fetch(url);
  assert.equal(consent.status, 200);
  assert.match(await consent.text(), /requesting permission to access the Switchboard Test Slack workspace/);
  const back = new URL(d.approveOAuth(url, alice.id));
  assert.equal(`${back.origin}${back.pathname}`, redirectUri);
  assert.equal(back.searchParams.get("state"), new URL(url).searchParams.get("state"));
  assert.ok(back.searchParams.get("code"));
  assert.equal((await fetch(back)).status, 200);
  assert.equal(installed.length, 1);
  const { installation, options } = installed[0]!;
  assert.equal(
    installation.user.token,
    alice.token,
    "the user's token, as Slack hands back on re-authorization",
  );
  assert.equal(installation.user.id, alice.id);
  assert.deepEqual(installation.user.scopes, ["chat:write", "im:read"]);
  assert.deepEqual(installation.team, { id: d.team.id, name: d.team.name });
  assert.equal(installation.bot, undefined, "no bot scopes asked, no bot token");
  assert.equal(options.metadata, "first");

  // The code is single-use; the client must authenticate and repeat the redirect_uri.
  const anon = new WebClient(undefined, { slackApiUrl: d.apiUrl, logLevel: LogLevel.ERROR });
  const code = back.searchParams.get("code")!;
  const creds = { client_id: d.oauth.clientId, client_secret: d.oauth.clientSecret };
  await assert.rejects(
    anon.oauth.v2.access({ ...creds, code, redirect_uri: redirectUri }),
    slackError("invalid_code"),
  );
  const code2 = new URL(d.approveOAuth(await link("second"), alice.id)).searchParams.get("code")!;
  await assert.rejects(
    anon.oauth.v2.access({ ...creds, client_secret: "wrong", code: code2, redirect_uri: redirectUri }),
    slackError("bad_client_secret"),
  );
  await assert.rejects(
    anon.oauth.v2.access({ ...creds, code: code2, redirect_uri: `${redirectUri}/elsewhere` }),
    slackError("bad_redirect_uri"),
  );
  const code3 = new URL(d.approveOAuth(await link("third"), alice.id)).searchParams.get("code")!;
  const basic = await fetch(`${d.apiUrl}oauth.v2.access`, {
    method: "POST",
    headers: {
      Authorization: `Basic ${Buffer.from(`${d.oauth.clientId}:${d.oauth.clientSecret}`).toString("base64")}`,
      "Content-Type": "application/x-www-form-urlencoded",
    },
    body: new URLSearchParams({ code: code3, redirect_uri: redirectUri }),
  });
  assert.equal(
    ((await basic.json()) as { authed_user?: { access_token?: string } }).authed_user?.access_token,
    alice.token,
  );

  // Cancel on the consent page: the browser comes back with error=access_denied and the state.
  const denied = new URL(d.denyOAuth(await link("fourth")));
  assert.equal(denied.searchParams.get("error"), "access_denied");
  assert.ok(denied.searchParams.get("state"));
  await fetch(denied);
  assert.deepEqual(failures, ["slack_oauth_installer_authorization_error"]);

  // Slack's page refuses what Slack refuses; the helper says so instead of inventing a redirect.
  const foreign = await installer.generateInstallUrl({
    scopes: [],
    userScopes: ["chat:write"],
    redirectUri: "https://evil.example/cb",
  });
  assert.equal((await fetch(foreign)).status, 400);
  assert.throws(() => d.approveOAuth(foreign, alice.id), /bad_redirect_uri/);
  assert.throws(
    () => d.approveOAuth(url.replace(d.oauth.clientId, "123.456"), alice.id),
    /invalid_client_id/,
  );
  assert.throws(
    () => d.approveOAuth(url.replace(/^http:\/\/127\.0\.0\.1:\d+/, "https://slack.com"), alice.id),
    /not this double's/,
  );
  assert.throws(() => d.approveOAuth(url, d.botUserId), /human user/);

  // auth.revoke ends the token (tokens_revoked goes out); the next authorization gets a new one.
  await web(d, alice.token).auth.revoke();
  await assert.rejects(web(d, alice.token).auth.test(), slackError("token_revoked"));
  assert.deepEqual(d.events("tokens_revoked")[0]?.event.tokens, { oauth: [alice.id] });
  await fetch(d.approveOAuth(await link("fifth"), alice.id));
  const fresh = installed.at(-1)!.installation.user.token!;
  assert.notEqual(fresh, alice.token);
  assert.equal((await web(d, fresh).auth.test()).user_id, alice.id);
  d.assertNoSpecViolations();
});

/** A bare Socket Mode client, to see the wire protocol without a library smoothing it over. */
async function rawSocket(url: string): Promise<{ ws: WebSocket; inbox: Array<Record<string, unknown>> }> {
  const ws = new WebSocket(url);
  const inbox: Array<Record<string, unknown>> = [];
  ws.on("message", (data) => inbox.push(JSON.parse(String(data)) as Record<string, unknown>));
  await new Promise<void>((ok, fail) => {
    ws.once("open", () => ok());
    ws.once("error", fail);
  });
  return { ws, inbox };
}

test("Socket Mode protocol: hello, envelopes, acks, and an unacked envelope redelivered with retry_attempt+1 after reconnect", async (t) => {
  const d = await double(t);
  const alice = d.addUser({ name: "alice" });
  const ch = d.addChannel({ name: "wire", members: [alice.id, d.botUserId] });
  const app = web(d, d.appToken);
  await assert.rejects(web(d, d.botToken).apps.connections.open(), slackError("not_allowed_token_type"));

  const open1 = await app.apps.connections.open();
  assert.match(open1.url ?? "", /^ws:\/\/127\.0\.0\.1:\d+\/link\/\?ticket=/);
  const first = await rawSocket(open1.url ?? "");
  defer(t, () => first.ws.terminate());
  await until("hello and the queued channel_created", () => first.inbox.length >= 2);
  assert.equal(first.inbox[0]?.type, "hello");
  await assert.rejects(rawSocket(open1.url ?? ""), /401/, "a ticket works once");

  // The channel_created of the setup arrives first; ack it so only the message stays unacked.
  const created = first.inbox[1] as { envelope_id: string; payload: { event: { type: string } } };
  assert.equal(created.payload.event.type, "channel_created");
  first.ws.send(JSON.stringify({ envelope_id: created.envelope_id, payload: {} }));
  d.postAs(alice.id, ch.id, "one");
  await until("envelope", () => first.inbox.length >= 3);
  const envelope = first.inbox[2] as {
    type: string;
    retry_attempt: number;
    payload: { event_id: string; event: { text: string } };
  };
  assert.equal(envelope.type, "events_api");
  assert.equal(envelope.retry_attempt, 0);
  assert.equal(envelope.payload.event.text, "one");
  first.ws.close(); // without acking

  const second = await rawSocket((await app.apps.connections.open()).url ?? "");
  defer(t, () => second.ws.terminate());
  await until("redelivery", () => second.inbox.length >= 2);
  const again = second.inbox[1] as {
    envelope_id: string;
    retry_attempt: number;
    retry_reason: string;
    payload: { event_id: string };
  };
  assert.equal(again.payload.event_id, envelope.payload.event_id);
  assert.equal(again.retry_attempt, 1);
  assert.equal(again.retry_reason, "timeout");
  second.ws.send(JSON.stringify({ envelope_id: again.envelope_id, payload: {} }));
  await until("ack recorded", () =>
    d.eventDeliveries().some((r) => r.eventId === envelope.payload.event_id && r.outcome === "acked"),
  );
  assert.deepEqual(
    d
      .eventDeliveries()
      .filter((r) => r.eventId === envelope.payload.event_id)
      .map((r) => [r.attempt, r.outcome]),
    [
      [0, "connection_closed"],
      [1, "acked"],
    ],
  );
  d.assertNoSpecViolations();
});

test("Bolt in Socket Mode hears Slack users, hears its own post before the post returns, and gets events queued while away", async (t) => {
  const d = await double(t, { eventsRetryTimeoutMs: 2000 });
  const alice = d.addUser({ name: "alice" });
  const ch = d.addChannel({ name: "bridge", members: [alice.id, d.botUserId] });
  const receiver = new SocketModeReceiver({
    appToken: d.appToken,
    // Reconnect delay is clientPingTimeout x failures (5 s by default), too slow for a unit test.
    clientPingTimeout: 300,
    logLevel: LogLevel.ERROR,
    installerOptions: { clientOptions: { slackApiUrl: d.apiUrl } },
  });
  const app = new App({
    token: d.botToken,
    receiver,
    ignoreSelf: false,
    clientOptions: { slackApiUrl: d.apiUrl },
    logLevel: LogLevel.ERROR,
  });
  const heard: Array<{ text: string; user: string | undefined }> = [];
  let postReturned = false;
  let echoHeardBeforeReturn: boolean | undefined;
  app.event("message", async ({ event }) => {
    const e = event as { text?: string; user?: string };
    if (e.text === "echo me") echoHeardBeforeReturn = !postReturned;
    heard.push({ text: e.text ?? "", user: e.user });
  });
  await app.start();
  defer(t, async () => {
    // Bolt's stop() resolves before the WebSocket has closed; wait for the client to say so.
    const disconnected = new Promise((resolve) => receiver.client.once("disconnected", resolve));
    await app.stop();
    await disconnected;
  });

  d.postAs(alice.id, ch.id, "hello from Slack");
  await until("Bolt hears alice", () => heard.length >= 1, 5000);
  assert.deepEqual(heard[0], { text: "hello from Slack", user: alice.id });

  await app.client.chat.postMessage({ channel: ch.id, text: "echo me" });
  postReturned = true;
  assert.equal(echoHeardBeforeReturn, true, "the echo must reach Bolt before chat.postMessage returns");

  d.dropSocketConnections();
  d.postAs(alice.id, ch.id, "while you were away");
  await until("Bolt reconnects and hears the queued message", () => heard.length >= 3, 5000);
  assert.equal(d.calls("apps.connections.open").length, 2);

  d.pauseEvents();
  d.postAs(alice.id, ch.id, "held back");
  await sleep(300);
  assert.equal(heard.length, 3, "nothing is delivered while events are paused");
  d.resumeEvents();
  await until("Bolt hears the held-back message", () => heard.length >= 4, 5000);

  assert.deepEqual(
    heard.map((h) => [h.text, h.user]),
    [
      ["hello from Slack", alice.id],
      ["echo me", d.botUserId],
      ["while you were away", alice.id],
      ["held back", alice.id],
    ],
  );
  assert.ok(d.eventDeliveries().every((r) => r.transport === "socket_mode" && r.outcome === "acked"));
  d.assertNoSpecViolations();
});

test("Bolt's HTTP receiver gets signed Events API pushes, answers url_verification, rejects a bad signature and gets the retry", async (t) => {
  const d = await double(t, { eventsRetryTimeoutMs: 1000, eventsRetryDelaysMs: [0, 0, 0] });
  const alice = d.addUser({ name: "alice" });
  const ch = d.addChannel({ name: "http", members: [alice.id, d.botUserId] });
  const app = new App({
    token: d.botToken,
    signingSecret: d.signingSecret,
    clientOptions: { slackApiUrl: d.apiUrl },
    logLevel: LogLevel.ERROR,
  });
  const heard: Array<{ text: string; retryNum: number | undefined }> = [];
  app.event("message", async ({ event, context }) => {
    heard.push({ text: (event as { text?: string }).text ?? "", retryNum: context.retryNum });
  });
  const server = await app.start({ port: 0, host: "127.0.0.1" });
  defer(t, () => app.stop());
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;

  assert.equal(await d.verifyEventsUrl(`http://127.0.0.1:${port}/nowhere`), false);
  d.setEventsUrl(`http://127.0.0.1:${port}/slack/events`);
  assert.equal(await d.verifyEventsUrl(), true);

  d.postAs(alice.id, ch.id, "signed hello");
  await until("Bolt hears the signed push", () => heard.length >= 1, 5000);

  d.corruptSignatures(1);
  const forged = d.postAs(alice.id, ch.id, "forged once");
  await until("Bolt hears the retry", () => heard.length >= 2, 5000);
  assert.deepEqual(heard, [
    { text: "signed hello", retryNum: undefined },
    { text: "forged once", retryNum: 1 },
  ]);
  const forgedEvent = d.events("message").find((w) => (w.event as { ts?: string }).ts === forged);
  assert.deepEqual(
    d
      .eventDeliveries()
      .filter((r) => r.eventId === forgedEvent?.event_id)
      .map((r) => [r.attempt, r.outcome, r.httpStatus]),
    [
      [0, "http_error", 401],
      [1, "acked", 200],
    ],
  );
  d.assertNoSpecViolations();
});

test("Events API: a receiver that does not answer 200 in time gets retries with X-Slack-Retry-Num/Reason, at most 3", async (t) => {
  const posts: Array<{ headers: IncomingHttpHeaders; body: string }> = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString();
      posts.push({ headers: req.headers, body });
      if (body.includes("doomed")) {
        res.writeHead(500).end();
      } else if (posts.filter((p) => p.body === body).length === 1) {
        setTimeout(() => res.writeHead(200).end(), 600); // too slow the first time
      } else {
        res.writeHead(200).end();
      }
    });
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  defer(t, () => {
    server.closeAllConnections();
    server.close();
  });
  const address = server.address();
  const url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}/events`;
  const d = await double(t, { eventsUrl: url, eventsRetryTimeoutMs: 200, eventsRetryDelaysMs: [0, 0, 0] });
  const alice = d.addUser({ name: "alice" });
  const ch = d.addChannel({ name: "slow", members: [alice.id, d.botUserId] });

  await until("the setup's channel_created", () => posts.length >= 2); // slow once, then retried
  posts.length = 0;
  d.postAs(alice.id, ch.id, "slow start");
  await until("the retry", () => posts.length >= 2);
  const [firstPost, retry] = posts;
  assert.equal(firstPost?.body, retry?.body, "a retry carries the same event");
  assert.equal(firstPost?.headers["x-slack-retry-num"], undefined);
  assert.equal(retry?.headers["x-slack-retry-num"], "1");
  assert.equal(retry?.headers["x-slack-retry-reason"], "http_timeout");
  for (const p of [firstPost, retry]) {
    const ts = Number(p?.headers["x-slack-request-timestamp"]);
    assert.equal(p?.headers["x-slack-signature"], slackSignature(d.signingSecret, ts, p?.body ?? ""));
  }

  posts.length = 0;
  d.postAs(alice.id, ch.id, "doomed");
  await until("three retries", () => posts.length >= 4);
  await sleep(300);
  assert.deepEqual(
    posts.map((p) => [p.headers["x-slack-retry-num"], p.headers["x-slack-retry-reason"]]),
    [
      [undefined, undefined],
      ["1", "http_error"],
      ["2", "http_error"],
      ["3", "http_error"],
    ],
  );
  d.assertNoSpecViolations();
});

test("spec validation reports drift: a request without a required parameter, and responses/events the spec rejects", async (t) => {
  if (!existsSync(SPEC_DIR)) {
    t.skip(`no Slack specs at ${SPEC_DIR}`);
    return;
  }
  const d = await double(t);
  const res = await fetch(`${d.apiUrl}chat.postMessage`, {
    method: "POST",
    headers: { Authorization: `Bearer ${d.botToken}`, "Content-Type": "application/x-www-form-urlencoded" },
    body: "text=no+channel",
  });
  assert.deepEqual(await res.json(), { ok: false, error: "channel_not_found" });
  assert.deepEqual(d.specViolations, ["chat.postMessage request: required parameter `channel` is missing"]);
  assert.throws(() => d.assertNoSpecViolations(), /required parameter `channel`/);
  d.specViolations.length = 0;

  const spec = await loadSpecChecker(SPEC_DIR);
  assert.ok(spec);
  const message = { type: "message", text: "x", ts: "1700000000.000100" };
  assert.deepEqual(
    spec.checkResponse("chat.postMessage", { ok: true, channel: "C0123456789", ts: message.ts, message }),
    [],
  );
  // A known spec bug (objs_message lacks `edited`) is allowed; a real drift is not.
  const edited = { ...message, edited: { user: "U0123456789", ts: "1700000001.000100" } };
  assert.deepEqual(
    spec.checkResponse("chat.postMessage", {
      ok: true,
      channel: "C0123456789",
      ts: message.ts,
      message: edited,
    }),
    [],
  );
  const sorted = (list: string[]) => [...list].sort();
  assert.deepEqual(
    sorted(spec.checkResponse("chat.delete", { ok: true, channel: "C0123456789", ts: "12.5", extra: 1 })),
    [
      "chat.delete response: (root) should NOT have additional properties 'extra'",
      'chat.delete response: /ts should match pattern "^\\d{10}\\.\\d{6}$"',
    ],
  );
  // objs_conversation is written as a tuple `items: [...]`; read as anyOf, an incomplete channel is caught.
  const partial = spec.checkResponse("conversations.info", {
    ok: true,
    channel: { id: "C0123456789", name: "x" },
  });
  assert.ok(
    partial.includes("conversations.info response: /channel should match some schema in anyOf"),
    partial.join("\n"),
  );
  assert.deepEqual(
    sorted(
      spec.checkEvent({
        token: "t",
        team_id: "T0123456789",
        api_app_id: "A0123456789",
        type: "event_callback",
        event: { type: "reaction_added", event_ts: 1 },
        event_time: 1,
        authed_users: ["U0123456789"],
      }),
    ),
    [
      "reaction_added event (AsyncAPI reaction.added): (root) should have required property 'event_id'",
      "reaction_added event (AsyncAPI reaction.added): /event/event_ts should be string",
      "reaction_added event (event wrapper): (root) should have required property 'event_id'",
      "reaction_added event (event wrapper): /event/event_ts should be string",
    ],
  );
  d.assertNoSpecViolations();
});
