import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { format } from "@switchboard/framework";
import { matrixToSignal, signalToMatrix, type BodyRange, type SignalStyle } from "./format.js";

const NAMES: Record<string, string> = { "aci-alice": "Alice", "aci-bob": "Bob <b>" };

function ghostOf(aci: string): string {
  return `@signal_${aci}:example.org`;
}

const mention = (aci: string): { html: string; text: string } => {
  const name = NAMES[aci] ?? aci;
  return { html: format.pill(ghostOf(aci), name), text: name };
};

const mentionOf = (userId: string): string | null => /^@signal_(.+):example\.org$/.exec(userId)?.[1] ?? null;

/** Converts and checks what every result must hold: the HTML is sanitized already. */
function toMatrix(body: string, ranges: BodyRange[]): { text: string; html?: string } {
  const result = signalToMatrix(body, ranges, mention);
  if (result.html !== undefined) assert.equal(format.sanitizeMatrixHtml(result.html), result.html);
  return result;
}

function toSignal(html: string | undefined, text = ""): { body: string; ranges: BodyRange[] } {
  return matrixToSignal(html, text, mentionOf);
}

function styled(start: number, length: number, style: SignalStyle): BodyRange {
  return { start, length, style };
}

/** mulberry32: deterministic, so a failing case fails the same way every run. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("signalToMatrix", () => {
  it("leaves html out when nothing is formatted", () => {
    assert.deepEqual(toMatrix("just <text> & more", []), { text: "just <text> & more" });
  });

  it("maps every style to its tag", () => {
    const cases: Array<[SignalStyle, string]> = [
      ["BOLD", "<strong>b</strong>"],
      ["ITALIC", "<em>b</em>"],
      ["STRIKETHROUGH", "<del>b</del>"],
      ["MONOSPACE", "<code>b</code>"],
      ["SPOILER", "<span data-mx-spoiler>b</span>"],
    ];
    for (const [style, html] of cases) {
      assert.deepEqual(toMatrix("abc", [styled(1, 1, style)]), { text: "abc", html: `a${html}c` });
    }
  });

  it("nests ranges inside ranges", () => {
    const result = toMatrix("hello world", [styled(6, 5, "ITALIC"), styled(0, 11, "BOLD")]);
    assert.equal(result.html, "<strong>hello <em>world</em></strong>");
  });

  it("splits ranges that overlap without nesting", () => {
    const result = toMatrix("abcdef", [styled(0, 4, "BOLD"), styled(2, 4, "ITALIC")]);
    assert.equal(result.html, "<strong>ab<em>cd</em></strong><em>ef</em>");
  });

  it("opens the longest-running range outermost and merges ranges of one style", () => {
    assert.equal(
      toMatrix("abcdef", [styled(0, 2, "ITALIC"), styled(0, 6, "BOLD")]).html,
      "<strong><em>ab</em>cdef</strong>",
    );
    // Spoiler comes first among equals; running longer still puts bold outside.
    assert.equal(
      toMatrix("abcdef", [styled(0, 2, "SPOILER"), styled(0, 6, "BOLD")]).html,
      "<strong><span data-mx-spoiler>ab</span>cdef</strong>",
    );
    assert.equal(
      toMatrix("abcdef", [styled(0, 3, "BOLD"), styled(2, 2, "BOLD"), styled(4, 2, "BOLD")]).html,
      "<strong>abcdef</strong>",
    );
  });

  it("counts offsets in UTF-16 code units", () => {
    // The emoji is two code units, so "hi" starts at 3.
    assert.equal(toMatrix("😀 hi there", [styled(3, 2, "BOLD")]).html, "😀 <strong>hi</strong> there");
  });

  it("writes mentions as pills, and their names in the text", () => {
    const body = "Hi \uFFFC and \uFFFC!";
    const result = toMatrix(body, [
      { start: 3, length: 1, mentionAci: "aci-alice" },
      { start: 9, length: 1, mentionAci: "aci-bob" },
      styled(0, 4, "BOLD"),
    ]);
    assert.equal(result.text, "Hi Alice and Bob <b>!");
    assert.equal(
      result.html,
      `<strong>Hi ${format.pill(ghostOf("aci-alice"), "Alice")}</strong> and ${format.pill(ghostOf("aci-bob"), "Bob <b>")}!`,
    );
  });

  it("escapes everything, and html appears for a mention alone", () => {
    const result = toMatrix("<script>alert(1)</script> \uFFFC", [
      { start: 26, length: 1, mentionAci: "aci-alice" },
    ]);
    assert.equal(result.text, "<script>alert(1)</script> Alice");
    assert.equal(
      result.html,
      `&lt;script&gt;alert(1)&lt;/script&gt; ${format.pill(ghostOf("aci-alice"), "Alice")}`,
    );
    assert.equal(toMatrix("a & <b>", [styled(0, 1, "BOLD")]).html, "<strong>a</strong> &amp; &lt;b&gt;");
  });

  it("turns line breaks into <br />", () => {
    assert.equal(
      toMatrix("one\ntwo\r\nthree", [styled(0, 5, "BOLD")]).html,
      "<strong>one<br />t</strong>wo<br />three",
    );
  });

  it("makes monospace over whole lines a code block, and inline code otherwise", () => {
    const body = "look:\nconst a = 1;\n  b <c>\nnice";
    const result = toMatrix(body, [styled(6, 20, "MONOSPACE"), styled(0, 4, "BOLD")]);
    assert.equal(result.text, body);
    assert.equal(
      result.html,
      "<strong>look</strong>:<pre><code>const a = 1;\n  b &lt;c&gt;</code></pre>nice",
    );
    assert.equal(toMatrix("a\nb", [styled(0, 3, "MONOSPACE")]).html, "<pre><code>a\nb</code></pre>");
    // Starts mid-line: inline code across the break.
    assert.equal(toMatrix("xa\nb", [styled(1, 3, "MONOSPACE")]).html, "x<code>a<br />b</code>");
  });

  it("clamps or ignores garbage ranges without throwing", () => {
    const garbage = [
      { start: -5, length: 7, style: "BOLD" },
      { start: 4, length: 1000, style: "ITALIC" },
      { start: 100, length: 2, style: "BOLD" },
      { start: 1, length: 0, style: "BOLD" },
      { start: 1, length: -3, style: "BOLD" },
      { start: Number.NaN, length: 1, style: "BOLD" },
      { start: 1, length: Number.POSITIVE_INFINITY, style: "BOLD" },
      { start: "1", length: 1, style: "BOLD" },
      { start: 1, length: 1, style: "UNDERLINE" },
      { start: 1, length: 1 },
      { start: 1, length: 1, mentionAci: "" },
      null,
      42,
    ] as unknown as BodyRange[];
    assert.deepEqual(toMatrix("abcdef", garbage), {
      text: "abcdef",
      html: "<strong>ab</strong>cd<em>ef</em>",
    });
    assert.deepEqual(toMatrix("abc", garbage.slice(2)), { text: "abc" });
    assert.deepEqual(toMatrix("abc", "nope" as unknown as BodyRange[]), { text: "abc" });
  });

  it("never cuts an emoji in half", () => {
    // Both edges fall between the two code units of an emoji: the range grows to hold it.
    assert.equal(toMatrix("a😀b😀c", [styled(2, 3, "BOLD")]).html, "a<strong>😀b😀</strong>c");
  });

  it("writes a garbage mention once, even when it covers more than its placeholder", () => {
    const result = toMatrix("xx\uFFFCyy", [
      { start: 1, length: 3, mentionAci: "aci-alice" },
      { start: 2, length: 1, mentionAci: "aci-bob" },
      styled(0, 3, "BOLD"),
    ]);
    assert.equal(result.text, "xAlicey");
    assert.equal(result.html, `<strong>x${format.pill(ghostOf("aci-alice"), "Alice")}</strong>y`);
  });

  it("keeps the text and nesting right for any ranges (seeded random)", () => {
    const random = seededRandom(7);
    const styles: SignalStyle[] = ["BOLD", "ITALIC", "STRIKETHROUGH", "SPOILER"];
    for (let round = 0; round < 300; round++) {
      const body = "ab😀 c\nd<e>&f gh\n".slice(0, 4 + Math.floor(random() * 14));
      const ranges: BodyRange[] = [];
      for (let i = Math.floor(random() * 6); i > 0; i--) {
        ranges.push(
          styled(
            Math.floor(random() * 24) - 3,
            Math.floor(random() * 12) - 1,
            styles[Math.floor(random() * styles.length)] ?? "BOLD",
          ),
        );
      }
      const result = toMatrix(body, ranges);
      assert.equal(result.text, body);
      if (result.html === undefined) continue;
      // Sanitizing it back unchanged (in toMatrix) proves the tags nest; the text is intact.
      assert.equal(
        format.textContent(format.parseHtml(result.html)).replace(/\r\n/g, "\n"),
        body.replace(/\r\n/g, "\n"),
      );
    }
  });
});

describe("matrixToSignal", () => {
  it("sends the plain text when there is no html", () => {
    assert.deepEqual(toSignal(undefined, "**not bold** <b>"), { body: "**not bold** <b>", ranges: [] });
  });

  it("maps each formatting tag to a style range", () => {
    const cases: Array<[string, SignalStyle]> = [
      ["<strong>b</strong>", "BOLD"],
      ["<b>b</b>", "BOLD"],
      ["<em>b</em>", "ITALIC"],
      ["<i>b</i>", "ITALIC"],
      ["<del>b</del>", "STRIKETHROUGH"],
      ["<s>b</s>", "STRIKETHROUGH"],
      ["<strike>b</strike>", "STRIKETHROUGH"],
      ["<code>b</code>", "MONOSPACE"],
      ['<span data-mx-spoiler="why">b</span>', "SPOILER"],
    ];
    for (const [html, style] of cases) {
      assert.deepEqual(toSignal(`a${html}c`), { body: "abc", ranges: [styled(1, 1, style)] }, html);
    }
  });

  it("handles nested formatting and leaves spaces at range edges unstyled", () => {
    assert.deepEqual(toSignal("<b>hello <i>world</i></b> <i>again</i>"), {
      body: "hello world again",
      ranges: [styled(0, 11, "BOLD"), styled(6, 5, "ITALIC"), styled(12, 5, "ITALIC")],
    });
    assert.deepEqual(toSignal("<b>a </b>b"), { body: "a b", ranges: [styled(0, 1, "BOLD")] });
  });

  it("counts offsets in UTF-16 code units", () => {
    assert.deepEqual(toSignal("😀 <b>hi</b>"), { body: "😀 hi", ranges: [styled(3, 2, "BOLD")] });
  });

  it("makes pills to Signal users mentions, and other pills their names", () => {
    const html = `hi <b>${format.pill(ghostOf("aci-alice"), "Alice")}</b> and ${format.pill("@carol:example.org", "Carol")}`;
    assert.deepEqual(toSignal(html), {
      body: "hi \uFFFC and Carol",
      ranges: [{ start: 3, length: 1, mentionAci: "aci-alice" }, styled(3, 1, "BOLD")],
    });
  });

  it("writes links as their text plus the URL when the text differs", () => {
    assert.equal(
      toSignal('<a href="https://example.org/x">see this</a>!').body,
      "see this (https://example.org/x)!",
    );
    assert.equal(toSignal('<a href="https://example.org/">example.org</a>').body, "https://example.org/");
    assert.deepEqual(toSignal('<b><a href="https://e.org/">go</a></b>'), {
      body: "go (https://e.org/)",
      ranges: [styled(0, 19, "BOLD")],
    });
  });

  it("puts blocks on lines of their own", () => {
    assert.equal(toSignal("<p>one</p><p>two</p>").body, "one\n\ntwo");
    assert.equal(toSignal("one<br>two<br/><br>three").body, "one\ntwo\n\nthree");
    assert.equal(toSignal("<ul><li>a</li><li>b</li></ul>").body, "• a\n• b");
    assert.equal(toSignal('<ol start="3"><li>a</li><li>b</li></ol>').body, "3. a\n4. b");
    assert.equal(
      toSignal("<blockquote>quoted<br>twice</blockquote>reply").body,
      "> quoted\n> twice\n\nreply",
    );
  });

  it("keeps quote and list prefixes out of the ranges", () => {
    assert.deepEqual(toSignal("<blockquote><b>a</b><br><b>b</b></blockquote>"), {
      body: "> a\n> b",
      ranges: [styled(2, 1, "BOLD"), styled(6, 1, "BOLD")],
    });
  });

  it("drops reply fallbacks", () => {
    const html = `<mx-reply><blockquote><a href="https://matrix.to/#/!r:x/$e">In reply to</a> ${format.pill(ghostOf("aci-bob"), "Bob")}<br>old</blockquote></mx-reply>new`;
    assert.deepEqual(toSignal(html, "> <@bob> old\n\nnew"), { body: "new", ranges: [] });
  });

  it("makes a code block one monospace range over its lines", () => {
    assert.deepEqual(toSignal("<p>look:</p><pre><code>a  &lt;b&gt;\n\nc\n</code></pre>"), {
      body: "look:\n\na  <b>\n\nc",
      ranges: [styled(7, 9, "MONOSPACE")],
    });
  });

  it("removes the noncharacters it uses internally, so text cannot forge ranges", () => {
    assert.deepEqual(toSignal("a\uFDD1b\uFFFE0\uFFFFc"), { body: "ab0c", ranges: [] });
  });

  it("falls back to the text when the html shows nothing", () => {
    assert.deepEqual(toSignal("<mx-reply>only a fallback</mx-reply>", "hello"), {
      body: "hello",
      ranges: [],
    });
  });
});

describe("round trips", () => {
  it("Signal → Matrix → Signal keeps body and ranges", () => {
    const cases: Array<[string, BodyRange[]]> = [
      ["plain", []],
      ["hello world", [styled(0, 11, "BOLD"), styled(6, 5, "ITALIC")]],
      ["abcdef", [styled(0, 4, "BOLD"), styled(2, 4, "ITALIC")]],
      ["😀 secret and gone", [styled(3, 6, "SPOILER"), styled(14, 4, "STRIKETHROUGH")]],
      ["hi \uFFFC!", [{ start: 3, length: 1, mentionAci: "aci-alice" }]],
      ["run:\nnpm test\nnpm ci\ndone", [styled(5, 15, "MONOSPACE")]],
      ["<script>x</script> is `code`", [styled(22, 6, "MONOSPACE")]],
    ];
    for (const [body, ranges] of cases) {
      const matrix = toMatrix(body, ranges);
      const back = toSignal(matrix.html, matrix.text);
      // The order of ranges carries no meaning.
      const sort = (list: BodyRange[]): string[] => list.map((r) => JSON.stringify(r)).sort();
      assert.equal(back.body, body);
      assert.deepEqual(sort(back.ranges), sort(ranges), body);
    }
  });

  it("Matrix → Signal → Matrix keeps the formatting", () => {
    const cases = [
      "<strong>hello <em>world</em></strong>",
      "a <del>b</del> <code>c</code> <span data-mx-spoiler>d</span>",
      `hey ${format.pill(ghostOf("aci-alice"), "Alice")}`,
      "<strong>one</strong><br />two",
      "x<pre><code>a\nb</code></pre>y",
    ];
    for (const html of cases) {
      const signal = toSignal(html);
      assert.equal(signalToMatrix(signal.body, signal.ranges, mention).html, html);
    }
  });
});
