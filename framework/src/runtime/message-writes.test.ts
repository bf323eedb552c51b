import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { pino } from "pino";
import { NedbStore } from "../store/nedb.js";
import type { MessageMapping } from "../store/types.js";
import { KeyedQueue } from "../queue.js";
import { MessageWrites } from "./message-writes.js";

const log = pino({ level: "silent" });
let store: NedbStore;
const realPut = (m: MessageMapping) => NedbStore.prototype.messagePut.call(store, m);

before(async () => {
  store = new NedbStore({ inMemory: true });
  await store.open();
});
after(() => store.close());

const mapping = (eventId: string, remoteId: string, part = 0): MessageMapping => ({
  network: "toy",
  channelId: "general",
  receiver: "",
  remoteId,
  part,
  roomId: "!room:hs",
  eventId,
  sender: "@toy_bob:hs",
  timestamp: 1_700_000_000_000,
});

/** Makes the store's next puts wait until `release` is called (a slow disk, a busy database). */
function holdPuts(): { release: () => void; attempts: () => number } {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let attempts = 0;
  store.messagePut = async (m) => {
    attempts++;
    await gate;
    return realPut(m);
  };
  return { release, attempts: () => attempts };
}

test("a mapping is found by event and by remote id while its write is still in flight", async (t) => {
  t.after(() => (store.messagePut = realPut));
  const held = holdPuts();
  await realPut(mapping("$part1", "m1", 1));
  const writes = new MessageWrites(store, log, new AbortController().signal);
  const stored = writes.put(mapping("$part0", "m1", 0));
  assert.equal(await store.messageByEvent("$part0"), null, "the store does not have it yet");
  assert.equal((await writes.byEventId("$part0"))?.remoteId, "m1");
  assert.deepEqual(
    (await writes.byRemoteId("toy", "general", "", "m1")).map((p) => p.eventId),
    ["$part0", "$part1"],
    "the pending part and the stored one, in part order",
  );
  let durable = false;
  writes.whenDurable(async () => {
    durable = true;
  });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(durable, false, "follow-ups wait for the write");
  held.release();
  assert.equal(await stored, true);
  await writes.drain();
  assert.equal(durable, true);
  assert.equal(writes.inFlight, 0);
  assert.equal((await store.messageByEvent("$part0"))?.remoteId, "m1", "stored");
  assert.equal((await writes.byEventId("$part0"))?.remoteId, "m1", "found in the store once written");
});

test("a write the store refuses is retried until it is stored", async (t) => {
  t.after(() => (store.messagePut = realPut));
  let failures = 2;
  store.messagePut = async (m) => {
    if (failures-- > 0) throw new Error("disk full");
    return realPut(m);
  };
  const writes = new MessageWrites(store, log, new AbortController().signal);
  let done = false;
  const stored = writes.put(mapping("$retried", "m2"));
  writes.whenDurable(async () => {
    done = true;
  });
  assert.equal(await stored, true);
  await writes.drain();
  assert.equal(done, true);
  assert.equal((await store.messageByEvent("$retried"))?.remoteId, "m2");
});

test("a write still failing at stop is given up, and what waited for it does not run", async (t) => {
  t.after(() => (store.messagePut = realPut));
  store.messagePut = async () => {
    throw new Error("disk full");
  };
  const stop = new AbortController();
  const writes = new MessageWrites(store, log, stop.signal);
  let done = false;
  const stored = writes.put(mapping("$lost", "m3"));
  writes.whenDurable(async () => {
    done = true;
  });
  await new Promise((resolve) => setTimeout(resolve, 20));
  stop.abort();
  assert.equal(await stored, false);
  await writes.drain();
  assert.equal(done, false, "the journal entry stays pending, to be redone at the next start");
  assert.equal(await writes.byEventId("$lost"), null, "not found once given up");
});

test("what waits for the writes so far waits for all of them, whatever order the store finishes them in", async (t) => {
  t.after(() => (store.messagePut = realPut));
  // A pooled database finishes concurrent writes in any order: the first is slow here.
  let releaseFirst!: () => void;
  const firstGate = new Promise<void>((resolve) => (releaseFirst = resolve));
  let releaseLater!: () => void;
  const laterGate = new Promise<void>((resolve) => (releaseLater = resolve));
  store.messagePut = async (m) => {
    if (m.eventId === "$slow") await firstGate;
    if (m.eventId === "$later") await laterGate;
    return realPut(m);
  };
  const writes = new MessageWrites(store, log, new AbortController().signal);
  const slow = writes.put(mapping("$slow", "m4"));
  const early = writes.settled();
  const fast = writes.put(mapping("$fast", "m5"));
  const both = writes.settled();
  const later = writes.put(mapping("$later", "m6"));
  const order: string[] = [];
  void early.then(() => order.push("early"));
  void both.then(() => order.push("both"));
  assert.equal(await fast, true);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(order, [], "the slow write is still open");
  releaseFirst();
  assert.equal(await slow, true);
  assert.deepEqual(await Promise.all([early, both]), [true, true]);
  assert.deepEqual(order, ["early", "both"], "not waiting for the write started after them");
  releaseLater();
  assert.equal(await later, true);
  assert.equal(await writes.settled(), true, "nothing open: settled at once");
});

test("from a queue, a write is waited for only while many queues are busy", async (t) => {
  t.after(() => (store.messagePut = realPut));
  const held = holdPuts();
  const queues = new KeyedQueue();
  const writes = new MessageWrites(store, log, new AbortController().signal, queues);
  assert.equal(writes.putFromQueue(mapping("$quiet", "m7")), undefined, "one busy room goes on at once");
  let release!: () => void;
  const busy = new Promise<void>((resolve) => (release = resolve));
  const rooms = Array.from({ length: 8 }, (_, i) => queues.run(`!room${i}:hs`, () => busy));
  const waited = writes.putFromQueue(mapping("$busy", "m8"));
  assert.ok(waited, "eight busy rooms: the queue waits for the store");
  held.release();
  assert.equal(await waited, true);
  release();
  await Promise.all(rooms);
  await writes.drain();
});
