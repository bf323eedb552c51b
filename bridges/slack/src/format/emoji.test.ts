import assert from "node:assert/strict";
import { describe, it } from "node:test";
import iamcal from "emojibase-data/en/shortcodes/iamcal.json" with { type: "json" };
import { emojiToUnicode, replaceShortcodes, unicodeToEmoji } from "./emoji.js";

const VS16 = "\uFE0F";

describe("emojiToUnicode", () => {
  it("knows Slack's names and aliases", () => {
    assert.equal(emojiToUnicode("+1"), `👍${VS16}`);
    assert.equal(emojiToUnicode("thumbsup"), `👍${VS16}`);
    assert.equal(emojiToUnicode("tada"), "🎉");
    assert.equal(emojiToUnicode("white_check_mark"), `✅${VS16}`);
    assert.equal(emojiToUnicode("heart"), `❤${VS16}`);
    assert.equal(emojiToUnicode("flag-cn"), "🇨🇳");
    assert.equal(emojiToUnicode("cn"), "🇨🇳");
  });

  it("accepts the name between colons too", () => {
    assert.equal(emojiToUnicode(":tada:"), "🎉");
  });

  it("applies skin tones 2 to 6", () => {
    assert.equal(emojiToUnicode("+1::skin-tone-2"), "👍🏻");
    assert.equal(emojiToUnicode("thumbsup::skin-tone-6"), "👍🏿");
    assert.equal(emojiToUnicode("wave::skin-tone-4"), "👋🏽");
  });

  it("gives both people of a two-person emoji a single tone, or each their own", () => {
    assert.equal(emojiToUnicode("people_holding_hands::skin-tone-3"), "🧑🏼‍🤝‍🧑🏼");
    assert.equal(emojiToUnicode("handshake::skin-tone-4"), "🤝🏽");
    assert.equal(emojiToUnicode("handshake::skin-tone-2-3"), "🫱🏻‍🫲🏼");
  });

  it("draws a tone the emoji does not take as a swatch after it, as Slack does", () => {
    assert.equal(emojiToUnicode("smile::skin-tone-2"), "😄🏻");
  });

  it("is undefined for unknown and custom names and invalid tones", () => {
    assert.equal(emojiToUnicode("party-parrot"), undefined);
    assert.equal(emojiToUnicode(""), undefined);
    assert.equal(emojiToUnicode("+1::skin-tone-7"), undefined);
    assert.equal(emojiToUnicode("+1::skin-tone-2::skin-tone-3"), undefined);
    assert.equal(emojiToUnicode("constructor"), undefined);
    assert.equal(emojiToUnicode("__proto__"), undefined);
  });
});

describe("unicodeToEmoji", () => {
  it("gives Slack's canonical name, with or without variation selectors", () => {
    assert.equal(unicodeToEmoji("👍"), "+1");
    assert.equal(unicodeToEmoji(`👍${VS16}`), "+1");
    assert.equal(unicodeToEmoji("❤"), "heart");
    assert.equal(unicodeToEmoji(`❤${VS16}`), "heart");
    assert.equal(unicodeToEmoji("🎉"), "tada");
    assert.equal(unicodeToEmoji("🏳️‍🌈"), "rainbow-flag");
  });

  it("writes skin tones as Slack does", () => {
    assert.equal(unicodeToEmoji("👍🏽"), "+1::skin-tone-4");
    assert.equal(unicodeToEmoji("🧑🏼‍🤝‍🧑🏼"), "people_holding_hands::skin-tone-3");
    assert.equal(unicodeToEmoji("🫱🏻‍🫲🏼"), "handshake::skin-tone-2-3");
  });

  it("is undefined for text and unknown sequences", () => {
    assert.equal(unicodeToEmoji("a"), undefined);
    assert.equal(unicodeToEmoji(":+1:"), undefined);
    assert.equal(unicodeToEmoji("👍👍"), undefined);
    assert.equal(unicodeToEmoji(""), undefined);
  });

  it("round-trips every name in the dataset through its emoji", () => {
    const names = Object.values(iamcal as Record<string, string | string[]>);
    assert.ok(names.length > 1800);
    for (const value of names) {
      const [name, ...aliases] = typeof value === "string" ? [value] : value;
      assert.ok(name !== undefined);
      const emoji = emojiToUnicode(name);
      assert.ok(emoji !== undefined, name);
      assert.equal(unicodeToEmoji(emoji), name);
      for (const alias of aliases) assert.equal(emojiToUnicode(alias), emoji, alias);
    }
  });
});

describe("replaceShortcodes", () => {
  it("replaces known shortcodes anywhere in the text", () => {
    assert.equal(replaceShortcodes(":tada: hi"), "🎉 hi");
    assert.equal(replaceShortcodes("ok:+1:ok"), `ok👍${VS16}ok`);
    assert.equal(replaceShortcodes(":tada::tada:"), "🎉🎉");
  });

  it("applies a skin tone written right after the emoji", () => {
    assert.equal(replaceShortcodes("yes :+1::skin-tone-2:!"), "yes 👍🏻!");
    assert.equal(replaceShortcodes(":handshake::skin-tone-2-3:"), "🫱🏻‍🫲🏼");
  });

  it("keeps unknown and custom names as written", () => {
    assert.equal(replaceShortcodes(":party-parrot: and :tada:"), ":party-parrot: and 🎉");
    assert.equal(replaceShortcodes(":Tada: :TADA:"), ":Tada: :TADA:");
    assert.equal(replaceShortcodes("no colons"), "no colons");
  });

  it("turns a tone after a custom emoji into its swatch, keeping the name", () => {
    assert.equal(replaceShortcodes(":partyparrot::skin-tone-3:"), ":partyparrot:🏼");
  });

  it("does not let a colon pair that is no emoji hide one that is", () => {
    assert.equal(replaceShortcodes("at 10:30:tada:"), "at 10:30🎉");
    assert.equal(replaceShortcodes("10:30:00 a:zz:c ::"), "10:30:00 a:zz:c ::");
  });
});
