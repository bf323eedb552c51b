/**
 * What one target of `renderHtml` (plain text, markdown, Slack mrkdwn, IRC codes, …) says
 * differently from the others. The walker in `markup-writer.ts` owns the structure (blocks,
 * lists, quotes, tables, links, whitespace); a dialect only names the marks and spellings.
 */

/** Inline formatting open around a piece of text, outermost first. */
export type InlineFormat =
  | { kind: "bold" | "italic" | "underline" | "strikethrough" | "code" }
  | { kind: "spoiler"; reason: string | undefined }
  /** CSS colour values as written (`data-mx-color`, else `color`; `data-mx-bg-color`). */
  | { kind: "colour"; fg: string | undefined; bg: string | undefined };

export type MarkKind = "bold" | "italic" | "underline" | "strikethrough";

/** Markup written around a link's rendered content, e.g. `[` and `](url)`. */
export interface Around {
  before: string;
  after: string;
}

/**
 * Where inline content goes. Whitespace follows HTML: runs collapse to one space, and none
 * is kept at the start or end of a line.
 */
export interface InlineWriter {
  /** Text from the HTML: whitespace collapses, the dialect escapes what would be markup. */
  text(text: string, formats: readonly InlineFormat[]): void;
  /** Output of a dialect hook (a mention, a link): already escaped. */
  markup(markup: string, formats: readonly InlineFormat[]): void;
  /** Whitespace, which collapses with any next to it. */
  space(formats: readonly InlineFormat[]): void;
  /** A hard line break (`<br>`). */
  newline(): void;
  /** Starts a new line unless already at one. */
  breakLine(): void;
  /** Whole lines rendered on their own (a block inside inline content), at a line start. */
  block(text: string): void;
  finish(): string;
}

interface CommonDialect {
  /**
   * Whether a blank line rather than a line break separates two sibling blocks, given their
   * tag names ("" for a run of inline content). Default: never.
   */
  blankLineBetween?(above: string, below: string, inList: boolean): boolean;
  /** Blocks that render to nothing still take their place (and their blank lines). */
  keepEmptyBlocks?: boolean;
  /**
   * Line breaks stay exactly as the HTML writes them (a `<br>` between two paragraphs is a
   * blank line) and blocks add no blank lines of their own: for targets where every line is
   * a message. Default: breaks at the edges of a block are dropped.
   */
  lineBreaksAsWritten?: boolean;
  /**
   * Quote and list prefixes on empty lines too (`>` alone, `-` for an empty item). Without it
   * an empty line stays empty and a list item's marker goes on its first written line.
   * Default true.
   */
  prefixEmptyLines?: boolean;
  quotePrefix: string;
  /** `<hr>`. */
  rule: string;
  /** The unordered list marker, space included, at this nesting depth (0: outermost). */
  bullet(depth: number): string;
  /** Continuation lines of a list item. Default: spaces as wide as the marker. */
  listIndent?: string;
  /** Headings are rendered bold; a markers dialect wraps them in its bold mark. */
  boldHeadings?: boolean;
  /** A heading's rendered content (which may span lines) as the dialect writes it. */
  heading(text: string, level: number): string;
  /** `<pre>` content, verbatim; `language` from `class="language-…"` ("" when none). */
  codeBlock(code: string, language: string, formats: readonly InlineFormat[]): string;
  /** An image's alt text (else title, else "[image]") as markup. Default: written as text. */
  image?(alt: string): string;
  /** A user pill, given the id and the link text (the id when there is none). */
  mention(userId: string, text: string): string;
  /** A room or alias link, given the id and the link text (the id when there is none). */
  roomMention(roomIdOrAlias: string, text: string): string;
  /** A link shown as its target alone (its text is empty or repeats the URL). */
  url(href: string): string;
  /**
   * A link with text of its own: markup that replaces the content (given as plain `text`),
   * or markup around the rendered content.
   */
  link(href: string, text: string): string | Around;
  /**
   * A `mailto:` link whose text is the address still goes through `link`, for targets where
   * only that keeps it clickable. Default: the address alone.
   */
  linkEmailAddresses?: boolean;
}

/** Formatting as markers around content (`**bold**`): content is rendered, then wrapped. */
export interface MarkersDialect extends CommonDialect {
  formatting: "markers";
  /** A word of text; `lineStart`: nothing precedes it on its line. */
  escape(word: string, lineStart: boolean): string;
  /** The marker on both sides of each kind of content; a kind without one is left as is. */
  marks: Readonly<Partial<Record<MarkKind, string>>>;
  /** Marks cannot span lines, so every line gets its own pair. */
  marksPerLine?: boolean;
  /** `<code>` content, verbatim ("" writes nothing). */
  inlineCode(code: string): string;
  /** A spoiler's rendered content. Default: the content as is. */
  spoiler?(text: string, reason: string | undefined): string;
}

/**
 * Formatting as state (IRC control codes): content is written in place, and the writer is
 * told the formats open around every piece of text.
 */
export interface StylesDialect extends CommonDialect {
  formatting: "styles";
  /** A fresh writer for one run of lines; each starts unformatted. */
  writer(): InlineWriter;
}

export type MarkupDialect = MarkersDialect | StylesDialect;
