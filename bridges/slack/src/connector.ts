import type {
  BridgeContent,
  BridgeContext,
  Capabilities,
  ChatInfo,
  ChatRef,
  ChecksPlumbing,
  Connector,
  HandlesEdits,
  HandlesReactions,
  HandlesRedactions,
  HasLogins,
  ListsMembers,
  LoginFlow,
  LoginProcess,
  MarksRead,
  MatrixMessage,
  MatrixSender,
  RemoteLogin,
  RemoteUser,
  SendResult,
  ConnectionState,
  FetchesMedia,
  MediaRef,
} from "@switchboard/framework";
import { fetchUrl, PermanentError } from "@switchboard/framework";
import type { WebClient } from "@slack/web-api";
import { catchUp } from "./catch-up.js";
import { decided } from "./errors.js";
import { SlackConfigSchema, type SlackConfig, type SlackWorkspaceConfig } from "./config.js";
import { EchoTable } from "./echoes.js";
import * as ids from "./ids.js";
import { EmitFailed, SlackInbound } from "./inbound.js";
import { SLACK_TOKEN_ERRORS, SlackLogin, slackError, tokenLogin, userTokenStep } from "./logins.js";
import { OAuthCallbacks, oauthLogin } from "./oauth.js";
import { SlackOutbound } from "./outbound.js";
import { ThreadIndex } from "./threads.js";
import { QUICK_RETRY, SlackWorkspace, type SlackEventBody } from "./workspace.js";

/**
 * The Slack bridge's connector: Slack workspaces behind the framework's contract.
 * Channels are keyed "<team id>/<channel id>"; DMs are scoped to the logged-in Matrix
 * user who is in them. See README.md for setting up the Slack app.
 */
export class SlackConnector
  implements
    Connector,
    HandlesEdits,
    HandlesRedactions,
    HandlesReactions,
    HasLogins,
    ListsMembers,
    MarksRead,
    ChecksPlumbing,
    FetchesMedia
{
  readonly id = "slack";
  readonly displayName = "Slack";
  readonly configSchema = SlackConfigSchema;
  readonly capabilities: Capabilities = {
    edits: true,
    replies: true,
    threads: true,
    reactions: true,
    redactions: true,
    typing: false,
    // Slack does not tell apps when someone reads a chat; Matrix receipts do move Slack's marker.
    readReceipts: { toRemote: true, fromRemote: false },
    media: true,
    formatting: true,
    dms: true,
    groups: true,
  };
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
  private outbound!: SlackOutbound;
  /** Live events wait while a workspace catches up on history, so order is kept. */
  private readonly caughtUp = new Map<string, Promise<void>>();
  private readonly retries = new Set<NodeJS.Timeout>();
  private oauth: OAuthCallbacks | undefined;

  async start(ctx: BridgeContext): Promise<void> {
    this.ctx = ctx;
    this.config = ctx.config as unknown as SlackConfig;
    this.inbound = new SlackInbound(ctx, this.echoes, this.threads, (team) => this.loginsOf(team));
    this.outbound = new SlackOutbound(
      this.echoes,
      this.threads,
      (team) => this.workspaceByTeam(team),
      (login, reason) => this.loginBroke(login, reason),
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

  private workspaceByTeam(team: string): SlackWorkspace | undefined {
    return this.workspaces.get(team);
  }

  private clientFor(ws: SlackWorkspace, chat: ChatRef): WebClient | undefined {
    if (!chat.receiver) return ws.web;
    return this.loginsOf(ws.teamId).find((l) => l.matrixUserId === chat.receiver)?.web;
  }

  private async loginBroke(login: SlackLogin, reason: string): Promise<void> {
    this.logins.delete(login.loginId);
    await this.ctx.loginFailed(login.loginId, `Slack no longer accepts your token (${reason})`);
  }

  async getChat(chat: ChatRef, login?: RemoteLogin): Promise<ChatInfo | null> {
    const parsed = ids.parseChatId(chat.channelId);
    const ws = parsed && this.workspaces.get(parsed.team);
    if (!parsed || !ws) return null;
    const web = (login as SlackLogin | undefined)?.web ?? this.clientFor(ws, chat) ?? ws.web;
    const info = await ws.channel(parsed.channel, web);
    if (!info) return null;
    if (info.isIm) {
      const other = info.user ? await ws.user(info.user) : null;
      return {
        name: other?.displayname ?? info.name,
        isDirect: true,
        otherUser: other ?? undefined,
        isPrivate: true,
      };
    }
    if (info.isMpim) return { name: info.name, isDirect: true, isPrivate: true };
    // Only someone who can see a private channel may bridge it; an alias query says nobody.
    if (info.isPrivate && !(login && (await (login as SlackLogin).isMember(parsed.channel)))) return null;
    return {
      name: `#${info.name}`,
      topic: info.topic || undefined,
      isPrivate: info.isPrivate,
      space: { id: ws.teamId, name: ws.teamName },
    };
  }

  async getUser(remoteUserId: string): Promise<RemoteUser | null> {
    const parsed = ids.parseUserId(remoteUserId);
    const ws = parsed && this.workspaces.get(parsed.team);
    return parsed && ws ? ws.user(parsed.user) : null;
  }

  async getMembers(chat: ChatRef): Promise<RemoteUser[]> {
    const { ws, channel } = this.outbound.target(chat);
    const members: RemoteUser[] = [];
    for await (const page of ws.web.paginate("conversations.members", { channel, limit: 500 })) {
      for (const id of (page as { members?: string[] }).members ?? []) {
        if (id === ws.botUserId) continue;
        const user = await ws.user(id);
        if (user) members.push(user);
      }
    }
    return members;
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

  async canPlumb(chat: ChatRef, _matrixUserId: string, login?: RemoteLogin): Promise<true | string> {
    const parsed = ids.parseChatId(chat.channelId);
    const ws = parsed && this.workspaces.get(parsed.team);
    if (!parsed || !ws) return "That is not a channel of a Slack workspace this bridge is connected to.";
    const info = ws.channels.get(parsed.channel) ?? (await ws.channel(parsed.channel));
    if (!info) return "Slack has no such channel, or the bridge's app was not added to it.";
    if (info.isPrivate) {
      const slack = login as SlackLogin | undefined;
      if (!slack || slack.workspace !== ws || !(await slack.isMember(parsed.channel)))
        return "That channel is private: log in to Slack with an account that is in it first.";
    }
    return true;
  }

  async handleMatrixMessage(msg: MatrixMessage): Promise<SendResult> {
    return decided(this.outbound.message(msg));
  }

  async handleMatrixEdit(edit: {
    chat: ChatRef;
    remoteId: string;
    sender: MatrixSender;
    content: BridgeContent;
  }): Promise<void> {
    await decided(this.outbound.edit(edit.chat, edit.remoteId, edit.sender, edit.content));
  }

  async handleMatrixRedaction(r: { chat: ChatRef; remoteId: string; sender: MatrixSender }): Promise<void> {
    await decided(this.outbound.delete(r.chat, r.remoteId, r.sender));
  }

  async handleMatrixReaction(r: {
    chat: ChatRef;
    remoteId: string;
    key: string;
    sender: MatrixSender;
  }): Promise<SendResult> {
    await decided(this.outbound.react(r.chat, r.remoteId, r.key, r.sender, true));
    return {};
  }

  async handleMatrixReactionRemove(r: {
    chat: ChatRef;
    remoteId: string;
    key: string;
    sender: MatrixSender;
  }): Promise<void> {
    await decided(this.outbound.react(r.chat, r.remoteId, r.key, r.sender, false));
  }

  async markRead(chat: ChatRef, login: RemoteLogin, remoteId: string): Promise<void> {
    const { ws, channel } = this.outbound.target(chat);
    const slack = login as SlackLogin;
    if (slack.workspace !== ws) return;
    await slack.web.conversations.mark({ channel, ts: remoteId.split(":")[0]! });
  }

  createLogin(flowId: string, matrixUserId: string): LoginProcess {
    if (flowId === "oauth" && this.oauth?.apps.length) return oauthLogin(this.oauth.apps, matrixUserId);
    return tokenLogin(() => [...this.workspaces.values()]);
  }

  async loadLogin(stored: {
    loginId: string;
    matrixUserId: string;
    credentials: unknown;
  }): Promise<RemoteLogin> {
    const parsed = ids.parseUserId(stored.loginId);
    const ws = parsed && this.workspaces.get(parsed.team);
    if (!parsed || !ws) throw new Error("the Slack workspace of this login is no longer bridged");
    const { token } = stored.credentials as { token: string };
    const login = new SlackLogin(
      stored.loginId,
      stored.matrixUserId,
      parsed.user,
      parsed.user,
      ws,
      token,
      (l) => this.logins.delete(l.loginId),
    );
    const auth = await ws.client(token, QUICK_RETRY).auth.test();
    if (auth.user_id !== parsed.user) throw new Error("this token belongs to another Slack user");
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
          (chat) => chat.receiver === login.matrixUserId,
        ),
      )
      .then((n) => {
        if (n > 0) this.ctx.log.info({ login: login.loginId, messages: n }, "caught up on Slack DMs");
      })
      .catch((err: unknown) => this.ctx.log.warn({ err: String(err) }, "could not catch up Slack DMs"));
    return login;
  }
}
