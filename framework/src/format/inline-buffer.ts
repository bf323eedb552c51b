/**
 * The inline writer of markers dialects: plain strings, so a mark's content can be rendered
 * on its own and then wrapped. Spaces at the edges of such content are reported rather than
 * written, so the wrapper can put them outside the markers (`** bold **` is not bold).
 */
import type { InlineFormat, InlineWriter } from "./markup-dialect.js";

const HTML_WHITESPACE = /[ \t\n\r\f]+/;

export interface InlineResult {
  text: string;
  leadingSpace: boolean;
  trailingSpace: boolean;
}

export class InlineBuffer implements InlineWriter {
  private out = "";
  private pendingSpace = false;
  private leadingSpace = false;

  constructor(private readonly escape: (word: string, lineStart: boolean) => string) {}

  private atLineStart(): boolean {
    return this.out === "" || this.out.endsWith("\n");
  }

  space(): void {
    if (this.out === "") this.leadingSpace = true;
    else if (!this.out.endsWith("\n")) this.pendingSpace = true;
  }

  markup(markup: string): void {
    if (markup === "") return;
    if (this.pendingSpace) this.out += " ";
    this.pendingSpace = false;
    this.out += markup;
  }

  text(text: string): void {
    text.split(HTML_WHITESPACE).forEach((word, index) => {
      if (index > 0) this.space();
      if (word !== "") this.markup(this.escape(word, this.atLineStart() && !this.pendingSpace));
    });
  }

  newline(): void {
    this.pendingSpace = false;
    this.out += "\n";
  }

  breakLine(): void {
    if (!this.atLineStart()) this.newline();
  }

  block(text: string): void {
    this.markup(text);
  }

  finish(): string {
    return this.out;
  }

  result(): InlineResult {
    return { text: this.out, leadingSpace: this.leadingSpace, trailingSpace: this.pendingSpace };
  }
}

/**
 * Writes `text`, made from the rendered `inner`, with `wrap` around all of it but the line
 * breaks at its edges; `inner`'s edge spaces go outside too.
 */
export function emitWrapped(
  out: InlineWriter,
  inner: InlineResult,
  text: string,
  formats: readonly InlineFormat[],
  wrap: (content: string) => string = (content) => content,
): void {
  if (inner.leadingSpace) out.space(formats);
  const match = /^(\n*)([\s\S]*?)(\n*)$/.exec(text);
  const content = match?.[2] ?? text;
  for (let i = 0; i < (match?.[1]?.length ?? 0); i++) out.newline();
  if (content !== "") out.markup(wrap(content), formats);
  for (let i = 0; i < (match?.[3]?.length ?? 0); i++) out.newline();
  if (inner.trailingSpace) out.space(formats);
}
