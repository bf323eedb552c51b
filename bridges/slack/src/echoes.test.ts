import { test } from "node:test";
import assert from "node:assert/strict";
import { EchoTable } from "./echoes.js";

test("an event that arrives before the send returns is recognised once the send settles", async () => {
  const echoes = new EchoTable();
  let answer!: (r: { ts: string }) => void;
  const sending = echoes.track(
    "T/C1",
    () => new Promise<{ ts: string }>((resolve) => (answer = resolve)),
    (r) => ({ ts: r.ts }),
  );
  // Slack's event for the message, pushed before chat.postMessage answered.
  const verdict = echoes.isOwnMessage("T/C1", "100.000001");
  let settled = false;
  void verdict.then(() => (settled = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(settled, false, "the event waits for the send in flight");
  answer({ ts: "100.000001" });
  await sending;
  assert.equal(await verdict, true);
});

test("someone else's message in the same chat is not taken for an echo", async () => {
  const echoes = new EchoTable();
  await echoes.track(
    "T/C1",
    async () => ({ ts: "1.000001" }),
    (r) => ({ ts: r.ts }),
  );
  assert.equal(await echoes.isOwnMessage("T/C1", "1.000002"), false);
  assert.equal(await echoes.isOwnMessage("T/C2", "1.000001"), false, "ts are per chat");
  assert.equal(await echoes.isOwnMessage("T/C1", "1.000001"), true);
});

test("a failed send neither blocks the chat nor marks anything as ours", async () => {
  const echoes = new EchoTable();
  await assert.rejects(
    echoes.track(
      "T/C1",
      async () => Promise.reject(new Error("ratelimited")),
      () => ({}),
    ),
  );
  assert.equal(await echoes.isOwnMessage("T/C1", "5.000000"), false);
});

test("uploaded files are recognised by their ids", async () => {
  const echoes = new EchoTable();
  await echoes.track(
    "T/C1",
    async () => ["F1"],
    (ids) => ({ fileIds: ids }),
  );
  assert.equal(await echoes.isOwnMessage("T/C1", "9.000000", ["F1"]), true);
  assert.equal(await echoes.isOwnMessage("T/C1", "9.000000", ["F2"]), false);
});

test("expected edits, deletes and reactions are consumed exactly once", () => {
  const echoes = new EchoTable();
  echoes.expect("delete T/C1 1.0");
  assert.equal(echoes.consume("delete T/C1 1.0"), true);
  assert.equal(echoes.consume("delete T/C1 1.0"), false, "a second, real delete is bridged");
});
