import { test } from "node:test";
import assert from "node:assert/strict";
import { EchoGuard } from "./double-bridge.js";

test("the same text back from another identity within the window is an echo, then a loop", () => {
  const g = new EchoGuard(30_000, 3);
  const t0 = 1_000_000;
  for (let i = 0; i < 3; i++) g.recordSent("!room", `hello number ${i}`, "relay", t0 + i);
  assert.equal(g.check("!room", "hello number 0", "relay", t0 + 10), "ok", "our own identity is not an echo");
  assert.equal(g.check("!room", "<alice[m]> hello number 0", "otherbot", t0 + 10), "echo");
  assert.equal(g.check("!room", "hello   number 1", "otherbot", t0 + 20), "echo");
  assert.equal(g.check("!room", "something else", "otherbot", t0 + 30), "ok");
  assert.equal(g.check("!room", "hello number 2", "otherbot", t0 + 40), "loop");
});

test("outside the window, or in another room, nothing is flagged", () => {
  const g = new EchoGuard(1000, 1);
  g.recordSent("!a", "ping", "relay", 0);
  assert.equal(g.check("!b", "ping", "x", 10), "ok");
  assert.equal(g.check("!a", "ping", "x", 5000), "ok");
  g.recordSent("!a", "ping", "relay", 6000);
  assert.equal(g.check("!a", "ping", "x", 6001), "loop");
  g.reset("!a");
  assert.equal(g.check("!a", "ping", "x", 6002), "ok");
});
