import type { Permission } from "./config/schema.js";

/**
 * Who may do what, from the config's `permissions` (by full user id, by server name, or
 * "*") and `admins`. The most specific entry wins: user id, then domain, then "*".
 */
const rank: Record<Permission, number> = { block: 0, relay: 1, user: 2, admin: 3 };

export class Permissions {
  constructor(
    private table: Record<string, Permission>,
    private admins: readonly string[],
  ) {}

  /** A reloaded config's permissions and admins (SIGHUP); takes effect for the next event. */
  replace(table: Record<string, Permission>, admins: readonly string[]): void {
    this.table = table;
    this.admins = admins;
  }

  of(userId: string): Permission {
    if (this.admins.includes(userId)) return "admin";
    const domain = userId.slice(userId.indexOf(":") + 1);
    return this.table[userId] ?? this.table[domain] ?? this.table["*"] ?? "block";
  }

  /** Whether `userId` has at least `needed`. */
  allows(userId: string, needed: Permission): boolean {
    return rank[this.of(userId)] >= rank[needed];
  }
}
