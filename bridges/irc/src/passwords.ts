import type { BridgeContext } from "@switchboard/framework";
import { CredentialBox } from "@switchboard/framework";
import { loginId } from "./ids.js";

/**
 * NickServ/SASL passwords Matrix users keep with `storepass`: in the sealed state of their
 * implicit login on the network (`ctx.loginState("libera/@alice:example.org")`), read when
 * their puppet connects.
 *
 * Bridges from before kept them in the connector's plain key/value space as
 * `password:<network>:<mxid>`, sealed with a CredentialBox whose key sat next to them under
 * `password-key` (so it protected nothing). `migratePasswords` moves them at start.
 */

const PASSWORD = "password";
const LEGACY_PREFIX = "password:";
const LEGACY_KEY = "password-key";

type PasswordContext = Pick<BridgeContext, "loginState">;

export async function storedPassword(
  ctx: PasswordContext,
  network: string,
  matrixUserId: string,
): Promise<string | null> {
  return ctx.loginState(loginId(network, matrixUserId)).get(PASSWORD);
}

export async function storePassword(
  ctx: PasswordContext,
  network: string,
  matrixUserId: string,
  password: string,
): Promise<void> {
  await ctx.loginState(loginId(network, matrixUserId)).set(PASSWORD, password);
}

export interface MigrationResult {
  moved: number;
  /** Old entries left in place because they could not be opened (logged, with the remedy). */
  unreadable: number;
}

/**
 * Moves the old passwords into login state and deletes them, then their key. Idempotent: a
 * crash anywhere leaves either the old entry (moved again next start) or the new one; the
 * key goes last, so it never disappears before an entry it sealed. A password already in
 * login state wins (it is the newer one).
 */
export async function migratePasswords(
  ctx: Pick<BridgeContext, "kvGet" | "kvList" | "kvDelete" | "loginState" | "log">,
): Promise<MigrationResult> {
  const result: MigrationResult = { moved: 0, unreadable: 0 };
  const legacy = await ctx.kvList<unknown>(LEGACY_PREFIX);
  const secret = await ctx.kvGet<string>(LEGACY_KEY);
  const box = typeof secret === "string" && secret ? new CredentialBox(secret) : null;
  for (const { key, value } of legacy) {
    const owner = parseLegacyKey(key);
    if (!owner) continue; // not one of ours
    const state = ctx.loginState(loginId(owner.network, owner.matrixUserId));
    if ((await state.get(PASSWORD)) === null) {
      const password = open(box, value);
      if (password === null) {
        result.unreadable++;
        ctx.log.warn(
          { network: owner.network, userId: owner.matrixUserId },
          "a stored IRC password could not be read and was left where it was; the user can store it again with `irc storepass`",
        );
        continue;
      }
      await state.set(PASSWORD, password);
    }
    await ctx.kvDelete(key);
    result.moved++;
  }
  if (result.unreadable === 0 && secret !== null) await ctx.kvDelete(LEGACY_KEY);
  if (result.moved > 0)
    ctx.log.info({ passwords: result.moved }, "stored IRC passwords moved to login state");
  return result;
}

/** "password:libera:@alice:example.org" → its network and Matrix user (network names have no ":"). */
export function parseLegacyKey(key: string): { network: string; matrixUserId: string } | null {
  if (!key.startsWith(LEGACY_PREFIX)) return null;
  const rest = key.slice(LEGACY_PREFIX.length);
  const colon = rest.indexOf(":");
  if (colon <= 0) return null;
  const network = rest.slice(0, colon);
  const matrixUserId = rest.slice(colon + 1);
  if (!/^[a-z0-9]+$/.test(network) || !matrixUserId.startsWith("@")) return null;
  return { network, matrixUserId };
}

function open(box: CredentialBox | null, sealed: unknown): string | null {
  if (!box || typeof sealed !== "string") return null;
  try {
    const value = box.open(sealed);
    return typeof value === "string" ? value : null;
  } catch {
    return null;
  }
}
