import { test } from "node:test";
import assert from "node:assert/strict";
import * as ids from "./ids.js";

test("ghost localparts are lower-case and reversible", () => {
  const id = ids.userId("T024BE7LD", "U0G9QF9C6");
  assert.equal(ids.ghostLocalpart(id), "t024be7ld_u0g9qf9c6");
  assert.equal(ids.remoteIdFromLocalpart("t024be7ld_u0g9qf9c6"), id);
  assert.equal(ids.remoteIdFromLocalpart("t024be7ld"), null);
  assert.equal(ids.remoteIdFromLocalpart("Bad_Case"), null);
});

test("chat ids need a team and a Slack id", () => {
  assert.deepEqual(ids.parseChatId("T1/C2"), { team: "T1", channel: "C2" });
  for (const bad of ["C2", "T1/", "/C2", "T1/C2/x", "t1/c2", "T1/#general"])
    assert.equal(ids.parseChatId(bad), null, bad);
  assert.throws(() => ids.ghostLocalpart("nonsense"));
});
