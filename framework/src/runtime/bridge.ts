import { mkdir } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import type { Config } from "../config/schema.js";
import type { BridgeContext, Connector } from "../connector.js";
import { CredentialBox } from "../credentials.js";
import { pill } from "../format/index.js";
import { AppserviceServer } from "../matrix/appservice.js";
import { MediaLinks } from "./media-links.js";
import { MatrixClient, MatrixError } from "../matrix/client.js";
import { BridgeMetrics } from "../metrics.js";
import { Permissions } from "../permissions.js";
import { KeyedQueue } from "../queue.js";
import type { Store } from "../store/types.js";
import { SNAPSHOT_PATH, serveSnapshot } from "../store/snapshot-http.js";
import { Authenticator } from "../provisioning/auth.js";
import { ProvisioningApi } from "../provisioning/api.js";
import { ProvisioningServer } from "../provisioning/server.js";
import { Activity } from "../console/activity.js";
import { applyReload, describeReload, planReload } from "./reload.js";
import { AdminConsole } from "../console/console.js";
import { backup } from "../backup.js";
import { ActivationGuard } from "../guards/activation.js";
import { EchoGuard } from "../guards/double-bridge.js";
import { PolicyRooms } from "../guards/policy-rooms.js";
import { Bot } from "./bot.js";
import { Receipts } from "./receipts.js";
import { Ghosts } from "./ghosts.js";
import { Clients } from "./clients.js";
import { Logins } from "./logins.js";
import { sealedLoginState } from "./login-state.js";
import { migrateStore } from "../store/migrate.js";
import { JOURNAL_MEMORY_MS, MatrixIn } from "./matrix-in.js";
import { Portals } from "./portals.js";
import { RemoteIn } from "./remote-in.js";
import { HistoryImports } from "./history-import.js";
import { ConnectionStates } from "./connection-states.js";
import { healthLines, healthReport, type HealthReport } from "./health.js";
import { Services, type NetworkSlot } from "./services.js";

export interface BridgeOptions {
  config: Config;
  /** Tokens from the registration file the homeserver loaded. */
  registration: { id: string; asToken: string; hsToken: string };
  store: Store;
  /** The enabled networks' connectors (others may be passed; they are left alone). */
  connectors: Connector[];
  /** Loads a network's connector on demand: a store migration may need a disabled network's. */
  loadConnector?: (network: string) => Promise<Connector | undefined>;
  log: Logger;
  /** Secret for credentials at rest. */
  encryptionKey: string | Buffer;
  /** The config file it was started with: the console's backups need it (none when embedded). */
  configPath?: string;
  /** Reads the config file again (SIGHUP, the console's reload button). */
  readConfig?: () => Promise<Config>;
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
  private readonly imports: HistoryImports;
  private readonly logins: Logins;
  private readonly bot: Bot;
  private readonly portals: Portals;
  private readonly guard: ActivationGuard;
  private readonly receipts: Receipts;
  private readonly mediaLinks: MediaLinks;
  private readonly echo: EchoGuard;
  private readonly policies: PolicyRooms;
  private metricsServer: Server | null = null;
  private provisioning: { server: ProvisioningServer; api: ProvisioningApi; activity: Activity } | null =
    null;
  private maintenance: NodeJS.Timeout | null = null;
  private started = false;
  private lastPing: string | undefined;
  /** The port the appservice listens on (useful when the config says 0). */
  port = 0;
  metricsPort = 0;
  provisioningPort = 0;

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
    const states = new ConnectionStates(this.metrics, (entry) => {
      void this.logins
        .onState(entry.network, entry.loginId, entry.state, entry.message)
        .catch((err: unknown) => log.warn({ err: String(err) }, "could not act on a login's state"));
    });
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
      states,
    );
    this.metrics.homeserverUp.set(1);
    client.reachability.onChange = (up, reason) => {
      this.metrics.homeserverUp.set(up ? 1 : 0);
      if (up) log.info(`the homeserver answers again (${reason}); delivering what waited`);
      else
        log.warn(
          `the homeserver ${config.homeserver.url} is unreachable (${reason}): events wait in the journal and are delivered when it is back`,
        );
    };
    const ghosts = new Ghosts(this.services);
    const notifyAdmins = (text: string) => this.bot.notifyAdmins(text);
    this.logins = new Logins(this.services);
    const clients = new Clients(this.services, this.logins);
    this.guard = new ActivationGuard(this.services, ghosts, clients, notifyAdmins);
    const echo = new EchoGuard(config.guards.echo_window_seconds * 1000, config.guards.echo_threshold);
    this.echo = echo;
    this.portals = new Portals(this.services, ghosts, this.guard, clients, this.logins);
    this.receipts = new Receipts(this.services, clients);
    this.policies = new PolicyRooms(this.services, this.logins, notifyAdmins);
    this.bot = new Bot(
      this.services,
      this.portals,
      this.logins,
      this.guard,
      echo,
      () => this.health(),
      this.policies,
    );
    this.mediaLinks = new MediaLinks(this.services);
    this.matrixIn = new MatrixIn(
      this.services,
      ghosts,
      clients,
      this.bot,
      this.receipts,
      echo,
      this.mediaLinks,
      this.policies,
    );
    this.remoteIn = new RemoteIn(
      this.services,
      ghosts,
      this.portals,
      this.logins,
      clients,
      this.guard,
      echo,
      notifyAdmins,
      this.policies,
    );
    this.imports = new HistoryImports(this.services, clients, this.remoteIn);
    this.bot.imports = this.imports;
    this.portals.onCreated = async (slot, link) => {
      const span = this.imports.spanForNewPortal(slot);
      if (span) await this.imports.begin(slot, link, span, true);
    };
    this.appservice = new AppserviceServer(
      opts.registration.hsToken,
      {
        onTransaction: (txnId, txn) => this.matrixIn.accept(txnId, txn),
        onUserQuery: (userId) => this.onUserQuery(userId, ghosts),
        onAliasQuery: (alias) => this.portals.onAliasQuery(alias),
        onPing: (id) => {
          this.lastPing = id;
        },
        onHealth: (detailed) => this.healthReport(detailed),
        onOther: async (req, res) => {
          if (req.url === SNAPSHOT_PATH && req.method === "GET") {
            await this.serveStoreSnapshot(req, res);
            return true;
          }
          return config.media.port === undefined ? this.mediaLinks.serve(req, res) : false;
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
    const connectors = new Map(this.opts.connectors.map((c) => [c.id, c]));
    await migrateStore(this.opts.store, {
      log: this.log,
      connectors,
      loadConnector: this.opts.loadConnector,
    });
    if (s.networks.size === 0) {
      this.log.warn(
        "no bridge is enabled: set bridges.<name>.enabled in the config (only the bot runs until then)",
      );
    }
    this.port = await this.appservice.listen(config.appservice.port, config.appservice.bind);
    this.log.info({ port: this.port, bind: config.appservice.bind }, "appservice listening");
    const mediaPort = await this.mediaLinks.listen();
    if (mediaPort !== null) this.log.info({ port: mediaPort }, "media links listening");
    if (!config.media.public_url)
      this.log.warn(
        `media.public_url is not set: links to Matrix files (IRC) point at ${this.mediaLinks.baseUrl}, which people outside this network may not reach`,
      );
    if (config.homeserver.media_url)
      this.log.warn(
        "homeserver.media_url is no longer used: homeservers want a token for media now, so links go through the bridge (media.public_url)",
      );
    await this.waitForHomeserver();
    await this.checkHomeserver();
    await s.bot.setDisplayname(config.appservice.bot.displayname).catch((err: unknown) => {
      this.log.warn({ err: String(err) }, "could not set the bot's display name");
    });
    // Before any event is bridged: the rules in force filter the journal's replay too.
    await this.policies.start();
    await Promise.all([...s.networks.values()].map((slot) => this.startNetwork(slot)));
    await this.logins.loadAll();
    await this.policies.applyToConnections();
    const imports = await this.imports.resume();
    const replayedMatrix = await this.matrixIn.replay();
    const replayedRemote = await this.remoteIn.replay();
    imports.go();
    await this.guard.resume();
    if (replayedMatrix + replayedRemote > 0) {
      this.log.info({ replayedMatrix, replayedRemote }, "resuming work journaled before the last stop");
    }
    for (const slot of s.networks.values()) {
      s.metrics.ghosts.set(
        { network: slot.connector.id },
        await this.opts.store.ghostCount(slot.connector.id),
      );
    }
    if (config.metrics.enabled) await this.startMetrics();
    if (config.provisioning.enabled) await this.startProvisioning();
    await this.prune();
    let ticks = 0;
    this.maintenance = setInterval(() => {
      void this.matrixIn.retryParked().catch((err: unknown) => {
        this.log.warn({ err: String(err) }, "could not retry parked Matrix events; will try again");
      });
      void this.policies.retryFailed().catch((err: unknown) => {
        this.log.warn({ err: String(err) }, "could not retry the policy rooms; will try again");
      });
      if (++ticks % 10 === 0) void this.prune();
    }, 60_000);
    this.maintenance.unref();
    this.started = true;
    this.log.info({ networks: [...s.networks.keys()] }, "Switchboard is running");
  }

  /**
   * Starts one network, concurrently with the others. Start waits for it at most
   * `startup.network_timeout_seconds`; a network still connecting then goes on in the
   * background, and one whose start fails is reported (status, /health) while the others run.
   */
  private async startNetwork(slot: NetworkSlot): Promise<void> {
    const network = slot.connector.id;
    const states = this.services.states;
    states.reportStart(network, "CONNECTING");
    const starting = slot.connector.start(this.contextFor(slot)).then(
      () => {
        states.reportStart(network, "CONNECTED");
        this.log.info({ network }, "bridge started");
      },
      (err: unknown) => {
        states.reportStart(network, "UNKNOWN_ERROR", `could not start: ${String(err)}`);
        this.log.error(
          { err, network },
          `the ${slot.connector.displayName} bridge could not start; the others run`,
        );
      },
    );
    const seconds = this.opts.config.startup.network_timeout_seconds;
    const inTime = await Promise.race([
      starting.then(() => true),
      sleep(seconds * 1000, false, { ref: false }),
    ]);
    if (!inTime) {
      this.log.warn(
        { network, timeoutSeconds: seconds },
        `the ${slot.connector.displayName} bridge is slow to start; going on without waiting (it keeps connecting)`,
      );
    }
  }

  /** Drains queued work, then stops everything. */
  async stop(): Promise<void> {
    this.started = false;
    // Retries and outage waits end now; what they held stays journaled for the next start.
    this.services.beginStop();
    if (this.maintenance) clearInterval(this.maintenance);
    await this.appservice.close();
    await this.provisioning?.server.close();
    this.provisioning?.api.stop();
    this.provisioning?.activity.stop();
    await this.mediaLinks.close();
    this.guard.stop();
    this.receipts.stop();
    await this.services.roomQueue.drain();
    for (const slot of this.services.networks.values()) {
      await slot.connector.stop().catch((err: unknown) => this.log.warn({ err }, "connector stop failed"));
    }
    await this.logins.disconnectAll();
    this.remoteIn.close();
    await this.services.roomQueue.drain();
    await this.matrixIn.drain();
    await this.services.mappings.drain();
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
      kvDelete: (key) => s.store.kvDelete(`connector:${network}`, key),
      kvList: (prefix) => s.store.kvList(`connector:${network}`, prefix),
      loginState: (loginId) => sealedLoginState(s.store, s.box, network, loginId),
      updateCredentials: (loginId, credentials) =>
        this.logins.updateCredentials(network, loginId, credentials),
      mentionHtml: (remoteUserId, displayname) => pill(ghosts.userId(network, remoteUserId), displayname),
      loginFailed: (loginId, reason, options) =>
        this.logins.failed(network, loginId, reason, options?.loggedOut),
      notifyUser: (userId, text) => this.bot.notifyUser(userId, text),
      uploadMedia: async (data, mimetype, name, options) => {
        const mxc = await s.bot.upload(data, mimetype, name);
        const link = await this.mediaLinks.create(mxc, { name, mimetype, eventId: options?.forEvent });
        return { mxc, link };
      },
      openDm: (loginId, remoteUserId) => this.portals.openDm(network, loginId, remoteUserId),
      linkedChats: async () =>
        (await s.store.linkList({ network, state: "active" })).map((l) =>
          l.receiver ? { channelId: l.channelId, receiver: l.receiver } : { channelId: l.channelId },
        ),
      reportState: (report) => s.states.report(network, report),
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
          bypassGate: true,
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
    await this.pingSelf();
  }

  /**
   * Asks the homeserver to call us (the spec's appservice ping, Matrix 1.7): a wrong `url` in the
   * registration or a firewall otherwise shows only as transactions that never come. Each
   * answer the spec defines gets its remedy; a homeserver without the endpoint is told apart.
   */
  private async pingSelf(): Promise<void> {
    const pingId = `start-${Date.now()}`;
    const { bind } = this.opts.config.appservice;
    const here = `${bind}:${this.port}`;
    try {
      const res = await this.services.client.request<{ duration_ms?: number }>(
        "POST",
        `/_matrix/client/v1/appservice/${encodeURIComponent(this.opts.registration.id)}/ping`,
        // Its 502/504 answers are about us, not the homeserver: no outage gate.
        { body: { transaction_id: pingId }, attempts: 1, bypassGate: true, timeoutMs: 45_000 },
      );
      if (this.lastPing !== pingId) this.log.warn("the homeserver's ping did not carry our transaction id");
      else this.log.info({ durationMs: res.duration_ms }, "the homeserver reaches this appservice");
      return;
    } catch (err) {
      if (!(err instanceof MatrixError)) {
        this.log.warn(`could not ask the homeserver to ping this appservice: ${String(err)}`);
        return;
      }
      const remedies: Record<string, string> = {
        M_UNRECOGNIZED: "",
        M_URL_NOT_SET:
          "the registration the homeserver loaded has no url: set appservice.url (or the registration's url) to where the homeserver can reach this bridge, re-run `switchboard registration` and restart the homeserver",
        M_FORBIDDEN:
          "the homeserver says our as_token belongs to another appservice id: the registration's id must match appservice.id; re-run `switchboard registration` and restart the homeserver",
        M_CONNECTION_FAILED: `the homeserver cannot connect to this appservice: check the registration's url (it must reach ${here} from the homeserver: not 127.0.0.1 if the homeserver runs in a container or on another host) and any firewall between them`,
        M_CONNECTION_TIMEOUT: `the homeserver's connection to this appservice timed out: check the registration's url points at ${here} and that no firewall drops the traffic`,
        M_BAD_STATUS:
          "the homeserver reached an HTTP server at the registration's url, but it answered with an error: is the url pointing at this bridge (and its hs_token the one in registration.yaml)?",
      };
      const remedy = remedies[err.errcode];
      if (remedy === "" || err.status === 404 || err.status === 405) {
        this.log.info(
          "the homeserver does not support the appservice ping (Matrix 1.7); skipping that check",
        );
      } else {
        this.log.error(`${remedy ?? "the appservice ping failed"} (${err.message})`);
      }
    }
  }

  /** Drops finished journal entries and message mappings past their retention. */
  private async prune(): Promise<void> {
    const store = this.opts.store;
    try {
      const journal = await store.journalPrune(Date.now() - JOURNAL_MEMORY_MS);
      const days = this.opts.config.store.message_retention_days;
      const messages = days > 0 ? await store.messagePrune(Date.now() - days * 86_400_000) : 0;
      const mediaLinks = await this.mediaLinks.prune();
      if (journal + messages + mediaLinks > 0)
        this.log.debug({ journal, messages, mediaLinks }, "pruned the store");
    } catch (err) {
      this.log.warn({ err: String(err) }, "store pruning failed; will retry");
    }
  }

  /**
   * `switchboard backup` of a running bridge: a NeDB store's files belong to this process, so
   * the snapshot is taken here (writes held for its instant) and streamed. Only the homeserver's
   * token may read it: it holds every link, login and sealed credential.
   */
  private async serveStoreSnapshot(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!this.appservice.isHomeserver(req)) {
      res.writeHead(403, { "content-type": "application/json" });
      res.end(JSON.stringify({ errcode: "M_FORBIDDEN", error: "the snapshot needs the hs_token" }));
      return;
    }
    try {
      await serveSnapshot(this.opts.store, res);
      this.log.info("store snapshot served (switchboard backup)");
    } catch (err) {
      this.log.error({ err: String(err) }, "store snapshot failed");
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    }
  }

  /**
   * Applies a config read again: permissions, admins, guards and moderation at once; what only a
   * restart applies is named. Returns the line that was logged.
   */
  reload(next: Config): string {
    const config = this.opts.config;
    const plan = planReload(config, next);
    applyReload(config, next, plan);
    this.services.permissions.replace(config.permissions, config.admins);
    this.echo.configure(config.guards.echo_window_seconds * 1000, config.guards.echo_threshold);
    if (plan.applied.includes("moderation"))
      void this.policies.reconfigure().catch((err: unknown) => {
        this.log.warn({ err: String(err) }, "could not follow the reloaded policy rooms");
      });
    const line = describeReload(plan);
    if (plan.needsRestart.length > 0) this.log.warn({ ...plan }, line);
    else this.log.info({ ...plan }, line);
    return line;
  }

  /** Reads the config file and reloads it; a config that does not load changes nothing. */
  async reloadFromFile(): Promise<string> {
    if (!this.opts.readConfig) return "This bridge was not started from a config file.";
    let next: Config;
    try {
      next = await this.opts.readConfig();
    } catch (err) {
      const line = `The config did not load, so nothing changed: ${err instanceof Error ? err.message : String(err)}`;
      this.log.error(line);
      return line;
    }
    return this.reload(next);
  }

  /** `/health` (both ports): 200 when everything is up, 503 naming what is not. */
  async healthReport(detailed: boolean): Promise<{ status: number; body: HealthReport }> {
    const body = await healthReport(this.services, this.started, this.remoteIn.pending, detailed);
    return { status: body.ok ? 200 : 503, body };
  }

  /** Lines for the bot's `ping` command. */
  async health(): Promise<string[]> {
    return healthLines(await healthReport(this.services, this.started, this.remoteIn.pending, false));
  }

  /** The provisioning API (and the admin console) on a listener of their own. */
  private async startProvisioning(): Promise<void> {
    const { config } = this.opts;
    const section = config.provisioning;
    const auth = new Authenticator({
      homeserverUrl: config.homeserver.url,
      sharedSecret: section.shared_secret,
      cacheSeconds: section.token_cache_seconds,
    });
    const api = new ProvisioningApi(
      {
        services: this.services,
        logins: this.logins,
        portals: this.portals,
        guard: this.guard,
        health: () => this.healthReport(true),
      },
      auth,
    );
    const activity = new Activity(this.metrics);
    const configPath = this.opts.configPath;
    const adminConsole = new AdminConsole(
      {
        services: this.services,
        logins: this.logins,
        portals: this.portals,
        guard: this.guard,
        health: () => this.healthReport(true),
        activity,
        homeserverUrl: config.homeserver.url,
        backups: configPath ? this.consoleBackups(configPath) : undefined,
        policy: () => this.policies.view(),
        reload: this.opts.readConfig ? () => this.reloadFromFile() : undefined,
      },
      auth,
    );
    const server = new ProvisioningServer(
      [(req, res) => api.serve(req, res), (req, res) => adminConsole.serve(req, res)],
      this.log,
    );
    await server.listen(section.bind, section.port);
    activity.start();
    this.provisioningPort = server.port;
    this.provisioning = { server, api, activity };
    this.log.info({ bind: section.bind, port: server.port }, "provisioning API listening");
  }

  /** The console's "take a backup": `switchboard backup` into provisioning.backup_dir. */
  private consoleBackups(configPath: string): { dir: string; take(): Promise<string> } {
    const dir = resolve(dirname(resolve(configPath)), this.opts.config.provisioning.backup_dir);
    return {
      dir,
      take: async () => {
        await mkdir(dir, { recursive: true, mode: 0o700 });
        const name = `switchboard-${new Date().toISOString().replace(/[:.]/g, "-")}.sbk`;
        const lines: string[] = [];
        await backup({
          configPath,
          config: this.opts.config,
          output: join(dir, name),
          withoutKey: false,
          log: this.log,
          out: { info: (l) => lines.push(l), warn: (l) => this.log.warn(l) },
        });
        this.log.info({ file: join(dir, name) }, "backup taken from the admin console");
        return name;
      },
    };
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
        void this.healthReport(this.appservice.isHomeserver(req))
          .then(({ status, body }) => {
            res.writeHead(status, { "content-type": "application/json" });
            res.end(JSON.stringify(body));
          })
          .catch(() => res.writeHead(500).end());
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
