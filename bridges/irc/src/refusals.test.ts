import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { refusalNotice } from "./refusals.js";

const base = { channel: "#rust", network: "libera" };
const bot = { bot: "switchboard" };
const alice = { puppet: "alice[m]", displayname: "Alice" };

describe("refusalNotice", () => {
  it("tells the room what keeps the bot out and what would let it in", () => {
    assert.match(
      refusalNotice({ ...base, error: "invite_only_channel" }, bot) ?? "",
      /cannot join #rust on libera: the channel is invite only \(\+i\)\. .*\/invite switchboard #rust/,
    );
    assert.match(
      refusalNotice({ ...base, error: "bad_channel_key" }, bot) ?? "",
      /key \(\+k\) the bridge does not know\. .*channel_keys of the libera network/,
    );
  });

  it("says a puppet's message was not delivered, naming the ban when one matches", () => {
    assert.equal(
      refusalNotice(
        { ...base, error: "cannot_send_to_channel", ban: "*!*@host", reason: "Cannot send" },
        alice,
      ),
      "A message from Alice (alice[m]) could not be delivered to #rust on libera: alice[m] is banned there (+b *!*@host).",
    );
    assert.equal(
      refusalNotice(
        { ...base, error: "cannot_send_to_channel", reason: "Cannot send to channel (+m)" },
        alice,
      ),
      'A message from Alice (alice[m]) could not be delivered to #rust on libera: the server said "Cannot send to channel (+m)".',
    );
  });

  it("stays quiet about errors that are not refusals", () => {
    assert.equal(refusalNotice({ ...base, error: "user_not_in_channel" }, alice), null);
  });
});
