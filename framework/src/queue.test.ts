import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { KeyedQueue } from "./queue.js";

test("tasks under one key run in order, other keys run alongside", async () => {
  const q = new KeyedQueue();
  const log: string[] = [];
  const a1 = q.run("a", async () => {
    await sleep(30);
    log.push("a1");
  });
  const a2 = q.run("a", async () => {
    log.push("a2");
  });
  const b1 = q.run("b", async () => {
    log.push("b1");
  });
  await Promise.all([a1, a2, b1]);
  assert.deepEqual(log, ["b1", "a1", "a2"]);
  assert.equal(q.depth, 0);
});

test("a failing task does not stop the ones after it", async () => {
  const q = new KeyedQueue();
  const failed = q.run("k", async () => {
    throw new Error("boom");
  });
  const next = q.run("k", async () => 42);
  await assert.rejects(failed, /boom/);
  assert.equal(await next, 42);
});
