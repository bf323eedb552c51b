import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { webhookUsername } from "./webhooks.js";

const FORBIDDEN = /discord|clyde/i;
const FALLBACK = "Matrix user";

function codePoints(text: string): number {
  return [...text].length;
}

/** Every rule Discord applies to a webhook message's username. */
function assertAllowed(name: string): void {
  assert.ok(codePoints(name) >= 1 && codePoints(name) <= 80, `length ${codePoints(name)}: ${name}`);
  assert.doesNotMatch(name, FORBIDDEN);
  assert.doesNotMatch(name, /[\r\n\t]/);
  assert.doesNotMatch(name, /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/);
}

describe("webhookUsername", () => {
  it("keeps ordinary names as they are", () => {
    assert.equal(webhookUsername("Alice"), "Alice");
    assert.equal(webhookUsername("Zoë 🌸 (she/her)"), "Zoë 🌸 (she/her)");
  });

  it("never contains discord or clyde, in any case, and stays readable", () => {
    for (const [input, expected] of [
      ["My Discord bot", "My Dıscord bot"],
      ["DISCORD", "DΙSCORD"],
      ["DiScOrD", "DıScOrD"],
      ["dIsCoRd", "dΙsCoRd"],
      ["clyde", "clуde"],
      ["CLYDE", "CLΥDE"],
      ["ClYdE", "ClΥdE"],
      ["discorddiscord & clydeclyde", "dıscorddıscord & clуdeclуde"],
    ] as const) {
      const name = webhookUsername(input);
      assert.equal(name, expected);
      assertAllowed(name);
    }
  });

  it("collapses newlines and tabs and trims", () => {
    assert.equal(webhookUsername("  a\nb\t\tc\r\nd  "), "a b c d");
    assert.equal(webhookUsername("dis\ncord"), "dis cord");
  });

  it("falls back to a name when nothing is left", () => {
    for (const input of ["", "   ", "\n\t\r\n"]) {
      assert.equal(webhookUsername(input), FALLBACK, JSON.stringify(input));
    }
    assertAllowed(FALLBACK);
  });

  it("cuts long names at 80 characters", () => {
    assert.equal(webhookUsername("x".repeat(100)), "x".repeat(80));
    assert.equal(webhookUsername("x".repeat(80)), "x".repeat(80));
    assert.equal(webhookUsername(`${"\n".repeat(10)}${"y".repeat(80)}`), "y".repeat(80));
  });

  it("counts code points and never splits an astral character", () => {
    assert.equal(webhookUsername("😀".repeat(81)), "😀".repeat(80));
    assert.equal(webhookUsername(`${"x".repeat(79)}😀😀`), `${"x".repeat(79)}😀`);
    assert.equal(webhookUsername(`${"x".repeat(79)}𝒜b`), `${"x".repeat(79)}𝒜`);
    assertAllowed(webhookUsername(`${"x".repeat(79)}😀😀`));
  });

  it("obeys every rule for awkward names", () => {
    for (const input of [
      `${"a".repeat(76)}discord`,
      `${"😀".repeat(77)}Clyde`,
      "\tdiscord\nclyde\t",
      "Discord".repeat(20),
      "x",
    ]) {
      assertAllowed(webhookUsername(input));
    }
  });
});
