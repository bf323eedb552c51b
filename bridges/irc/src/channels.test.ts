import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { ChannelState } from "./channels.js";

// RFC 1459 case mapping, as most servers use it.
const lower = (s: string) => s.toLowerCase().replace(/\[/g, "{").replace(/\]/g, "}").replace(/\\/g, "|");

describe("ChannelState", () => {
  it("keeps members from NAMES, joins and parts, whatever the case", () => {
    const s = new ChannelState(lower);
    assert.equal(s.hasNames("#Rust"), false);
    s.names("#Rust", ["Alice", "bob[away]"]);
    assert.equal(s.hasNames("#rust"), true);
    s.joined("#rust", "Carol");
    s.left("#RUST", "alice");
    assert.deepEqual(s.membersOf("#rust"), ["bob[away]", "Carol"]);
    assert.equal(s.member("#rust", "BOB{AWAY}"), "bob[away]");
    assert.equal(s.member("#rust", "alice"), undefined);
    s.joined("#elsewhere", "dave");
    assert.equal(s.hasNames("#elsewhere"), false, "a join before NAMES is not a member list");
  });

  it("says which channels a quit or a nick change touches", () => {
    const s = new ChannelState(lower);
    s.names("#a", ["carol", "dave"]);
    s.names("#b", ["Carol"]);
    s.names("#c", ["dave"]);
    assert.deepEqual(s.renamed("CAROL", "carol2"), ["#a", "#b"]);
    assert.deepEqual(s.membersOf("#b"), ["carol2"]);
    assert.deepEqual(s.quit("dave"), ["#a", "#c"]);
    assert.deepEqual(s.quit("dave"), [], "gone already");
    assert.deepEqual(s.membersOf("#a"), ["carol2"]);
  });

  it("reports a topic change only after the topic sent on join", () => {
    const s = new ChannelState(lower);
    assert.equal(s.setTopic("#a", "first"), false);
    assert.equal(s.setTopic("#A", "second"), true);
    assert.equal(s.topic("#a"), "second");
  });

  it("keeps channel modes, not member or list modes; +s and +p make it private", () => {
    const s = new ChannelState(lower);
    s.applyModes("#a", [{ mode: "+n" }, { mode: "+o" }, { mode: "+b" }]);
    assert.equal(s.isPrivate("#a"), false);
    s.applyModes("#a", [{ mode: "+s" }]);
    assert.equal(s.isPrivate("#A"), true);
    s.applyModes("#a", [{ mode: "-s" }, { mode: "+p" }]);
    assert.equal(s.isPrivate("#a"), true);
    s.applyModes("#a", [{ mode: "-p" }]);
    assert.equal(s.isPrivate("#a"), false);
    assert.equal(s.isPrivate("#unknown"), false);
  });

  it("answers who waits for NAMES: joined, refused, or given up", async () => {
    const s = new ChannelState(lower);
    const joined = s.waitForNames("#a", 5_000);
    s.names("#A", []);
    assert.equal(await joined, true);

    const refused = s.waitForNames("#inv", 5_000);
    s.refuse("#INV", { error: "invite_only_channel", reason: "Cannot join (+i)" });
    assert.equal(await refused, false);
    assert.deepEqual(s.refusal("#inv"), { error: "invite_only_channel", reason: "Cannot join (+i)" });

    const again = s.waitForNames("#inv", 5_000);
    s.giveUpWaiting("#inv");
    assert.equal(await again, false);

    s.names("#inv", ["carol"]);
    assert.equal(s.refusal("#inv"), undefined, "in at last: the refusal is over");
    // The wait's own timer does not hold the process open (unref'd): this sleep does.
    const [slow] = await Promise.all([s.waitForNames("#slow", 10), sleep(30)]);
    assert.equal(slow, false, "a timeout says no");
  });
});
