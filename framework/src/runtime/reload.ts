/**
 * Reloading the config without a restart (SIGHUP, or the console's button). Who may do what
 * (`permissions`, `admins`), the guards and moderation are read where they are used, so they are
 * swapped into the running config in place. Everything else (the homeserver, the appservice, the
 * store, the bridges' own sections, listeners) is bound at start: a change there is named, so the
 * admin knows a restart is still needed, and the rest of the reload still applies.
 */
import type { Config } from "../config/schema.js";

/** Top-level sections a reload applies. */
export const RELOADABLE = ["permissions", "admins", "guards", "moderation"] as const;
type Reloadable = (typeof RELOADABLE)[number];

export interface ReloadPlan {
  /** Reloadable sections whose value changed. */
  applied: string[];
  /** Sections (or `bridges.<id>`) that changed but only take effect after a restart. */
  needsRestart: string[];
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** What changed between the running config and the one just read, and what a reload can do about it. */
export function planReload(current: Config, next: Config): ReloadPlan {
  const applied: string[] = [];
  const needsRestart: string[] = [];
  const keys = new Set([...Object.keys(current), ...Object.keys(next)]) as Set<keyof Config>;
  for (const key of [...keys].sort()) {
    if (same(current[key], next[key])) continue;
    if ((RELOADABLE as readonly string[]).includes(key)) applied.push(key);
    else if (key === "bridges") {
      const ids = new Set([...Object.keys(current.bridges), ...Object.keys(next.bridges)]);
      for (const id of [...ids].sort())
        if (!same(current.bridges[id], next.bridges[id])) needsRestart.push(`bridges.${id}`);
    } else needsRestart.push(key);
  }
  return { applied, needsRestart };
}

/** Swaps the reloadable sections of `next` into `current` (the object every part reads). */
export function applyReload(current: Config, next: Config, plan: ReloadPlan): void {
  const target = current as unknown as Record<Reloadable, unknown>;
  const source = next as unknown as Record<Reloadable, unknown>;
  for (const key of plan.applied as Reloadable[]) target[key] = source[key];
}

/** One line for the log and the console. */
export function describeReload(plan: ReloadPlan): string {
  const applied = plan.applied.length ? `reloaded ${plan.applied.join(", ")}` : "nothing reloadable changed";
  const restart = plan.needsRestart.length
    ? `; changed but only applied at the next restart: ${plan.needsRestart.join(", ")}`
    : "";
  return `Config ${applied}${restart}.`;
}
