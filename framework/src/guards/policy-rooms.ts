import { createHash } from "node:crypto";
import { supportsImplicitLogins, type LoginClient } from "../connector.js";
import type { MatrixEvent } from "../matrix/appservice.js";
import type { RoomLink } from "../store/types.js";
import { chatOf } from "../runtime/clients.js";
import type { Logins } from "../runtime/logins.js";
import type { Services } from "../runtime/services.js";
import { isLiteral, mustHold, PolicyRuleSet, ruleKey, serverOf, type PolicyRule } from "./policy-lists.js";

/**
 * The policy rooms of `moderation.policy_rooms`, followed live. At start the bot joins each one
 * and reads its state (`GET /rooms/{id}/state`); after that its rule changes arrive in the
 * appservice transactions like any event of a room the bot is in (`observe`, from matrix-in).
 *
 * A rule in force stops a banned Matrix user's (or banned server's users') events from being
 * bridged, a banned room from being bridged either way, and remote users whose ghost id a user
 * rule matches from reaching Matrix; a newly banned user's implicit logins (IRC puppets) are
 * ended (`logout`, then `disconnect`). A rule matching more than `moderation.max_ban_share` of
 * the active users (members of bridged rooms) is held: logged, told to the bridge admins, and
 * applied only after `moderation confirm <rule>`, which is remembered for that entity.
 */

/** How many rooms' members are fetched at once when the active users are first counted. */
const MEMBER_FETCH_CONCURRENCY = 4;
const KV = "moderation";

export interface PolicyRoomView {
  /** As configured (an id or an alias). */
  room: string;
  roomId?: string;
  rules: number;
  error?: string;
}

export interface PolicyRuleView {
  id: string;
  kind: string;
  entity: string;
  reason: string;
  /** The policy room and state event it is. */
  roomId: string;
  type: string;
  stateKey: string;
  /** Active users (user and server rules) or bridged rooms (room rules) it matches now. */
  matched: string[];
  /** Waiting for `moderation confirm`: not applied. */
  held: boolean;
  /** Why it is held ("matches 4 of 4 active users"), when it is. */
  heldBecause?: string;
}

export interface PolicyView {
  rooms: PolicyRoomView[];
  rules: PolicyRuleView[];
  activeUsers: number;
}

interface RuleState {
  id: string;
  entity: string;
  held: boolean;
  heldBecause?: string;
}

export class PolicyRooms {
  private readonly rules = new PolicyRuleSet();
  /** By rule key: its short id and whether it is held. */
  private readonly states = new Map<string, RuleState>();
  /** By configured name (id or alias). */
  private readonly rooms = new Map<string, PolicyRoomView>();
  private readonly policyRoomIds = new Set<string>();
  /** The state event behind each rule, so redacting it removes the rule. */
  private readonly byEventId = new Map<string, { roomId: string; type: string; stateKey: string }>();
  /** Joined members of bridged rooms, by room: the active users. */
  private readonly members = new Map<string, Set<string>>();
  /** Bridged rooms whose members were fetched (live member events keep them current). */
  private readonly loaded = new Set<string>();
  /** Id and portal alias of each bridged room, for room rules. */
  private readonly roomNames = new Map<string, string[]>();
  /** The rule (or none) banning each user asked about; cleared whenever the rules change. */
  private readonly userCache = new Map<string, PolicyRule | null>();
  private networksUp = false;

  constructor(
    private readonly s: Services,
    private readonly logins: Logins,
    private readonly notifyAdmins: (text: string) => Promise<void>,
  ) {}

  private get config() {
    return this.s.config.moderation;
  }

  private get enabled(): boolean {
    return this.config.policy_rooms.length > 0;
  }

  /** Joins and reads every configured policy room; one that fails is retried later (`retryFailed`). */
  async start(): Promise<void> {
    if (!this.enabled) return;
    await this.loadActive();
    for (const name of this.config.policy_rooms) await this.follow(name);
    const held = [...this.states.values()].filter((r) => r.held).length;
    this.s.log.info(
      {
        policyRooms: this.policyRoomIds.size,
        rules: this.rules.size,
        held,
        activeUsers: this.activeUsers().size,
      },
      "following policy lists",
    );
  }

  /** A reloaded config: follows new policy rooms, forgets the rules of rooms no longer listed. */
  async reconfigure(): Promise<void> {
    const wanted = new Set(this.config.policy_rooms);
    for (const [name, room] of [...this.rooms]) {
      if (wanted.has(name)) continue;
      this.rooms.delete(name);
      if (room.roomId) {
        this.policyRoomIds.delete(room.roomId);
        for (const rule of this.rules.dropRoom(room.roomId)) this.states.delete(ruleKey(rule));
      }
    }
    this.userCache.clear();
    if (!this.enabled) return;
    await this.loadActive();
    for (const name of wanted) if (!this.rooms.has(name)) await this.follow(name);
  }

  /** Once the networks are up: ends the connections of users the rules in force ban (bans made while stopped). */
  async applyToConnections(): Promise<void> {
    this.networksUp = true;
    for (const rule of this.rules.all()) if (this.inForce(rule)) await this.endConnections(rule);
  }

  /** Tries again the policy rooms that could not be joined or read (every minute). */
  async retryFailed(): Promise<void> {
    for (const [name, room] of this.rooms) if (room.error) await this.follow(name);
  }

  private async follow(name: string): Promise<void> {
    const view: PolicyRoomView = { room: name, rules: 0 };
    this.rooms.set(name, view);
    try {
      const roomId = name.startsWith("#") ? await this.s.bot.resolveAlias(name) : name;
      if (!roomId) throw new Error("no room has that alias");
      view.roomId = roomId;
      await this.s.bot.ensureJoined(roomId);
      this.policyRoomIds.add(roomId);
      const state = (await this.s.bot.getAllState(roomId)) as Array<
        Pick<MatrixEvent, "type" | "state_key" | "content"> & { event_id?: string }
      >;
      for (const event of state) await this.onRuleEvent(roomId, event, false);
      view.rules = this.rules.countIn(roomId);
    } catch (err) {
      view.error = `could not follow it: ${err instanceof Error ? err.message : String(err)}`;
      this.s.log.warn(
        { room: name, err: String(err) },
        `could not join or read the policy room ${name}; its rules are not applied (retrying every minute): is it public, or is the bot invited?`,
      );
    }
  }

  /**
   * Every event of a transaction, before anything else looks at it: rule changes of policy
   * rooms, and membership of bridged rooms (the active users the hold is measured against).
   */
  async observe(event: MatrixEvent): Promise<void> {
    if (this.policyRoomIds.has(event.room_id)) {
      if (event.state_key !== undefined) await this.onRuleEvent(event.room_id, event, true);
      else if (event.type === "m.room.redaction") await this.onRedaction(event);
      return;
    }
    if (!this.enabled || event.type !== "m.room.member" || !event.state_key) return;
    const link = await this.s.link(event.room_id);
    if (!link || link.state !== "active") return;
    this.trackRoom(link);
    const members = this.members.get(link.roomId) ?? new Set<string>();
    this.members.set(link.roomId, members);
    if (event.content.membership === "join") members.add(event.state_key);
    else members.delete(event.state_key);
  }

  /**
   * Whether a Matrix event must not be bridged: its sender or its room is banned. Bridge admins
   * are never banned by a list (a confirmed glob must not lock them out of the bot).
   */
  async blocksMatrixEvent(event: MatrixEvent): Promise<boolean> {
    if (this.rules.size === 0) return false;
    if (this.userBan(event.sender) && !this.s.permissions.allows(event.sender, "admin")) return true;
    const link = await this.s.link(event.room_id);
    return link !== null && this.linkBan(link) !== null;
  }

  /** The rule in force banning this Matrix user (or a ghost's id), if any. */
  userBan(userId: string): PolicyRule | null {
    if (this.rules.size === 0) return null;
    const cached = this.userCache.get(userId);
    if (cached !== undefined) return cached;
    const rule = this.rules.userBan(userId, (r) => this.inForce(r));
    if (this.userCache.size > 50_000) this.userCache.clear();
    this.userCache.set(userId, rule);
    return rule;
  }

  /** The rule in force banning a bridged room (by its id or portal alias), if any. */
  linkBan(link: RoomLink): PolicyRule | null {
    if (this.rules.size === 0) return null;
    return this.rules.roomBan(this.namesOf(link), (r) => this.inForce(r));
  }

  /** A held rule, by its id or entity, goes into force; remembered across restarts. */
  async confirm(which: string | undefined, by: string): Promise<string> {
    const held = this.list().filter((r) => r.held);
    if (!which)
      return held.length
        ? `Say which: ${held.map((r) => `\`${r.id}\` (${r.entity})`).join(", ")}.`
        : "No rule is held.";
    const rule = this.rules.all().find((r) => {
      const state = this.states.get(ruleKey(r));
      return state?.id === which || r.entity === which;
    });
    const state = rule ? this.states.get(ruleKey(rule)) : undefined;
    if (!rule || !state) return `No policy rule \`${which}\`; \`moderation\` lists them.`;
    if (!state.held) return `Rule \`${state.id}\` (${rule.entity}) is already applied.`;
    await this.s.store.kvSet(KV, confirmationKey(rule), { entity: rule.entity, by, at: Date.now() });
    state.held = false;
    state.heldBecause = undefined;
    this.userCache.clear();
    this.s.log.warn(
      { rule: state.id, entity: rule.entity, by },
      "a held policy rule was confirmed and applied",
    );
    const ended = await this.endConnections(rule);
    return `Rule \`${state.id}\` (${rule.kind} ${rule.entity}) is applied now${ended ? `; ${ended} connection${ended === 1 ? "" : "s"} ended` : ""}.`;
  }

  /** Read-only: the followed rooms, every rule with what it matches now, and which are held. */
  view(): PolicyView {
    return {
      rooms: [...this.rooms.values()].map((r) => ({
        ...r,
        rules: r.roomId ? this.rules.countIn(r.roomId) : 0,
      })),
      rules: this.list(),
      activeUsers: this.activeUsers().size,
    };
  }

  /** The bot's `moderation` answer. */
  describe(): string {
    if (!this.enabled) return "No policy rooms are followed (`moderation.policy_rooms` in the config).";
    const view = this.view();
    const lines = [`Policy rooms (${view.activeUsers} active users):`];
    for (const r of view.rooms)
      lines.push(
        `- ${r.room}${r.roomId && r.roomId !== r.room ? ` (${r.roomId})` : ""}: ${r.error ?? `${r.rules} rules`}`,
      );
    for (const r of view.rules) {
      const matched = r.matched.length
        ? `matches ${r.matched.slice(0, 5).join(", ")}${r.matched.length > 5 ? ` and ${r.matched.length - 5} more` : ""}`
        : "matches nobody here";
      lines.push(
        `- \`${r.id}\` ${r.kind} ${r.entity}${r.reason ? ` (${r.reason})` : ""}: ${r.held ? `HELD, ${r.heldBecause ?? ""}; \`moderation confirm ${r.id}\` applies it` : matched}`,
      );
    }
    return lines.join("\n");
  }

  private list(): PolicyRuleView[] {
    const users = this.activeUsers();
    const rooms = [...this.roomNames.values()];
    return this.rules.all().map((rule) => {
      const state = this.states.get(ruleKey(rule));
      return {
        id: state?.id ?? ruleId(rule),
        kind: rule.kind,
        entity: rule.entity,
        reason: rule.reason,
        roomId: rule.roomId,
        type: rule.type,
        stateKey: rule.stateKey,
        matched: this.rules.matches(rule, users, rooms),
        held: state?.held ?? false,
        ...(state?.heldBecause ? { heldBecause: state.heldBecause } : {}),
      };
    });
  }

  private inForce(rule: PolicyRule): boolean {
    return this.states.get(ruleKey(rule))?.held !== true;
  }

  private async onRuleEvent(
    roomId: string,
    event: Pick<MatrixEvent, "type" | "state_key" | "content"> & { event_id?: string },
    live: boolean,
  ): Promise<void> {
    const change = this.rules.apply(roomId, event);
    if (!change) return;
    const key = ruleKey({ roomId, type: event.type, stateKey: event.state_key ?? "" });
    this.userCache.clear();
    const { rule, previous } = change;
    if (!rule) {
      this.states.delete(key);
      if (previous && live)
        this.s.log.info(
          { entity: previous.entity, kind: previous.kind, roomId },
          "a policy rule was removed",
        );
      return;
    }
    if (event.event_id)
      this.byEventId.set(event.event_id, { roomId, type: event.type, stateKey: rule.stateKey });
    const before = this.states.get(key);
    // The same entity again (a resync) keeps its standing.
    if (before && before.entity === rule.entity) return;
    const state = await this.decide(rule, live);
    this.states.set(key, state);
    const log = { rule: state.id, kind: rule.kind, entity: rule.entity, reason: rule.reason, roomId };
    if (state.held) {
      const text =
        `Policy rule \`${state.id}\` (${rule.kind} ${rule.entity}${rule.reason ? `, "${rule.reason}"` : ""}) from ${roomId} ${state.heldBecause}, ` +
        `more than moderation.max_ban_share (${Math.round(this.config.max_ban_share * 100)}%), so it is held and not applied. ` +
        `Say \`moderation confirm ${state.id}\` to apply it.`;
      this.s.log.warn(log, `a policy rule is held for an admin's confirmation: ${text}`);
      await this.notifyAdmins(text).catch(() => undefined);
      return;
    }
    if (live) this.s.log.info(log, "a policy rule is applied");
    // At start the networks are not up yet: `applyToConnections` does it then.
    if (this.networksUp) await this.endConnections(rule);
  }

  private async onRedaction(event: MatrixEvent): Promise<void> {
    const redacts = event.redacts ?? (typeof event.content.redacts === "string" ? event.content.redacts : "");
    const target = this.byEventId.get(redacts);
    if (!target) return;
    this.byEventId.delete(redacts);
    await this.onRuleEvent(
      target.roomId,
      { type: target.type, state_key: target.stateKey, content: {} },
      true,
    );
  }

  /** In force, or held: measured against the active users (bridged rooms for a room rule). */
  private async decide(rule: PolicyRule, live: boolean): Promise<RuleState> {
    const id = ruleId(rule);
    const confirmed = await this.s.store
      .kvGet<{ entity: string }>(KV, confirmationKey(rule))
      .catch(() => null);
    if (confirmed?.entity === rule.entity) return { id, entity: rule.entity, held: false };
    if (live) await this.loadActive();
    const { matched, total, what } = this.measure(rule);
    if (!mustHold(rule, matched, total, this.config.max_ban_share))
      return { id, entity: rule.entity, held: false };
    const share = Math.round((matched / total) * 100);
    return {
      id,
      entity: rule.entity,
      held: true,
      heldBecause: `matches ${matched} of ${total} ${what} (${share}%)`,
    };
  }

  private measure(rule: PolicyRule): { matched: number; total: number; what: string } {
    if (rule.kind === "room") {
      const rooms = [...this.roomNames.values()];
      return {
        matched: this.rules.matches(rule, [], rooms).length,
        total: rooms.length,
        what: "bridged rooms",
      };
    }
    const users = this.activeUsers();
    // A literal server (most of a big list) is counted without a pattern.
    const matched =
      rule.kind === "server" && isLiteral(rule.entity)
        ? [...users].filter((u) => serverOf(u).toLowerCase() === rule.entity.toLowerCase()).length
        : this.rules.matches(rule, users, []).length;
    return { matched, total: users.size, what: "active users" };
  }

  /**
   * Ends the implicit logins (IRC puppets) of the active users a rule in force bans: `logout`
   * (the connector forgets it, so it is not brought back at the next start), then `disconnect`.
   * Their events are not bridged from now on, so nothing asks for a new one.
   */
  private async endConnections(rule: PolicyRule): Promise<number> {
    if (rule.kind === "room") return 0;
    const users = this.rules
      .matches(rule, this.activeUsers(), [])
      .filter((u) => !this.s.isOurs(u) && !this.s.permissions.allows(u, "admin"));
    let ended = 0;
    for (const slot of this.s.networks.values()) {
      const connector = slot.connector;
      if (!supportsImplicitLogins(connector)) continue;
      for (const userId of users) {
        const logins = new Map<string, LoginClient>();
        for (const l of connector.implicitLoginsOf?.(userId) ?? []) logins.set(l.loginId, l);
        for (const l of this.logins.implicitOf(userId, connector.id)) logins.set(l.loginId, l);
        for (const login of logins.values()) {
          await login.logout?.().catch(() => undefined);
          await login.disconnect().catch(() => undefined);
          ended++;
        }
      }
    }
    if (ended > 0) this.s.log.info({ entity: rule.entity, ended }, "ended the connections of banned users");
    return ended;
  }

  /** Everyone in a bridged room, but the bot. */
  private activeUsers(): Set<string> {
    const users = new Set<string>();
    for (const members of this.members.values()) for (const m of members) users.add(m);
    users.delete(this.s.botUserId);
    return users;
  }

  /** Fetches the members of bridged rooms not counted yet; forgets rooms no longer bridged. */
  private async loadActive(): Promise<void> {
    const links = await this.s.store.linkList({ state: "active" });
    const ids = new Set(links.map((l) => l.roomId));
    for (const roomId of [...this.members.keys()])
      if (!ids.has(roomId)) {
        this.members.delete(roomId);
        this.loaded.delete(roomId);
        this.roomNames.delete(roomId);
      }
    const todo = links.filter((l) => !this.loaded.has(l.roomId));
    let next = 0;
    const worker = async () => {
      for (let link = todo[next++]; link; link = todo[next++]) {
        this.trackRoom(link);
        const joined = await this.s.bot.joinedMembers(link.roomId).catch(() => null);
        if (!joined) continue;
        const members = this.members.get(link.roomId) ?? new Set<string>();
        for (const m of joined) members.add(m);
        this.members.set(link.roomId, members);
        this.loaded.add(link.roomId);
      }
    };
    await Promise.all(Array.from({ length: Math.min(MEMBER_FETCH_CONCURRENCY, todo.length) }, worker));
  }

  private trackRoom(link: RoomLink): void {
    if (!this.roomNames.has(link.roomId)) this.roomNames.set(link.roomId, this.namesOf(link));
  }

  /** A bridged room's id and, for a portal, its alias. */
  private namesOf(link: RoomLink): string[] {
    const slot = this.s.networks.get(link.network);
    const suffix = slot ? slot.connector.aliasFor(chatOf(link)) : null;
    return slot && suffix !== null && link.kind !== "plumbed"
      ? [link.roomId, `#${slot.aliasPrefix}${suffix}:${this.s.domain}`]
      : [link.roomId];
  }
}

/** A rule's short, stable id (for `moderation confirm`): from its room, type and state key. */
function ruleId(rule: PolicyRule): string {
  return createHash("sha256").update(ruleKey(rule)).digest("hex").slice(0, 8);
}

function confirmationKey(rule: PolicyRule): string {
  return `confirmed:${ruleKey(rule)}`;
}
