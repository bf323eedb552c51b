import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import { ALL_INTENTS, Intent, PRIVILEGED_INTENTS, type PrivilegedIntent } from "./bits.js";
import { currentUserObject, memberObject } from "./discord-objects.js";
import {
  Close,
  FrameError,
  Op,
  parseClientFrame,
  type IdentifyData,
  type ReadyData,
  type RequestGuildMembersData,
  type ResumeData,
  type ServerFrame,
} from "./gateway-payloads.js";
import type { DispatchEvent, Model } from "./model.js";
import { tokenMatches } from "./token-check.js";
import type { DispatchRecord, GatewaySessionInfo } from "./types.js";

/**
 * The gateway (wss://gateway.discord.gg): HELLO, IDENTIFY → READY + one GUILD_CREATE per guild,
 * heartbeats, dispatches numbered per session, RESUME with replay of everything after the client's
 * sequence, RECONNECT and INVALID_SESSION, and Discord's close codes. Each session hears what its
 * intents ask for; without MESSAGE_CONTENT, message payloads lose their content like on Discord.
 * Plain JSON text frames only: zlib-stream and ETF are not implemented.
 */

const GATEWAY_PATH = "/gateway";
const RESUME_PATH = "/resume-gateway";
const TRACE = ['["gateway-prd-double-1",{"micros":0}]'];

interface Session {
  id: string;
  intents: number;
  shard: [number, number];
  seq: number;
  /** Every dispatch of the session, for RESUME. */
  frames: ServerFrame[];
  conn: Connection | undefined;
  history: Array<"identify" | "resume">;
  paths: string[];
  ended: boolean;
  expiry: NodeJS.Timeout | undefined;
}

interface Connection {
  ws: WebSocket;
  path: string;
  session: Session | undefined;
}

export interface GatewayDeps {
  model: Model;
  heartbeatIntervalMs: number;
  resumeWindowMs: number;
  /** Protocol misuse by the client worth failing a test over (e.g. asking for compression). */
  violations: string[];
}

export class Gateway {
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly connections = new Set<Connection>();
  private readonly sessions = new Map<string, Session>();
  readonly log: DispatchRecord[] = [];
  /** ws://127.0.0.1:<port>, set once the listener has a port. */
  origin = "";

  constructor(private readonly deps: GatewayDeps) {}

  get url(): string {
    return `${this.origin}${GATEWAY_PATH}`;
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? "/", "http://double");
    if (url.pathname !== GATEWAY_PATH && url.pathname !== RESUME_PATH) {
      socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, url));
  }

  private accept(ws: WebSocket, url: URL): void {
    const conn: Connection = { ws, path: url.pathname, session: undefined };
    this.connections.add(conn);
    ws.on("close", (code) => this.onClose(conn, code));
    ws.on("error", () => ws.terminate());
    const v = url.searchParams.get("v");
    if (v !== null && v !== "10" && v !== "9") {
      ws.close(Close.INVALID_API_VERSION, "Invalid API version");
      return;
    }
    const encoding = url.searchParams.get("encoding") ?? "json";
    if (encoding !== "json") {
      this.deps.violations.push(`gateway: encoding=${encoding} requested; the double only speaks json`);
      ws.close(Close.DECODE_ERROR, "Error while decoding payload.");
      return;
    }
    const compress = url.searchParams.get("compress");
    if (compress !== null) {
      // Frames stay plain text, which @discordjs/ws still parses, but the test should know.
      this.deps.violations.push(
        `gateway: compress=${compress} requested; the double sends uncompressed frames (is zlib-sync installed?)`,
      );
    }
    ws.on("message", (data, isBinary) => this.onMessage(conn, isBinary ? undefined : data.toString()));
    this.send(conn, {
      op: Op.HELLO,
      d: { heartbeat_interval: this.deps.heartbeatIntervalMs, _trace: TRACE },
      s: null,
      t: null,
    });
  }

  private send(conn: Connection, frame: ServerFrame): void {
    if (conn.ws.readyState === conn.ws.OPEN) conn.ws.send(JSON.stringify(frame));
  }

  private closeWith(conn: Connection, code: number, reason: string): void {
    if (conn.ws.readyState === conn.ws.OPEN) conn.ws.close(code, reason);
    // A client that never answers the close frame does not keep its socket.
    setTimeout(() => conn.ws.terminate(), 1000).unref();
  }

  private onMessage(conn: Connection, text: string | undefined): void {
    if (text === undefined) return this.closeWith(conn, Close.DECODE_ERROR, "Error while decoding payload.");
    let frame;
    try {
      frame = parseClientFrame(text);
    } catch (err) {
      if (err instanceof FrameError) return this.closeWith(conn, err.closeCode, err.message);
      throw err;
    }
    if (frame.op === Op.HEARTBEAT) {
      this.send(conn, { op: Op.HEARTBEAT_ACK, d: null, s: null, t: null });
      return;
    }
    if (frame.op === Op.IDENTIFY) return this.identify(conn, frame.d);
    if (frame.op === Op.RESUME) return this.resume(conn, frame.d);
    if (!conn.session) return this.closeWith(conn, Close.NOT_AUTHENTICATED, "Not authenticated.");
    if (frame.op === Op.REQUEST_GUILD_MEMBERS) return this.requestMembers(conn.session, frame.d);
    // Presence and voice state updates are accepted and ignored.
  }

  private identify(conn: Connection, d: IdentifyData): void {
    const { model } = this.deps;
    if (conn.session) return this.closeWith(conn, Close.ALREADY_AUTHENTICATED, "Already authenticated.");
    if (!tokenMatches(d.token, model.bot.token)) {
      return this.closeWith(conn, Close.AUTHENTICATION_FAILED, "Authentication failed.");
    }
    if ((d.intents & ~ALL_INTENTS) !== 0 || d.intents < 0) {
      return this.closeWith(conn, Close.INVALID_INTENTS, "Invalid intent(s).");
    }
    const disallowed = PRIVILEGED_INTENTS.filter(
      (p: PrivilegedIntent) => d.intents & Intent[p] && !model.grantedIntents.has(p),
    );
    if (disallowed.length > 0) return this.closeWith(conn, Close.DISALLOWED_INTENTS, "Disallowed intent(s).");
    const shard = d.shard ?? [0, 1];
    if (shard[0] >= shard[1]) return this.closeWith(conn, Close.INVALID_SHARD, "Invalid shard.");
    if (d.compress) {
      this.deps.violations.push(
        "gateway: IDENTIFY asked for compress=true; the double sends uncompressed frames",
      );
    }
    const session: Session = {
      id: model.mint.secret(16).replace(/[-_]/g, "0").slice(0, 32),
      intents: d.intents,
      shard,
      seq: 0,
      frames: [],
      conn,
      history: ["identify"],
      paths: [conn.path],
      ended: false,
      expiry: undefined,
    };
    this.sessions.set(session.id, session);
    conn.session = session;
    const guilds = model.botGuilds().filter((g) => this.onShard(session, g.id));
    const ready: ReadyData = {
      v: 10,
      user: { ...currentUserObject(model.user(model.bot.userId)) },
      guilds: guilds.map((g) => ({ id: g.id, unavailable: true })),
      session_id: session.id,
      resume_gateway_url: `${this.origin}${RESUME_PATH}`,
      ...(d.shard ? { shard } : {}),
      application: { id: model.bot.applicationId, flags: applicationFlags(model.grantedIntents) },
      session_type: "normal",
      user_settings: {},
      relationships: [],
      private_channels: [],
      presences: [],
      guild_join_requests: [],
      geo_ordered_rtc_regions: ["double"],
      _trace: TRACE,
    };
    this.dispatchTo(session, "READY", { ...ready });
    // Discord streams the guilds in after READY; without GUILDS they stay unavailable.
    if (session.intents & Intent.GUILDS) {
      for (const g of guilds) this.dispatchTo(session, "GUILD_CREATE", model.guildCreate(g, session.intents));
    }
  }

  private resume(conn: Connection, d: ResumeData): void {
    const { model } = this.deps;
    if (conn.session) return this.closeWith(conn, Close.ALREADY_AUTHENTICATED, "Already authenticated.");
    if (!tokenMatches(d.token, model.bot.token)) {
      return this.closeWith(conn, Close.AUTHENTICATION_FAILED, "Authentication failed.");
    }
    const session = this.sessions.get(d.session_id);
    if (!session || session.ended) {
      this.send(conn, { op: Op.INVALID_SESSION, d: false, s: null, t: null });
      return;
    }
    if (d.seq > session.seq || d.seq < 0) return this.closeWith(conn, Close.INVALID_SEQ, "Invalid seq.");
    if (session.conn && session.conn !== conn) {
      // A second socket resuming the same session replaces the first.
      const old = session.conn;
      old.session = undefined;
      this.closeWith(old, Close.UNKNOWN_ERROR, "Session resumed elsewhere");
    }
    if (session.expiry) clearTimeout(session.expiry);
    session.expiry = undefined;
    session.conn = conn;
    conn.session = session;
    session.history.push("resume");
    session.paths.push(conn.path);
    for (const f of session.frames) if (f.s !== null && f.s > d.seq) this.send(conn, f);
    for (const r of this.log) if (r.sessionId === session.id && r.s > d.seq) r.delivered = true;
    this.dispatchTo(session, "RESUMED", { _trace: TRACE });
  }

  private requestMembers(session: Session, d: RequestGuildMembersData): void {
    const { model } = this.deps;
    const guild = model.guilds.get(d.guild_id);
    if (!guild) return;
    const ids = d.user_ids === undefined ? undefined : Array.isArray(d.user_ids) ? d.user_ids : [d.user_ids];
    const all = [...guild.members.values()];
    let members = ids ? all.filter((m) => ids.includes(m.userId)) : all;
    if (!ids) {
      // The whole member list (or searching it) needs GUILD_MEMBERS.
      if (!(session.intents & Intent.GUILD_MEMBERS)) members = [];
      const q = (d.query ?? "").toLowerCase();
      members = members.filter((m) => model.user(m.userId).username.toLowerCase().startsWith(q));
      if (d.limit > 0) members = members.slice(0, d.limit);
    }
    this.dispatchTo(session, "GUILD_MEMBERS_CHUNK", {
      guild_id: guild.id,
      members: members.map((m) => memberObject(m, model.user(m.userId))),
      chunk_index: 0,
      chunk_count: 1,
      ...(ids ? { not_found: ids.filter((id) => !guild.members.has(id)) } : {}),
      ...(d.nonce !== undefined ? { nonce: d.nonce } : {}),
    });
  }

  private onClose(conn: Connection, code: number): void {
    this.connections.delete(conn);
    const session = conn.session;
    if (!session || session.conn !== conn) return;
    session.conn = undefined;
    // Closing with 1000/1001 ends the session on Discord; anything else leaves it resumable a while.
    if (code === 1000 || code === 1001) this.endSession(session);
    else this.expireLater(session);
  }

  private expireLater(session: Session): void {
    if (session.expiry) clearTimeout(session.expiry);
    session.expiry = setTimeout(() => this.endSession(session), this.deps.resumeWindowMs);
    session.expiry.unref();
  }

  private endSession(session: Session): void {
    session.ended = true;
    if (session.expiry) clearTimeout(session.expiry);
    session.expiry = undefined;
  }

  private onShard(session: Session, guildId: string | undefined): boolean {
    const [id, count] = session.shard;
    if (count === 1) return true;
    // DMs go to shard 0; guild events to (guild_id >> 22) % num_shards.
    if (guildId === undefined) return id === 0;
    return Number((BigInt(guildId) >> 22n) % BigInt(count)) === id;
  }

  private dispatchTo(session: Session, t: string, d: Record<string, unknown>): void {
    session.seq += 1;
    const frame: ServerFrame = { op: Op.DISPATCH, d, s: session.seq, t };
    session.frames.push(frame);
    const delivered = session.conn !== undefined;
    this.log.push({ sessionId: session.id, t, s: session.seq, d: structuredClone(d), delivered });
    if (session.conn) this.send(session.conn, frame);
  }

  /** The model's sink: number the event per session, filter by intents and MESSAGE_CONTENT, send or hold. */
  publish(event: DispatchEvent): void {
    for (const session of this.sessions.values()) {
      if (session.ended) continue;
      if (event.intent !== null && !(session.intents & event.intent)) continue;
      const guildId = event.guildId ?? (typeof event.d.guild_id === "string" ? event.d.guild_id : undefined);
      if (!this.onShard(session, guildId)) continue;
      let d = event.build ? event.build(session.intents) : structuredClone(event.d);
      if (!(session.intents & Intent.MESSAGE_CONTENT)) d = withoutContent(d, event);
      this.dispatchTo(session, event.t, d);
    }
  }

  /** Network loss: sockets cut without a close frame, so clients see 1006 and resume. */
  dropAll(): void {
    for (const conn of [...this.connections]) {
      // Detach first: what happens from now on waits in the session for the RESUME.
      const session = conn.session;
      if (session && session.conn === conn) {
        session.conn = undefined;
        this.expireLater(session);
      }
      conn.session = undefined;
      conn.ws.terminate();
    }
  }

  /** op 7: the client should reconnect to resume_gateway_url and RESUME. */
  requestReconnect(): void {
    for (const conn of [...this.connections]) {
      if (!conn.session) continue;
      this.send(conn, { op: Op.RECONNECT, d: null, s: null, t: null });
      // Discord closes the socket itself if the client does not.
      setTimeout(() => conn.ws.terminate(), 5000).unref();
    }
  }

  /** op 9: resumable sessions may RESUME on the same socket; the others must IDENTIFY again. */
  invalidateSessions(resumable: boolean): void {
    for (const conn of [...this.connections]) {
      const session = conn.session;
      if (!session) continue;
      conn.session = undefined;
      session.conn = undefined;
      if (resumable) this.expireLater(session);
      else this.endSession(session);
      this.send(conn, { op: Op.INVALID_SESSION, d: resumable, s: null, t: null });
    }
  }

  sessionInfo(): GatewaySessionInfo[] {
    return [...this.sessions.values()].map((s) => ({
      sessionId: s.id,
      intents: s.intents,
      seq: s.seq,
      connected: s.conn !== undefined,
      history: [...s.history],
      paths: [...s.paths],
    }));
  }

  async close(): Promise<void> {
    for (const s of this.sessions.values()) this.endSession(s);
    await Promise.all(
      [...this.connections].map(
        (conn) =>
          new Promise<void>((resolve) => {
            if (conn.ws.readyState === conn.ws.CLOSED) return resolve();
            conn.ws.once("close", () => resolve());
            conn.ws.terminate();
          }),
      ),
    );
    this.connections.clear();
    this.wss.close();
  }
}

/** Application flags GATEWAY_*_LIMITED: what the Developer Portal toggles grant. */
function applicationFlags(granted: Set<PrivilegedIntent>): number {
  return (
    (granted.has("GUILD_PRESENCES") ? 1 << 13 : 0) |
    (granted.has("GUILD_MEMBERS") ? 1 << 15 : 0) |
    (granted.has("MESSAGE_CONTENT") ? 1 << 19 : 0)
  );
}

const CONTENT_FIELDS = { content: "", embeds: [], attachments: [], components: [] };

/** What an app without MESSAGE_CONTENT gets: content, embeds, attachments, components and poll emptied. */
function withoutContent(d: Record<string, unknown>, event: DispatchEvent): Record<string, unknown> {
  if (event.contentExempt === undefined) return d;
  let out = d;
  if (!event.contentExempt) {
    const { poll: _poll, ...rest } = d;
    out = { ...rest, ...CONTENT_FIELDS };
  }
  const ref = out.referenced_message;
  if (ref && typeof ref === "object" && !event.referencedExempt) {
    const { poll: _poll, ...rest } = ref as Record<string, unknown>;
    out = { ...out, referenced_message: { ...rest, ...CONTENT_FIELDS } };
  }
  return out;
}
