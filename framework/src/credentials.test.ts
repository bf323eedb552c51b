import { test } from "node:test";
import assert from "node:assert/strict";
import { CredentialBox } from "./credentials.js";

test("sealed credentials open with the same secret and hide the plaintext", () => {
  const box = new CredentialBox("a".repeat(32));
  const sealed = box.seal({ token: "xoxp-secret-token" });
  assert.ok(!sealed.includes("xoxp"), "plaintext must not appear in the sealed value");
  assert.deepEqual(box.open(sealed), { token: "xoxp-secret-token" });
  assert.notEqual(box.seal({ token: "x" }), box.seal({ token: "x" }), "a fresh IV every time");
});

test("a wrong key or a tampered record fails to open", () => {
  const sealed = new CredentialBox("a".repeat(32)).seal({ token: "t" });
  assert.throws(() => new CredentialBox("b".repeat(32)).open(sealed));
  const raw = Buffer.from(sealed.slice(3), "base64");
  raw[raw.length - 1] = (raw[raw.length - 1] ?? 0) ^ 1;
  assert.throws(() => new CredentialBox("a".repeat(32)).open(`v1:${raw.toString("base64")}`));
});
