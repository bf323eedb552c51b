import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pino } from "pino";
import { CredentialBox, type BridgeContext, type LoginState } from "@switchboard/framework";
import { migratePasswords, parseLegacyKey, storePassword, storedPassword } from "./passwords.js";

/** The parts of a BridgeContext the passwords use: a key/value space and login state, in memory. */
function fakeContext() {
  const kv = new Map<string, unknown>();
  const states = new Map<string, Map<string, string>>();
  const sorted = <T>(m: Map<string, T>, prefix: string) =>
    [...m]
      .filter(([k]) => k.startsWith(prefix))
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([key, value]) => ({ key, value }));
  const loginState = (loginId: string): LoginState => {
    const m = states.get(loginId) ?? new Map<string, string>();
    states.set(loginId, m);
    return {
      get: async (k) => m.get(k) ?? null,
      set: async (k, v) => void m.set(k, v),
      delete: async (k) => void m.delete(k),
      list: async (prefix) => sorted(m, prefix),
    };
  };
  const ctx: Pick<BridgeContext, "kvGet" | "kvList" | "kvDelete" | "kvSet" | "loginState" | "log"> = {
    kvGet: async <T>(k: string) => (kv.get(k) as T | undefined) ?? null,
    kvSet: async (k, v) => void kv.set(k, v),
    kvDelete: async (k) => void kv.delete(k),
    kvList: async <T>(prefix: string) => sorted(kv, prefix) as Array<{ key: string; value: T }>,
    loginState,
    log: pino({ level: "silent" }),
  };
  return { ctx, kv, states };
}

/** Old data: passwords sealed with a box whose key sits next to them. */
function legacy(kv: Map<string, unknown>, passwords: Record<string, string>): void {
  const secret = "old-secret";
  kv.set("password-key", secret);
  const box = new CredentialBox(secret);
  for (const [key, pw] of Object.entries(passwords)) kv.set(key, box.seal(pw));
}

describe("IRC passwords", () => {
  it("are kept in the implicit login's sealed state", async () => {
    const { ctx, kv } = fakeContext();
    await storePassword(ctx, "libera", "@alice:x", "hunter2");
    assert.equal(await storedPassword(ctx, "libera", "@alice:x"), "hunter2");
    assert.equal(await ctx.loginState("libera/@alice:x").get("password"), "hunter2");
    assert.equal(await storedPassword(ctx, "oftc", "@alice:x"), null, "per network");
    assert.equal(kv.size, 0, "nothing in the plain key/value space");
  });

  it("move from the old key/value entries, which are deleted with their key", async () => {
    const { ctx, kv } = fakeContext();
    legacy(kv, { "password:libera:@alice:x": "pw a", "password:oftc:@bob:y.org:8448": "pw b" });
    kv.set("nick:libera:@alice:x", "alice");
    const result = await migratePasswords(ctx);
    assert.deepEqual(result, { moved: 2, unreadable: 0 });
    assert.equal(await storedPassword(ctx, "libera", "@alice:x"), "pw a");
    assert.equal(await storedPassword(ctx, "oftc", "@bob:y.org:8448"), "pw b");
    assert.deepEqual([...kv.keys()], ["nick:libera:@alice:x"], "only what is not a password stays");
  });

  it("migrate idempotently: a second run, or one after a crash midway, changes nothing more", async () => {
    const { ctx, kv } = fakeContext();
    legacy(kv, { "password:libera:@alice:x": "pw a", "password:libera:@carol:x": "pw c" });
    // A crash after the first was written to login state but before its old entry was deleted.
    await storePassword(ctx, "libera", "@alice:x", "pw a");
    assert.deepEqual(await migratePasswords(ctx), { moved: 2, unreadable: 0 });
    assert.deepEqual(await migratePasswords(ctx), { moved: 0, unreadable: 0 });
    assert.equal(await storedPassword(ctx, "libera", "@alice:x"), "pw a");
    assert.equal(await storedPassword(ctx, "libera", "@carol:x"), "pw c");
    assert.equal(kv.size, 0);
  });

  it("keep a password already in login state (the newer one)", async () => {
    const { ctx, kv } = fakeContext();
    legacy(kv, { "password:libera:@alice:x": "old" });
    await storePassword(ctx, "libera", "@alice:x", "new");
    await migratePasswords(ctx);
    assert.equal(await storedPassword(ctx, "libera", "@alice:x"), "new");
    assert.equal(kv.size, 0);
  });

  it("leave an unreadable entry and its key in place (nothing is lost), and move the rest", async () => {
    const { ctx, kv } = fakeContext();
    legacy(kv, { "password:libera:@alice:x": "pw a" });
    kv.set("password:libera:@mallory:x", "v1:not-sealed-with-this-key");
    assert.deepEqual(await migratePasswords(ctx), { moved: 1, unreadable: 1 });
    assert.equal(await storedPassword(ctx, "libera", "@alice:x"), "pw a");
    assert.deepEqual([...kv.keys()].sort(), ["password-key", "password:libera:@mallory:x"]);
    // Once the user stores it again, the next start clears the old entry and the key.
    await storePassword(ctx, "libera", "@mallory:x", "again");
    assert.deepEqual(await migratePasswords(ctx), { moved: 1, unreadable: 0 });
    assert.equal(kv.size, 0);
  });

  it("with nothing to migrate, do nothing (a fresh bridge)", async () => {
    const { ctx, kv } = fakeContext();
    assert.deepEqual(await migratePasswords(ctx), { moved: 0, unreadable: 0 });
    assert.equal(kv.size, 0);
  });

  it("read the old keys' network and Matrix user, and nothing else", () => {
    assert.deepEqual(parseLegacyKey("password:libera:@alice:example.org"), {
      network: "libera",
      matrixUserId: "@alice:example.org",
    });
    assert.equal(parseLegacyKey("password-key"), null);
    assert.equal(parseLegacyKey("password:libera"), null);
    assert.equal(parseLegacyKey("password::@alice:x"), null);
    assert.equal(parseLegacyKey("password:libera:alice"), null);
  });
});
