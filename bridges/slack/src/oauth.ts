import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import {
  ErrorCode,
  InstallProvider,
  InvalidStateError,
  LogLevel,
  type CodedError,
  type Installation,
  type InstallationStore,
  type InstallURLOptions,
  type Logger as SlackLibraryLogger,
  type OrgInstallation,
  type StateStore,
} from "@slack/oauth";
import { WebClient } from "@slack/web-api";
import type { LoginProcess, LoginStep } from "@switchboard/framework";
import type { Logger } from "pino";
import type { SlackOAuthConfig, SlackWorkspaceConfig } from "./config.js";
import { slackError } from "./errors.js";
import { ForeignWorkspaceError } from "./login-flow.js";
// The code exchange and its check answer while the browser waits: no riding out an outage.
import { QUICK_RETRY } from "./workspace.js";

/**
 * "Sign in with Slack": the OAuth login. The bot hands the user Slack's authorize URL; they allow
 * the app in their browser; Slack sends the browser to our callback with a one-time code, which
 * @slack/oauth's InstallProvider checks (state) and exchanges (oauth.v2.access) for their user
 * token. The result is the token flow's: loginId "<team>/<user>", credentials `{ token }`.
 */

/** The user scopes of the app manifest in README.md: what a login lets the bridge do as the user. */
export const USER_SCOPES = [
  "channels:history",
  "channels:read",
  "channels:write",
  "groups:history",
  "groups:read",
  "groups:write",
  "im:history",
  "im:read",
  "im:write",
  "mpim:history",
  "mpim:read",
  "mpim:write",
  "chat:write",
  "files:read",
  "files:write",
  "reactions:read",
  "reactions:write",
  "users:read",
];

/** How long a login link works (InstallProvider's own state lifetime). */
const LINK_TTL_MS = 10 * 60_000;

/** What a workspace's OAuth needs from the connector. */
export interface OAuthHooks {
  /** The token flow's checks on a fresh user token (`web` holds it): the "complete" step or why not. */
  complete(web: WebClient, token: string): Promise<LoginStep>;
  /** A notice in the Matrix user's chat with the bridge bot. */
  notify(matrixUserId: string, text: string): Promise<void>;
  /** The workspace once connected: Slack's page then preselects it, and the bot names it. */
  connected(): { teamId: string; teamName: string } | undefined;
}

/** One login link in flight. */
export interface OAuthAttempt {
  url: string;
  /** Resolves with the "complete" step; rejects when the login failed (the user was told) or was cancelled. */
  done: Promise<LoginStep>;
  cancel(): void;
}

interface Attempt {
  matrixUserId: string;
  state: string;
  timer: NodeJS.Timeout;
  resolve(step: LoginStep): void;
  reject(err: Error): void;
}

/** What the state carries through Slack, as InstallURLOptions.metadata: which attempt, whose. */
interface Metadata {
  attempt: string;
  user: string;
}

/** The bridge keeps tokens in its own login store; the library must not keep a copy. */
const FORGET: InstallationStore = {
  storeInstallation: async () => undefined,
  fetchInstallation: async () => {
    throw new Error("the Slack bridge does not look installations up through @slack/oauth");
  },
};

/** @slack/oauth logs every failed callback as an error; the bridge logs them itself, with context. */
function libraryLogger(log: Logger): SlackLibraryLogger {
  const child = log.child({ lib: "@slack/oauth" });
  const write = (...msg: unknown[]) => child.debug(msg.map(String).join(" "));
  return {
    debug: write,
    info: write,
    warn: write,
    error: write,
    setLevel: () => undefined,
    getLevel: () => LogLevel.DEBUG,
    setName: () => undefined,
  };
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The page the browser lands on: what happened, in plain words. */
function page(res: ServerResponse, status: number, title: string, text: string): void {
  const html =
    `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>` +
    `<meta name="viewport" content="width=device-width, initial-scale=1"></head>` +
    `<body style="font-family: sans-serif; max-width: 36em; margin: 3em auto; padding: 0 1em">` +
    `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(text)}</p></body></html>`;
  // The URL carries the code: keep it out of caches and Referer headers.
  res.writeHead(status, {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
  });
  res.end(html);
}

const AGAIN = "Say `login slack` to the bridge bot to get a new link.";

/**
 * One workspace's Slack app as an OAuth client. It is InstallProvider's state store: a state is
 * random, single-use, lives LINK_TTL_MS and belongs to one attempt of one Matrix user.
 */
export class SlackOAuth implements StateStore {
  readonly callbackPath: string;
  readonly host: string;
  readonly port: number;
  private readonly installer: InstallProvider;
  private readonly states = new Map<string, { options: InstallURLOptions; expiresAt: number }>();
  private readonly attempts = new Map<string, Attempt>();
  /** A Web API client for a freshly issued token. */
  private readonly client: (token: string) => WebClient;

  constructor(
    readonly workspace: string,
    wsConfig: SlackWorkspaceConfig,
    private readonly oauth: SlackOAuthConfig,
    private readonly hooks: OAuthHooks,
    private readonly log: Logger,
  ) {
    this.callbackPath = new URL(oauth.redirect_url).pathname;
    this.host = oauth.listen_host;
    this.port = oauth.listen_port;
    this.installer = new InstallProvider({
      clientId: oauth.client_id,
      clientSecret: oauth.client_secret,
      stateStore: this,
      // The link reaches the browser through Matrix, not through a page of ours, so there is no
      // state cookie to compare: the state alone (random, single-use, short-lived) ties the
      // callback to the attempt and its Matrix user.
      legacyStateVerification: true,
      installationStore: FORGET,
      // https://slack.com/api/ → https://slack.com/oauth/v2/authorize (the Slack double alike).
      authorizationUrl: new URL("../oauth/v2/authorize", wsConfig.api_url).toString(),
      logger: libraryLogger(log),
      clientOptions: { slackApiUrl: wsConfig.api_url, retryConfig: QUICK_RETRY },
    });
    this.client = (token) =>
      new WebClient(token, {
        slackApiUrl: wsConfig.api_url,
        retryConfig: QUICK_RETRY,
        logLevel: LogLevel.ERROR,
      });
  }

  /** The workspace as users know it. */
  get displayName(): string {
    return this.hooks.connected()?.teamName ?? this.workspace;
  }

  /** A fresh authorize URL for `matrixUserId`, and the wait for its callback. */
  async begin(matrixUserId: string): Promise<OAuthAttempt> {
    const id = randomBytes(16).toString("base64url");
    const teamId = this.hooks.connected()?.teamId;
    const metadata: Metadata = { attempt: id, user: matrixUserId };
    const url = await this.installer.generateInstallUrl({
      scopes: [],
      userScopes: USER_SCOPES,
      redirectUri: this.oauth.redirect_url,
      ...(teamId ? { teamId } : {}),
      metadata: JSON.stringify(metadata),
    });
    let resolve!: (step: LoginStep) => void;
    let reject!: (err: Error) => void;
    const done = new Promise<LoginStep>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // Whoever waits sees the rejection; nobody waiting (the bot moved on) is not an error.
    done.catch(() => undefined);
    const timer = setTimeout(
      () => this.fail(id, "the login link expired before Slack sent you back"),
      LINK_TTL_MS,
    );
    timer.unref();
    const state = new URL(url).searchParams.get("state") ?? "";
    this.attempts.set(id, { matrixUserId, state, timer, resolve, reject });
    return { url, done, cancel: () => this.end(id)?.reject(new Error("the login was cancelled")) };
  }

  /** Ends every attempt (the bridge is stopping); nobody is told, the bot's own shutdown covers it. */
  close(): void {
    for (const id of [...this.attempts.keys()]) this.end(id)?.reject(new Error("the bridge is stopping"));
  }

  async generateStateParam(installOptions: InstallURLOptions, now: Date): Promise<string> {
    const state = randomBytes(32).toString("base64url");
    this.states.set(state, { options: installOptions, expiresAt: now.getTime() + LINK_TTL_MS });
    return state;
  }

  /** Single use: a state is gone once checked, whatever the outcome. */
  async verifyStateParam(now: Date, state: string): Promise<InstallURLOptions> {
    const entry = this.states.get(state);
    this.states.delete(state);
    if (!entry)
      throw new InvalidStateError("unknown state: expired, already used, or its login was cancelled");
    if (entry.expiresAt < now.getTime()) throw new InvalidStateError("the state has expired");
    return entry.options;
  }

  owns(state: string): boolean {
    return this.states.has(state);
  }

  /** GET <callback path>: Slack sent the browser back. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    await this.installer.handleCallback(req, res, {
      successAsync: (installation, options, _req, response) =>
        this.installed(installation, options, response),
      failureAsync: (error, options, request, response) => this.failed(error, options, request, response),
    });
  }

  private async installed(
    installation: Installation | OrgInstallation,
    options: InstallURLOptions,
    res: ServerResponse,
  ): Promise<void> {
    const found = this.attemptOf(options);
    if (!found)
      return page(res, 400, "This login link is not valid any more", `It was cancelled meanwhile. ${AGAIN}`);
    const [id, attempt] = found;
    const token = installation.user?.token;
    if (!token) {
      this.fail(id, "Slack did not give the bridge a user token");
      return page(res, 502, "Login failed", `Slack did not give the bridge a user token. ${AGAIN}`);
    }
    let step: LoginStep;
    try {
      step = await this.hooks.complete(this.client(token), token);
    } catch (err) {
      // A token for a workspace we do not bridge is of no use to anyone: give it back.
      if (err instanceof ForeignWorkspaceError)
        await this.client(token)
          .auth.revoke()
          .catch(() => undefined);
      const reason = (err as Error).message;
      this.fail(id, reason);
      return page(res, 403, "Login failed", `${reason.charAt(0).toUpperCase()}${reason.slice(1)}. ${AGAIN}`);
    }
    const live = this.end(id);
    if (!live)
      return page(
        res,
        409,
        "Login cancelled",
        `The login ended in your chat with the bridge bot meanwhile. ${AGAIN}`,
      );
    live.resolve(step);
    const who = step.type === "complete" ? step.remoteName : "your account";
    this.log.info({ matrixUser: attempt.matrixUserId }, "Slack OAuth login completed");
    page(
      res,
      200,
      "Signed in with Slack",
      `Slack confirmed ${who} for the Matrix user ${attempt.matrixUserId}. The bridge bot tells you in your chat ` +
        "with it once the login is active; you can close this page.",
    );
  }

  private async failed(
    error: CodedError,
    options: InstallURLOptions,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    const query = new URL(req.url ?? "/", "http://callback").searchParams;
    const slackSaid = query.get("error");
    let found = this.attemptOf(options);
    if (!found && slackSaid !== null) {
      // Slack's refusals stop InstallProvider before it reads the state: look it up here.
      const state = query.get("state");
      const checked = state
        ? await this.verifyStateParam(new Date(), state).catch(() => undefined)
        : undefined;
      found = this.attemptOf(checked);
    }
    const fail = (reason: string) => {
      if (found) this.fail(found[0], reason);
    };
    if (slackSaid === "access_denied") {
      fail("you declined the bridge's access on Slack's page, so the login was cancelled");
      return page(
        res,
        200,
        "Login cancelled",
        "You declined, so the bridge did not get access to your Slack account. " +
          "If you change your mind, say `login slack` to the bridge bot.",
      );
    }
    if (slackSaid !== null) {
      fail(`Slack refused the login ("${slackSaid}")`);
      return page(res, 400, "Login failed", `Slack refused the login ("${slackSaid}"). ${AGAIN}`);
    }
    if (error.code === ErrorCode.InvalidStateError || error.code === ErrorCode.MissingStateError) {
      return page(
        res,
        400,
        "This login link is not valid any more",
        `It expired, was already used, or its login was cancelled. ${AGAIN}`,
      );
    }
    if (error.code === ErrorCode.MissingCodeError) {
      fail("Slack sent no authorization code");
      return page(res, 400, "Login failed", `Slack sent no authorization code. ${AGAIN}`);
    }
    const why = slackError(error) ?? error.message;
    this.log.warn({ err: why }, "the Slack OAuth code exchange failed");
    fail(`Slack did not complete the login (${why})`);
    page(res, 502, "Login failed", `Slack did not complete the login (${why}). ${AGAIN}`);
  }

  /** The live attempt a state's metadata names, if it still is that Matrix user's. */
  private attemptOf(options: InstallURLOptions | undefined): [string, Attempt] | undefined {
    let meta: Partial<Metadata>;
    try {
      meta = JSON.parse(options?.metadata ?? "null") as Partial<Metadata>;
    } catch {
      return undefined;
    }
    const attempt = meta?.attempt === undefined ? undefined : this.attempts.get(meta.attempt);
    return attempt && meta?.attempt && attempt.matrixUserId === meta.user
      ? [meta.attempt, attempt]
      : undefined;
  }

  private end(id: string): Attempt | undefined {
    const attempt = this.attempts.get(id);
    if (!attempt) return undefined;
    this.attempts.delete(id);
    this.states.delete(attempt.state);
    clearTimeout(attempt.timer);
    return attempt;
  }

  /** The login failed: its user is told why, and the bot's wait ends. */
  private fail(id: string, reason: string): void {
    const attempt = this.end(id);
    if (!attempt) return;
    this.log.info({ matrixUser: attempt.matrixUserId, reason }, "Slack OAuth login failed");
    this.hooks
      .notify(attempt.matrixUserId, `Slack login failed: ${reason}. Say \`login slack\` to try again.`)
      .catch((err: unknown) =>
        this.log.warn({ err: String(err) }, "could not tell the user their login failed"),
      );
    attempt.reject(new Error(reason));
  }
}

/**
 * The callback listeners: one per listen_host:listen_port, shared by the workspaces configured on
 * it. A request goes to the workspace that issued its state (or, on the path, the first one,
 * whose InstallProvider then refuses the state).
 */
export class OAuthCallbacks {
  private readonly servers: Server[] = [];
  /** The workspaces whose callback listens: the ones the OAuth login is offered for. */
  readonly apps: SlackOAuth[] = [];

  private constructor(private readonly log: Logger) {}

  /** Starts the listeners of every workspace with `oauth`; one that cannot listen is logged and left out. */
  static async start(
    workspaces: Record<string, SlackWorkspaceConfig>,
    hooks: (name: string) => OAuthHooks,
    log: Logger,
  ): Promise<OAuthCallbacks> {
    const callbacks = new OAuthCallbacks(log);
    const byAddress = new Map<string, SlackOAuth[]>();
    for (const [name, ws] of Object.entries(workspaces)) {
      if (!ws.oauth) continue;
      const app = new SlackOAuth(name, ws, ws.oauth, hooks(name), log.child({ workspace: name }));
      const key = `${app.host}:${app.port}`;
      byAddress.set(key, [...(byAddress.get(key) ?? []), app]);
    }
    for (const apps of byAddress.values()) {
      const server = createServer((req, res) => {
        callbacks.route(apps, req, res).catch((err: unknown) => {
          log.error({ err: String(err) }, "the Slack OAuth callback failed");
          if (!res.headersSent) page(res, 500, "Login failed", `The bridge hit an internal error. ${AGAIN}`);
          else res.destroy();
        });
      });
      const { host, port } = apps[0]!;
      try {
        await new Promise<void>((resolve, reject) => {
          server.once("error", reject);
          server.listen(port, host, () => resolve());
        });
      } catch (err) {
        const names = apps.map((a) => a.workspace).join(", ");
        log.error(
          { err: String(err), workspaces: names },
          `cannot listen on ${host}:${port} for Slack OAuth callbacks: check listen_host/listen_port of bridges.slack.workspaces.${apps[0]!.workspace}.oauth; the OAuth login is not offered for ${names}`,
        );
        continue;
      }
      callbacks.servers.push(server);
      callbacks.apps.push(...apps);
      log.info(
        { host, port, workspaces: apps.map((a) => a.workspace) },
        "listening for Slack OAuth callbacks",
      );
    }
    return callbacks;
  }

  async stop(): Promise<void> {
    for (const app of this.apps) app.close();
    await Promise.all(
      this.servers.map(
        (server) =>
          new Promise<void>((resolve) => {
            server.closeAllConnections();
            server.close(() => resolve());
          }),
      ),
    );
    this.servers.length = 0;
  }

  private async route(apps: SlackOAuth[], req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://callback");
    const onPath = apps.filter((a) => a.callbackPath === url.pathname);
    if (onPath.length === 0) return page(res, 404, "Not found", "This is the Slack bridge's login callback.");
    if (req.method !== "GET")
      return page(res, 405, "Method not allowed", "Slack sends the browser here with GET.");
    const state = url.searchParams.get("state") ?? "";
    await (onPath.find((a) => a.owns(state)) ?? onPath[0]!).handle(req, res);
  }
}

/**
 * The "oauth" login flow: straight to the link when one workspace has OAuth, otherwise the user
 * first names the workspace.
 */
export function oauthLogin(apps: SlackOAuth[], matrixUserId: string): LoginProcess {
  let attempt: OAuthAttempt | undefined;
  let cancelled = false;
  const link = async (app: SlackOAuth): Promise<LoginStep> => {
    attempt = await app.begin(matrixUserId);
    if (cancelled) attempt.cancel();
    return {
      type: "display",
      instructions:
        `Open this link, sign in to Slack if it asks, and allow the bridge's app to act as you in ${app.displayName}. ` +
        `I will tell you here when it worked. The link works once, within ${LINK_TTL_MS / 60_000} minutes; say \`cancel\` to stop.`,
      url: attempt.url,
    };
  };
  const names = apps.map((a) => a.workspace).join(", ");
  return {
    start: async () =>
      apps.length === 1
        ? link(apps[0]!)
        : {
            type: "input",
            instructions: `Which Slack workspace? ${names}`,
            fields: [{ id: "workspace", name: "workspace name", description: names }],
          },
    submit: async (values) => {
      const wanted = (values.workspace ?? "").trim();
      const app = apps.find((a) => a.workspace === wanted || a.displayName === wanted);
      if (!app)
        throw new Error(`no Slack workspace "${wanted}" offers this login here; choose one of: ${names}`);
      return link(app);
    },
    wait: () => attempt?.done ?? Promise.reject(new Error("no login link was made")),
    cancel: () => {
      cancelled = true;
      attempt?.cancel();
    },
  };
}
