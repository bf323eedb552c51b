import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  supportsDmUpgrade,
  supportsEdits,
  supportsImplicitLogins,
  supportsMembership,
} from "@switchboard/framework";
import { IrcConnector } from "./connector.js";

describe("IrcConnector (before start: no network connected)", () => {
  const irc = new IrcConnector();

  it("offers what the framework detects: implicit logins, DM upgrades, a bot that edits", () => {
    assert.ok(supportsImplicitLogins(irc));
    assert.ok(supportsDmUpgrade(irc));
    assert.ok(supportsEdits(irc.bot));
    assert.ok(!supportsMembership(irc.bot), "joins and leaves are the user's own, never the relay's");
    assert.deepEqual(irc.bot.capabilities({ channelId: "libera/#rust" }), {
      edits: true,
      replies: true,
      threads: false,
      reactions: false,
      redactions: false,
      typing: false,
      readReceipts: false,
      media: true,
    });
  });

  it("reads the Matrix user back from an implicit login id, and only from one", () => {
    assert.equal(irc.implicitLoginOwner("libera/@alice:example.org"), "@alice:example.org");
    assert.equal(irc.implicitLoginOwner("libera/alice"), null);
    assert.equal(irc.implicitLoginOwner("U123"), null);
  });

  it("gives an old DM (scoped by Matrix user) to that user's implicit login on the DM's network", () => {
    assert.equal(
      irc.upgradeDmReceiver("libera/carol", "@alice:example.org", []),
      "libera/@alice:example.org",
    );
    assert.equal(irc.upgradeDmReceiver("garbage", "@alice:example.org", []), null);
  });

  it("has no login, DM or alias on a network it does not know", async () => {
    assert.equal(await irc.implicitLogin("@alice:example.org", { channelId: "nowhere/#rust" }), null);
    assert.deepEqual(irc.implicitLoginsOf("@alice:example.org"), []);
    assert.equal(irc.dmChat("nowhere/carol", "@alice:example.org"), null);
    assert.equal(irc.chatFromAlias("nowhere_#rust"), null);
    assert.equal(irc.aliasFor({ channelId: "libera/#rust" }), "libera_#rust");
    assert.equal(irc.aliasFor({ channelId: "libera/carol", receiver: "libera/@alice:example.org" }), null);
    await assert.rejects(irc.bot.getChat({ channelId: "nowhere/#rust" }), { name: "PermanentError" });
  });
});
