import { ErrorCode, LibSignalErrorBase, type Net } from "@signalapp/libsignal-client";
// Adds the typed calls (getUploadForm) to the chat connection, types and prototype both.
import "@signalapp/libsignal-client/dist/net/chat/AuthMessagesService.js";
import { backoffMs } from "@switchboard/framework";
import type { ChatFetch, ChatRequest, ChatResponse } from "./transport.js";
import { parseUploadForm, type UploadForm } from "./attachments.js";

/**
 * A login's authenticated chat connection: Signal's message pipe (envelopes pushed to us, each
 * acknowledged once it is durable) and its REST API. It reconnects with backoff on its own; a
 * request made while it is down waits for the next connection instead of failing (mautrix
 * users' "messages time out when the websocket drops"). A refused login ends it for good.
 */

export interface ChatEvents {
  envelope(envelope: Uint8Array, ack: () => void): void;
  queueEmpty(): void;
  state(state: "CONNECTING" | "CONNECTED" | "TRANSIENT_DISCONNECT", message?: string): void;
  /** The device was unlinked or its password refused: the login is over. */
  loggedOut(reason: string): void;
}

/** Close codes and errors that mean the device is no longer linked. */
export function isDelinked(err: unknown): boolean {
  if (err instanceof LibSignalErrorBase) {
    if (err.code === ErrorCode.DeviceDelinked) return true;
  }
  const text = String((err as Error | null)?.message ?? err);
  return /\b(401|403)\b|Unauthorized|Forbidden|delinked|4401|4403/i.test(text);
}

export class ChatConnection {
  private chat: Net.AuthenticatedChatConnection | null = null;
  private connecting: Promise<Net.AuthenticatedChatConnection> | null = null;
  private closed = false;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private readyWaiters: Array<() => void> = [];

  private connectedAt = 0;

  /**
   * `stillLinked` asks Signal's REST API (plain HTTPS, Basic auth) whether the credentials are
   * still good: a removed device's websocket is merely closed, so a server-side disconnect or a
   * connection that dies right after opening is checked before reconnecting forever.
   */
  constructor(
    private readonly net: Net.Net,
    private readonly username: string,
    private readonly password: string,
    private readonly events: ChatEvents,
    private readonly stillLinked: () => Promise<boolean | null>,
  ) {}

  /** Connects once; resolves when connected (or throws for a refused login). */
  async connect(): Promise<void> {
    await this.open();
  }

  readonly fetch: ChatFetch = async (request) => {
    for (let tries = 0; ; tries++) {
      const chat = this.chat ?? (await this.ready(30_000));
      try {
        return await this.send(chat, request);
      } catch (err) {
        // A request cut off by a dropped connection goes again on the next one, once.
        if (tries >= 1 || this.closed || !isConnectionError(err)) throw err;
        if (this.chat === chat) this.dropped(err);
      }
    }
  };

  /** An attachment upload form, from libsignal's typed call (Signal serves it over gRPC too). */
  async uploadForm(uploadLength: number): Promise<UploadForm> {
    const chat = this.chat ?? (await this.ready(30_000));
    // The method is added by the side-effect import above; its type augmentation does not reach NodeNext resolution.
    const typed = chat as unknown as {
      getUploadForm(request: { uploadSize: bigint }): Promise<{
        cdn: number;
        key: string;
        headers: Map<string, string>;
        signedUploadUrl: URL;
      }>;
    };
    const form = await typed.getUploadForm({ uploadSize: BigInt(uploadLength) });
    // Checked like the REST answer: credentials and ciphertext only ever go to an https location.
    return parseUploadForm({
      cdn: form.cdn,
      key: form.key,
      headers: Object.fromEntries(form.headers),
      signedUploadLocation: form.signedUploadUrl.toString(),
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const chat = this.chat;
    this.chat = null;
    await chat?.disconnect().catch(() => undefined);
    for (const w of this.readyWaiters.splice(0)) w();
  }

  private send(chat: Net.AuthenticatedChatConnection, request: ChatRequest): Promise<ChatResponse> {
    return requestOver(chat, request);
  }

  private ready(timeoutMs: number): Promise<Net.AuthenticatedChatConnection> {
    if (this.closed) return Promise.reject(new Error("the Signal connection is closed"));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.readyWaiters = this.readyWaiters.filter((w) => w !== done);
        reject(new Error(`Signal has been unreachable for ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        if (this.chat) resolve(this.chat);
        else reject(new Error("the Signal connection is closed"));
      };
      this.readyWaiters.push(done);
    });
  }

  private open(): Promise<Net.AuthenticatedChatConnection> {
    if (this.connecting) return this.connecting;
    this.events.state("CONNECTING");
    const attempt = this.net
      .connectAuthenticatedChat(this.username, this.password, false, {
        onIncomingMessage: (envelope, _timestamp, ack) => this.events.envelope(envelope, () => ack.send(200)),
        onQueueEmpty: () => this.events.queueEmpty(),
        onReceivedAlerts: () => undefined,
        onConnectionInterrupted: (cause) => {
          if (this.chat === chatRef.current) this.dropped(cause);
        },
      })
      .then(
        (chat) => {
          chatRef.current = chat;
          this.connecting = null;
          if (this.closed) {
            void chat.disconnect().catch(() => undefined);
            throw new Error("the Signal connection is closed");
          }
          this.chat = chat;
          this.connectedAt = Date.now();
          this.events.state("CONNECTED");
          for (const w of this.readyWaiters.splice(0)) w();
          return chat;
        },
        (err: unknown) => {
          this.connecting = null;
          if (isDelinked(err)) {
            this.loggedOut(describe(err));
          } else {
            this.scheduleRetry(err);
          }
          throw err;
        },
      );
    const chatRef: { current: Net.AuthenticatedChatConnection | null } = { current: null };
    this.connecting = attempt;
    return attempt;
  }

  private dropped(cause: unknown): void {
    this.chat = null;
    if (this.closed) return;
    if (cause && isDelinked(cause)) {
      this.loggedOut(describe(cause));
      return;
    }
    const suspicious =
      /explicitly disconnected|channel already closed/i.test(describe(cause)) ||
      Date.now() - this.connectedAt < 2000;
    if (Date.now() - this.connectedAt > 10_000) this.attempt = 0;
    if (!suspicious) {
      this.scheduleRetry(cause);
      return;
    }
    this.stillLinked().then(
      (linked) => {
        if (linked === false) this.loggedOut("Signal no longer accepts this device's credentials");
        else this.scheduleRetry(cause);
      },
      () => this.scheduleRetry(cause),
    );
  }

  private loggedOut(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.events.loggedOut(reason);
    for (const w of this.readyWaiters.splice(0)) w();
  }

  private scheduleRetry(cause: unknown): void {
    if (this.closed || this.retryTimer) return;
    this.attempt++;
    this.events.state("TRANSIENT_DISCONNECT", cause ? describe(cause) : "connection closed");
    this.retryTimer = setTimeout(
      () => {
        this.retryTimer = null;
        this.open().catch(() => undefined);
      },
      backoffMs(this.attempt, 1000, 60_000),
    );
  }
}

/** One REST request over a libsignal chat connection (authenticated or not), in our request shape. */
export async function requestOver(
  chat: Net.AuthenticatedChatConnection | Net.UnauthenticatedChatConnection,
  request: ChatRequest,
): Promise<ChatResponse> {
  const res = await chat.fetch({
    verb: request.verb,
    path: request.path,
    headers: request.headers ?? [],
    ...(request.body ? { body: new Uint8Array(request.body) } : {}),
    timeoutMillis: 30_000,
  });
  return { status: res.status, headers: res.headers, body: res.body };
}

function isConnectionError(err: unknown): boolean {
  if (err instanceof LibSignalErrorBase) {
    return err.code === ErrorCode.ChatServiceInactive || err.code === ErrorCode.IoError;
  }
  return false;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
