import type { EventsApiPusher } from "./events-api.js";
import { nowSeconds } from "./ids.js";
import type { SocketConnection, SocketModeServer } from "./socket-mode.js";
import type { EventDelivery as DeliveryRecord } from "./types.js";
import type { SlackEvent, Workspace } from "./workspace.js";

/**
 * Gets each event to the app at least once, the way Slack does: wrapped as `event_callback`,
 * over Socket Mode (an `events_api` envelope) or the Events API (a signed POST), held while
 * paused or while nobody is connected, and retried up to 3 times when not acknowledged in time.
 */

const MAX_RETRIES = 3;

interface PendingEvent {
  eventId: string;
  eventType: string;
  wrapper: Record<string, unknown>;
  body: string;
  /** Attempts made so far; the next attempt's retry number. */
  attempts: number;
  lastFailure: string;
  inFlight: InFlight | undefined;
  retryTimer: NodeJS.Timeout | undefined;
  /** Resolves when the first attempt concluded (acked or failed), or at once if it cannot be made now. */
  firstAttempt: { promise: Promise<void>; resolve: () => void };
}

interface InFlight {
  record: DeliveryRecord;
  conn?: SocketConnection;
  envelopeId?: string;
  timer?: NodeJS.Timeout;
}

export interface DeliveryOptions {
  retryTimeoutMs: number;
  retryDelaysMs: number[];
  eventsUrl: string | undefined;
}

export class EventDelivery {
  private readonly queue: PendingEvent[] = [];
  private readonly byEnvelope = new Map<string, PendingEvent>();
  private paused = false;
  private closed = false;
  readonly records: DeliveryRecord[] = [];

  constructor(
    private readonly workspace: Workspace,
    private readonly socket: SocketModeServer,
    private readonly http: EventsApiPusher,
    private readonly opts: DeliveryOptions,
    /** Sees every wrapper once (spec validation). */
    private readonly inspect: (wrapper: Record<string, unknown>) => void,
  ) {}

  get eventsUrl(): string | undefined {
    return this.opts.eventsUrl;
  }

  set eventsUrl(url: string | undefined) {
    this.opts.eventsUrl = url;
    this.pump();
  }

  publish(event: SlackEvent): Promise<void> {
    const ws = this.workspace;
    const eventId = ws.mint.id("Ev");
    const wrapper: Record<string, unknown> = {
      token: ws.verificationToken,
      team_id: ws.team.id,
      context_team_id: ws.team.id,
      context_enterprise_id: null,
      api_app_id: ws.bot.appId,
      event,
      type: "event_callback",
      event_id: eventId,
      event_time: nowSeconds(),
      authorizations: [
        {
          enterprise_id: null,
          team_id: ws.team.id,
          user_id: ws.bot.userId,
          is_bot: true,
          is_enterprise_install: false,
        },
      ],
      is_ext_shared_channel: false,
      event_context: `4-${Buffer.from(JSON.stringify({ id: eventId })).toString("base64url")}`,
      // Deprecated by Slack in 2020 (replaced by `authorizations`) but still required by the spec's wrapper schema.
      authed_users: [ws.bot.userId],
    };
    this.inspect(wrapper);
    let resolve = () => {};
    const promise = new Promise<void>((r) => (resolve = r));
    const pending: PendingEvent = {
      eventId,
      eventType: event.type,
      wrapper,
      body: JSON.stringify(wrapper),
      attempts: 0,
      lastFailure: "",
      inFlight: undefined,
      retryTimer: undefined,
      firstAttempt: { promise, resolve },
    };
    this.queue.push(pending);
    this.pump();
    return promise;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.pump();
  }

  /** Starts an attempt for every queued event that is not in flight or waiting out a retry delay. */
  pump(): void {
    if (this.closed) return;
    for (const p of [...this.queue]) {
      if (p.inFlight || p.retryTimer) continue;
      if (this.paused) {
        p.firstAttempt.resolve();
        continue;
      }
      if (this.opts.eventsUrl !== undefined) this.attemptHttp(p, this.opts.eventsUrl);
      else this.attemptSocket(p);
    }
  }

  private record(p: PendingEvent, transport: DeliveryRecord["transport"]): DeliveryRecord {
    const record: DeliveryRecord = {
      eventId: p.eventId,
      eventType: p.eventType,
      transport,
      attempt: p.attempts,
      outcome: "pending",
    };
    this.records.push(record);
    return record;
  }

  private attemptSocket(p: PendingEvent): void {
    const socket = this.socket;
    const conn = socket.pick();
    if (!conn) {
      p.firstAttempt.resolve(); // parked until a client connects
      return;
    }
    const envelopeId = this.workspace.mint.uuid();
    this.byEnvelope.set(envelopeId, p);
    const inFlight: InFlight = { record: this.record(p, "socket_mode"), conn, envelopeId };
    p.inFlight = inFlight;
    inFlight.timer = setTimeout(() => this.failed(p, inFlight, "timeout"), this.opts.retryTimeoutMs);
    socket.send(conn, {
      envelope_id: envelopeId,
      payload: p.wrapper,
      type: "events_api",
      accepts_response_payload: false,
      retry_attempt: p.attempts,
      retry_reason: p.attempts === 0 ? "" : "timeout",
    });
  }

  private attemptHttp(p: PendingEvent, url: string): void {
    const inFlight: InFlight = { record: this.record(p, "events_api") };
    p.inFlight = inFlight;
    const retry = p.attempts === 0 ? undefined : { num: p.attempts, previousOutcome: p.lastFailure };
    void this.http.push(url, p.body, this.opts.retryTimeoutMs, retry).then((result) => {
      if (p.inFlight !== inFlight) return;
      if (result.status !== undefined) inFlight.record.httpStatus = result.status;
      if (result.outcome === "acked") this.acked(p);
      else this.failed(p, inFlight, result.outcome);
    });
  }

  /** A Socket Mode ack. A late ack of an earlier attempt still counts: the app did get the event. */
  onAck(envelopeId: string): void {
    const p = this.byEnvelope.get(envelopeId);
    if (!p || !this.queue.includes(p)) return;
    this.acked(p);
  }

  /** Envelopes in flight on a closed socket are retried on the next connection. */
  onSocketClosed(conn: SocketConnection): void {
    for (const p of [...this.queue]) {
      if (p.inFlight?.conn === conn) this.failed(p, p.inFlight, "connection_closed");
    }
  }

  private acked(p: PendingEvent): void {
    if (p.inFlight) {
      clearTimeout(p.inFlight.timer);
      p.inFlight.record.outcome = "acked";
      p.inFlight = undefined;
    }
    clearTimeout(p.retryTimer);
    this.queue.splice(this.queue.indexOf(p), 1);
    p.firstAttempt.resolve();
  }

  private failed(p: PendingEvent, inFlight: InFlight, outcome: DeliveryRecord["outcome"]): void {
    if (p.inFlight !== inFlight) return;
    clearTimeout(inFlight.timer);
    inFlight.record.outcome = outcome;
    p.inFlight = undefined;
    p.attempts += 1;
    p.lastFailure = outcome;
    p.firstAttempt.resolve();
    if (p.attempts > MAX_RETRIES) {
      this.queue.splice(this.queue.indexOf(p), 1); // Slack gives up after 3 retries
      return;
    }
    const delay = inFlight.conn ? 0 : (this.opts.retryDelaysMs[p.attempts - 1] ?? 0);
    p.retryTimer = setTimeout(() => {
      p.retryTimer = undefined;
      this.pump();
    }, delay);
  }

  close(): void {
    this.closed = true;
    for (const p of this.queue) {
      clearTimeout(p.inFlight?.timer);
      clearTimeout(p.retryTimer);
      p.firstAttempt.resolve();
    }
    this.http.abortAll();
  }
}
