import type {
  BotCommand,
  BridgeContext,
  ChatRef,
  Connector,
  HasCommands,
  HasImplicitLogins,
  LoginClient,
  RemoteUser,
  StartsDms,
  UpgradesDms,
} from "@switchboard/framework";
import { IrcClient } from "./bot-client.js";
import { ircCommands, nickKey } from "./commands.js";
import { IrcConfigSchema, type IrcConfig } from "./config.js";
import { isValidChannel, isValidNick } from "./format/index.js";
import * as ids from "./ids.js";
import { IrcNetwork, type NetworkStats } from "./network.js";
import { migratePasswords, storedPassword } from "./passwords.js";
import { PuppetClient } from "./puppet-client.js";

/**
 * The IRC bridge's connector: IRC networks behind the framework's contract. Network-wide
 * here: config, ids, aliases, DMs, commands. Matrix → IRC goes through a client: the bot
 * (`bot`, relaying) or a Matrix user's own connection on the network, an implicit login
 * ("libera/@alice:example.org") the framework asks for with `implicitLogin` when they speak.
 */
export class IrcConnector implements Connector, HasImplicitLogins, StartsDms, HasCommands, UpgradesDms {
  readonly id = "irc";
  readonly displayName = "IRC";
  readonly configSchema = IrcConfigSchema;
  readonly commands: BotCommand[];
  readonly bot: IrcClient;

  private ctx!: BridgeContext;
  private readonly networks = new Map<string, IrcNetwork>();
  /** Implicit logins handed out, by login id (the connection behind one comes and goes). */
  private readonly logins = new Map<string, PuppetClient>();

  constructor() {
    this.bot = new IrcClient(this.networks, () => this.ctx);
    this.commands = ircCommands(this.networks, () => this.ctx);
  }

  async start(ctx: BridgeContext): Promise<void> {
    this.ctx = ctx;
    const config = ctx.config as unknown as IrcConfig;
    // Before any puppet connects: its SASL password may still be in the old place.
    await migratePasswords(ctx);
    for (const [name, netConfig] of Object.entries(config.networks)) {
      const network = new IrcNetwork(name, netConfig, ctx, ctx.log.child({ ircNetwork: name }), {
        passwordFor: (user) => storedPassword(ctx, name, user),
        nickFor: (user) => ctx.kvGet<string>(nickKey(name, user)),
      });
      this.networks.set(name, network);
    }
    // Concurrently: an unreachable network must not hold up the others (each waits for its server).
    await Promise.all([...this.networks.values()].map((network) => network.start()));
  }

  async stop(): Promise<void> {
    for (const n of this.networks.values()) n.stop();
    this.networks.clear();
    this.logins.clear();
  }

  /** Per network: connections up and connection attempts so far (for benchmarks and operators). */
  stats(): NetworkStats[] {
    return [...this.networks.values()].map((n) => n.stats());
  }

  /**
   * The user's own connection on the chat's network, or null when the bot relays for them
   * there: excluded by `excluded_users`, at `max_clients`, or someone else's DM.
   */
  async implicitLogin(matrixUserId: string, chat: ChatRef): Promise<LoginClient | null> {
    const net = this.networks.get(ids.splitId(chat.channelId)?.network ?? "");
    if (!net || !net.puppets.mayHave(matrixUserId)) return null;
    if (chat.receiver && chat.receiver !== ids.loginId(net.name, matrixUserId)) return null;
    return this.loginOf(net, matrixUserId);
  }

  /** The user's implicit logins whose connection is up or coming up (for the bot's `status`). */
  implicitLoginsOf(matrixUserId: string): LoginClient[] {
    return [...this.networks.values()]
      .filter((net) => net.puppets.puppetOf(matrixUserId) !== undefined)
      .map((net) => this.loginOf(net, matrixUserId));
  }

  private loginOf(net: IrcNetwork, matrixUserId: string): PuppetClient {
    const id = ids.loginId(net.name, matrixUserId);
    let login = this.logins.get(id);
    if (!login) {
      login = new PuppetClient(net, matrixUserId, () => this.ctx);
      this.logins.set(id, login);
    }
    return login;
  }

  implicitLoginOwner(loginId: string): string | null {
    return ids.parseLoginId(loginId)?.matrixUserId ?? null;
  }

  /** Data from before contract v2 scoped IRC DMs by Matrix user: they belong to that user's implicit login. */
  upgradeDmReceiver(channelId: string, matrixUserId: string, _loginIds: string[]): string | null {
    const network = ids.splitId(channelId)?.network;
    return network ? ids.loginId(network, matrixUserId) : null;
  }

  ghostLocalpart(remoteUserId: string): string {
    return ids.ghostLocalpart(remoteUserId);
  }

  remoteIdFromLocalpart(localpart: string): string | null {
    return ids.remoteIdFromLocalpart(localpart);
  }

  /** "libera_#rust" (alias), "libera/#rust", "libera #rust", or "#rust" when there is one network. */
  chatFromAlias(suffix: string): ChatRef | null {
    const m = /^([a-z0-9]+)[_/ ]([#&+!].*)$/.exec(suffix);
    let network = m?.[1];
    let channel = m?.[2];
    if (!m && /^[#&+!]/.test(suffix) && this.networks.size === 1) {
      network = [...this.networks.keys()][0];
      channel = suffix;
    }
    if (!network || !channel || !isValidChannel(channel)) return null;
    const net = this.networks.get(network);
    if (!net) return null;
    return { channelId: ids.channelId(network, net.lower(channel)) };
  }

  aliasFor(chat: ChatRef): string | null {
    if (chat.receiver) return null;
    const parts = ids.splitId(chat.channelId);
    return parts ? `${parts.network}_${parts.name}` : null;
  }

  /** A DM on IRC is the user's puppet talking to a nick: keyed by the nick, owned by their implicit login. */
  dmChat(remoteUserId: string, matrixUserId: string): ChatRef | null {
    const parts = ids.splitId(remoteUserId);
    if (!parts || !this.networks.has(parts.network) || !isValidNick(parts.name)) return null;
    return { channelId: remoteUserId, receiver: ids.loginId(parts.network, matrixUserId) };
  }

  async getUser(remoteUserId: string): Promise<RemoteUser | null> {
    const parts = ids.splitId(remoteUserId);
    if (!parts || !this.networks.has(parts.network) || !isValidNick(parts.name)) return null;
    return { id: remoteUserId, displayname: parts.name };
  }
}
