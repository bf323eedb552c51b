import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ircEquals,
  ircLower,
  isValidChannel,
  isValidNick,
  nickCandidates,
  nickFromDisplayName,
  nickTemplateSuffix,
} from "./nicks.js";
import { randomString, seededRandom } from "./test-helpers.js";

function take<T>(iterable: Iterable<T>, count: number): T[] {
  const out: T[] = [];
  for (const item of iterable) {
    if (out.length >= count) break;
    out.push(item);
  }
  return out;
}

describe("isValidNick", () => {
  it("accepts RFC 2812 nicks and the usual extensions", () => {
    for (const nick of [
      "alice",
      "Alice42",
      "[m]bot",
      "`quote",
      "_under",
      "^caret",
      "{brace}",
      "|pipe",
      "a-b",
      "x\\y",
    ]) {
      assert.ok(isValidNick(nick), nick);
    }
  });

  it("rejects bad first characters, invalid characters and overlong nicks", () => {
    const invalid = [
      "",
      "1abc",
      "-abc",
      "a b",
      "a!b",
      "a@b",
      "a:b",
      "a,b",
      "a.b",
      "#chan",
      "é",
      "a\r\nb",
      "a\0",
      "a*",
    ];
    for (const nick of invalid) assert.ok(!isValidNick(nick), JSON.stringify(nick));
    assert.ok(isValidNick("a".repeat(30)));
    assert.ok(!isValidNick("a".repeat(31)));
    assert.ok(isValidNick("a".repeat(9), 9));
    assert.ok(!isValidNick("a".repeat(10), 9));
  });
});

describe("isValidChannel", () => {
  it("accepts the four prefixes", () => {
    for (const name of ["#chan", "##meta", "&local", "+modeless", "!ABC12chan", "#日本", "#a:b", "#c++"]) {
      assert.ok(isValidChannel(name), name);
    }
  });

  it("rejects forbidden characters, missing names and bad safe-channel ids", () => {
    const invalid = [
      "",
      "#",
      "chan",
      "#a b",
      "#a,b",
      "#a\x07b",
      "#a\rb",
      "#a\nb",
      "#a\0b",
      "#:x",
      "#x:",
      "#a:b:c",
      "!abc12chan",
      "!AB1chan",
      "!ABC12",
    ];
    for (const name of invalid) assert.ok(!isValidChannel(name), JSON.stringify(name));
  });

  it("limits the length in bytes", () => {
    assert.ok(isValidChannel(`#${"a".repeat(49)}`));
    assert.ok(!isValidChannel(`#${"a".repeat(50)}`));
    assert.ok(!isValidChannel(`#${"日".repeat(17)}`));
    assert.ok(isValidChannel(`#${"a".repeat(63)}`, 64));
  });
});

describe("nickFromDisplayName", () => {
  const template = "{name}[m]";

  it("keeps valid names and the suffix", () => {
    assert.equal(nickFromDisplayName("alice", template), "alice[m]");
    assert.equal(nickFromDisplayName("Bob_the-Builder", template), "Bob_the-Builder[m]");
  });

  it("folds accents and drops what a nick cannot hold", () => {
    assert.equal(nickFromDisplayName("Émilie Dupont", template), "EmilieDupont[m]");
    assert.equal(nickFromDisplayName("Straße Ærø", template), "StrasseAero[m]");
    assert.equal(nickFromDisplayName("Ｆｕｌｌ", template), "Full[m]");
    assert.equal(nickFromDisplayName("ann (away) 🎉", template), "annaway[m]");
  });

  it("drops control characters, so a display name cannot inject anything", () => {
    assert.equal(nickFromDisplayName("evil\r\nQUIT :bye\0", template), "evilQUITbye[m]");
    assert.equal(nickFromDisplayName("x\x01ACTION\x01", template), "xACTION[m]");
  });

  it("falls back to 'matrix' when nothing is left", () => {
    assert.equal(nickFromDisplayName("李小龙", template), "matrix[m]");
    assert.equal(nickFromDisplayName("", template), "matrix[m]");
    assert.equal(nickFromDisplayName("!!!", template), "matrix[m]");
  });

  it("puts '_' before a leading digit or dash", () => {
    assert.equal(nickFromDisplayName("42 is it", template), "_42isit[m]");
    assert.equal(nickFromDisplayName("-dash", template), "_-dash[m]");
  });

  it("truncates the name, never the suffix", () => {
    const nick = nickFromDisplayName("a".repeat(50), template);
    assert.equal(nick, `${"a".repeat(27)}[m]`);
    assert.equal(nickFromDisplayName("abcdefghij", template, 9), "abcdef[m]");
    assert.equal(nickFromDisplayName("1234567890", template, 9), "_12345[m]");
  });

  it("supports prefixes and templates without {name}", () => {
    assert.equal(nickFromDisplayName("alice", "m_{name}"), "m_alice");
    assert.equal(nickFromDisplayName("42", "m_{name}"), "m_42");
    assert.equal(nickFromDisplayName("alice", "|m"), "alice|m");
    assert.equal(nickFromDisplayName("alice", "{name}"), "alice");
  });

  it("ignores a template that leaves no room", () => {
    assert.equal(nickFromDisplayName("alice", "{name}[matrix]", 8), "alice");
  });

  it("always returns a valid nick (fixed seed)", () => {
    const random = seededRandom(2812);
    const alphabet = [..."aZ9-_[]{}|^`\\ .!@#:,é日😀\r\n\0\x01\x03", "e\u0301", "ß"];
    for (let i = 0; i < 1000; i++) {
      const name = randomString(random, alphabet, Math.floor(random() * 40));
      const max = 9 + Math.floor(random() * 30);
      const nick = nickFromDisplayName(name, template, max);
      assert.ok(isValidNick(nick, max), `${JSON.stringify(name)} → ${JSON.stringify(nick)}`);
    }
  });
});

describe("nickCandidates", () => {
  it("tries the base, then '_', then numbers, all before the suffix", () => {
    assert.deepEqual(take(nickCandidates("alice[m]", 30, "[m]"), 5), [
      "alice[m]",
      "alice_[m]",
      "alice1[m]",
      "alice2[m]",
      "alice3[m]",
    ]);
    assert.deepEqual(take(nickCandidates("bob"), 4), ["bob", "bob_", "bob1", "bob2"]);
  });

  it("shortens the name, not the suffix, to stay within the limit", () => {
    const base = `${"a".repeat(6)}[m]`;
    assert.deepEqual(take(nickCandidates(base, 9, "[m]"), 4), [
      "aaaaaa[m]",
      "aaaaa_[m]",
      "aaaaa1[m]",
      "aaaaa2[m]",
    ]);
    const candidates = take(nickCandidates(base, 9, "[m]"), 20);
    assert.equal(candidates[11], "aaaa10[m]");
  });

  it("is deterministic, unique and valid", () => {
    const first = take(nickCandidates("ab12[m]", 7, "[m]"), 200);
    const second = take(nickCandidates("ab12[m]", 7, "[m]"), 200);
    assert.deepEqual(first, second);
    assert.equal(new Set(first).size, first.length);
    for (const nick of first) {
      assert.ok(isValidNick(nick, 7), nick);
      assert.ok(nick.endsWith("[m]"));
    }
  });

  it("ends when no name character fits next to the number", () => {
    const all = [...nickCandidates("ab", 2)];
    assert.deepEqual(all.slice(0, 3), ["ab", "a_", "a1"]);
    assert.equal(all.length, 2 + 9);
  });

  it("works with the suffix of the template the base came from", () => {
    const template = "{name}[m]";
    const base = nickFromDisplayName("Émilie", template);
    assert.equal(nickTemplateSuffix(template), "[m]");
    assert.equal(nickTemplateSuffix("|m"), "|m");
    assert.equal(nickTemplateSuffix("{name} (matrix)"), "matrix");
    assert.deepEqual(take(nickCandidates(base, 30, nickTemplateSuffix(template)), 3), [
      "Emilie[m]",
      "Emilie_[m]",
      "Emilie1[m]",
    ]);
  });

  it("ignores a suffix the base does not end with", () => {
    assert.deepEqual(take(nickCandidates("carol", 30, "[m]"), 3), ["carol", "carol_", "carol1"]);
  });
});

describe("ircLower", () => {
  it("folds []\\~ to {}|^ with rfc1459 (the default)", () => {
    assert.equal(ircLower("Nick[]\\~"), "nick{}|^");
    assert.equal(ircLower("Nick[]\\~", "rfc1459"), "nick{}|^");
  });

  it("leaves ~ alone with strict-rfc1459", () => {
    assert.equal(ircLower("Nick[]\\~", "strict-rfc1459"), "nick{}|~");
  });

  it("folds only A-Z with ascii", () => {
    assert.equal(ircLower("Nick[]\\~", "ascii"), "nick[]\\~");
  });

  it("never folds non-ASCII", () => {
    assert.equal(ircLower("ÉİΣ"), "ÉİΣ");
  });

  it("compares names the way the server does", () => {
    assert.ok(ircEquals("[Alice]", "{alice}"));
    assert.ok(!ircEquals("[Alice]", "{alice}", "ascii"));
    assert.ok(ircEquals("#Chan", "#chan", "ascii"));
  });
});
