import { splitCommand } from "../commands.js";
import type { BotCommand, LoginClient } from "../connector.js";
import { supportsCommands, supportsImplicitLogins, supportsLogins } from "../connector.js";
import { RELAY_META, chatOf } from "./clients.js";
import type { ActivationGuard } from "../guards/activation.js";
import type { EchoGuard } from "../guards/double-bridge.js";
import type { PolicyRooms } from "../guards/policy-rooms.js";
import type { MatrixEvent } from "../matrix/appservice.js";
import type { RoomLink } from "../store/types.js";
import { describeSpan, parseSpan, type HistoryImports } from "./history-import.js";
import type { Logins } from "./logins.js";
import type { Portals } from "./portals.js";
import type { NetworkSlot, Services } from "./services.js";

/**
 * The bridge bot. A DM with it is the user's management room, where commands need no
 * prefix; in other rooms `!link`, `!unlink` and `!help` work with the "!" prefix and
 * anything else is bridged as a normal message.
 */

interface Caller {
  userId: string;
  roomId: string;
  eventId: string;
  reply: (text: string) => Promise<void>;
}

interface CoreCommand {
  name: string;
  usage: string;
  help: string;
  admin?: boolean;
  /** Also usable with "!" in rooms other than the management room. */
  inRooms?: boolean;
  run(args: string[], caller: Caller): Promise<void>;
}

export class Bot {
  private readonly core: CoreCommand[];
  /** Set by the bridge once the remote pipeline exists. */
  imports: HistoryImports | null = null;

  constructor(
    private readonly s: Services,
    private readonly portals: Portals,
    private readonly logins: Logins,
    private readonly guard: ActivationGuard,
    private readonly echo: EchoGuard,
    private readonly checkHealth: () => Promise<string[]>,
    private readonly policies: PolicyRooms,
  ) {
    this.core = this.coreCommands();
  }

  async notice(roomId: string, text: string): Promise<void> {
    await this.s.bot.sendEvent(roomId, "m.room.message", { msgtype: "m.notice", body: text });
  }

  async notifyUser(userId: string, text: string): Promise<void> {
    const user = await this.s.store.userGet(userId);
    if (user?.managementRoom) await this.notice(user.managementRoom, text);
    else this.s.log.info({ userId }, `no management room to tell: ${text}`);
  }

  async onMembership(event: MatrixEvent): Promise<void> {
    const membership = event.content.membership;
    if (membership === "invite" && event.state_key && event.state_key !== this.s.botUserId) {
      await this.portals.onGhostInvite(
        event.room_id,
        event.state_key,
        event.sender,
        event.content.is_direct === true,
      );
      return;
    }
    if (event.state_key !== this.s.botUserId) return;
    if (membership === "invite") {
      if (!this.s.permissions.allows(event.sender, "relay")) {
        await this.s.bot
          .leave(event.room_id, "You are not allowed to use this bridge")
          .catch(() => undefined);
        return;
      }
      await this.s.bot.ensureJoined(event.room_id);
      // Only a DM invite makes a management room; any other invite is a room to plumb.
      if (event.content.is_direct === true) {
        const existing = await this.s.store.userGet(event.sender);
        await this.s.store.userPut({
          userId: event.sender,
          managementRoom: event.room_id,
          meta: existing?.meta ?? {},
        });
        await this.notice(
          event.room_id,
          `Hello! I am the ${this.bridgeNames()} bridge bot. Say \`help\` to see what I can do.`,
        );
      }
    } else if (membership === "leave" || membership === "ban") {
      this.s.caches.setJoined(event.room_id, this.s.botUserId, false);
    }
  }

  /** Returns true when the message was a command for the bot (and must not be bridged). */
  async onMessage(event: MatrixEvent, link: RoomLink | null): Promise<boolean> {
    const body = typeof event.content.body === "string" ? event.content.body.trim() : "";
    if (!body || event.content.msgtype === "m.notice") return false;
    const user = await this.s.store.userGet(event.sender);
    const isManagement = !link && user?.managementRoom === event.room_id;
    const caller: Caller = {
      userId: event.sender,
      roomId: event.room_id,
      eventId: event.event_id,
      reply: (text) => this.notice(event.room_id, text),
    };
    if (isManagement) {
      if (this.logins.isPending(event.sender) && !/^!?cancel$/i.test(body)) {
        const reply = await this.logins.answer(event.sender, body);
        // The message may hold a password or token: take it out of the room.
        await this.s.bot.redact(event.room_id, event.event_id, "credential").catch(() => undefined);
        await caller.reply(reply);
        return true;
      }
      await this.run(body.replace(/^!/, ""), caller, false);
      return true;
    }
    if (!body.startsWith("!")) return false;
    const words = splitCommand(body.slice(1));
    if (link && (await this.connectorCommandInRoom(link, words, caller))) return true;
    const command = this.core.find((c) => c.name === words[0]?.toLowerCase() && c.inRooms);
    if (!command) return false;
    await this.run(body.slice(1), caller, true);
    return true;
  }

  private async run(line: string, caller: Caller, inRoom: boolean): Promise<void> {
    const words = splitCommand(line);
    const name = (words.shift() ?? "").toLowerCase();
    if (!this.s.permissions.allows(caller.userId, "relay")) {
      await caller.reply("You are not allowed to use this bridge.");
      return;
    }
    const core = this.core.find((c) => c.name === name && (!inRoom || c.inRooms));
    if (core) return this.invoke(`\`${name}\``, core, words, caller);
    const extra = this.connectorCommand(name, words);
    if (extra) return this.invoke(`\`${name}\``, extra.command, extra.args, caller);
    await caller.reply(`Unknown command \`${name}\`.\n\n${this.helpText(caller.userId)}`);
  }

  /** Runs a command for its caller: admin-only ones for bridge admins; a failure is answered, not thrown. */
  private async invoke<C>(
    label: string,
    command: { admin?: boolean; run(args: string[], caller: C): Promise<void> },
    args: string[],
    caller: C & Caller,
  ): Promise<void> {
    if (command.admin && !this.s.permissions.allows(caller.userId, "admin")) {
      await caller.reply(`${label} is for bridge admins.`);
      return;
    }
    try {
      await command.run(args, caller);
    } catch (err) {
      this.s.log.error({ err, command: label }, "bot command failed");
      await caller.reply(`${label} failed: ${(err as Error).message}`);
    }
  }

  /** `!<network> <command> …` in a room bridged to that network, for commands made for rooms. */
  private async connectorCommandInRoom(link: RoomLink, words: string[], caller: Caller): Promise<boolean> {
    const slot = this.s.networks.get(link.network);
    if (!slot || !supportsCommands(slot.connector) || words[0]?.toLowerCase() !== slot.connector.id)
      return false;
    const name = words[1]?.toLowerCase();
    const command = slot.connector.commands.find((c) => c.inRooms && c.name === name);
    if (!command) return false;
    if (!this.s.permissions.allows(caller.userId, "relay")) {
      await caller.reply("You are not allowed to use this bridge.");
      return true;
    }
    const inRoom = {
      admin: command.admin,
      run: async (args: string[], c: Caller) => {
        const roomAdmin =
          this.s.permissions.allows(c.userId, "admin") ||
          (await this.portals.canAdministerRoom(c.roomId, c.userId));
        await command.run(args, { ...c, chat: chatOf(link), roomAdmin });
      },
    };
    await this.invoke(`\`${slot.connector.id} ${command.name}\``, inRoom, words.slice(2), caller);
    return true;
  }

  /** A connector's command, by its name or as "<network> <name>". */
  private connectorCommand(name: string, args: string[]): { command: BotCommand; args: string[] } | null {
    const slot = this.s.networks.get(name);
    if (slot && supportsCommands(slot.connector) && args[0]) {
      const command = slot.connector.commands.find((c) => c.name === args[0]?.toLowerCase());
      if (command) return { command, args: args.slice(1) };
    }
    for (const s of this.s.networks.values()) {
      if (!supportsCommands(s.connector)) continue;
      const command = s.connector.commands.find((c) => c.name === name);
      if (command) return { command, args };
    }
    return null;
  }

  private async backfill(words: string, c: Caller): Promise<string> {
    const link = await this.s.link(c.roomId);
    if (!link || link.kind === "plumbed")
      return "`backfill` works in a portal room: say it in the room whose chat's history you want.";
    if (
      !this.s.permissions.allows(c.userId, "admin") &&
      !(await this.portals.canAdministerRoom(c.roomId, c.userId))
    )
      return "Only a room admin can import history here.";
    const span = words.trim() ? parseSpan(words) : { messages: 1000 };
    if (!span) return "Usage: `!backfill [N messages | N days | all]`, e.g. `!backfill 30 days`.";
    const slot = this.s.networks.get(link.network);
    if (!slot || !this.imports) return `The ${link.network} bridge is not running.`;
    if (this.imports.isImporting(link.network, chatOf(link)))
      return "This room's history is being imported already; it says here when it is done.";
    if (!(await this.imports.begin(slot, link, span, false)))
      return `${slot.connector.displayName} has no history the bridge can read for this chat.`;
    return `Importing ${describeSpan(span)} of this chat: what the room does not have yet. It says here when it is done.`;
  }

  private bridgeNames(): string {
    return [...this.s.networks.values()].map((s) => s.connector.displayName).join(", ") || "Switchboard";
  }

  private slot(name: string | undefined): NetworkSlot | undefined {
    if (name) return this.s.networks.get(name.toLowerCase());
    return this.s.networks.size === 1 ? [...this.s.networks.values()][0] : undefined;
  }

  private needSlot(name: string | undefined, usage: string): NetworkSlot | string {
    const slot = this.slot(name);
    if (slot) return slot;
    return `${name ? `No bridge "${name}". ` : ""}Usage: \`${usage}\`; networks: ${[...this.s.networks.keys()].join(", ")}`;
  }

  helpText(userId: string): string {
    const admin = this.s.permissions.allows(userId, "admin");
    const lines = ["Commands (in this DM; in other rooms prefix them with `!`, e.g. `!link`):"];
    for (const c of this.core) if (!c.admin || admin) lines.push(`- \`${c.usage}\` — ${c.help}`);
    for (const slot of this.s.networks.values()) {
      if (!supportsCommands(slot.connector)) continue;
      for (const c of slot.connector.commands)
        if (!c.admin || admin) lines.push(`- \`${slot.connector.id} ${c.name}\` — ${c.help}`);
    }
    return lines.join("\n");
  }

  private coreCommands(): CoreCommand[] {
    return [
      {
        name: "help",
        usage: "help",
        help: "this list",
        inRooms: true,
        run: async (_args, c) => c.reply(this.helpText(c.userId)),
      },
      {
        name: "ping",
        usage: "ping",
        help: "check the homeserver and every network",
        run: async (_args, c) => c.reply((await this.checkHealth()).join("\n")),
      },
      {
        name: "login",
        usage: "login <network> [method] [values…]",
        help: "log in so your messages go out as you",
        run: async (args, c) => {
          if (!this.s.permissions.allows(c.userId, "user"))
            return c.reply("Your permission level only allows relayed messages.");
          const slot = this.needSlot(args[0], "login <network> [method]");
          if (typeof slot === "string") return c.reply(slot);
          const inline = args.slice(2);
          if (inline.length > 0)
            await this.s.bot.redact(c.roomId, c.eventId, "credential").catch(() => undefined);
          return c.reply(await this.logins.start(slot, c.userId, args[1], inline));
        },
      },
      {
        name: "cancel",
        usage: "cancel",
        help: "stop a login in progress",
        run: async (_args, c) =>
          c.reply(this.logins.cancel(c.userId) ? "Login cancelled." : "Nothing to cancel."),
      },
      {
        name: "logout",
        usage: "logout <network> [login]",
        help: "log out of one login and wipe its stored credentials (say which when you have several)",
        run: async (args, c) => {
          const slot = this.needSlot(args[0], "logout <network> [login]");
          if (typeof slot === "string") return c.reply(slot);
          return c.reply(await this.logins.logout(slot, c.userId, args.slice(1).join(" ") || undefined));
        },
      },
      {
        name: "set-relay",
        usage: "set-relay [login | @user:server | off]",
        help: "choose whose login relays messages of people without one in this room (room admins)",
        inRooms: true,
        run: async (args, c) => c.reply(await this.setRelay(args, c)),
      },
      {
        name: "relay",
        usage: "relay accept <room> [login]",
        help: "agree to relay a room's messages through your login, when a room admin asked",
        run: async (args, c) => c.reply(await this.acceptRelay(args, c)),
      },
      {
        name: "status",
        usage: "status",
        help: "your logins on each network",
        run: async (_args, c) => c.reply(await this.statusText(c.userId)),
      },
      {
        name: "list",
        usage: "list",
        help: "your linked rooms and logins",
        run: async (_args, c) => {
          const links = await this.s.store.linkList({ createdBy: c.userId });
          const lines = links.map(
            (l) => `- ${l.roomId}: ${l.network} ${l.channelId} (${l.kind}, ${l.state})`,
          );
          return c.reply(
            `${lines.length ? `Your links:\n${lines.join("\n")}` : "You have no links."}\n\n${await this.statusText(c.userId)}`,
          );
        },
      },
      {
        name: "link",
        usage: "link <network> <channel>",
        help: "bridge the room you say it in to a remote chat (room admins)",
        inRooms: true,
        run: async (args, c) => {
          const user = await this.s.store.userGet(c.userId);
          if (user?.managementRoom === c.roomId) {
            return c.reply(
              "Say `!link <network> <channel>` in the room you want to bridge, after inviting me there.",
            );
          }
          const slot = this.needSlot(args[0], "!link <network> <channel>");
          if (typeof slot === "string") return c.reply(slot);
          if (!args[1]) return c.reply("Usage: `!link <network> <channel>`");
          // The channel may take several words ("libera #rust"); a trailing "migrate" is the option.
          const words = args.slice(1);
          const migrate = words.length > 1 && words[words.length - 1]?.toLowerCase() === "migrate";
          const chatArg = (migrate ? words.slice(0, -1) : words).join(" ");
          return c.reply(await this.portals.plumb(slot, c.roomId, chatArg, c.userId, { migrate }));
        },
      },
      {
        name: "unlink",
        usage: "unlink",
        help: "stop bridging the room you say it in (room admins)",
        inRooms: true,
        run: async (_args, c) => c.reply(await this.portals.unlink(c.roomId, c.userId)),
      },
      {
        name: "backfill",
        usage: "backfill [N messages | N days | all]",
        help: "import the chat's history into the portal you say it in: what is missing (room admins; default: the last 1000 messages)",
        inRooms: true,
        run: async (args, c) => c.reply(await this.backfill(args.join(" "), c)),
      },
      {
        name: "approve",
        usage: "approve <room> [lazy]",
        help: "let a link held by the activation guard through (lazy: only members who speak get a Matrix user)",
        admin: true,
        run: async (args, c) => {
          const link = args[0] ? await this.s.link(args[0]) : null;
          if (!link) return c.reply("Usage: `approve <room id> [lazy]` — see `pending` for the list.");
          return c.reply(
            await this.guard.approve(link, args[1]?.toLowerCase() === "lazy" ? "lazy" : "full", c.userId),
          );
        },
      },
      {
        name: "deny",
        usage: "deny <room>",
        help: "refuse a link held by the activation guard",
        admin: true,
        run: async (args, c) => {
          const link = args[0] ? await this.s.link(args[0]) : null;
          if (!link) return c.reply("Usage: `deny <room id>`");
          return c.reply(await this.guard.deny(link, c.userId));
        },
      },
      {
        name: "pending",
        usage: "pending",
        help: "links waiting for approval",
        admin: true,
        run: async (_args, c) => {
          const links = await this.s.store.linkList({ state: "pending" });
          return c.reply(
            links.length
              ? links.map((l) => `- ${l.roomId}: ${l.network} ${l.channelId} (${l.kind})`).join("\n")
              : "Nothing is waiting for approval.",
          );
        },
      },
      {
        name: "resume",
        usage: "resume",
        help: "resume bridging in a room a guard paused (room admins)",
        inRooms: true,
        run: async (args, c) => {
          const roomId = args[0] ?? c.roomId;
          const link = await this.s.link(roomId);
          if (!link || link.state !== "paused") return c.reply("This room is not paused.");
          const allowed =
            this.s.permissions.allows(c.userId, "admin") ||
            (await this.portals.canAdministerRoom(roomId, c.userId));
          if (!allowed) return c.reply("Only a room admin or a bridge admin can resume bridging.");
          link.state = "active";
          link.meta = { ...link.meta, pausedReason: undefined };
          await this.s.saveLink(link);
          this.echo.reset(roomId);
          return c.reply("Bridging resumed.");
        },
      },
      {
        name: "moderation",
        usage: "moderation [confirm <rule>]",
        help: "policy-list rules, whom each matches, and rules held for confirmation (confirm applies one)",
        admin: true,
        run: async (args, c) =>
          c.reply(
            args[0]?.toLowerCase() === "confirm"
              ? await this.policies.confirm(args[1], c.userId)
              : this.policies.describe(),
          ),
      },
      {
        name: "links",
        usage: "links [network]",
        help: "every bridged room",
        admin: true,
        run: async (args, c) => {
          const links = await this.s.store.linkList(args[0] ? { network: args[0] } : undefined);
          return c.reply(
            links.length
              ? links
                  .map((l) => `- ${l.roomId}: ${l.network} ${l.channelId} (${l.kind}, ${l.state})`)
                  .join("\n")
              : "No links.",
          );
        },
      },
    ];
  }

  /** Tells every bridge admin who has a management room. */
  async notifyAdmins(text: string): Promise<void> {
    const admins = new Set(this.s.config.admins);
    for (const [who, level] of Object.entries(this.s.config.permissions))
      if (level === "admin" && who.startsWith("@")) admins.add(who);
    for (const admin of admins) await this.notifyUser(admin, text).catch(() => undefined);
  }

  private loginLine(network: string, login: LoginClient): string {
    const state = this.s.states.login(network, login.loginId);
    return `${login.remoteName}${state ? `: ${state.state}${state.message && state.state !== "CONNECTED" ? `, ${state.message}` : ""}` : ""}`;
  }

  /**
   * `!set-relay` in a linked room. A room admin may choose one of their own logins at once (they
   * agree by asking); another user's login only becomes the relay once its owner accepts in
   * their DM with the bot, so nobody's account speaks for others without their consent.
   */
  private async setRelay(args: string[], c: Caller): Promise<string> {
    const link = await this.s.link(c.roomId);
    if (!link) return "Say `!set-relay` in a bridged room.";
    const slot = this.s.networks.get(link.network);
    if (!slot) return "This room's network is not enabled.";
    if (
      !this.s.permissions.allows(c.userId, "admin") &&
      !(await this.portals.canAdministerRoom(c.roomId, c.userId))
    )
      return "Only a room admin can choose this room's relay.";
    const words = args[0]?.toLowerCase() === slot.connector.id ? args.slice(1) : args;
    const arg = words.join(" ").trim();
    const name = slot.connector.displayName;
    if (arg.toLowerCase() === "off") {
      link.meta = { ...link.meta, [RELAY_META]: undefined, relayRequest: undefined };
      await this.s.saveLink(link);
      return slot.connector.bot
        ? `This room's relay is the bridge's own ${name} account again.`
        : `This room has no relay now: only people logged in to ${name} are bridged.`;
    }
    if (arg.startsWith("@")) {
      const owner = arg;
      if (owner === c.userId) return this.setRelay(words.slice(1), c);
      const theirs = this.logins.ofUser(owner, slot.connector.id);
      if (theirs.length === 0) return `${owner} has no connected ${name} login.`;
      link.meta = { ...link.meta, relayRequest: { userId: owner, by: c.userId, at: Date.now() } };
      await this.s.saveLink(link);
      await this.notifyUser(
        owner,
        `${c.userId} asks to relay the messages of people without a ${name} login in ${c.roomId} through your ${name} login ` +
          `(${theirs.map((l) => l.remoteName).join(", ")}): they would appear on ${name} as sent by you, with their names. ` +
          `Say \`relay accept ${c.roomId}\` to agree; ignore this to refuse.`,
      );
      return `I asked ${owner} in their DM; the relay starts once they accept.`;
    }
    const mine = this.logins.ofUser(c.userId, slot.connector.id);
    const login = pickLogin(mine, arg);
    if (!login) {
      if (mine.length === 0)
        return `You have no connected ${name} login to relay with: \`login ${slot.connector.id}\` in a DM with me first, or name a user who has one (\`!set-relay @user:server\`).`;
      return `Say which login: ${mine.map((l, i) => `${i + 1}. ${l.remoteName}`).join(", ")}.`;
    }
    link.meta = { ...link.meta, [RELAY_META]: login.loginId, relayRequest: undefined };
    await this.s.saveLink(link);
    return `Messages of people without a ${name} login in this room are now relayed through ${login.remoteName}, with their names.`;
  }

  /** `relay accept <room> [login]` in the DM: the owner agrees to a pending relay request. */
  private async acceptRelay(args: string[], c: Caller): Promise<string> {
    if (args[0]?.toLowerCase() !== "accept" || !args[1]) return "Usage: `relay accept <room id> [login]`";
    const link = await this.s.link(args[1]);
    const request = link?.meta.relayRequest as { userId?: string; by?: string } | undefined;
    if (!link || request?.userId !== c.userId) return "Nobody asked you to relay that room.";
    const slot = this.s.networks.get(link.network);
    const login = pickLogin(this.logins.ofUser(c.userId, link.network), args.slice(2).join(" "));
    if (!slot || !login) return "Say which of your connected logins: `relay accept <room> <login>`.";
    link.meta = { ...link.meta, [RELAY_META]: login.loginId, relayRequest: undefined };
    await this.s.saveLink(link);
    await this.notice(
      link.roomId,
      `${c.userId} agreed: messages of people without a ${slot.connector.displayName} login are relayed through ${login.remoteName}.`,
    ).catch(() => undefined);
    return `You relay ${link.roomId} through ${login.remoteName} now; a room admin can stop it with \`!set-relay off\`.`;
  }

  private async statusText(userId: string): Promise<string> {
    const lines: string[] = [];
    const links = this.s.permissions.allows(userId, "admin")
      ? await this.s.store.linkList()
      : await this.s.store.linkList({ createdBy: userId });
    for (const link of links) {
      const progress = this.guard.progress(link);
      if (progress || link.state !== "active") {
        lines.push(
          `- ${link.network} ${link.channelId} in ${link.roomId}: ${link.state}${progress ? `, ${progress}` : ""}`,
        );
      }
    }
    for (const slot of this.s.networks.values()) {
      const name = slot.connector.displayName;
      const network = this.s.states.network(slot.connector.id);
      const trouble = [...network.connections]
        .filter(([, c]) => c.state !== "CONNECTED")
        .map(([conn, c]) => `${conn ? `${conn}: ` : ""}${c.state}${c.message ? `, ${c.message}` : ""}`);
      lines.push(`- ${name}: ${network.state}${trouble.length ? ` (${trouble.join("; ")})` : ""}`);
      const id = slot.connector.id;
      const own = supportsImplicitLogins(slot.connector)
        ? (slot.connector.implicitLoginsOf?.(userId) ?? this.logins.implicitOf(userId, id))
        : [];
      for (const login of own) lines.push(`  - ${this.loginLine(id, login)} (your own connection)`);
      const records = supportsLogins(slot.connector) ? await this.s.store.loginsOf(userId, id) : [];
      for (const r of records) {
        const live = this.logins.get(id, r.loginId) !== undefined;
        const state = this.s.states.login(id, r.loginId);
        const words = r.state !== "active" ? "logged out" : live ? "connected" : "not connected";
        lines.push(
          `  - ${r.remoteName} (${words})${state ? `: ${state.state}${state.message && state.state !== "CONNECTED" ? `, ${state.message}` : ""}` : ""}`,
        );
      }
      if (own.length + records.length > 0) continue;
      if (!supportsLogins(slot.connector)) lines.push(`  - you: relayed by the bridge`);
      else lines.push(`  - you: not logged in (\`login ${id}\`)`);
    }
    return lines.join("\n");
  }
}

/** A login by its number (1-based), id or remote name; the only one when nothing is named. */
function pickLogin(logins: LoginClient[], which: string): LoginClient | undefined {
  const wanted = which.trim().toLowerCase();
  if (!wanted) return logins.length === 1 ? logins[0] : undefined;
  return logins.find(
    (l, i) =>
      String(i + 1) === wanted || l.loginId.toLowerCase() === wanted || l.remoteName.toLowerCase() === wanted,
  );
}
