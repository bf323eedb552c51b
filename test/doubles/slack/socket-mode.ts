import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";

/**
 * Slack's Socket Mode endpoint: apps.connections.open hands out a one-time ticket URL, the client
 * connects, we greet it with `hello`, push envelopes and collect `{envelope_id}` acks. Which
 * envelope goes where, and what happens when it is not acked, is decided by event-delivery.ts.
 */

export interface SocketConnection {
  readonly id: number;
  readonly ws: WebSocket;
}

export interface SocketModeHooks {
  /** A client said hello-ready: queued envelopes can go out. */
  onReady(conn: SocketConnection): void;
  onAck(envelopeId: string, conn: SocketConnection): void;
  onClosed(conn: SocketConnection): void;
}

export class SocketModeServer {
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly tickets = new Set<string>();
  private readonly connections = new Set<SocketConnection>();
  private nextId = 1;
  private readonly pinger: NodeJS.Timeout;
  /** Messages from clients that were neither acks nor JSON: a client bug worth seeing. */
  readonly strayMessages: string[] = [];

  constructor(
    private readonly appId: string,
    private readonly hooks: SocketModeHooks,
    pingIntervalMs: number,
  ) {
    // Slack pings; @slack/socket-mode starts its server-ping watchdog on the first ping it sees.
    this.pinger = setInterval(() => {
      for (const c of this.connections) c.ws.ping();
    }, pingIntervalMs);
    this.pinger.unref();
  }

  /** The `url` apps.connections.open returns. `base` is ws://127.0.0.1:<port>/ */
  issueUrl(base: string, ticket: string): string {
    this.tickets.add(ticket);
    return `${base}link/?ticket=${ticket}&app_id=${this.appId}`;
  }

  /** Upgrades /link/?ticket=… requests; each ticket works once, like Slack's. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? "/", "http://double");
    const ticket = url.searchParams.get("ticket") ?? "";
    if (url.pathname !== "/link/" || !this.tickets.delete(ticket)) {
      socket.end("HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws));
  }

  private accept(ws: WebSocket): void {
    const conn: SocketConnection = { id: this.nextId++, ws };
    this.connections.add(conn);
    ws.on("message", (data, isBinary) => {
      const text = isBinary ? "" : data.toString();
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        this.strayMessages.push(text);
        return;
      }
      const envelopeId = (parsed as { envelope_id?: unknown }).envelope_id;
      if (typeof envelopeId === "string") this.hooks.onAck(envelopeId, conn);
      else this.strayMessages.push(text);
    });
    ws.on("close", () => {
      if (this.connections.delete(conn)) this.hooks.onClosed(conn);
    });
    ws.on("error", () => ws.terminate());
    ws.send(
      JSON.stringify({
        type: "hello",
        num_connections: this.connections.size,
        debug_info: { host: "applink-double", build_number: 1, approximate_connection_time: 18060 },
        connection_info: { app_id: this.appId },
      }),
    );
    this.hooks.onReady(conn);
  }

  /** An open connection to push to; Slack spreads envelopes over connections, we use the newest. */
  pick(): SocketConnection | undefined {
    let chosen: SocketConnection | undefined;
    for (const c of this.connections) if (c.ws.readyState === c.ws.OPEN) chosen = c;
    return chosen;
  }

  send(conn: SocketConnection, message: unknown): void {
    conn.ws.send(JSON.stringify(message));
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /**
   * What Slack does when it recycles a server: a `disconnect` message, then the socket closes.
   * Unacked envelopes on those sockets are redelivered on the client's next connection.
   */
  dropAll(): void {
    for (const conn of [...this.connections]) {
      this.connections.delete(conn);
      if (conn.ws.readyState === conn.ws.OPEN) {
        conn.ws.send(
          JSON.stringify({
            type: "disconnect",
            reason: "refresh_requested",
            debug_info: { host: "applink-double" },
          }),
        );
        conn.ws.close(1001, "refresh_requested");
      }
      // If the client never answers the close frame, do not keep its socket around.
      setTimeout(() => conn.ws.terminate(), 1000).unref();
      this.hooks.onClosed(conn);
    }
  }

  /**
   * Closes every socket with a close handshake before giving up on it: a client whose socket is
   * cut while it is itself closing (@slack/socket-mode 3.1) keeps a 30 s timer alive.
   */
  async close(): Promise<void> {
    clearInterval(this.pinger);
    const open = [...this.connections];
    this.connections.clear();
    await Promise.all(
      open.map(
        (conn) =>
          new Promise<void>((resolve) => {
            if (conn.ws.readyState === conn.ws.CLOSED) return resolve();
            const timer = setTimeout(() => {
              conn.ws.terminate();
              resolve();
            }, 500);
            conn.ws.once("close", () => {
              clearTimeout(timer);
              resolve();
            });
            if (conn.ws.readyState === conn.ws.OPEN) conn.ws.close(1001, "going away");
          }),
      ),
    );
    this.wss.close();
  }
}
