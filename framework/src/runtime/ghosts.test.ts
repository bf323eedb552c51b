import { test } from "node:test";
import assert from "node:assert/strict";
import { escapeLocalpart, unescapeLocalpart } from "./ghosts.js";

test("ghost localpart escaping is valid, reversible and keeps distinct ids distinct", () => {
  const ids = ["alice", "Alice", "a_b", "U12AB", "nick[m]", "élan", "a=b", "x y", "_A"];
  const escaped = ids.map(escapeLocalpart);
  for (const e of escaped) assert.match(e, /^[a-z0-9._=-]+$/);
  assert.equal(new Set(escaped).size, ids.length, "no two ids may share a localpart");
  ids.forEach((id, i) => assert.equal(unescapeLocalpart(escaped[i] ?? ""), id));
  assert.equal(escapeLocalpart("Alice"), "_alice");
  assert.equal(unescapeLocalpart("bad!"), null);
});
