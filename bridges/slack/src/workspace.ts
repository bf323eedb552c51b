import bolt from "@slack/bolt";
import { WebClient, type RetryOptions } from "@slack/web-api";
import type { Logger } from "pino";
import type { RemoteMedia, RemoteUser } from "@switchboard/framework";
import type { SlackWorkspaceConfig } from "./config.js";
import { DurableSocketModeReceiver } from "./receiver.js";
import * as ids from "./ids.js";

const { App, HTTPReceiver, LogLevel } = bolt;

/** What the bridge knows about a conversation, kept current from events. */
export interface ChannelInfo {
  id: string;
  name: string;
  topic: string;
  isPrivate: boolean;
  isIm: boolean;
  isMpim: boolean;
  /** For an im: the other user. */
  user?: string;
}

export type SlackEventBody = Record<string, unknown> & { event?: Record<string, unknown>; event_id?: string };

/**
 * Retries through 429s and outages for `minutes`. On a 429 the client already sleeps for
 * Retry-After before retrying, so the backoff on top starts small; it grows for outages.
 */
export function retryPolicy(minutes: number): RetryOptions {
  return {
    retries: 10_000,
    factor: 1.5,
    minTimeout: 100,
    maxTimeout: 30_000,
    maxRetryTime: minutes * 60_000,
    randomize: true,
  };
}

/** For calls at start: a wrong token or an unreachable Slack must fail fast, not retry for minutes. */
export const QUICK_RETRY: RetryOptions = { retries: 2, minTimeout: 200, factor: 2 };

/**
 * One Slack workspace as the bridge sees it: the app's bot client, the Bolt app that
 * receives its events (Socket Mode or Events API), and caches of its channels and users.
 */
export class SlackWorkspace {
  readonly web: WebClient;
  teamId = "";
  teamName = "";
  botUserId = "";
  botId = "";
  private app: InstanceType<typeof App> | null = null;
  readonly channels = new Map<string, ChannelInfo>();
  private readonly users = new Map<string, RemoteUser>();
  private readonly loadingUsers = new Map<string, Promise<RemoteUser | null>>();

  constructor(
    readonly name: string,
    readonly config: SlackWorkspaceConfig,
    private readonly log: Logger,
    /** The event connection's state changes after start (Socket Mode reconnects). */
    private readonly onState?: (state: "CONNECTED" | "TRANSIENT_DISCONNECT", message?: string) => void,
  ) {
    this.web = this.client(config.bot_token);
  }

  /** A Web API client for one of this workspace's tokens, with the bridge's retry policy. */
  client(token: string, retryConfig = retryPolicy(this.config.max_retry_minutes)): WebClient {
    return new WebClient(token, {
      slackApiUrl: this.config.api_url,
      retryConfig,
      logLevel: bolt.LogLevel.ERROR,
    });
  }

  /** Learns who the app is, then starts receiving events through `onEvent` (in order, acked after). */
  async start(onEvent: (ws: SlackWorkspace, body: SlackEventBody) => Promise<void>): Promise<void> {
    const auth = await this.client(this.config.bot_token, QUICK_RETRY).auth.test();
    if (this.config.mode === "socket") {
      // socket-mode treats a refused app token as recoverable and would retry forever.
      await this.client(this.appToken(), QUICK_RETRY).apps.connections.open();
    }
    this.teamId = String(auth.team_id);
    this.teamName = String(auth.team ?? this.name);
    this.botUserId = String(auth.user_id);
    this.botId = String(auth.bot_id ?? "");
    if (!this.botId) {
      const info = await this.web.users.info({ user: this.botUserId });
      this.botId = String(info.user?.profile?.bot_id ?? "");
    }
    await this.loadChannels();
    const receiver =
      this.config.mode === "socket"
        ? new DurableSocketModeReceiver(this.appToken(), this.config.api_url, this.log)
        : new HTTPReceiver({
            signingSecret: this.signingSecret(),
            port: this.config.events_port,
            // The response (Slack's ack) waits for the listeners: the event is stored first.
            processBeforeResponse: true,
            logLevel: LogLevel.ERROR,
          });
    this.app = new App({
      token: this.config.bot_token,
      receiver,
      // Our own messages are recognised by the echo table, which also knows puppets' sends.
      ignoreSelf: false,
      logLevel: LogLevel.ERROR,
      clientOptions: { slackApiUrl: this.config.api_url },
    });
    this.app.event(/.+/, async ({ body }) => onEvent(this, body as unknown as SlackEventBody));
    this.app.error(async (err) => {
      throw err;
    });
    if (receiver instanceof DurableSocketModeReceiver) {
      receiver.onState = (state, message) => this.onState?.(state, message);
      await receiver.start();
    } else await receiver.start({ port: this.config.events_port, host: this.config.events_host });
  }

  private appToken(): string {
    if (!this.config.app_token)
      throw new Error(`bridges.slack.workspaces.${this.name}.app_token is required in socket mode`);
    return this.config.app_token;
  }

  private signingSecret(): string {
    if (!this.config.signing_secret)
      throw new Error(`bridges.slack.workspaces.${this.name}.signing_secret is required in events mode`);
    return this.config.signing_secret;
  }

  async stop(): Promise<void> {
    await this.app?.stop().catch(() => undefined);
    this.app = null;
  }

  private channelsReadAt = 0;

  /** Re-reads the channel list unless it was just read (conversations.list is Tier 2); true when it was. */
  async refreshChannels(): Promise<boolean> {
    if (Date.now() - this.channelsReadAt < 5_000) return false;
    await this.loadChannels().catch((err: unknown) =>
      this.log.warn({ err: String(err) }, "could not re-read the Slack channel list"),
    );
    return true;
  }

  async loadChannels(): Promise<void> {
    this.channelsReadAt = Date.now();
    for await (const page of this.web.paginate("conversations.list", {
      types: "public_channel,private_channel",
      exclude_archived: true,
      limit: 200,
    })) {
      for (const c of (page as { channels?: Array<Record<string, unknown>> }).channels ?? [])
        this.remember(c);
    }
  }

  remember(c: Record<string, unknown>): ChannelInfo {
    const info: ChannelInfo = {
      id: String(c.id),
      name: String(c.name ?? c.id),
      topic: String((c.topic as { value?: string } | undefined)?.value ?? ""),
      isPrivate: Boolean(c.is_private),
      isIm: Boolean(c.is_im),
      isMpim: Boolean(c.is_mpim),
      user: typeof c.user === "string" ? c.user : undefined,
    };
    this.channels.set(info.id, info);
    return info;
  }

  channelByName(name: string): ChannelInfo | undefined {
    const wanted = name.replace(/^#/, "").toLowerCase();
    for (const c of this.channels.values()) if (!c.isIm && !c.isMpim && c.name === wanted) return c;
    return undefined;
  }

  /** A conversation's description, fetched with `web` (a user's client sees their private chats). */
  async channel(id: string, web: WebClient = this.web): Promise<ChannelInfo | null> {
    const known = this.channels.get(id);
    if (known) return known;
    try {
      const res = await web.conversations.info({ channel: id });
      return res.channel ? this.remember(res.channel as Record<string, unknown>) : null;
    } catch {
      return null;
    }
  }

  /** A Slack user (U…) or bot (B…) as a remote user, cached; `forget` after a profile change. */
  async user(slackId: string): Promise<RemoteUser | null> {
    const known = this.users.get(slackId);
    if (known) return known;
    let loading = this.loadingUsers.get(slackId);
    if (!loading) {
      loading = this.fetchUser(slackId).finally(() => this.loadingUsers.delete(slackId));
      this.loadingUsers.set(slackId, loading);
    }
    return loading;
  }

  /** The cached user only: formatting runs synchronously and falls back to the id. */
  cachedUser(slackId: string): RemoteUser | undefined {
    return this.users.get(slackId);
  }

  forget(slackId: string): void {
    this.users.delete(slackId);
  }

  /** Builds the remote user from a users.info / user_change profile. */
  userFrom(u: Record<string, unknown>): RemoteUser {
    const profile = (u.profile ?? {}) as Record<string, string | undefined>;
    const displayname = profile.display_name || profile.real_name || String(u.real_name ?? u.name ?? u.id);
    const image = profile.image_192 ?? profile.image_72 ?? profile.image_original;
    const user: RemoteUser = {
      id: ids.userId(this.teamId, String(u.id)),
      displayname,
      avatar: image ? this.media(image) : null,
      isBot: Boolean(u.is_bot),
    };
    this.users.set(String(u.id), user);
    return user;
  }

  private async fetchUser(slackId: string): Promise<RemoteUser | null> {
    try {
      if (slackId.startsWith("B")) {
        const res = await this.web.bots.info({ bot: slackId });
        const bot = res.bot as { name?: string; icons?: Record<string, string> } | undefined;
        if (!bot) return null;
        const icon = bot.icons?.image_72 ?? bot.icons?.image_48;
        const user: RemoteUser = {
          id: ids.userId(this.teamId, slackId),
          displayname: bot.name ?? slackId,
          avatar: icon ? this.media(icon) : null,
          isBot: true,
        };
        this.users.set(slackId, user);
        return user;
      }
      const res = await this.web.users.info({ user: slackId });
      return res.user ? this.userFrom(res.user as Record<string, unknown>) : null;
    } catch (err) {
      this.log.warn({ err: String(err), user: slackId }, "could not look up a Slack user");
      return null;
    }
  }

  /**
   * Slack file and avatar URLs, as plain data: the connector's fetchMedia adds this workspace's
   * bot token when the file is bridged (files need it, public CDN avatars ignore it).
   */
  media(url: string): RemoteMedia {
    return { key: url, ref: { url, meta: { team: this.teamId } } };
  }
}
