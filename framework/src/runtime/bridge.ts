import { createServer, type Server } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import type { Config } from "../config/schema.js";
import type { BridgeContext, Connector } from "../connector.js";
import { CredentialBox } from "../credentials.js";
import { pill } from "../format/index.js";
import { AppserviceServer } from "../matrix/appservice.js";
import { MatrixClient, MatrixError } from "../matrix/client.js";
import { BridgeMetrics } from "../metrics.js";
import { Permissions } from "../permissions.js";
import { KeyedQueue } from "../queue.js";
import type { Store } from "../store/types.js";
import { ActivationGuard } from "../guards/activation.js";
import { EchoGuard } from "../guards/double-bridge.js";
import { Bot } from "./bot.js";
import { Receipts } from "./receipts.js";
import { Ghosts } from "./ghosts.js";
import { Logins } from "./logins.js";
import { MatrixIn } from "./matrix-in.js";
import { Portals } from "./portals.js";
import { RemoteIn } from "./remote-in.js";
import { Services, type NetworkSlot } from "./services.js";

export interface BridgeOptions {
  config: Config;
  /** Tokens from the registration file the homeserver loaded. */
  registration: { id: string; asToken: string; hsToken: string };
  store: Store;
  connectors: Connector[];
  log: Logger;
  /** Secret for credentials at rest. */
  encryptionKey: string | Buffer;
  /** Stop retrying the homeserver at start after this long (default: forever). */
  homeserverWaitMs?: number;
}

/** The running bridge: one appservice, every enabled connector, one store. */
export class Bridge {
  readonly services: Services;
  readonly metrics: BridgeMetrics;
  private readonly appservice: AppserviceServer;
  private readonly matrixIn: MatrixIn;
  private readonly remoteIn: RemoteIn;
  private readonly logins: Logins;
  private readonly bot: Bot;
  private readonly portals: Portals;
  private readonly guard: ActivationGuard;
  private readonly receipts: Receipts;
  private metricsServer: Server | null = null;
  private maintenance: NodeJS.Timeout | null = null;
  private started = false;
  private lastPing: string | undefined;
  /** The port the appservice listens on (useful when the config says 0). */
  port = 0;
  metricsPort = 0;

  constructor(private readonly opts: BridgeOptions) {
    const { config, log } = opts;
    this.metrics = new BridgeMetrics();
    const client = new MatrixClient({
      homeserverUrl: config.homeserver.url,
      asToken: opts.registration.asToken,
      log,
    });
    const networks = new Map<string, NetworkSlot>();
    for (const connector of opts.connectors) {
      const section = config.bridges[connector.id];
      if (!section?.enabled) continue;
      networks.set(connector.id, {
        connector,
        section,
        userPrefix: section.user_prefix ?? `${connector.id}_`,
        aliasPrefix: section.alias_prefix ?? `${connector.id}_`,
      });
    }
    const doublePuppets = new Map<string, MatrixClient>();
    for (const [server, secret] of Object.entries(config.double_puppet.secrets)) {
      // "as_token:<token>": a second appservice whose namespace covers real users lets us act as them.
      if (secret.startsWith("as_token:")) {
        doublePuppets.set(
          server,
          new MatrixClient({ homeserverUrl: config.homeserver.url, asToken: secret.slice(9), log }),
        );
      } else {
        log.warn({ server }, "double_puppet secret must look like 'as_token:<token>'; ignoring it");
      }
    }
    this.services = new Services(
      config,
      opts.store,
      client,
      networks,
      new Permissions(config.permissions, config.admins),
      new CredentialBox(opts.encryptionKey),
      this.metrics,
      log,
      new KeyedQueue(),
      doublePuppets,
    );
    const ghosts = new Ghosts(this.services);
    const notifyAdmins = (text: string) => this.bot.notifyAdmins(text);
    this.guard = new ActivationGuard(this.services, ghosts, notifyAdmins);
    const echo = new EchoGuard(config.guards.echo_window_seconds * 1000, config.guards.echo_threshold);
    this.portals = new Portals(this.services, ghosts, this.guard);
    this.logins = new Logins(this.services);
    this.receipts = new Receipts(this.services, this.logins);
    this.bot = new Bot(this.services, this.portals, this.logins, this.guard, echo, () => this.health());
    this.matrixIn = new MatrixIn(this.services, ghosts, this.logins, this.bot, this.receipts, echo);
    this.remoteIn = new RemoteIn(this.services, ghosts, this.portals, echo, notifyAdmins);
    this.appservice = new AppserviceServer(
      opts.registration.hsToken,
      {
        onTransaction: (txnId, txn) => this.matrixIn.accept(txnId, txn),
        onUserQuery: (userId) => this.onUserQuery(userId, ghosts),
        onAliasQuery: (alias) => this.portals.onAliasQuery(alias),
        onPing: (id) => {
          this.lastPing = id;
        },
        onOtherGet: (path, res) => {
          if (path !== "/health") return false;
          res.writeHead(this.started ? 200 : 503, { "content-type": "application/json" });
          res.end(JSON.stringify({ ok: this.started }));
          return true;
        },
      },
      log.child({ component: "appservice" }),
    );
  }

  /** A ghost exists when its remote user does: register it with their profile. */
  private async onUserQuery(userId: string, ghosts: Ghosts): Promise<boolean> {
    const target = ghosts.remoteIdOf(userId);
    if (!target) return false;
    const slot = this.services.networks.get(target.network);
    const user = await slot?.connector.getUser(target.remoteId).catch(() => null);
    if (!user) return false;
    await ghosts.ensure(target.network, user);
    return true;
  }

  get log(): Logger {
    return this.opts.log;
  }

  async start(): Promise<void> {
    const { config } = this.opts;
    const s = this.services;
    await this.opts.store.open();
    if (s.networks.size === 0) {
      this.log.warn(
        "no bridge is enabled: set bridges.<name>.enabled in the config (only the bot runs until then)",
      );
    }
    this.port = await this.appservice.listen(config.appservice.port, config.appservice.bind);
    this.log.info({ port: this.port, bind: config.appservice.bind }, "appservice listening");
    await this.waitForHomeserver();
    await this.checkHomeserver();
    await s.bot.setDisplayname(config.appservice.bot.displayname).catch((err: unknown) => {
      this.log.warn({ err: String(err) }, "could not set the bot's display name");
    });
    for (const slot of s.networks.values()) {
      await slot.connector.start(this.contextFor(slot));
      this.log.info({ network: slot.connector.id }, "bridge started");
    }
    await this.logins.loadAll();
    const replayedMatrix = await this.matrixIn.replay();
    const replayedRemote = await this.remoteIn.replay();
    await this.guard.resume();
    if (replayedMatrix + replayedRemote > 0) {
      this.log.info({ replayedMatrix, replayedRemote }, "finished work interrupted by the last stop");
    }
    for (const slot of s.networks.values()) {
      s.metrics.ghosts.set(
        { network: slot.connector.id },
        await this.opts.store.ghostCount(slot.connector.id),
      );
    }
    if (config.metrics.enabled) await this.startMetrics();
    await this.prune();
    this.maintenance = setInterval(() => void this.prune(), 10 * 60_000);
    this.maintenance.unref();
    this.started = true;
    this.log.info({ networks: [...s.networks.keys()] }, "Switchboard is running");
  }

  /** Drains queued work, then stops everything. */
  async stop(): Promise<void> {
    this.started = false;
    if (this.maintenance) clearInterval(this.maintenance);
    await this.appservice.close();
    this.guard.stop();
    this.receipts.stop();
    await this.services.roomQueue.drain();
    for (const slot of this.services.networks.values()) {
      await slot.connector.stop().catch((err: unknown) => this.log.warn({ err }, "connector stop failed"));
    }
    await this.logins.disconnectAll();
    this.remoteIn.close();
    await this.services.roomQueue.drain();
    await new Promise<void>((resolve) =>
      this.metricsServer ? this.metricsServer.close(() => resolve()) : resolve(),
    );
    await this.services.client.close();
    await this.opts.store.close();
  }

  private contextFor(slot: NetworkSlot): BridgeContext {
    const network = slot.connector.id;
    const s = this.services;
    const ghosts = new Ghosts(s);
    return {
      network,
      config: slot.section as Record<string, unknown>,
      log: this.log.child({ network }),
      emit: (event, options) => this.remoteIn.emit(network, event, options),
      kvGet: (key) => s.store.kvGet(`connector:${network}`, key),
      kvSet: (key, value) => s.store.kvSet(`connector:${network}`, key, value),
      mentionHtml: (remoteUserId, displayname) => pill(ghosts.userId(network, remoteUserId), displayname),
      loginFailed: (loginId, reason) => this.logins.failed(network, loginId, reason),
      notifyUser: (userId, text) => this.bot.notifyUser(userId, text),
      uploadMedia: async (data, mimetype, name) => {
        const mxc = await s.bot.upload(data, mimetype, name);
        return { mxc, httpUrl: this.matrixIn.mediaHttpUrl(mxc) ?? mxc };
      },
      openDm: (matrixUserId, remoteUserId) => this.portals.openDm(network, matrixUserId, remoteUserId),
      linkedChats: async () =>
        (await s.store.linkList({ network, state: "active" })).map((l) =>
          l.receiver ? { channelId: l.channelId, receiver: l.receiver } : { channelId: l.channelId },
        ),
      noticeInChat: async (chat, text) => {
        const links = await s.store.linksByChannel(network, chat.channelId, chat.receiver ?? "");
        for (const link of links) {
          await s.bot
            .sendEvent(link.roomId, "m.room.message", { msgtype: "m.notice", body: text })
            .catch(() => undefined);
        }
      },
    };
  }

  /** Retries /versions with one clear log line per attempt while the homeserver is down. */
  private async waitForHomeserver(): Promise<void> {
    const url = this.opts.config.homeserver.url;
    const deadline =
      this.opts.homeserverWaitMs === undefined ? Infinity : Date.now() + this.opts.homeserverWaitMs;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.services.client.request("GET", "/_matrix/client/versions", {
          attempts: 1,
          timeoutMs: 10_000,
        });
        return;
      } catch (err) {
        if (Date.now() > deadline)
          throw new Error(`the homeserver at ${url} is unreachable: ${String(err)}`, { cause: err });
        this.log.warn(
          `homeserver ${url} is not answering (${err instanceof MatrixError ? err.message : (err as Error).message}); retrying in ${this.opts.config.homeserver.retry_interval_ms} ms (attempt ${attempt})`,
        );
        await sleep(this.opts.config.homeserver.retry_interval_ms);
      }
    }
  }

  private async checkHomeserver(): Promise<void> {
    const s = this.services;
    try {
      const who = await s.client.request<{ user_id: string }>("GET", "/_matrix/client/v3/account/whoami", {
        asUser: s.botUserId,
        attempts: 2,
      });
      if (who.user_id !== s.botUserId) throw new Error(`whoami says ${who.user_id}, expected ${s.botUserId}`);
    } catch (err) {
      if (err instanceof MatrixError && (err.errcode === "M_UNKNOWN_TOKEN" || err.status === 401)) {
        throw new Error(
          "the homeserver rejected our as_token: is the registration file loaded in its app_service_config_files " +
            "(and was the homeserver restarted after the file changed)?",
          { cause: err },
        );
      }
      if (err instanceof MatrixError && err.errcode === "M_EXCLUSIVE") {
        throw new Error(
          `the bot user ${s.botUserId} is outside our registration's namespace: re-run \`switchboard registration\``,
          { cause: err },
        );
      }
      if (err instanceof MatrixError && err.errcode === "M_FORBIDDEN") {
        // The bot user is not registered yet; registration creates it.
        await s.bot.ensureRegistered();
      } else {
        throw err;
      }
    }
    const pingId = `start-${Date.now()}`;
    try {
      await s.client.request(
        "POST",
        `/_matrix/client/v1/appservice/${encodeURIComponent(this.opts.registration.id)}/ping`,
        {
          body: { transaction_id: pingId },
          attempts: 2,
        },
      );
      if (this.lastPing !== pingId) this.log.warn("the homeserver's ping did not carry our transaction id");
    } catch (err) {
      if (err instanceof MatrixError && err.errcode === "M_UNRECOGNIZED") {
        this.log.info("the homeserver does not support the appservice ping; skipping that check");
      } else {
        this.log.warn(
          `the homeserver cannot reach this appservice (${String(err)}): check the registration's url and that ${this.opts.config.appservice.bind}:${this.port} is reachable from the homeserver`,
        );
      }
    }
  }

  /** Drops finished journal entries and message mappings past their retention. */
  private async prune(): Promise<void> {
    const store = this.opts.store;
    try {
      const journal = await store.journalPrune(Date.now() - 60 * 60_000);
      const days = this.opts.config.store.message_retention_days;
      const messages = days > 0 ? await store.messagePrune(Date.now() - days * 86_400_000) : 0;
      if (journal + messages > 0) this.log.debug({ journal, messages }, "pruned the store");
    } catch (err) {
      this.log.warn({ err: String(err) }, "store pruning failed; will retry");
    }
  }

  /** Lines for the `ping` command and /health. */
  async health(): Promise<string[]> {
    const lines: string[] = [];
    const started = Date.now();
    try {
      await this.services.client.request("GET", "/_matrix/client/versions", { attempts: 1, timeoutMs: 5000 });
      lines.push(`Homeserver: OK (${Date.now() - started} ms)`);
    } catch (err) {
      lines.push(`Homeserver: unreachable (${String(err)})`);
    }
    for (const slot of this.services.networks.values()) lines.push(`${slot.connector.displayName}: running`);
    lines.push(`Queued rooms: ${this.services.roomQueue.depth}`);
    return lines;
  }

  private async startMetrics(): Promise<void> {
    const { bind, port } = this.opts.config.metrics;
    const server = createServer((req, res) => {
      if (req.url === "/metrics") {
        this.metrics.queueDepth.set({ direction: "all" }, this.services.roomQueue.depth);
        this.metrics.registry
          .metrics()
          .then((text) => {
            res.writeHead(200, { "content-type": this.metrics.registry.contentType });
            res.end(text);
          })
          .catch(() => res.writeHead(500).end());
        return;
      }
      if (req.url === "/health") {
        res.writeHead(this.started ? 200 : 503, { "content-type": "application/json" });
        res.end(JSON.stringify({ ok: this.started, queued: this.services.roomQueue.depth }));
        return;
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, bind, () => resolve());
    });
    const addr = server.address();
    this.metricsPort = typeof addr === "object" && addr ? addr.port : port;
    this.metricsServer = server;
  }
}
