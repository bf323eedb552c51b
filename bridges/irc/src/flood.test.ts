import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FloodGate, type FloodVerdict } from "./flood.js";

const limits = { user_lines_per_second: 2, user_burst: 5, channel_lines_per_second: 10, channel_burst: 8 };

function run(gate: FloodGate, lines: Array<[string, number]>, channel = "#c"): FloodVerdict[] {
  return lines.map(([nick, at]) => gate.check(channel, nick, at));
}

describe("FloodGate", () => {
  it("passes a user's burst, drops the rest with one tell, refills at the rate", () => {
    const gate = new FloodGate(limits);
    const verdicts = run(
      gate,
      Array.from({ length: 20 }, (_, i): [string, number] => ["spam", i]),
    );
    assert.deepEqual(verdicts.slice(0, 5), Array(5).fill("pass"));
    assert.equal(verdicts[5], "tell-user");
    assert.deepEqual(verdicts.slice(6), Array(14).fill("drop"), "told once per flood, not per line");
    // Half a second later one token (2 per second) is back; still flooding, so no new tell.
    assert.deepEqual(
      run(gate, [
        ["spam", 520],
        ["spam", 521],
      ]),
      ["pass", "drop"],
    );
  });

  it("another user in the channel keeps flowing while one floods", () => {
    const gate = new FloodGate(limits);
    run(
      gate,
      Array.from({ length: 30 }, (_, i): [string, number] => ["spam", i]),
    );
    assert.deepEqual(
      run(gate, [
        ["alice", 40],
        ["alice", 41],
      ]),
      ["pass", "pass"],
    );
  });

  it("a new flood after a quiet spell is told again", () => {
    const gate = new FloodGate(limits);
    run(
      gate,
      Array.from({ length: 10 }, (_, i): [string, number] => ["spam", i]),
    );
    const later = 10_000; // 10 s: the bucket is full again
    const verdicts = run(
      gate,
      Array.from({ length: 7 }, (_, i): [string, number] => ["spam", later + i]),
    );
    assert.deepEqual(verdicts, ["pass", "pass", "pass", "pass", "pass", "tell-user", "drop"]);
  });

  it("many users at once hit the channel limit, told once", () => {
    const gate = new FloodGate(limits);
    const verdicts = run(
      gate,
      Array.from({ length: 12 }, (_, i): [string, number] => [`bot${i}`, i]),
    );
    assert.deepEqual(verdicts.slice(0, 8), Array(8).fill("pass"));
    assert.deepEqual(verdicts.slice(8), ["tell-channel", "drop", "drop", "drop"]);
    assert.deepEqual(run(gate, [["x", 20]], "#other"), ["pass"], "channels are separate");
  });
});
