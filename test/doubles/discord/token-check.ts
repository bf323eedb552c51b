import { createHash, timingSafeEqual } from "node:crypto";

/**
 * Constant-time token comparison for the REST `Authorization: Bot …` header, webhook and interaction
 * tokens and the gateway's IDENTIFY/RESUME. Both sides are hashed first so neither the comparison
 * nor an early length check leaks how much of a guess was right.
 */
export function tokenMatches(given: string, expected: string): boolean {
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b) && given.length === expected.length;
}
