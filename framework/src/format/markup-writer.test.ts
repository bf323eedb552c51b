import { test } from "node:test";
import assert from "node:assert/strict";
import { parseHtml } from "./html-tree.js";
import type { InlineFormat, InlineWriter, MarkersDialect, StylesDialect } from "./markup-dialect.js";
import { renderHtml } from "./markup-writer.js";

/** A dialect whose every spelling is recognisable in the output. */
const MARKERS: MarkersDialect = {
  formatting: "markers",
  escape: (word) => word.replace(/!/g, "\\!"),
  marks: { bold: "+", italic: "/", underline: "_", strikethrough: "-" },
  inlineCode: (code) => (code === "" ? "" : `{${code}}`),
  quotePrefix: "| ",
  rule: "===",
  bullet: (depth) => (depth % 2 === 0 ? "* " : "o "),
  heading: (text, level) => `H${level}:${text}`,
  codeBlock: (code, language) => `<<${language}\n${code}\n>>`,
  mention: (userId, text) => `@(${userId}|${text})`,
  roomMention: (room, text) => `#(${room}|${text})`,
  url: (href) => `<${href}>`,
  link: (href) => ({ before: "[", after: `->${href}]` }),
};

function markers(html: string, overrides: Partial<MarkersDialect> = {}): string {
  return renderHtml(html, { ...MARKERS, ...overrides });
}

test("text is escaped word by word, told whether the word starts a line", () => {
  const escape = (word: string, lineStart: boolean): string => (lineStart ? `^${word}` : word);
  assert.equal(markers("a! b<br>c"), "a\\! b\nc");
  assert.equal(markers("a b<br>c <b>d</b>", { escape }), "^a b\n^c +^d+");
});

test("marks wrap their content, spaces outside, never inside the same mark", () => {
  assert.equal(
    markers("<b> x <i>y</i> </b>z <u>u</u> <del>d</del> <strike>s</strike> <b>a<strong>b</strong></b>"),
    "+x /y/+ z _u_ -d- -s- +ab+",
  );
  assert.equal(markers("a<b></b><i> </i>b"), "a b");
  assert.equal(markers("<b>a<br>b</b>"), "+a\nb+");
  assert.equal(markers("<b>a<br>b</b>", { marksPerLine: true }), "+a+\n+b+");
  assert.equal(markers("<u>u</u>", { marks: {} }), "u");
});

test("inline code and spoilers go through their hooks", () => {
  assert.equal(markers("run <code>ls  <b>-l</b></code> <code></code>now"), "run {ls  -l} now");
  const html = 'see <span data-mx-spoiler="plot">he <b>dies</b></span>';
  assert.equal(markers(html), "see he +dies+");
  assert.equal(markers(html, { spoiler: (text, reason) => `[${reason}: ${text}]` }), "see [plot: he +dies+]");
});

test("blankLineBetween sees sibling tags and whether they sit in a list", () => {
  const seen: string[] = [];
  const blankLineBetween = (above: string, below: string, inList: boolean): boolean => {
    seen.push(`${above || "text"}/${below || "text"}${inList ? " in list" : ""}`);
    return above === "p";
  };
  const html = "<p>a</p>b<ul><li>c<ul><li>d</li></ul></li></ul>";
  assert.equal(markers(html, { blankLineBetween }), "a\n\nb\n* c\n  o d");
  assert.deepEqual(seen, ["text/ul in list", "p/text", "text/ul"]);
  assert.equal(markers(html), "a\nb\n* c\n  o d");
});

test("empty blocks are dropped unless keepEmptyBlocks", () => {
  const blankLineBetween = (): boolean => true;
  assert.equal(markers("a<p></p>b", { blankLineBetween }), "a\n\nb");
  assert.equal(markers("a<p></p>b", { blankLineBetween, keepEmptyBlocks: true }), "a\n\n\n\nb");
});

test("lineBreaksAsWritten keeps <br> lines at block edges", () => {
  const html = "<p>a</p><br><p>b</p><p>c<br></p>d<span><p></p></span>e";
  assert.equal(markers(html), "a\nb\nc\nde");
  assert.equal(markers(html, { lineBreaksAsWritten: true }), "a\n\nb\nc\nd\ne");
});

test("quotes and list items prefix every line, empty ones only with prefixEmptyLines", () => {
  const html = "<blockquote>a<br><br>b</blockquote><ul><li></li><li><br>x</li></ul>";
  assert.equal(markers(html), "| a\n|\n| b\n*\n*\n  x");
  assert.equal(markers(html, { prefixEmptyLines: false }), "| a\n\n| b\n\n* x");
});

test("lists: bullets per depth, numbers from start, continuation indent", () => {
  const html = '<ol start="3"><li>a<br>b</li><li>c</li></ol><ul><li>x<ul><li>y</li></ul></li></ul>';
  assert.equal(markers(html), "3. a\n   b\n4. c\n* x\n  o y");
  assert.equal(markers(html, { listIndent: ".." }), "3. a\n..b\n4. c\n* x\n..o y");
  assert.equal(markers("<ul>stray <b>text</b><li>item</li></ul>"), "* stray +text+\n* item");
});

test("headings go through heading, wrapped in the bold mark with boldHeadings", () => {
  assert.equal(markers("<h2>T <b>x</b></h2>"), "H2:T +x+");
  assert.equal(markers("<h2>T <b>x</b></h2>", { boldHeadings: true }), "+H2:T x+");
  assert.equal(markers("<b>a<h1>t</h1></b>", { boldHeadings: true }), "+a\nH1:t+");
});

test("rules, code blocks, tables and images", () => {
  assert.equal(markers('<hr><pre><code class="language-ts">x!\n</code></pre>'), "===\n<<ts\nx!\n>>");
  assert.equal(
    markers("<table><caption>c</caption><tr><th>k</th><th><p>v</p><p>w</p></th></tr></table>"),
    "c\nk | v w",
  );
  assert.equal(markers('<img src="mxc://a/b" alt="cat!">'), "cat\\!");
  assert.equal(markers('<img src="mxc://a/b">', { image: (alt) => `(${alt})` }), "([image])");
});

test("links: pills, bare targets, text of their own, e-mail addresses", () => {
  assert.equal(
    markers(
      '<a href="https://matrix.to/#/@bob:x.org">Bob</a> <a href="https://matrix.to/#/%23r%3Ax.org"></a>',
    ),
    "@(@bob:x.org|Bob) #(#r:x.org|#r:x.org)",
  );
  assert.equal(
    markers('see <a href="https://x.org/a"> the <b>docs</b></a>'),
    "see [the +docs+->https://x.org/a]",
  );
  assert.equal(
    markers('<a href="https://x.org/a">the docs</a>', { link: (href, text) => `${text}=>${href}` }),
    "the docs=>https://x.org/a",
  );
  assert.equal(
    markers('<a href="https://x.org/">x.org</a> <a href="https://x.org"></a>'),
    "<https://x.org/> <https://x.org>",
  );
  const email = '<a href="mailto:a@b.c">a@b.c</a>';
  assert.equal(markers(email), "a@b.c");
  assert.equal(markers(email, { linkEmailAddresses: true }), "[a@b.c->mailto:a@b.c]");
  assert.equal(markers('<a href="javascript:alert(1)">click</a>'), "click");
});

test("a string is sanitized first, a tree is taken as is", () => {
  assert.equal(markers("<script>x</script>y<mx-reply>old</mx-reply>"), "y");
  assert.equal(renderHtml(parseHtml("<script>x</script>y"), MARKERS), "xy");
});

function describe(format: InlineFormat): string {
  if (format.kind === "colour") return `colour:${format.fg}/${format.bg}`;
  if (format.kind === "spoiler") return `spoiler:${format.reason}`;
  return format.kind;
}

function tagged(word: string, formats: readonly InlineFormat[]): string {
  return formats.length === 0 ? word : `${word}{${formats.map(describe).join(",")}}`;
}

/** Writes every word with the formats it was given, so tests can see what the walker passed. */
class TaggingWriter implements InlineWriter {
  private out = "";
  private pendingSpace = false;

  text(text: string, formats: readonly InlineFormat[]): void {
    text.split(/\s+/).forEach((word, index) => {
      if (index > 0) this.space();
      if (word === "") return;
      if (this.pendingSpace) this.out += " ";
      this.pendingSpace = false;
      this.out += tagged(word, formats);
    });
  }

  markup(markup: string, formats: readonly InlineFormat[]): void {
    this.text(markup, formats);
  }

  space(): void {
    if (this.out !== "" && !this.out.endsWith("\n")) this.pendingSpace = true;
  }

  newline(): void {
    this.pendingSpace = false;
    this.out += "\n";
  }

  breakLine(): void {
    if (this.out !== "" && !this.out.endsWith("\n")) this.newline();
  }

  block(text: string): void {
    this.out += text;
  }

  finish(): string {
    return this.out;
  }
}

const STYLES: StylesDialect = {
  formatting: "styles",
  writer: () => new TaggingWriter(),
  quotePrefix: "> ",
  rule: "---",
  bullet: () => "- ",
  boldHeadings: true,
  heading: (text) => `#${text}`,
  codeBlock: (code, _language, formats) => tagged(code, formats),
  mention: (_userId, text) => `@${text}`,
  roomMention: (_room, text) => text,
  url: (href) => href,
  link: (href) => ({ before: "", after: ` <${href}>` }),
};

test("styles dialects get the open formats with every piece of text", () => {
  assert.equal(
    renderHtml(
      '<b>a <i>b</i></b> <font color="red">c</font> <span data-mx-color="#00ff00" data-mx-spoiler="r">d</span> <code>e <u>f</u></code> <del>g</del>',
      STYLES,
    ),
    "a{bold} b{bold,italic} c{colour:red/undefined} d{colour:#00ff00/undefined,spoiler:r} e{code} f{code,underline} g{strikethrough}",
  );
});

test("styles dialects write links, headings, code blocks and cells in place", () => {
  assert.equal(
    renderHtml(
      '<b><a href="https://x.org/a">see <i>it</i></a> <a href="https://matrix.to/#/@b:x">B</a></b>',
      STYLES,
    ),
    "see{bold} it{bold,italic} <https://x.org/a>{bold} @B{bold}",
  );
  assert.equal(renderHtml("<h1>T</h1><i><pre>x</pre><hr></i>", STYLES), "#T{bold}\nx{italic}\n---{italic}");
  assert.equal(
    renderHtml("<table><tr><td><b>a</b></td><td><i>b</i></td></tr></table>", STYLES),
    "a{bold} | b{italic}",
  );
});
