import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { randomBytes } from "node:crypto";

/**
 * A toy chat network for the framework's own tests and benchmarks: users, channels,
 * messages with ids, edits, deletes, reactions, read markers, typing and files, served
 * over loopback HTTP. It runs outside the bridge (in the test process), so a bridge that
 * is killed and restarted finds the network — and its undelivered events — still there.
 * Events are a numbered log the client reads with `after=<seq>`: at-least-once delivery,
 * like Slack's redelivery or a Discord gateway resume.
 */

export interface ToyMessage {
  id: string;
  channel: string;
  sender: string;
  /** Display name shown for messages relayed by the bridge user. */
  relayName?: string;
  text: string;
  html?: string;
  kind: "text" | "notice" | "emote" | "file";
  file?: { id: string; name: string; mimetype: string };
  ts: number;
  replyTo?: string;
  threadRoot?: string;
  deleted?: boolean;
  /** Client that sent it through the API (the bridge skips its own echoes). */
  origin?: string;
}

export type ToyEvent =
  | ({ type: "message" } & ToyMessage)
  | {
      type: "edit";
      channel: string;
      id: string;
      sender: string;
      text: string;
      html?: string;
      ts: number;
      origin?: string;
    }
  | { type: "delete"; channel: string; id: string; sender: string; origin?: string }
  | { type: "react"; channel: string; id: string; sender: string; key: string; ts: number; origin?: string }
  | { type: "unreact"; channel: string; id: string; sender: string; key: string; origin?: string }
  | { type: "join" | "leave"; channel: string; user: string }
  | { type: "rename"; user: string; name: string }
  | { type: "read"; channel: string; user: string; upTo: string; origin?: string }
  | { type: "typing"; channel: string; user: string; typing: boolean; origin?: string };

export interface ToyUser {
  id: string;
  name: string;
  token: string;
  /** Set when this "user" is another Matrix bridge's puppet of that Matrix user. */
  matrixId?: string;
}

export interface ToyChannel {
  id: string;
  name: string;
  topic: string;
  members: Set<string>;
  /** A DM between two users: visible only to them. */
  dm?: [string, string];
}

export class ToyNetwork {
  readonly users = new Map<string, ToyUser>();
  readonly channels = new Map<string, ToyChannel>();
  readonly messages = new Map<string, ToyMessage>();
  readonly reactions = new Map<string, Set<string>>();
  readonly reads = new Map<string, string>();
  readonly files = new Map<string, { name: string; mimetype: string; data: Buffer }>();
  private readonly log: Array<{ seq: number; event: ToyEvent }> = [];
  private readonly waiters = new Set<() => void>();
  /** Device-link codes shown as QR codes, waiting for a user to "scan" them. */
  readonly pendingLinks = new Map<string, { user?: string; wake?: () => void }>();
  private readonly seenTxns = new Map<string, Record<string, unknown>>();
  private server: Server | null = null;
  private nextId = 1;
  url = "";
  /** The relay account the bridge sends as when a Matrix user has no login. */
  readonly bridgeToken = randomBytes(12).toString("hex");

  constructor() {
    this.users.set("bridge", { id: "bridge", name: "Bridge", token: this.bridgeToken });
  }

  /** Called after every message is posted: tests use it to play another bridge relaying it back. */
  onPost: ((message: ToyMessage) => void) | null = null;

  addUser(id: string, name: string, matrixId?: string): ToyUser {
    const user: ToyUser = { id, name, token: `tok-${id}-${randomBytes(6).toString("hex")}`, matrixId };
    this.users.set(id, user);
    return user;
  }

  addChannel(id: string, name: string, topic = "", members: string[] = []): ToyChannel {
    const channel: ToyChannel = { id, name, topic, members: new Set(["bridge", ...members]) };
    this.channels.set(id, channel);
    return channel;
  }

  addDm(a: string, b: string): ToyChannel {
    const id = `dm-${[a, b].sort().join("-")}`;
    const channel: ToyChannel = { id, name: `${a}, ${b}`, topic: "", members: new Set([a, b]), dm: [a, b] };
    this.channels.set(id, channel);
    return channel;
  }

  private push(event: ToyEvent): number {
    const seq = this.log.length + 1;
    this.log.push({ seq, event });
    for (const w of this.waiters) w();
    this.waiters.clear();
    return seq;
  }

  get lastSeq(): number {
    return this.log.length;
  }

  private readonly faults: Array<{
    path: string;
    channel?: string;
    status: number;
    body: Record<string, unknown>;
    times: number;
  }> = [];

  /**
   * Makes the next `times` calls of the bridge to `path` (for `channel`, if given) fail with
   * `status` and `body` (e.g. 429 with retry_after_ms): how tests see the bridge's typed errors.
   */
  failNext(
    path: string,
    fault: { channel?: string; status: number; body?: Record<string, unknown>; times?: number },
  ): void {
    this.faults.push({
      path,
      channel: fault.channel,
      status: fault.status,
      body: fault.body ?? {},
      times: fault.times ?? 1,
    });
  }

  /** Calls the bridge made that a fault answered, per path: to see that no retry happened. */
  readonly faulted: Array<{ path: string; channel?: string; at: number }> = [];

  /** What a remote person does: post a message. */
  post(sender: string, channel: string, text: string, extra: Partial<ToyMessage> = {}): ToyMessage {
    const message: ToyMessage = {
      id: `m${this.nextId++}`,
      channel,
      sender,
      text,
      kind: "text",
      ts: Date.now(),
      ...extra,
    };
    this.messages.set(message.id, message);
    this.push({ type: "message", ...message });
    this.onPost?.(message);
    return message;
  }

  edit(sender: string, id: string, text: string, html?: string, origin?: string): void {
    const m = this.messages.get(id);
    if (!m) throw new Error(`no message ${id}`);
    m.text = text;
    m.html = html;
    this.push({ type: "edit", channel: m.channel, id, sender, text, html, ts: Date.now(), origin });
  }

  remove(sender: string, id: string, origin?: string): void {
    const m = this.messages.get(id);
    if (!m) throw new Error(`no message ${id}`);
    m.deleted = true;
    this.push({ type: "delete", channel: m.channel, id, sender, origin });
  }

  react(sender: string, id: string, key: string, origin?: string): void {
    const m = this.messages.get(id);
    if (!m) throw new Error(`no message ${id}`);
    const set = this.reactions.get(id) ?? new Set<string>();
    set.add(`${sender}\0${key}`);
    this.reactions.set(id, set);
    this.push({ type: "react", channel: m.channel, id, sender, key, ts: Date.now(), origin });
  }

  unreact(sender: string, id: string, key: string, origin?: string): void {
    const m = this.messages.get(id);
    if (!m) throw new Error(`no message ${id}`);
    this.reactions.get(id)?.delete(`${sender}\0${key}`);
    this.push({ type: "unreact", channel: m.channel, id, sender, key, origin });
  }

  join(user: string, channel: string): void {
    this.channels.get(channel)?.members.add(user);
    this.push({ type: "join", channel, user });
  }

  leave(user: string, channel: string): void {
    this.channels.get(channel)?.members.delete(user);
    this.push({ type: "leave", channel, user });
  }

  rename(user: string, name: string): void {
    const u = this.users.get(user);
    if (u) u.name = name;
    this.push({ type: "rename", user, name });
  }

  markRead(user: string, channel: string, upTo: string, origin?: string): void {
    this.reads.set(`${user}\0${channel}`, upTo);
    this.push({ type: "read", channel, user, upTo, origin });
  }

  /** What a person does with their phone: scan the QR code, linking the device to their account. */
  approveLink(code: string, user: string): void {
    const link = this.pendingLinks.get(code);
    if (!link) throw new Error(`no pending link ${code}`);
    link.user = user;
    link.wake?.();
  }

  setTyping(user: string, channel: string, typing: boolean, origin?: string): void {
    this.push({ type: "typing", channel, user, typing, origin });
  }

  /** Every event of one type in the log, for tests that count what the bridge did. */
  eventsOfType<T extends ToyEvent["type"]>(type: T): Array<Extract<ToyEvent, { type: T }>> {
    return this.log.map((e) => e.event).filter((e): e is Extract<ToyEvent, { type: T }> => e.type === type);
  }

  channelMessages(channel: string): ToyMessage[] {
    return [...this.messages.values()].filter((m) => m.channel === channel);
  }

  async listen(port = 0): Promise<string> {
    const server = createServer((req, res) => {
      this.route(req, res).catch((err: unknown) => reply(res, 500, { error: String(err) }));
    });
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    const addr = server.address();
    this.url = `http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : port}`;
    this.server = server;
    return this.url;
  }

  async close(): Promise<void> {
    for (const w of this.waiters) w();
    const server = this.server;
    this.server = null;
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  private auth(req: IncomingMessage): ToyUser | null {
    const token = (req.headers.authorization ?? "").replace(/^Bearer /, "");
    for (const u of this.users.values()) if (u.token === token) return u;
    return null;
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://x");
    if (url.pathname === "/link/start" && req.method === "POST") {
      const code = randomBytes(8).toString("hex");
      this.pendingLinks.set(code, {});
      return reply(res, 200, { code });
    }
    if (url.pathname === "/link/wait") {
      const code = url.searchParams.get("code") ?? "";
      const link = this.pendingLinks.get(code);
      if (!link) return reply(res, 404, { error: "unknown_code" });
      if (!link.user) await new Promise<void>((resolve) => (link.wake = resolve));
      this.pendingLinks.delete(code);
      const linked = this.users.get(link.user ?? "");
      return linked ? reply(res, 200, { token: linked.token }) : reply(res, 404, { error: "user_not_found" });
    }
    const user = this.auth(req);
    if (!user) return reply(res, 401, { error: "invalid_auth" });
    const body = req.method === "POST" ? await readBody(req) : Buffer.alloc(0);
    const json = () => JSON.parse(body.toString() || "{}") as Record<string, string | undefined>;
    const path = url.pathname;
    if (path === "/events") {
      const after = Number(url.searchParams.get("after") ?? 0);
      const wait = Math.min(Number(url.searchParams.get("wait") ?? 0), 30_000);
      if (this.log.length <= after && wait > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, wait);
          this.waiters.add(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      return reply(res, 200, { events: this.log.slice(after, after + 500) });
    }
    if (path === "/whoami") return reply(res, 200, { id: user.id, name: user.name });
    let m: RegExpExecArray | null;
    if ((m = /^\/channels\/([^/]+)$/.exec(path))) {
      const c = this.channels.get(decodeURIComponent(m[1] ?? ""));
      if (!c) return reply(res, 404, { error: "channel_not_found" });
      return reply(res, 200, {
        id: c.id,
        name: c.name,
        topic: c.topic,
        dm: c.dm ?? null,
        members: c.members.size,
      });
    }
    if ((m = /^\/channels\/([^/]+)\/members$/.exec(path))) {
      const c = this.channels.get(decodeURIComponent(m[1] ?? ""));
      if (!c) return reply(res, 404, { error: "channel_not_found" });
      return reply(res, 200, {
        members: [...c.members].map((id) => ({ id, name: this.users.get(id)?.name ?? id })),
      });
    }
    if ((m = /^\/users\/([^/]+)$/.exec(path))) {
      const u = this.users.get(decodeURIComponent(m[1] ?? ""));
      return u
        ? reply(res, 200, { id: u.id, name: u.name, matrixId: u.matrixId ?? null })
        : reply(res, 404, { error: "user_not_found" });
    }
    if ((m = /^\/files\/([^/]+)$/.exec(path)) && req.method === "GET") {
      const f = this.files.get(decodeURIComponent(m[1] ?? ""));
      if (!f) return reply(res, 404, { error: "file_not_found" });
      res.writeHead(200, { "content-type": f.mimetype });
      res.end(f.data);
      return;
    }
    if (path === "/upload") {
      const id = `f${this.nextId++}`;
      this.files.set(id, {
        name: url.searchParams.get("name") ?? id,
        mimetype: req.headers["content-type"] ?? "application/octet-stream",
        data: body,
      });
      return reply(res, 200, { id });
    }
    const origin = (req.headers["x-toy-origin"] as string | undefined) ?? undefined;
    const b = json();
    const fault = this.faults.find(
      (f) => f.path === path && f.times > 0 && (!f.channel || f.channel === b.channel),
    );
    if (fault) {
      fault.times--;
      this.faulted.push({ path, channel: b.channel, at: Date.now() });
      return reply(res, fault.status, fault.body);
    }
    // Idempotency keys, like Discord's enforced nonce: a retried call returns the first answer.
    const txnKey = b.txn ? `${user.id}\0${path}\0${b.txn}` : null;
    const seen = txnKey ? this.seenTxns.get(txnKey) : undefined;
    if (seen) return reply(res, 200, seen);
    const answer = (status: number, body: Record<string, unknown>) => {
      if (txnKey && status === 200) this.seenTxns.set(txnKey, body);
      reply(res, status, body);
    };
    switch (path) {
      case "/send": {
        const channel = this.channels.get(b.channel ?? "");
        if (!channel) return reply(res, 404, { error: "channel_not_found" });
        const file = b.file ? this.files.get(b.file) : undefined;
        const msg = this.post(user.id, channel.id, b.text ?? "", {
          html: b.html,
          kind: (b.kind as ToyMessage["kind"] | undefined) ?? (file ? "file" : "text"),
          relayName: user.id === "bridge" ? b.relayName : undefined,
          replyTo: b.replyTo,
          threadRoot: b.threadRoot,
          file: file && b.file ? { id: b.file, name: file.name, mimetype: file.mimetype } : undefined,
          origin,
        });
        return answer(200, { id: msg.id, ts: msg.ts });
      }
      case "/edit":
        this.edit(user.id, b.id ?? "", b.text ?? "", b.html, origin);
        return answer(200, {});
      case "/delete":
        this.remove(user.id, b.id ?? "", origin);
        return answer(200, {});
      case "/react":
        this.react(user.id, b.id ?? "", b.key ?? "", origin);
        return answer(200, {});
      case "/unreact":
        this.unreact(user.id, b.id ?? "", b.key ?? "", origin);
        return answer(200, {});
      case "/read":
        this.markRead(user.id, b.channel ?? "", b.upTo ?? "", origin);
        return answer(200, {});
      case "/typing":
        this.setTyping(user.id, b.channel ?? "", b.typing === "true", origin);
        return answer(200, {});
      default:
        return reply(res, 404, { error: "unknown_method" });
    }
  }
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json" });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}
