import { SlackApiError, type Workspace } from "./workspace.js";

/**
 * The app's OAuth v2 side: slack.com/oauth/v2/authorize (the consent page a person opens) and the
 * code exchange behind oauth.v2.access. The person's choice on the page is the test's: it calls
 * `approve` or `deny` with the authorize URL the bridge handed out and gets the URL Slack would
 * send the browser back to.
 */

/** Codes live ten minutes, like Slack's. */
const CODE_TTL_MS = 10 * 60_000;
/** `chat:write`, `users.profile:read`, `identify`, `incoming-webhook`, … */
const SCOPE = /^[a-z][a-z0-9_.-]*(:[a-z0-9_.-]+)*$/;

/** An authorize request the consent page accepts. */
export interface AuthorizeRequest {
  scopes: string[];
  userScopes: string[];
  state: string | undefined;
  /** Where the browser goes back to: the given redirect_uri, or the app's first Redirect URL. */
  redirectTo: string;
  /** The redirect_uri as given (oauth.v2.access must repeat it), undefined when left out. */
  redirectUri: string | undefined;
}

interface Grant {
  userId: string;
  scopes: string[];
  userScopes: string[];
  redirectUri: string | undefined;
  expiresAt: number;
  used: boolean;
}

function scopeList(value: string | null): string[] {
  return (value ?? "")
    .split(/[ ,]+/)
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export class OAuthApp {
  readonly clientId: string;
  readonly clientSecret: string;
  private readonly grants = new Map<string, Grant>();

  constructor(
    private readonly ws: Workspace,
    /** The app's Redirect URLs (OAuth & Permissions). */
    readonly redirectUrls: string[],
  ) {
    this.clientId = ws.mint.clientId();
    this.clientSecret = ws.mint.secret();
  }

  /** Where the consent page is served. */
  get authorizeUrl(): string {
    return `${this.ws.urls.base}oauth/v2/authorize`;
  }

  /**
   * Checks an authorize request as Slack does before it shows the consent page; throws
   * SlackApiError with the code Slack's error page names.
   */
  request(query: URLSearchParams): AuthorizeRequest {
    if (query.get("client_id") !== this.clientId) throw new SlackApiError("invalid_client_id");
    const scopes = scopeList(query.get("scope"));
    const userScopes = scopeList(query.get("user_scope"));
    if (scopes.length + userScopes.length === 0)
      throw new SlackApiError("invalid_scope", "no scope requested");
    const bad = [...scopes, ...userScopes].find((s) => !SCOPE.test(s));
    if (bad !== undefined) throw new SlackApiError("invalid_scope", bad);
    const team = query.get("team");
    if (team !== null && team !== "" && team !== this.ws.team.id)
      throw new SlackApiError("invalid_team", `this double's workspace is ${this.ws.team.id}, not ${team}`);
    const given = query.get("redirect_uri") ?? undefined;
    const redirectTo = given ?? this.redirectUrls[0];
    if (redirectTo === undefined)
      throw new SlackApiError("bad_redirect_uri", "the app has no Redirect URL and none was given");
    if (given !== undefined && !this.redirectUrls.some((allowed) => coveredBy(given, allowed)))
      throw new SlackApiError("bad_redirect_uri", `${given} is not under the app's Redirect URLs`);
    return { scopes, userScopes, state: query.get("state") ?? undefined, redirectTo, redirectUri: given };
  }

  /** GET /oauth/v2/authorize: the consent page, or Slack's error page. */
  page(query: URLSearchParams): { status: number; html: string } {
    let req: AuthorizeRequest;
    try {
      req = this.request(query);
    } catch (err) {
      if (!(err instanceof SlackApiError)) throw err;
      return {
        status: 400,
        html: `<!DOCTYPE html><html><head><title>Error | Slack</title></head><body><h1>Something went wrong when authorizing this app.</h1><p>${escapeHtml(err.message)}</p></body></html>`,
      };
    }
    const app = escapeHtml(this.ws.user(this.ws.bot.userId).realName);
    const team = escapeHtml(this.ws.team.name);
    const items = (list: string[]) => list.map((s) => `<li>${escapeHtml(s)}</li>`).join("");
    return {
      status: 200,
      html:
        `<!DOCTYPE html><html><head><title>Authorize | Slack</title></head><body>` +
        `<h1>${app} is requesting permission to access the ${team} Slack workspace</h1>` +
        (req.userScopes.length > 0
          ? `<h2>On your behalf, it would be able to:</h2><ul>${items(req.userScopes)}</ul>`
          : "") +
        (req.scopes.length > 0
          ? `<h2>As the app, it would be able to:</h2><ul>${items(req.scopes)}</ul>`
          : "") +
        `<form><button name="allow">Allow</button> <button name="cancel">Cancel</button></form></body></html>`,
    };
  }

  /** The person allows the app: the redirect URL with a one-time `code` (and the `state`, if any). */
  approve(authorizeUrl: string, userId: string): string {
    const req = this.parse(authorizeUrl);
    const user = this.ws.users.get(userId);
    if (!user || user.isBot || user.id === "USLACKBOT")
      throw new Error(`Slack double: approveOAuth needs a human user of the workspace, not "${userId}"`);
    const code = this.ws.mint.oauthCode();
    this.grants.set(code, {
      userId: user.id,
      scopes: req.scopes,
      userScopes: req.userScopes,
      redirectUri: req.redirectUri,
      expiresAt: Date.now() + CODE_TTL_MS,
      used: false,
    });
    return this.redirect(req, { code });
  }

  /** The person presses Cancel: the redirect URL with `error=access_denied`. */
  deny(authorizeUrl: string): string {
    return this.redirect(this.parse(authorizeUrl), { error: "access_denied" });
  }

  /** oauth.v2.access: the client authenticates, the code is spent (even when the call then fails). */
  exchange(p: {
    clientId: string | undefined;
    clientSecret: string | undefined;
    code: string | undefined;
    redirectUri: string | undefined;
    grantType: string | undefined;
  }): Record<string, unknown> {
    if (p.clientId !== this.clientId) throw new SlackApiError("invalid_client_id");
    if (p.clientSecret !== this.clientSecret) throw new SlackApiError("bad_client_secret");
    // Token rotation is off for this app, so refresh_token grants have nothing to refresh.
    if (p.grantType !== undefined && p.grantType !== "authorization_code")
      throw new SlackApiError("invalid_grant_type");
    const grant = p.code === undefined ? undefined : this.grants.get(p.code);
    if (!grant || grant.used || grant.expiresAt < Date.now()) throw new SlackApiError("invalid_code");
    grant.used = true;
    if (grant.redirectUri !== undefined && p.redirectUri !== grant.redirectUri)
      throw new SlackApiError("bad_redirect_uri", "not the redirect_uri of the authorize request");
    const { ws } = this;
    const user = ws.user(grant.userId);
    return {
      app_id: ws.bot.appId,
      authed_user:
        grant.userScopes.length > 0
          ? {
              id: user.id,
              scope: grant.userScopes.join(","),
              access_token: ws.userToken(user.id),
              token_type: "user",
            }
          : { id: user.id },
      ...(grant.scopes.length > 0
        ? {
            scope: grant.scopes.join(","),
            token_type: "bot",
            access_token: ws.bot.token,
            bot_user_id: ws.bot.userId,
          }
        : {}),
      team: { id: ws.team.id, name: ws.team.name },
      enterprise: null,
      is_enterprise_install: false,
    };
  }

  /** An authorize URL the test got from the bridge: it must be this double's page, with a request it accepts. */
  private parse(authorizeUrl: string): AuthorizeRequest {
    let url: URL;
    try {
      url = new URL(authorizeUrl);
    } catch {
      throw new Error(`Slack double: "${authorizeUrl}" is not a URL`);
    }
    if (`${url.origin}${url.pathname}` !== this.authorizeUrl)
      throw new Error(
        `Slack double: ${authorizeUrl} is not this double's authorize page (${this.authorizeUrl})`,
      );
    try {
      return this.request(url.searchParams);
    } catch (err) {
      if (!(err instanceof SlackApiError)) throw err;
      throw new Error(`Slack double: the authorize page refuses ${authorizeUrl}: ${err.message}`, {
        cause: err,
      });
    }
  }

  private redirect(req: AuthorizeRequest, params: Record<string, string>): string {
    const url = new URL(req.redirectTo);
    for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
    if (req.state !== undefined) url.searchParams.set("state", req.state);
    return url.toString();
  }
}

/** Slack's rule: same scheme, host and port, and the same path or one below it. */
function coveredBy(candidate: string, allowed: string): boolean {
  let c: URL;
  let a: URL;
  try {
    c = new URL(candidate);
    a = new URL(allowed);
  } catch {
    return false;
  }
  if (c.origin !== a.origin) return false;
  const base = a.pathname.endsWith("/") ? a.pathname : `${a.pathname}/`;
  return c.pathname === a.pathname || c.pathname.startsWith(base);
}
