import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  graphemes as windowedGraphemes,
  IRC_LINE_BYTES,
  maxPayloadBytes,
  MIN_SPLIT_BYTES,
  sanitizeIrcText,
  splitMessage,
} from "./lines.js";
import { stripIrcFormatting } from "./mirc.js";
import { pick, randomString, rendered, seededRandom } from "./test-helpers.js";

const graphemes = new Intl.Segmenter(undefined, { granularity: "grapheme" });
const bytes = (s: string): number => Buffer.byteLength(s);

/** The command a line turns into on the wire; it must stay exactly one command. */
function wire(line: string): string {
  return `PRIVMSG #channel :${line}\r\n`;
}

function assertOneCommand(line: string): void {
  const command = wire(line);
  assert.equal(command.indexOf("\r"), command.length - 2, JSON.stringify(line));
  assert.equal(command.indexOf("\n"), command.length - 1, JSON.stringify(line));
  assert.ok(!command.includes("\0"), JSON.stringify(line));
}

describe("sanitizeIrcText", () => {
  it("removes CR, LF, NUL, the CTCP delimiter and other C0 controls, and DEL", () => {
    assert.equal(sanitizeIrcText("a\rb\nc\r\nd\0e\x01f\x07g\x1bh\x7fi"), "abcdefghi");
  });

  it("keeps the mIRC formatting codes", () => {
    const codes = "\x02\x03\x04\x0f\x11\x16\x1d\x1e\x1f";
    assert.equal(sanitizeIrcText(`x${codes}y`), `x${codes}y`);
  });

  it("turns tabs into spaces", () => {
    assert.equal(sanitizeIrcText("a\tb"), "a b");
  });

  it("keeps Unicode line separators (not IRC line breaks) and repairs lone surrogates", () => {
    assert.equal(sanitizeIrcText("a\u2028b\u2029c\u0085d"), "a\u2028b\u2029c\u0085d");
    assert.equal(sanitizeIrcText("x\ud800y\udc00z👍"), "x\ufffdy\ufffdz👍");
  });

  it("never leaves anything that ends a line", () => {
    for (let code = 0; code < 0x80; code++) {
      const out = sanitizeIrcText(`a${String.fromCharCode(code)}b`);
      // eslint-disable-next-line no-control-regex
      assert.doesNotMatch(out, /[\r\n\0\x01]/);
    }
  });
});

describe("splitMessage: injection", () => {
  const attempts = [
    "hi\r\nPRIVMSG #other :pwned",
    "hi\nQUIT :bye",
    "hi\rJOIN #evil",
    "hi\0NICK root",
    "\r\n\r\nKICK #channel victim",
    "\x01ACTION pwned\x01",
    "hi\u2028there",
    "a\r\r\n\n\rb",
  ];

  for (const attempt of attempts) {
    it(`keeps ${JSON.stringify(attempt)} inside message payloads`, () => {
      const lines = splitMessage(attempt, 400);
      assert.ok(lines.length > 0);
      for (const line of lines) assertOneCommand(line);
    });
  }

  it("turns line breaks into separate messages, never into commands", () => {
    assert.deepEqual(splitMessage("hi\r\nPRIVMSG #other :pwned", 400), ["hi", "PRIVMSG #other :pwned"]);
    assert.deepEqual(splitMessage("a\rb\nc\r\nd", 400), ["a", "b", "c", "d"]);
    assert.deepEqual(splitMessage("x\0y", 400), ["xy"]);
    assert.deepEqual(splitMessage("\x01ACTION pwned\x01", 400), ["ACTION pwned"]);
    assert.deepEqual(splitMessage("hi\u2028there", 400), ["hi\u2028there"]);
  });
});

describe("splitMessage: lines", () => {
  it("drops blank lines at the ends and keeps one ' ' for blank runs inside", () => {
    assert.deepEqual(splitMessage("a\n\n\n\nb", 400), ["a", " ", "b"]);
    assert.deepEqual(splitMessage("\n\n  \na\nb\n\n \n", 400), ["a", "b"]);
    assert.deepEqual(splitMessage("a\n\x02\x02\nb", 400), ["a", " ", "b"]);
    assert.deepEqual(splitMessage("", 400), []);
    assert.deepEqual(splitMessage(" \n\t\n\r\n", 400), []);
  });

  it("keeps short lines untouched", () => {
    assert.deepEqual(splitMessage("  indented code", 400), ["  indented code"]);
    assert.deepEqual(splitMessage("x".repeat(400), 400), ["x".repeat(400)]);
  });

  it("breaks at the last space that fits and drops it", () => {
    assert.deepEqual(splitMessage("aaaa bbbb cccc dddd", 16), ["aaaa bbbb cccc", "dddd"]);
    assert.deepEqual(splitMessage("hello world ".repeat(3).trim(), 20), [
      "hello world hello",
      "world hello world",
    ]);
  });

  it("cuts a word longer than the limit", () => {
    assert.deepEqual(splitMessage("x".repeat(40), 16), ["x".repeat(16), "x".repeat(16), "x".repeat(8)]);
  });

  it("never cuts inside a multi-byte character or a grapheme cluster", () => {
    const family = "👨‍👩‍👧‍👦"; // 25 bytes
    const accented = "e\u0301"; // é as e + combining acute
    const flag = "🇫🇷";
    assert.deepEqual(splitMessage(`${family}${family}`, 30), [family, family]);
    assert.deepEqual(splitMessage(accented.repeat(10), 16), [accented.repeat(5), accented.repeat(5)]);
    assert.deepEqual(splitMessage("日本語".repeat(4), 16), ["日本語日本", "語日本語日", "本語"]);
    assert.deepEqual(splitMessage(flag.repeat(3), 16), [flag.repeat(2), flag]);
  });

  it("cuts a cluster larger than a whole line between code points", () => {
    const zalgo = `a${"\u0301".repeat(20)}`; // 41 bytes, one grapheme
    const lines = splitMessage(zalgo, 16);
    assert.equal(lines.join(""), zalgo);
    for (const line of lines) assert.ok(bytes(line) <= 16);
  });

  it("re-opens formatting on continuation lines", () => {
    const lines = splitMessage(`\x02\x0304,02${"word ".repeat(10)}`, 30);
    assert.ok(lines.length > 1);
    for (const line of lines) {
      assert.ok(bytes(line) <= 30);
      assert.ok(rendered(line)[0]?.startsWith("w:b/#ff0000/#00007f"), JSON.stringify(line));
    }
    // Text after the re-opened colour starts with digits: they must not become part of it
    // (the continuation costs "\x0304" plus an empty bold toggle, 5 bytes).
    const digits = splitMessage(`\x0304${"1".repeat(40)}`, 20);
    assert.deepEqual(
      digits.map((line) => stripIrcFormatting(line)),
      ["1".repeat(17), "1".repeat(15), "1".repeat(8)],
    );
    for (const line of digits) assert.ok(rendered(line)[0]?.startsWith("1:/#ff0000/"), JSON.stringify(line));
  });

  it("does not re-open formatting that was turned off", () => {
    assert.deepEqual(splitMessage("\x02bold\x02 plain text here", 16), ["\x02bold\x02 plain", "text here"]);
  });

  it("never splits a colour code from its digits", () => {
    for (let limit = MIN_SPLIT_BYTES; limit < 30; limit++) {
      const text = `${"a".repeat(limit - 3)}\x0304,12colour\x03 ${"b".repeat(10)}`;
      const shown = splitMessage(text, limit).map((line) => stripIrcFormatting(line));
      assert.equal(shown.join("").replace(/ /g, ""), stripIrcFormatting(text).replace(/ /g, ""));
    }
  });

  it("rejects limits too small to make progress", () => {
    assert.throws(() => splitMessage("x", MIN_SPLIT_BYTES - 1), RangeError);
    assert.throws(() => splitMessage("x", Number.NaN), RangeError);
  });

  it("holds for random text (fixed seed)", () => {
    const random = seededRandom(512);
    const alphabet = [
      ..."abcdefghij",
      " ",
      " ",
      "  ",
      "é",
      "e\u0301",
      "n\u0303\u0323",
      "日",
      "本",
      "😀",
      "👍🏽",
      "👨‍👩‍👧",
      "🇯🇵",
      "\u2028",
      "\r\n",
      "\n",
      "\r",
      "\0",
      "\x01",
      "\t",
      "\x02",
      "\x1d",
      "\x0f",
      "\x0304",
      "\x0312,01",
      "\x03",
      "\x04ff0000",
      "1",
      ",",
      "\ud83d",
    ];
    for (let i = 0; i < 1500; i++) {
      const text = randomString(random, alphabet, Math.floor(random() * 300));
      const limit = pick(random, [16, 17, 20, 31, 64, 100, 255, 400, 450]);
      const lines = splitMessage(text, limit);
      const source = sanitizeIrcText(text.replace(/\r\n|\r|\n/g, " "));
      const sourceGraphemes = new Set(
        Array.from(graphemes.segment(stripIrcFormatting(source)), (g) => g.segment),
      );
      // Only a cluster longer than a whole line may be cut.
      const oversized = [...sourceGraphemes].filter((g) => bytes(g) > limit);
      for (const line of lines) {
        assert.ok(bytes(line) <= limit, `${JSON.stringify(line)} is ${bytes(line)} > ${limit} bytes`);
        assert.notEqual(line, "");
        assert.equal(Buffer.from(line, "utf8").toString("utf8"), line, "valid UTF-8");
        assertOneCommand(line);
        for (const { segment } of graphemes.segment(stripIrcFormatting(line))) {
          const whole = sourceGraphemes.has(segment) || oversized.some((g) => g.includes(segment));
          assert.ok(whole, `${JSON.stringify(segment)} torn out of a cluster`);
        }
      }
      // Nothing visible is lost or invented: only whitespace and codes may differ.
      const visible = (s: string): string => stripIrcFormatting(s).replace(/\s/g, "");
      assert.equal(lines.map(visible).join(""), visible(source));
    }
  });
});

describe("grapheme segmentation of long text", () => {
  it("matches whole-string segmentation (fixed seed)", () => {
    const random = seededRandom(29);
    const alphabet = [
      "a",
      " ",
      "e\u0301",
      "🇯🇵",
      "🇫",
      "👨‍👩‍👧",
      "👍🏽",
      "\u200d",
      "\u0301",
      "日",
      "각",
      "\u1100\u1161\u11a8",
      "\r\n",
    ];
    for (let i = 0; i < 200; i++) {
      const text = randomString(random, alphabet, Math.floor(random() * 1500));
      const whole = Array.from(graphemes.segment(text), (g) => g.segment);
      assert.deepEqual([...windowedGraphemes(text)], whole);
    }
    const flags = "🇯🇵".repeat(300);
    assert.deepEqual([...windowedGraphemes(`x${flags}`)], ["x", ...Array<string>(300).fill("🇯🇵")]);
  });

  it("stays fast on very long lines", () => {
    const text = "word é 日 😀 ".repeat(20000);
    const started = performance.now();
    const lines = splitMessage(text, 400);
    assert.ok(lines.length > 500);
    // Whole-string segmentation takes tens of seconds here.
    assert.ok(performance.now() - started < 5000);
  });

  it("never separates the halves of a surrogate pair in an endless cluster", () => {
    const text = `a${"\u0301".repeat(255)}😀${"\u0301".repeat(600)}`;
    for (const piece of windowedGraphemes(text)) assert.equal(sanitizeIrcText(piece), piece);
    for (const line of splitMessage(text, 100)) assert.equal(sanitizeIrcText(line), line);
  });
});

describe("maxPayloadBytes", () => {
  it("subtracts the prefix, the command, the target, ' :' and CRLF from 512", () => {
    assert.equal(maxPayloadBytes("#chan", 0, "PRIVMSG"), 512 - "PRIVMSG #chan :".length - 2);
    assert.equal(maxPayloadBytes("#chan", 100, "PRIVMSG"), 512 - 100 - 15 - 2);
    assert.equal(maxPayloadBytes("#chan", 100, "NOTICE"), 512 - 100 - 14 - 2);
  });

  it("accounts for the CTCP ACTION wrapper", () => {
    assert.equal(
      maxPayloadBytes("#chan", 100, "PRIVMSG", true),
      maxPayloadBytes("#chan", 100, "PRIVMSG") - 9,
    );
  });

  it("counts the target in bytes and is never negative", () => {
    assert.equal(maxPayloadBytes("#日本", 0, "PRIVMSG"), 512 - "PRIVMSG # :".length - 6 - 2);
    assert.equal(maxPayloadBytes("#x", 600, "PRIVMSG"), 0);
  });

  it("makes full lines exactly fit the 512 byte limit", () => {
    const prefix = ":someone!~user@very.long.host.example.org ";
    const random = seededRandom(7);
    for (const action of [false, true]) {
      const limit = maxPayloadBytes("#channel", bytes(prefix), "PRIVMSG", action);
      const text = randomString(random, ["a", " ", "é", "日", "😀", "e\u0301"], 2000);
      const lines = splitMessage(text, limit);
      let longest = 0;
      for (const line of lines) {
        const payload = action ? `\x01ACTION ${line}\x01` : line;
        const full = `${prefix}PRIVMSG #channel :${payload}\r\n`;
        assert.ok(bytes(full) <= IRC_LINE_BYTES);
        longest = Math.max(longest, bytes(full));
      }
      assert.ok(longest >= IRC_LINE_BYTES - 4, "lines use the space they have");
    }
  });
});
