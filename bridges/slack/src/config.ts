import { Type, type Static } from "@sinclair/typebox";
import { BridgeSectionCommon } from "@switchboard/framework";

/**
 * "Sign in with Slack" for users of one workspace: the app's credentials and the callback Slack
 * sends the browser back to. Without it only the token login is offered.
 */
export const SlackOAuthSchema = Type.Object(
  {
    client_id: Type.String({
      minLength: 1,
      description: "The app's Client ID (Basic Information → App Credentials)",
    }),
    client_secret: Type.String({
      minLength: 1,
      description: "The app's Client Secret (Basic Information → App Credentials)",
    }),
    redirect_url: Type.String({
      format: "uri",
      pattern: "^https?://",
      description:
        "The public https URL Slack sends the browser back to, ending in the callback path " +
        "(https://bridge.example.org/slack/oauth/callback); list it under OAuth & Permissions → Redirect URLs " +
        "and have your reverse proxy forward it to listen_host:listen_port",
    }),
    listen_port: Type.Integer({
      minimum: 1,
      maximum: 65535,
      description: "Port the OAuth callback listener binds to (it serves the path of redirect_url)",
    }),
    listen_host: Type.String({
      default: "127.0.0.1",
      description: "Address the OAuth callback listener binds to",
    }),
  },
  {
    additionalProperties: false,
    description: "Optional: users log in by OAuth (`login slack`) instead of pasting a token",
  },
);

/** One Slack workspace: the Slack app installed in it and how its events reach the bridge. */
export const SlackWorkspaceSchema = Type.Object(
  {
    /** Socket Mode needs no public URL; the Events API needs this process reachable from Slack. */
    mode: Type.Union([Type.Literal("socket"), Type.Literal("events")], {
      default: "socket",
      description:
        "socket: Socket Mode (app_token); events: Events API over HTTP (signing_secret, events_port)",
    }),
    bot_token: Type.String({
      pattern: "^xoxb-",
      description: "The app's bot token (xoxb-…), from OAuth & Permissions",
    }),
    app_token: Type.Optional(
      Type.String({ pattern: "^xapp-", description: "App-level token with connections:write (Socket Mode)" }),
    ),
    signing_secret: Type.Optional(
      Type.String({ minLength: 1, description: "Signing secret from Basic Information (Events API mode)" }),
    ),
    events_port: Type.Integer({
      minimum: 1,
      maximum: 65535,
      default: 3000,
      description: "Events API mode: the port Slack's requests arrive on (path /slack/events)",
    }),
    events_host: Type.String({ default: "127.0.0.1", description: "Events API mode: address to listen on" }),
    api_url: Type.String({
      format: "uri",
      default: "https://slack.com/api/",
      description: "Slack Web API base URL (tests point it at the Slack double)",
    }),
    /** Slack's own retries ride out 429s; these bound how long a queued send may wait. */
    max_retry_minutes: Type.Integer({
      minimum: 1,
      default: 30,
      description: "How long a Web API call keeps retrying through rate limits and outages",
    }),
    catch_up: Type.Boolean({
      default: true,
      description: "After downtime, fetch the messages missed in bridged channels (conversations.history)",
    }),
    foreign_bridge_bots: Type.Array(Type.String({ pattern: "^B[A-Z0-9]+$" }), {
      default: [],
      description:
        "Bot ids (B…) of other Matrix bridges in this workspace: their messages are Matrix users' and are not bridged back to rooms that have them",
    }),
    oauth: Type.Optional(SlackOAuthSchema),
  },
  { additionalProperties: false },
);

export const SlackConfigSchema = Type.Object(
  {
    ...BridgeSectionCommon,
    workspaces: Type.Record(Type.String({ pattern: "^[a-z0-9-]+$" }), SlackWorkspaceSchema, {
      default: {},
      description: "Workspaces by short name; the name is used in portal aliases (#slack_<name>_<channel>)",
    }),
  },
  { additionalProperties: false },
);

export type SlackConfig = Static<typeof SlackConfigSchema>;
export type SlackWorkspaceConfig = Static<typeof SlackWorkspaceSchema>;
export type SlackOAuthConfig = Static<typeof SlackOAuthSchema>;
