import { setMaxListeners } from "node:events";
import type { Logger } from "pino";
import type { Config } from "../config/schema.js";
import type { Connector } from "../connector.js";
import type { CredentialBox } from "../credentials.js";
import type { MatrixClient } from "../matrix/client.js";
import { Intent, IntentCaches } from "../matrix/intent.js";
import type { BridgeMetrics } from "../metrics.js";
import type { ConnectionStates } from "./connection-states.js";
import type { Permissions } from "../permissions.js";
import type { KeyedQueue } from "../queue.js";
import type { RoomLink, Store } from "../store/types.js";
import { MessageWrites } from "./message-writes.js";

/** One enabled bridge: its connector and the namespace it owns. */
export interface NetworkSlot {
  connector: Connector;
  userPrefix: string;
  aliasPrefix: string;
  section: Config["bridges"][string];
}

/**
 * What every step of the pipeline shares. Built once by Bridge; passed, not imported, so
 * each step can be tested with its own.
 */
export class Services {
  readonly caches = new IntentCaches();
  readonly bot: Intent;
  private readonly lifecycle = new AbortController();
  /** Message mappings: written behind the room queues, read through every lookup of them. */
  readonly mappings: MessageWrites;
  /** Links by room id; links are few (thousands) and read on every event. */
  private readonly links = new Map<string, RoomLink | null>();
  private readonly chatLinks = new Map<string, RoomLink[]>();

  constructor(
    readonly config: Config,
    readonly store: Store,
    readonly client: MatrixClient,
    readonly networks: Map<string, NetworkSlot>,
    readonly permissions: Permissions,
    readonly box: CredentialBox,
    readonly metrics: BridgeMetrics,
    readonly log: Logger,
    /** Serial per Matrix room: remote order is kept on the way in. */
    readonly roomQueue: KeyedQueue,
    /** A client per double-puppet server (as_token of a double-puppet appservice). */
    readonly doublePuppets: Map<string, MatrixClient>,
    /** Every network connection's and login's state (status, /health, gauges). */
    readonly states: ConnectionStates,
  ) {
    this.bot = new Intent(this.botUserId, client, this.caches, null);
    this.mappings = new MessageWrites(store, log, this.lifecycle.signal, roomQueue);
    // Every waiting retry listens on this one signal; thousands at once are expected in an outage.
    setMaxListeners(0, this.lifecycle.signal);
  }

  /** Aborted when the bridge starts stopping: retry waits end and their events stay journaled. */
  get stopping(): AbortSignal {
    return this.lifecycle.signal;
  }

  beginStop(): void {
    this.lifecycle.abort();
  }

  get domain(): string {
    return this.config.homeserver.domain;
  }

  get botUserId(): string {
    return `@${this.config.appservice.bot.localpart}:${this.config.homeserver.domain}`;
  }

  intent(userId: string): Intent {
    return userId === this.botUserId ? this.bot : new Intent(userId, this.client, this.caches, this.bot);
  }

  /** An intent for a real Matrix user through double puppeting, or null when not configured. */
  doublePuppet(userId: string): Intent | null {
    const server = userId.slice(userId.indexOf(":") + 1);
    const client = this.doublePuppets.get(server) ?? this.doublePuppets.get("*");
    if (!client) return null;
    return new Intent(userId, client, this.caches, null);
  }

  async link(roomId: string): Promise<RoomLink | null> {
    if (this.links.has(roomId)) return this.links.get(roomId) ?? null;
    const link = await this.store.linkByRoom(roomId);
    this.links.set(roomId, link);
    return link;
  }

  async saveLink(link: RoomLink): Promise<void> {
    await this.store.linkPut(link);
    this.links.set(link.roomId, link);
    this.chatLinks.clear();
  }

  async deleteLink(roomId: string): Promise<void> {
    await this.store.linkDelete(roomId);
    this.links.delete(roomId);
    this.chatLinks.clear();
  }

  /** Links of a remote chat, read on every remote event: cached until any link changes. */
  async linksForChat(network: string, channelId: string, receiver: string): Promise<RoomLink[]> {
    const key = `${network}\0${channelId}\0${receiver}`;
    const cached = this.chatLinks.get(key);
    if (cached) return cached;
    const links = await this.store.linksByChannel(network, channelId, receiver);
    if (this.chatLinks.size > 50_000) this.chatLinks.clear();
    this.chatLinks.set(key, links);
    return links;
  }

  /** The network whose ghost namespace holds this user id, if any. */
  networkOfGhost(userId: string): NetworkSlot | null {
    if (!userId.endsWith(`:${this.domain}`)) return null;
    for (const slot of this.networks.values()) if (userId.startsWith(`@${slot.userPrefix}`)) return slot;
    return null;
  }

  isOurs(userId: string): boolean {
    return userId === this.botUserId || this.networkOfGhost(userId) !== null;
  }
}
