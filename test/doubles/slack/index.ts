import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { EventDelivery } from "./event-delivery.js";
import { EventsApiPusher } from "./events-api.js";
import { SlackHttpServer, type RateLimitRule } from "./http-server.js";
import { OAuthApp } from "./oauth.js";
import { SocketModeServer } from "./socket-mode.js";
import { loadSpecChecker } from "./spec-check.js";
import type { ApiCall, SlackDouble, SlackDoubleOptions, SlackEventCallback, SlackMessage } from "./types.js";
import { SlackApiError, Workspace } from "./workspace.js";

/**
 * An in-process fake Slack on 127.0.0.1 for end-to-end tests: the Web API, Socket Mode and the
 * Events API, driven by the real @slack/web-api and @slack/bolt clients. See README.md.
 */

export type {
  ApiCall,
  EventDelivery,
  SlackDouble,
  SlackDoubleOptions,
  SlackEventCallback,
  SlackFile,
  SlackMessage,
} from "./types.js";
export { slackSignature } from "./events-api.js";
export { KNOWN_SPEC_BUGS } from "./spec-check.js";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const DEFAULT_SPEC_DIR = resolve(repoRoot, "../shared/specs/slack");

export async function startSlackDouble(opts: SlackDoubleOptions = {}): Promise<SlackDouble> {
  const urls = { base: "" };
  const ws = new Workspace(
    { teamName: opts.teamName ?? "Switchboard Test", teamDomain: opts.teamDomain ?? "switchboard-test" },
    urls,
  );
  const signingSecret = ws.mint.secret();
  const oauth = new OAuthApp(ws, opts.oauthRedirectUrls ?? []);
  const spec = await loadSpecChecker(opts.specDir ?? DEFAULT_SPEC_DIR);
  const violations: string[] = [];
  const calls: ApiCall[] = [];
  const published: SlackEventCallback[] = [];
  const rateLimits: RateLimitRule[] = [];
  const retryTimeoutMs = opts.eventsRetryTimeoutMs ?? 3000;

  const pusher = new EventsApiPusher(signingSecret);
  // The socket server and the delivery call each other: hello -> deliver, ack -> settle.
  const socket = new SocketModeServer(
    ws.bot.appId,
    {
      onReady: () => delivery.pump(),
      onAck: (envelopeId) => delivery.onAck(envelopeId),
      onClosed: (conn) => delivery.onSocketClosed(conn),
    },
    opts.socketPingIntervalMs ?? 5000,
  );
  const delivery = new EventDelivery(
    ws,
    socket,
    pusher,
    { retryTimeoutMs, retryDelaysMs: opts.eventsRetryDelaysMs ?? [0, 1000, 5000], eventsUrl: opts.eventsUrl },
    (wrapper) => {
      published.push(structuredClone(wrapper) as SlackEventCallback);
      if (spec) violations.push(...spec.checkEvent(wrapper));
    },
  );
  ws.sink = (event) => void delivery.publish(event);

  const http = new SlackHttpServer({
    ws,
    delivery,
    socket,
    spec,
    violations,
    calls,
    rateLimits,
    eventBeforeResponse: opts.eventBeforeResponse ?? true,
    oauth,
  });
  const port = await http.listen();
  urls.base = `http://127.0.0.1:${port}/`;

  /** Test helpers take a channel id or name; a wrong one is a test bug, so say which. */
  const channel = (ref: string) => {
    const ch = ws.findChannel(ref);
    if (!ch) throw new Error(`Slack double: no conversation "${ref}"`);
    return ch;
  };
  const member = (userId: string, ref: string) => {
    const ch = channel(ref);
    ws.user(userId);
    if (!ch.members.includes(userId)) {
      throw new Error(`Slack double: ${userId} is not in ${ch.id} (#${ch.name}); joinChannel first`);
    }
    return ch;
  };
  const clone = <T>(value: T): T => structuredClone(value);

  const double: SlackDouble = {
    apiUrl: `${urls.base}api/`,
    team: { ...ws.team },
    appToken: ws.bot.appToken,
    botToken: ws.bot.token,
    botUserId: ws.bot.userId,
    botId: ws.bot.botId,
    appId: ws.bot.appId,
    signingSecret,
    verificationToken: ws.verificationToken,
    oauth: { clientId: oauth.clientId, clientSecret: oauth.clientSecret, authorizeUrl: oauth.authorizeUrl },

    addUser: (u) => ws.addUser(u),
    setProfile: (userId, p) => ws.setProfile(userId, p),
    addChannel: (c) => ws.addChannel(c),
    openDm: (userIds) => ({ id: ws.openDm(userIds).id }),
    joinChannel: (userId, ref) => void ws.join(userId, channel(ref).id),
    leaveChannel: (userId, ref) => void ws.leave(userId, channel(ref).id),
    renameChannel: (ref, name) => ws.rename(channel(ref).id, name),
    setTopic: (ref, topic, userId) => ws.setTopic(channel(ref).id, topic, userId),
    addEmoji: (name, url) => void ws.emoji.set(name, url),

    postAs(userId, ref, msg) {
      const ch = member(userId, ref);
      const m = typeof msg === "string" ? { text: msg } : msg;
      const human = !ws.user(userId).isBot;
      return ws.post({ userId }, ch, {
        text: m.text,
        // Slack's own client stamps every message it sends with a client_msg_id.
        ...(human ? { clientMsgId: ws.mint.uuid() } : {}),
        ...("threadTs" in m && m.threadTs !== undefined ? { threadTs: m.threadTs } : {}),
        ...("subtype" in m && m.subtype !== undefined ? { subtype: m.subtype } : {}),
        ...("blocks" in m && m.blocks !== undefined ? { blocks: m.blocks } : {}),
        ...("broadcast" in m && m.broadcast !== undefined ? { broadcast: m.broadcast } : {}),
      }).ts;
    },
    editAs(userId, ref, ts, text) {
      const ch = member(userId, ref);
      const msg = ws.message(ch, ts);
      if (msg.user !== userId)
        throw new Error(`Slack double: ${userId} cannot edit ${ts}, written by someone else`);
      // The Slack client re-renders the blocks from the new text; stale blocks would contradict it.
      delete msg.blocks;
      ws.edit(userId, ch, ts, { text });
    },
    deleteAs(userId, ref, ts) {
      // Workspace admins may delete anyone's message, so no authorship check here.
      ws.delete(member(userId, ref), ts);
    },
    reactAs: (userId, ref, ts, name) => ws.react(userId, member(userId, ref), ts, name),
    unreactAs: (userId, ref, ts, name) => ws.unreact(userId, member(userId, ref), ts, name),
    uploadAs(userId, ref, f) {
      const ch = member(userId, ref);
      const { file, uploadId } = ws.reserveUpload(userId, f.name, f.data.length);
      ws.receiveUpload(uploadId, f.data, f.mimetype);
      if (f.title !== undefined) file.title = f.title;
      const msg = ws.shareFiles({ userId }, ch, [file], {
        text: f.text ?? "",
        ...(f.threadTs !== undefined ? { threadTs: f.threadTs } : {}),
      });
      return { fileId: file.id, ts: msg.ts };
    },

    messages: (ref) =>
      ws
        .messagesOf(channel(ref))
        .filter((m) => ws.isTopLevel(m))
        .map(clone),
    replies: (ref, threadTs) => ws.thread(channel(ref), threadTs).map(clone),
    message(ref, ts): SlackMessage | undefined {
      const m = ws.findMessage(channel(ref), ts);
      return m && clone(m);
    },
    fileContent(fileId) {
      const f = ws.files.get(fileId);
      return f?.data ? { name: f.name, mimetype: f.mimetype, data: Buffer.from(f.data) } : undefined;
    },
    readMarker: (userId, ref) => ws.readMarker(userId, channel(ref)),
    calls: (method) => calls.filter((c) => method === undefined || c.method === method).map(clone),
    events: (type) => published.filter((w) => type === undefined || w.event.type === type).map(clone),
    eventDeliveries: () => delivery.records.map(clone),

    pauseEvents: () => delivery.pause(),
    resumeEvents: () => delivery.resume(),
    dropSocketConnections: () => socket.dropAll(),
    setEventsUrl: (url) => {
      delivery.eventsUrl = url;
    },
    verifyEventsUrl(url) {
      const target = url ?? delivery.eventsUrl;
      if (target === undefined)
        throw new Error("Slack double: verifyEventsUrl needs a URL (none configured)");
      return pusher.verifyUrl(target, ws.verificationToken, retryTimeoutMs);
    },
    corruptSignatures(count) {
      pusher.corruptSignatures = count;
    },

    rateLimit(o) {
      rateLimits.push({ method: o.method, remaining: o.count, retryAfterSeconds: o.retryAfterSeconds ?? 1 });
    },
    revokeToken: (token) => ws.revokeToken(token),
    setClock(now) {
      ws.mint.setClock(now);
    },
    approveOAuth: (authorizeUrl, userId) => oauth.approve(authorizeUrl, userId),
    denyOAuth: (authorizeUrl) => oauth.deny(authorizeUrl),
    specViolations: violations,
    assertNoSpecViolations() {
      if (violations.length > 0) {
        throw new Error(
          `Slack double saw ${violations.length} spec violation(s):\n${violations.map((v) => `  - ${v}`).join("\n")}`,
        );
      }
    },
    async close() {
      delivery.close();
      await socket.close();
      await http.close();
    },
  };
  return double;
}

export { SlackApiError };
