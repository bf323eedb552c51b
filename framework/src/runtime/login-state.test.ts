import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CredentialBox } from "../credentials.js";
import { NedbStore } from "../store/nedb.js";
import { loginStateNamespace, sealedLoginState } from "./login-state.js";

const box = new CredentialBox("login-state-test-key-that-is-long-enough");

/** Every file under `dir`, the LevelDB directory of the message mappings included. */
async function allFiles(dir: string): Promise<string> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
  return (await Promise.all(files.map((f) => readFile(f, "utf8")))).join("\n");
}

test("login state survives a restart, is sealed on disk, and lists exactly a prefix", async () => {
  const dir = await mkdtemp(join(tmpdir(), "sb-login-state-"));
  try {
    let store = new NedbStore({ directory: dir });
    await store.open();
    const state = sealedLoginState(store, box, "signal", "+15550001");
    await state.set("session:alice.1", "secret-session-bytes-AAAA");
    await state.set("session:alice.10", "secret-session-bytes-BBBB");
    await state.set("session:bob.1", "secret-session-bytes-CCCC");
    await state.set("identity", "secret-identity-key-DDDD");
    await state.delete("session:bob.1");
    // Another login's records are its own.
    await sealedLoginState(store, box, "signal", "+15550002").set("session:alice.1", "other-login-EEEE");
    await store.close();

    const disk = await allFiles(dir);
    for (const value of ["AAAA", "BBBB", "DDDD", "EEEE"])
      assert.ok(!disk.includes(`secret-session-bytes-${value}`) && !disk.includes(value), `${value} sealed`);

    store = new NedbStore({ directory: dir });
    await store.open();
    const again = sealedLoginState(store, box, "signal", "+15550001");
    assert.equal(await again.get("identity"), "secret-identity-key-DDDD");
    assert.equal(await again.get("session:bob.1"), null);
    assert.deepEqual(await again.list("session:alice."), [
      { key: "session:alice.1", value: "secret-session-bytes-AAAA" },
      { key: "session:alice.10", value: "secret-session-bytes-BBBB" },
    ]);
    assert.deepEqual(await again.list("nothing"), []);
    // Logging out clears the namespace, and only that login's.
    await store.kvClear(loginStateNamespace("signal", "+15550001"));
    assert.deepEqual(await again.list(""), []);
    assert.equal(
      await sealedLoginState(store, box, "signal", "+15550002").get("session:alice.1"),
      "other-login-EEEE",
    );
    await store.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
