import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { maskMatches } from "./masks.js";

const rfc1459 = (s: string) => s.toLowerCase().replace(/\[/g, "{").replace(/]/g, "}").replace(/\\/g, "|");
const matches = (mask: string, who = "Alice[m]!alice@127.0.0.1") => maskMatches(mask, who, rfc1459);

describe("maskMatches", () => {
  it("matches nick, ident and host bans with wildcards", () => {
    assert.ok(matches("alice[m]!*@*"));
    assert.ok(matches("*!alice@*"));
    assert.ok(matches("*!*@127.0.0.*"));
    assert.ok(matches("al?ce*!*@*"));
    assert.ok(matches("*"));
  });

  it("folds case with the server's mapping ([ and { are the same letter)", () => {
    assert.ok(matches("ALICE{M}!*@*"));
  });

  it("completes partial masks the way servers do", () => {
    assert.ok(matches("alice[m]"));
    assert.ok(matches("alice@127.0.0.1"));
    assert.ok(matches("alice[m]!alice"));
  });

  it("does not match other users or treat regex characters specially", () => {
    assert.ok(!matches("bob!*@*"));
    assert.ok(!matches("*!*@10.0.0.1"));
    assert.ok(!matches("alice.m.!*@*", "alice[m]!alice@host"));
    assert.ok(!matches("alice[m]!*@*", "xalice[m]!alice@host"));
  });

  it("never matches extended bans, whose meaning is server state", () => {
    assert.ok(!matches("$a:alice"));
    assert.ok(!matches("~q:*!*@*"));
  });
});
