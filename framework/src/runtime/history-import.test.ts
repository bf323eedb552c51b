import { test } from "node:test";
import assert from "node:assert/strict";
import { describeSpan, parseSpan } from "./history-import.js";

test("a history span is N messages, N days, all or off; anything else is refused", () => {
  assert.deepEqual(parseSpan("1000 messages"), { messages: 1000 });
  assert.deepEqual(parseSpan("1 message"), { messages: 1 });
  assert.deepEqual(parseSpan("250"), { messages: 250 });
  assert.deepEqual(parseSpan(" 30 Days "), { days: 30 });
  assert.deepEqual(parseSpan("1 day"), { days: 1 });
  assert.equal(parseSpan("all"), "all");
  assert.equal(parseSpan("off"), null);
  for (const bad of ["", "0 messages", "-5 days", "ten days", "30 weeks", "1e3", "30 days please"])
    assert.equal(parseSpan(bad), undefined, bad);
});

test("a span is described the way the room is told", () => {
  assert.equal(describeSpan({ messages: 1 }), "the last 1 message");
  assert.equal(describeSpan({ days: 30 }), "the last 30 days");
  assert.equal(describeSpan("all"), "all the history the network returns");
});
