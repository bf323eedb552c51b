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

test("a message ref names the Slack message by its ts, a Matrix upload by the share ts in its meta", () => {
  assert.equal(ids.messageTs({ remoteId: "1700000000.000100" }), "1700000000.000100");
  assert.equal(ids.messageTs({ remoteId: "1700000000.000100:F123" }), "1700000000.000100", "a file part");
  assert.equal(
    ids.messageTs({ remoteId: "file:F123" }),
    undefined,
    "an upload whose share Slack did not name",
  );
  assert.equal(
    ids.messageTs({ remoteId: "file:F123", meta: { ts: "1700000001.000200" } }),
    "1700000001.000200",
  );
  assert.equal(ids.messageTs({ remoteId: "file:F123", meta: { ts: 5 } }), undefined, "only a string ts");
});

test("a DM from before per-login DMs goes to the user's login in the chat's workspace", () => {
  const logins = ["T9/U1", "T024/U123", "T024/U999"];
  assert.equal(ids.loginInTeam("T024/D42", logins), "T024/U123");
  assert.equal(ids.loginInTeam("T9/D42", logins), "T9/U1");
  assert.equal(ids.loginInTeam("T7/D42", logins), null, "no login in that workspace");
  assert.equal(ids.loginInTeam("not a chat", logins), null);
  assert.equal(ids.sameTeam("T024/U123", "T024/C1"), true);
  assert.equal(ids.sameTeam("T024/U123", "T0245/C1"), false);
});
