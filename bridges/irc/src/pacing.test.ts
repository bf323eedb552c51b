import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { ConnectLimiter, ServerReachability } from "./pacing.js";

describe("ConnectLimiter", () => {
  it("runs at most `concurrency` tasks at once, in order, and lets `first` jump the queue", async () => {
    const limiter = new ConnectLimiter(1);
    const order: string[] = [];
    let release!: () => void;
    const blocker = limiter.run(() => new Promise<void>((r) => (release = r)));
    const tasks = [
      limiter.run(async () => void order.push("puppet1")),
      limiter.run(async () => void order.push("puppet2")),
      limiter.run(async () => void order.push("bot"), { first: true }),
    ];
    await sleep(5);
    assert.deepEqual(order, [], "nothing starts while the slot is taken");
    release();
    await Promise.all([blocker, ...tasks]);
    assert.deepEqual(order, ["bot", "puppet1", "puppet2"]);
  });
});

describe("ServerReachability", () => {
  it("holds waiters until the server answers, then releases them all at once", async () => {
    const server = new ServerReachability();
    let released = 0;
    const waits = [server.whenUp(60_000), server.whenUp(60_000)].map((p) => p.then(() => released++));
    await sleep(5);
    assert.equal(released, 0);
    assert.equal(server.waitingCount, 2);
    server.set(true);
    await Promise.all(waits);
    assert.equal(released, 2);
    assert.equal(server.waitingCount, 0);
  });

  it("does not hold anyone while the server answers", async () => {
    const server = new ServerReachability();
    server.set(true);
    await server.whenUp(60_000);
    server.set(false);
    assert.equal(server.isUp, false);
  });

  it("lets a waiter go after its longest wait, in case only the bot is refused", async () => {
    const server = new ServerReachability();
    let waited = false;
    const wait = server.whenUp(30).then(() => (waited = true));
    // The wait's own timer does not keep a process alive (a parked puppet must not); this one does.
    await sleep(60);
    await wait;
    assert.ok(waited);
    assert.equal(server.waitingCount, 0);
  });
});
