/**
 * The public shapes of the Slack test double: what an end-to-end test sees. Everything here is
 * plain JSON-like data so tests can deep-compare it.
 */

export interface SlackDoubleOptions {
  teamName?: string;
  teamDomain?: string;
  /** Events API Request URL. When set, events are pushed there as signed HTTP POSTs instead of Socket Mode. */
  eventsUrl?: string;
  /**
   * How long a delivery may stay unacknowledged (HTTP 200 / Socket Mode ack) before it is retried.
   * Slack waits 3 s; tests usually want less.
   */
  eventsRetryTimeoutMs?: number;
  /**
   * Pause before retry n (1-based index into the array) of an Events API POST. Slack retries
   * "immediately, after 1 minute, after 5 minutes"; the default squeezes that into [0, 1000, 5000] ms.
   */
  eventsRetryDelaysMs?: number[];
  /**
   * Default true: push the event for a message posted through the Web API *before* answering the API
   * call (and wait up to eventsRetryTimeoutMs for its ack), which reproduces the echo race a bridge
   * must survive. False: push it after the response is written.
   */
  eventBeforeResponse?: boolean;
  /** Default: ../shared/specs/slack next to the repository. Validation is skipped when absent. */
  specDir?: string;
  /** Interval of the server's WebSocket pings in Socket Mode (Slack pings; the client watches for them). */
  socketPingIntervalMs?: number;
  /**
   * The app's Redirect URLs (OAuth & Permissions). An authorize request's redirect_uri must be one of
   * them or below one; without redirect_uri the browser goes back to the first. None: OAuth fails.
   */
  oauthRedirectUrls?: string[];
}

export interface SlackMessage {
  type?: "message";
  ts: string;
  user?: string;
  bot_id?: string;
  app_id?: string;
  bot_profile?: SlackBotProfile;
  username?: string;
  icons?: { image_36?: string; image_48?: string; image_72?: string; emoji?: string };
  text: string;
  team?: string;
  thread_ts?: string;
  parent_user_id?: string;
  reply_count?: number;
  reply_users?: string[];
  reply_users_count?: number;
  latest_reply?: string;
  subtype?: string;
  hidden?: boolean;
  edited?: { user: string; ts: string };
  reactions?: Array<{ name: string; users: string[]; count: number }>;
  files?: SlackFile[];
  upload?: boolean;
  display_as_bot?: boolean;
  client_msg_id?: string;
  blocks?: unknown[];
  attachments?: Array<Record<string, unknown>>;
  metadata?: unknown;
}

export interface SlackBotProfile {
  id: string;
  deleted: boolean;
  name: string;
  updated: number;
  app_id: string;
  icons: { image_36: string; image_48: string; image_72: string };
  team_id: string;
}

export interface SlackFile {
  id: string;
  created: number;
  timestamp: number;
  name: string;
  title?: string;
  mimetype: string;
  filetype: string;
  pretty_type: string;
  user: string;
  user_team: string;
  editable: boolean;
  size: number;
  mode: string;
  is_external: boolean;
  external_type: string;
  is_public: boolean;
  public_url_shared: boolean;
  display_as_bot: boolean;
  username: string;
  url_private: string;
  url_private_download: string;
  permalink: string;
  permalink_public: string;
  has_rich_preview: boolean;
}

export interface ApiCall {
  method: string;
  /** The token the call authenticated with ("" when none was sent). */
  token: string;
  /** Request parameters as received (form fields are strings), without the token. */
  params: Record<string, unknown>;
  /** HTTP status the double answered: 200, or 429 for an injected rate limit. */
  status: number;
  ok: boolean;
  error?: string;
}

/** The Events API `event_callback` wrapper the double sends (inside a Socket Mode envelope, or as the POST body). */
export interface SlackEventCallback {
  type: "event_callback";
  event_id: string;
  event_time: number;
  team_id: string;
  api_app_id: string;
  event: { type: string; event_ts: string; [key: string]: unknown };
  [key: string]: unknown;
}

/** One attempt to hand an event to the app, over Socket Mode or the Events API. */
export interface EventDelivery {
  eventId: string;
  eventType: string;
  transport: "socket_mode" | "events_api";
  /** 0 for the first attempt, then 1, 2, 3 like X-Slack-Retry-Num / retry_attempt. */
  attempt: number;
  /** "acked" once the app acknowledged; otherwise why this attempt failed. */
  outcome: "acked" | "pending" | "timeout" | "http_error" | "connection_failed" | "connection_closed";
  httpStatus?: number;
}

export interface SlackDouble {
  /** "http://127.0.0.1:<port>/api/", what WebClient's slackApiUrl expects. */
  apiUrl: string;
  team: { id: string; name: string; domain: string };
  appToken: string;
  botToken: string;
  botUserId: string;
  botId: string;
  appId: string;
  signingSecret: string;
  /** The legacy verification token carried in every event wrapper's `token` field. */
  verificationToken: string;
  /** The app's OAuth credentials (Basic Information → App Credentials) and its consent page. */
  oauth: { clientId: string; clientSecret: string; authorizeUrl: string };

  /** A bot user (isBot) gets an xoxb- token and a bot id; a human gets an xoxp- user token. */
  addUser(u: {
    name: string;
    realName?: string;
    displayName?: string;
    avatarUrl?: string;
    isBot?: boolean;
  }): {
    id: string;
    token: string;
  };
  /** Pushes user_change. */
  setProfile(userId: string, p: { displayName?: string; realName?: string; avatarUrl?: string }): void;
  /** Pushes channel_created for public channels. */
  addChannel(c: { name: string; isPrivate?: boolean; members: string[]; topic?: string; purpose?: string }): {
    id: string;
  };
  /** An im (2 users) or mpim (3+); returns the existing one for the same set of users. */
  openDm(userIds: string[]): { id: string };
  /** Push member_joined_channel / member_left_channel. */
  joinChannel(userId: string, channel: string): void;
  leaveChannel(userId: string, channel: string): void;
  /** Pushes channel_rename (group_rename for private channels). */
  renameChannel(channel: string, name: string): void;
  /** Posts the channel_topic message Slack posts; by the given user, else the channel's first member. */
  setTopic(channel: string, topic: string, userId?: string): void;
  /** Adds a workspace custom emoji (emoji.list). */
  addEmoji(name: string, url: string): void;

  postAs(
    userId: string,
    channel: string,
    msg:
      | string
      | { text: string; threadTs?: string; subtype?: "me_message"; blocks?: unknown[]; broadcast?: boolean },
  ): string;
  editAs(userId: string, channel: string, ts: string, text: string): void;
  deleteAs(userId: string, channel: string, ts: string): void;
  reactAs(userId: string, channel: string, ts: string, name: string): void;
  unreactAs(userId: string, channel: string, ts: string, name: string): void;
  uploadAs(
    userId: string,
    channel: string,
    f: { name: string; data: Buffer; mimetype: string; title?: string; text?: string; threadTs?: string },
  ): { fileId: string; ts: string };

  /** Top-level messages, oldest first; thread replies excluded (thread_broadcast replies included). */
  messages(channel: string): SlackMessage[];
  /** The thread, root first. */
  replies(channel: string, threadTs: string): SlackMessage[];
  message(channel: string, ts: string): SlackMessage | undefined;
  fileContent(fileId: string): { name: string; mimetype: string; data: Buffer } | undefined;
  readMarker(userId: string, channel: string): string | undefined;
  calls(method?: string): ApiCall[];
  /** Every event the app was sent (or will be, once connected/resumed), oldest first; optionally of one type. */
  events(type?: string): SlackEventCallback[];
  /** Every delivery attempt so far, oldest first. */
  eventDeliveries(): EventDelivery[];

  pauseEvents(): void;
  resumeEvents(): void;
  dropSocketConnections(): void;
  /** Switches between the Events API (a URL) and Socket Mode (undefined); queued events follow. */
  setEventsUrl(url: string | undefined): void;
  /** Sends the url_verification challenge Slack sends when a Request URL is saved; true if echoed. */
  verifyEventsUrl(url?: string): Promise<boolean>;
  /** Until they run out, events pushed over HTTP are signed with a wrong secret (a receiver must answer 401). */
  corruptSignatures(count: number): void;

  rateLimit(opts: { method?: string | RegExp; count: number; retryAfterSeconds?: number }): void;
  revokeToken(token: string): void;
  /**
   * The clock new messages, edits and reactions are stamped with (ms; none: the real one), to
   * give a channel a past: set it before posting the past, then back to none.
   */
  setClock(now?: () => number): void;
  /**
   * A person opens `authorizeUrl` (the app's link to /oauth/v2/authorize) and presses Allow: returns
   * the URL Slack sends their browser to, the redirect URI with a one-time `code` and the `state`.
   * Throws when Slack's page would show an error instead (unknown client_id, bad redirect_uri, ...).
   */
  approveOAuth(authorizeUrl: string, userId: string): string;
  /** The same person presses Cancel: the redirect URI with `error=access_denied` and the `state`. */
  denyOAuth(authorizeUrl: string): string;
  specViolations: string[];
  assertNoSpecViolations(): void;
  close(): Promise<void>;
}
