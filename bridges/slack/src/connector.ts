import type {
  BridgeContext,
  ChatRef,
  ConnectionState,
  Connector,
  FetchesMedia,
  HasLogins,
  LoginFlow,
  LoginProcess,
  MediaRef,
  RemoteUser,
  UpgradesDms,
} from "@switchboard/framework";
import { fetchUrl, PermanentError } from "@switchboard/framework";
import type { WebClient } from "@slack/web-api";
import { SlackBot } from "./bot.js";
import { catchUp } from "./catch-up.js";
import { SlackChats } from "./chats.js";
import { SlackConfigSchema, type SlackConfig, type SlackWorkspaceConfig } from "./config.js";
import { EchoTable } from "./echoes.js";
import { SLACK_TOKEN_ERRORS, slackError } from "./errors.js";
import * as ids from "./ids.js";
import { SlackHistory } from "./history.js";
import { EmitFailed, SlackInbound } from "./inbound.js";
import { tokenLogin, userTokenStep } from "./login-flow.js";
import { SlackLogin, type LoginServices } from "./logins.js";
import { OAuthCallbacks, oauthLogin } from "./oauth.js";
import { SlackOutbound } from "./outbound.js";
import { ThreadIndex } from "./threads.js";
import { QUICK_RETRY, SlackWorkspace, type SlackEventBody } from "./workspace.js";

/**
 * The Slack bridge's connector: Slack workspaces behind the framework's contract. Chats are
 * keyed "<team id>/<channel id>"; a DM is scoped to the login in it (receiver "<team>/<user>").
 * Matrix → Slack goes through a network client: `bot` (the workspaces' apps, relaying) or a
 * user's `SlackLogin`; the framework picks which. See README.md for setting up the Slack app.
 */
export class SlackConnector implements Connector, HasLogins, FetchesMedia, UpgradesDms {
  readonly id = "slack";
  readonly displayName = "Slack";
  readonly configSchema = SlackConfigSchema;
  /** "Sign in with Slack" comes first (what `login slack` picks) where a workspace has `oauth`. */
  get loginFlows(): LoginFlow[] {
    const token = { id: "token", name: "User token", description: "paste your Slack user token (xoxp-…)" };
    if (!this.oauth?.apps.length) return [token];
    return [
      {
        id: "oauth",
        name: "Sign in with Slack",
        description: "open a link and allow the bridge's app in Slack",
      },
      token,
    ];
  }

  private ctx!: BridgeContext;
  private config!: SlackConfig;
  private readonly workspaces = new Map<string, SlackWorkspace>();
  private readonly logins = new Map<string, SlackLogin>();
  private readonly echoes = new EchoTable();
  private readonly threads = new ThreadIndex();
  private inbound!: SlackInbound;
  private readonly outbound = new SlackOutbound(this.echoes, this.threads, (team) =>
    this.workspaces.get(team),
  );
  private readonly chats = new SlackChats(
    (team) => this.workspaces.get(team),
    (loginId) => this.logins.get(loginId),
  );
  /** The workspaces' bot tokens as one client: the framework relays through it. */
  readonly bot = new SlackBot(this.outbound, this.chats);
  private readonly loginServices: LoginServices = {
    outbound: this.outbound,
    chats: this.chats,
    failed: (login, reason) => this.loginFailed(login, reason),
    closed: (login) => this.forget(login),
  };
  /** Live events wait while a workspace catches up on history, so order is kept. */
  private readonly caughtUp = new Map<string, Promise<void>>();
  private readonly retries = new Set<NodeJS.Timeout>();
  private oauth: OAuthCallbacks | undefined;

  async start(ctx: BridgeContext): Promise<void> {
    this.ctx = ctx;
    this.config = ctx.config as unknown as SlackConfig;
    this.inbound = new SlackInbound(ctx, this.echoes, this.threads, (team) => this.loginsOf(team));
    this.bot.history = new SlackHistory(
      ctx,
      this.echoes,
      this.threads,
      (team) => this.loginsOf(team),
      (chat) => this.outbound.target(chat),
    );
    this.oauth = await OAuthCallbacks.start(
      this.config.workspaces,
      (name) => ({
        complete: (web, token) => userTokenStep(web, token, [...this.workspaces.values()]),
        notify: (matrixUserId, text) => ctx.notifyUser(matrixUserId, text),
        connected: () => [...this.workspaces.values()].find((ws) => ws.name === name),
      }),
      ctx.log,
    );
    // Concurrently: one unreachable workspace must not hold up the others.
    await Promise.all(
      Object.entries(this.config.workspaces).map(([name, wsConfig]) => this.connect(name, wsConfig)),
    );
  }

  /** Slack files need the workspace's bot token; only the team id crosses the journal with the URL. */
  async fetchMedia(ref: MediaRef): Promise<{ data: Buffer; mimetype?: string }> {
    const ws = this.workspaces.get(String(ref.meta?.team ?? ""));
    if (!ws) throw new PermanentError(`the Slack workspace of ${ref.url} is not connected to the bridge`);
    return fetchUrl(ref.url, { authorization: `Bearer ${ws.config.bot_token}` });
  }

  /**
   * Connects one workspace. A token Slack refuses is a config problem: said once, with the
   * key to fix, and the other workspaces carry on. Anything else (Slack unreachable) is
   * retried in the background with backoff.
   */
  private async connect(name: string, wsConfig: SlackWorkspaceConfig, attempt = 0): Promise<void> {
    const ctx = this.ctx;
    const report = (state: ConnectionState, message?: string) =>
      ctx.reportState({ connection: name, state, message });
    const ws = new SlackWorkspace(name, wsConfig, ctx.log.child({ workspace: name }), report);
    report("CONNECTING");
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    try {
      await ws.start((w, body) => this.onEvent(w, body, gate));
    } catch (err) {
      await ws.stop();
      const code = slackError(err);
      if (code && SLACK_TOKEN_ERRORS.has(code)) {
        ctx.log.error(
          { workspace: name, error: code },
          `Slack refused a token of bridges.slack.workspaces.${name} (${code}): check bot_token and app_token; this workspace is not bridged`,
        );
        report(
          "BAD_CREDENTIALS",
          `Slack refused the workspace's token (${code}): check bot_token and app_token`,
        );
        return;
      }
      const delay = Math.min(1000 * 2 ** attempt, 5 * 60_000);
      ctx.log.warn(
        { workspace: name, err: String(err), retryInMs: delay },
        "could not connect to Slack; retrying",
      );
      report("TRANSIENT_DISCONNECT", `could not connect to Slack (${String(err)}); retrying`);
      const timer = setTimeout(() => void this.connect(name, wsConfig, attempt + 1), delay);
      timer.unref();
      this.retries.add(timer);
      return;
    }
    this.caughtUp.set(ws.teamId, gate);
    this.workspaces.set(ws.teamId, ws);
    ctx.log.info({ workspace: name, team: ws.teamId }, "Slack workspace connected");
    report("CONNECTED");
    // History is fetched after the socket is up, so nothing falls between the two.
    void (async () => {
      try {
        if (wsConfig.catch_up) {
          const n = await catchUp(ctx, ws, this.inbound, (chat) => this.clientFor(ws, chat));
          if (n > 0) ctx.log.info({ workspace: name, messages: n }, "caught up on Slack history");
        }
      } finally {
        release();
      }
    })();
  }

  private async onEvent(ws: SlackWorkspace, body: SlackEventBody, gate: Promise<void>): Promise<void> {
    await gate;
    try {
      await this.inbound.handle(ws, body);
    } catch (err) {
      // Storage failures must reach the receiver (no ack, Slack redelivers); anything else is this event's problem.
      if (err instanceof EmitFailed) throw err;
      this.ctx.log.error({ err, event: body.event?.type }, "could not translate a Slack event");
    }
  }

  async stop(): Promise<void> {
    for (const timer of this.retries) clearTimeout(timer);
    this.retries.clear();
    await this.oauth?.stop();
    this.oauth = undefined;
    for (const ws of this.workspaces.values()) await ws.stop();
    this.workspaces.clear();
    this.caughtUp.clear();
  }

  private loginsOf(team: string): SlackLogin[] {
    return [...this.logins.values()].filter((l) => l.workspace.teamId === team);
  }

  /** Who reads a chat's history: a DM's receiver login, anything else the workspace's bot. */
  private clientFor(ws: SlackWorkspace, chat: ChatRef): WebClient | undefined {
    if (!chat.receiver) return ws.web;
    const login = this.logins.get(chat.receiver);
    return login?.workspace === ws ? login.web : undefined;
  }

  /** Forgets a login, unless a newer client for the same login id replaced it meanwhile. */
  private forget(login: SlackLogin): void {
    if (this.logins.get(login.loginId) === login) this.logins.delete(login.loginId);
  }

  private async loginFailed(login: SlackLogin, reason: string): Promise<void> {
    await this.ctx.loginFailed(login.loginId, reason);
    this.forget(login);
  }

  async getUser(remoteUserId: string): Promise<RemoteUser | null> {
    const parsed = ids.parseUserId(remoteUserId);
    const ws = parsed && this.workspaces.get(parsed.team);
    return parsed && ws ? ws.user(parsed.user) : null;
  }

  ghostLocalpart(remoteUserId: string): string {
    return ids.ghostLocalpart(remoteUserId);
  }

  remoteIdFromLocalpart(localpart: string): string | null {
    return ids.remoteIdFromLocalpart(localpart);
  }

  /**
   * "acme_general" (the alias form), "acme general", "#general" or "general" when one
   * workspace is bridged, or a channel id ("C0123", "T024/C0123").
   */
  async chatFromAlias(aliasSuffix: string): Promise<ChatRef | null> {
    const known = this.findChat(aliasSuffix);
    if (known) return known;
    // A channel made (or joined by the bot) since the list was read: read it again.
    let refreshed = false;
    for (const ws of this.workspaces.values()) refreshed = (await ws.refreshChannels()) || refreshed;
    return refreshed ? this.findChat(aliasSuffix) : null;
  }

  private findChat(aliasSuffix: string): ChatRef | null {
    const direct = ids.parseChatId(aliasSuffix);
    if (direct && this.workspaces.has(direct.team)) return { channelId: aliasSuffix };
    const all = [...this.workspaces.values()];
    const byName = (ws: SlackWorkspace, name: string): ChatRef | null => {
      const c = /^[CG][A-Z0-9]+$/.test(name) ? ws.channels.get(name) : ws.channelByName(name);
      return c && !c.isIm && !c.isMpim ? { channelId: ids.chatId(ws.teamId, c.id) } : null;
    };
    for (const ws of all) {
      for (const sep of ["_", " "]) {
        const prefix = `${ws.name}${sep}`;
        if (aliasSuffix.startsWith(prefix)) {
          const found = byName(ws, aliasSuffix.slice(prefix.length));
          if (found) return found;
        }
      }
    }
    return all.length === 1 ? byName(all[0]!, aliasSuffix.trim()) : null;
  }

  aliasFor(chat: ChatRef): string | null {
    if (chat.receiver) return null;
    const parsed = ids.parseChatId(chat.channelId);
    const ws = parsed && this.workspaces.get(parsed.team);
    const info = parsed && ws?.channels.get(parsed.channel);
    // Private channels get no public alias: only those who can see them may find them.
    if (!ws || !info || info.isPrivate || info.isIm || info.isMpim) return null;
    return `${ws.name}_${info.name}`;
  }

  /** DMs of a data directory from before per-login DMs go to the user's login in that workspace. */
  upgradeDmReceiver(channelId: string, _matrixUserId: string, loginIds: string[]): string | null {
    return ids.loginInTeam(channelId, loginIds);
  }

  createLogin(flowId: string, matrixUserId: string): LoginProcess {
    if (flowId === "oauth" && this.oauth?.apps.length) return oauthLogin(this.oauth.apps, matrixUserId);
    return tokenLogin(() => [...this.workspaces.values()]);
  }

  async loadLogin(stored: {
    loginId: string;
    matrixUserId: string;
    remoteName: string;
    credentials: unknown;
  }): Promise<SlackLogin> {
    const parsed = ids.parseUserId(stored.loginId);
    const ws = parsed && this.workspaces.get(parsed.team);
    if (!parsed || !ws) throw new Error("the Slack workspace of this login is no longer bridged");
    const { token } = stored.credentials as { token: string };
    const auth = await ws.client(token, QUICK_RETRY).auth.test();
    if (auth.user_id !== parsed.user) throw new Error("this token belongs to another Slack user");
    const login = new SlackLogin(
      stored.loginId,
      stored.matrixUserId,
      stored.remoteName,
      parsed.user,
      ws,
      token,
      this.loginServices,
    );
    this.logins.set(login.loginId, login);
    // A user's DMs are read with their token, which loads after the workspace caught up: a DM that
    // arrived before it was acknowledged with nobody to deliver it to, and is fetched here.
    void this.caughtUp
      .get(ws.teamId)
      ?.then(() =>
        catchUp(
          this.ctx,
          ws,
          this.inbound,
          () => login.web,
          (chat) => chat.receiver === login.loginId,
        ),
      )
      .then((n) => {
        if (n > 0) this.ctx.log.info({ login: login.loginId, messages: n }, "caught up on Slack DMs");
      })
      .catch((err: unknown) => this.ctx.log.warn({ err: String(err) }, "could not catch up Slack DMs"));
    return login;
  }
}
