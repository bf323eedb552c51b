import type { App, Receiver } from "@slack/bolt";
import { SocketModeClient } from "@slack/socket-mode";
import type { Logger } from "pino";

/**
 * Bolt's own SocketModeReceiver acknowledges an event before the listeners run, so an
 * event the process dies on is gone. This receiver (Bolt's documented extension point)
 * hands events to the app one at a time, in the order Slack sent them, and acknowledges
 * each only after the listeners are done, i.e. after the framework has it durably; an
 * unacknowledged envelope is redelivered by Slack.
 */
export class DurableSocketModeReceiver implements Receiver {
  private app: App | null = null;
  private queue: Promise<void> = Promise.resolve();
  readonly client: SocketModeClient;
  /** The socket's state, for the bridge's connection state (status, /health). */
  onState?: (state: "CONNECTED" | "TRANSIENT_DISCONNECT", message?: string) => void;
  private stopping = false;

  constructor(
    appToken: string,
    slackApiUrl: string,
    private readonly log: Logger,
  ) {
    this.client = new SocketModeClient({ appToken, clientOptions: { slackApiUrl } });
    this.client.on(
      "slack_event",
      (args: {
        ack: () => Promise<void>;
        body: Record<string, unknown>;
        retry_num?: number;
        retry_reason?: string;
      }) => {
        this.queue = this.queue.then(() => this.deliver(args));
      },
    );
    this.client.on("connected", () => this.onState?.("CONNECTED"));
    this.client.on("reconnecting", () => {
      if (!this.stopping) this.onState?.("TRANSIENT_DISCONNECT", "Socket Mode connection lost; reconnecting");
    });
  }

  init(app: App): void {
    this.app = app;
  }

  private async deliver(args: {
    ack: () => Promise<void>;
    body: Record<string, unknown>;
    retry_num?: number;
    retry_reason?: string;
  }): Promise<void> {
    if (!this.app) return;
    try {
      await this.app.processEvent({
        body: args.body,
        // Bolt calls this before the listeners; the real acknowledgement waits for them.
        ack: async () => undefined,
        retryNum: args.retry_num,
        retryReason: args.retry_reason,
      });
      await args.ack();
    } catch (err) {
      this.log.warn(
        { err: String(err) },
        "a Slack event could not be stored; leaving it unacknowledged so Slack redelivers it",
      );
    }
  }

  async start(): Promise<unknown> {
    return this.client.start();
  }

  async stop(): Promise<unknown> {
    this.stopping = true;
    await this.client.disconnect();
    await this.queue;
    return undefined;
  }
}
