import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RefusalNotices, refusalNotice } from "./refusals.js";

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

describe("RefusalNotices", () => {
  const setup = (bans: string[]) => {
    const notices: string[] = [];
    let banLookups = 0;
    const refusals = new RefusalNotices({
      network: "libera",
      lower: (s) => s.toLowerCase(),
      banList: async () => {
        banLookups++;
        return bans;
      },
      notice: async (channel, text) => void notices.push(`${channel}: ${text}`),
    });
    return { refusals, notices, lookups: () => banLookups };
  };
  const conn = { nick: "alice[m]", hostmask: "alice[m]!alice@matrix.example" };

  it("names the ban that matches the refused connection", async () => {
    const { refusals, notices } = setup(["*!*@elsewhere", "*!alice@matrix.*"]);
    await refusals.tell({ error: "cannot_send_to_channel", channel: "#rust" }, conn, alice);
    assert.deepEqual(notices, [
      "#rust: A message from Alice (alice[m]) could not be delivered to #rust on libera: alice[m] is banned there (+b *!alice@matrix.*).",
    ]);
  });

  it("tells a cause once a minute: a ban's refused join and refused line are one cause", async () => {
    const { refusals, notices, lookups } = setup([]);
    await refusals.tell({ error: "banned_from_channel", channel: "#rust" }, conn, alice);
    await refusals.tell({ error: "cannot_send_to_channel", channel: "#RUST" }, conn, alice);
    await refusals.tell({ error: "banned_from_channel", channel: "#rust" }, conn, alice);
    assert.equal(notices.length, 1);
    assert.equal(lookups(), 1);
    await refusals.tell({ error: "banned_from_channel", channel: "#other" }, conn, alice);
    await refusals.tell({ error: "invite_only_channel", channel: "#rust" }, conn, alice);
    assert.equal(notices.length, 3, "another channel or another cause is news");
  });

  it("says nothing about errors that are not refusals, and asks for no ban list then", async () => {
    const { refusals, notices, lookups } = setup(["*!*@*"]);
    await refusals.tell({ error: "user_not_in_channel", channel: "#rust" }, conn, bot);
    assert.deepEqual(notices, []);
    assert.equal(lookups(), 0);
  });
});
