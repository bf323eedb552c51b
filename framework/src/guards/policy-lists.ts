/**
 * Matrix policy lists (the spec's "moderation policy lists", as Draupnir and Mjolnir publish
 * them): the rules a policy room's state holds, and what they ban. Pure: no Matrix, no store.
 * `policy-rooms.ts` joins the rooms, feeds their state events here and applies the answers.
 *
 * A rule is a state event `m.policy.rule.user|server|room` (or the older `m.room.rule.*` and
 * `org.matrix.mjolnir.rule.*`) whose content is `{ entity, recommendation, reason }`. The entity
 * is a glob (`*` any run of characters, `?` one). Only `m.ban` is acted on. A rule is deleted by
 * replacing its state with empty content (or redacting it), so a state event without a valid ban
 * removes whatever rule its type and state key held.
 */

export type RuleKind = "user" | "server" | "room";

export interface PolicyRule {
  /** The policy room it comes from. */
  roomId: string;
  /** The state event type it was published as (one of the three names per kind). */
  type: string;
  stateKey: string;
  kind: RuleKind;
  entity: string;
  reason: string;
}

const PREFIXES = ["m.policy.rule.", "m.room.rule.", "org.matrix.mjolnir.rule."];
const KINDS = new Set<string>(["user", "server", "room"]);
export const BAN = "m.ban";

/** The rule kind of a state event type, or null when the type is not a policy rule. */
export function ruleKindOf(type: string): RuleKind | null {
  for (const prefix of PREFIXES) {
    if (!type.startsWith(prefix)) continue;
    const kind = type.slice(prefix.length);
    return KINDS.has(kind) ? (kind as RuleKind) : null;
  }
  return null;
}

/**
 * What a state event in a policy room says: a ban rule, `"removed"` (its state now holds no ban:
 * empty content, another recommendation, no entity), or null when it is no policy rule at all.
 */
export function readRule(
  roomId: string,
  event: { type: string; state_key?: string; content: Record<string, unknown> },
): PolicyRule | "removed" | null {
  const kind = ruleKindOf(event.type);
  if (kind === null || event.state_key === undefined) return null;
  const { entity, recommendation, reason } = event.content;
  if (typeof entity !== "string" || entity === "" || recommendation !== BAN) return "removed";
  return {
    roomId,
    type: event.type,
    stateKey: event.state_key,
    kind,
    entity,
    reason: typeof reason === "string" ? reason : "",
  };
}

/** One key per state entry: a new event for the same type and state key replaces the rule. */
export function ruleKey(rule: Pick<PolicyRule, "roomId" | "type" | "stateKey">): string {
  return `${rule.roomId}\0${rule.type}\0${rule.stateKey}`;
}

/** A glob as a whole-string, case-insensitive regular expression. */
export function globToRegExp(glob: string): RegExp {
  const body = [...glob]
    .map((ch) => (ch === "*" ? ".*" : ch === "?" ? "." : ch.replace(/[.+^${}()|[\]\\/-]/g, "\\$&")))
    .join("");
  return new RegExp(`^${body}$`, "is");
}

/** Whether the entity names one thing exactly (no `*` or `?`). */
export function isLiteral(entity: string): boolean {
  return !/[*?]/.test(entity);
}

/** The server part of a Matrix user id ("@alice:example.org:8448" → "example.org:8448"). */
export function serverOf(userId: string): string {
  const colon = userId.indexOf(":");
  return colon < 0 ? "" : userId.slice(colon + 1);
}

/** Whether a rule bans a Matrix user: a user rule on the id, a server rule on its server part. */
export function bansUser(rule: PolicyRule, matcher: RegExp, userId: string): boolean {
  if (rule.kind === "user") return matcher.test(userId);
  if (rule.kind === "server") return matcher.test(serverOf(userId));
  return false;
}

/** Whether a room rule bans a room, known by its id and any aliases. */
export function bansRoom(rule: PolicyRule, matcher: RegExp, names: readonly string[]): boolean {
  return rule.kind === "room" && names.some((name) => matcher.test(name));
}

/**
 * Whether a rule must wait for an admin (matrix-appservice-irc #1551: a list sync that banned
 * every user): it matches more than `maxShare` of what it is measured against (active users for
 * user and server rules, bridged rooms for room rules). A user or room named exactly is never
 * held (it can only ever be one); nothing to measure against holds nothing.
 */
export function mustHold(rule: PolicyRule, matched: number, total: number, maxShare: number): boolean {
  if (rule.kind !== "server" && isLiteral(rule.entity)) return false;
  return total > 0 && matched / total > maxShare;
}

/** The rules of every followed policy room, with a matcher each. */
export class PolicyRuleSet {
  private readonly rules = new Map<string, { rule: PolicyRule; matcher: RegExp }>();

  /**
   * Applies one state event of a policy room. Returns the rule now in force for its state entry
   * (`rule`), the one it replaced (`previous`), or nothing when the event is no policy rule.
   */
  apply(
    roomId: string,
    event: { type: string; state_key?: string; content: Record<string, unknown> },
  ): { rule: PolicyRule | null; previous: PolicyRule | null } | null {
    const read = readRule(roomId, event);
    if (read === null) return null;
    const key = ruleKey({ roomId, type: event.type, stateKey: event.state_key ?? "" });
    const previous = this.rules.get(key)?.rule ?? null;
    if (read === "removed") {
      this.rules.delete(key);
      return { rule: null, previous };
    }
    this.rules.set(key, { rule: read, matcher: globToRegExp(read.entity) });
    return { rule: read, previous };
  }

  /** Forgets a room's rules (it is no longer followed); returns them. */
  dropRoom(roomId: string): PolicyRule[] {
    const dropped: PolicyRule[] = [];
    for (const [key, { rule }] of this.rules)
      if (rule.roomId === roomId) {
        this.rules.delete(key);
        dropped.push(rule);
      }
    return dropped;
  }

  get size(): number {
    return this.rules.size;
  }

  all(): PolicyRule[] {
    return [...this.rules.values()].map((r) => r.rule);
  }

  countIn(roomId: string): number {
    let n = 0;
    for (const { rule } of this.rules.values()) if (rule.roomId === roomId) n++;
    return n;
  }

  /** The first rule, among those `included` says count, that bans this Matrix user. */
  userBan(userId: string, included: (rule: PolicyRule) => boolean = () => true): PolicyRule | null {
    for (const { rule, matcher } of this.rules.values())
      if (included(rule) && bansUser(rule, matcher, userId)) return rule;
    return null;
  }

  /** The first rule, among those `included` says count, that bans this room (by id or alias). */
  roomBan(names: readonly string[], included: (rule: PolicyRule) => boolean = () => true): PolicyRule | null {
    for (const { rule, matcher } of this.rules.values())
      if (included(rule) && bansRoom(rule, matcher, names)) return rule;
    return null;
  }

  /** What one rule matches among these users or rooms. */
  matches(rule: PolicyRule, users: Iterable<string>, rooms: Iterable<readonly string[]>): string[] {
    const matcher = this.rules.get(ruleKey(rule))?.matcher ?? globToRegExp(rule.entity);
    const out: string[] = [];
    if (rule.kind === "room") {
      for (const names of rooms) if (bansRoom(rule, matcher, names) && names[0]) out.push(names[0]);
    } else {
      for (const userId of users) if (bansUser(rule, matcher, userId)) out.push(userId);
    }
    return out;
  }
}
