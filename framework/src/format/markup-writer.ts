/**
 * Matrix HTML → text markup for a network, in whatever dialect it speaks (see
 * `markup-dialect.ts`). The structure is the same everywhere: blocks on lines of their own,
 * list markers and quote prefixes in front of their lines, tables one row per line, HTML
 * whitespace rules; only the spelling differs.
 */
import { parseHtml, textContent, type HtmlElement, type HtmlNode } from "./html-tree.js";
import { emitWrapped, InlineBuffer, type InlineResult } from "./inline-buffer.js";
import type { InlineFormat, InlineWriter, MarkersDialect, MarkupDialect } from "./markup-dialect.js";
import { linkRendering } from "./markup-links.js";
import { sanitizeMatrixHtml } from "./sanitize.js";

interface Context {
  dialect: MarkupDialect;
  formats: readonly InlineFormat[];
  /** How many list items this point is inside. */
  listDepth: number;
}

/** Elements that stand on lines of their own. */
const BLOCK_TAGS = new Set([
  ..."p div blockquote ul ol li pre hr details summary h1 h2 h3 h4 h5 h6".split(" "),
  ..."table thead tbody tfoot tr caption".split(" "),
]);

function isBlock(el: HtmlElement): boolean {
  return BLOCK_TAGS.has(el.name);
}

function newWriter(ctx: Context): InlineWriter {
  return ctx.dialect.formatting === "styles" ? ctx.dialect.writer() : new InlineBuffer(ctx.dialect.escape);
}

function withFormat(ctx: Context, format: InlineFormat): Context {
  return { ...ctx, formats: [...ctx.formats, format] };
}

function isOpen(ctx: Context, kind: InlineFormat["kind"]): boolean {
  return ctx.formats.some((format) => format.kind === kind);
}

interface Block {
  text: string;
  /** The element's name; "" for a run of inline content. */
  tag: string;
}

/**
 * Text as a block keeps it. Unless line breaks count as written, the break that ends the last
 * line goes: a trailing <br> ends the line but does not add an empty one.
 */
function asBlockText(written: string, ctx: Context): string {
  return ctx.dialect.lineBreaksAsWritten ? written : written.replace(/\n$/, "");
}

/** Whether rendered text shows nothing worth a line. */
function isBlank(text: string, ctx: Context): boolean {
  return ctx.dialect.lineBreaksAsWritten ? text === "" : text.trim() === "";
}

/** Pieces that each start on a line of their own. */
function joinLines(pieces: readonly string[], ctx: Context): string {
  if (!ctx.dialect.lineBreaksAsWritten) return pieces.join("\n");
  // The line break a piece already ends with is the one it needs.
  return pieces.reduce((out, piece) => (out === "" || out.endsWith("\n") ? out : `${out}\n`) + piece, "");
}

/** Renders a mixed sequence of block and inline nodes. */
function renderFlow(nodes: readonly HtmlNode[], ctx: Context): string {
  const { dialect } = ctx;
  const blocks: Block[] = [];
  let inline = newWriter(ctx);
  const flush = (): void => {
    const text = asBlockText(inline.finish(), ctx);
    if (!isBlank(text, ctx)) blocks.push({ text, tag: "" });
    inline = newWriter(ctx);
  };
  for (const node of nodes) {
    if (node.type === "element" && isBlock(node)) {
      flush();
      const text = renderBlock(node, ctx);
      if (dialect.keepEmptyBlocks || !isBlank(text, ctx)) blocks.push({ text, tag: node.name });
    } else {
      renderInline(node, inline, ctx);
    }
  }
  flush();
  if (dialect.lineBreaksAsWritten) {
    const texts = blocks.map((block) => block.text);
    return joinLines(texts, ctx);
  }
  return blocks
    .map((block, index) => {
      const above = blocks[index - 1];
      if (above === undefined) return block.text;
      const blank = dialect.blankLineBetween?.(above.tag, block.tag, ctx.listDepth > 0) ?? false;
      return (blank ? "\n\n" : "\n") + block.text;
    })
    .join("");
}

function prefixesEmptyLines(ctx: Context): boolean {
  return ctx.dialect.prefixEmptyLines ?? true;
}

/** `first` before the first line, `rest` before the others. */
function prefixLines(text: string, first: string, rest: string, ctx: Context): string {
  const prefixEmpty = prefixesEmptyLines(ctx);
  let used = false;
  return text
    .split("\n")
    .map((line) => {
      if (line === "" && !prefixEmpty) return line;
      const prefix = used ? rest : first;
      used = true;
      return line === "" ? prefix.trimEnd() : prefix + line;
    })
    .join("\n");
}

/** One line of dialect markup (a rule), in the formats open around it. */
function markupLine(markup: string, ctx: Context): string {
  const out = newWriter(ctx);
  out.markup(markup, ctx.formats);
  return out.finish();
}

function renderBlock(el: HtmlElement, ctx: Context): string {
  switch (el.name) {
    case "h1":
    case "h2":
    case "h3":
    case "h4":
    case "h5":
    case "h6":
      return renderHeading(el, ctx);
    case "blockquote":
      return prefixLines(renderFlow(el.children, ctx), ctx.dialect.quotePrefix, ctx.dialect.quotePrefix, ctx);
    case "ul":
    case "ol":
      return renderList(el, ctx);
    case "li":
      // A stray item outside a list.
      return renderListItem(el.children, ctx.dialect.bullet(ctx.listDepth), ctx);
    case "pre":
      return renderPre(el, ctx);
    case "hr":
      return markupLine(ctx.dialect.rule, ctx);
    case "table":
      return renderTable(el, ctx);
    case "tr":
      return renderRow(el, ctx);
    default:
      // p, div, details, summary, caption, thead/tbody/tfoot outside a table.
      return renderFlow(el.children, ctx);
  }
}

function renderHeading(el: HtmlElement, ctx: Context): string {
  const { dialect } = ctx;
  const level = Number(el.name.slice(1));
  if (!dialect.boldHeadings) return dialect.heading(renderFlow(el.children, ctx), level);
  const text = dialect.heading(renderFlow(el.children, withFormat(ctx, { kind: "bold" })), level);
  // Styles are written already; a mark inside the same mark would end it.
  if (dialect.formatting === "styles" || isOpen(ctx, "bold")) return text;
  const mark = dialect.marks.bold;
  return mark === undefined ? text : wrapInMark(text, mark, dialect.marksPerLine);
}

function wrapInMark(text: string, mark: string, perLine: boolean | undefined): string {
  if (!perLine) return mark + text + mark;
  return text
    .split("\n")
    .map((line) => (line.trim() === "" ? line : mark + line + mark))
    .join("\n");
}

function renderListItem(children: readonly HtmlNode[], marker: string, ctx: Context): string {
  const body = renderFlow(children, { ...ctx, listDepth: ctx.listDepth + 1 });
  const indent = ctx.dialect.listIndent ?? " ".repeat(marker.length);
  const text = prefixLines(body, marker, indent, ctx);
  // An empty item is an empty line: its marker alone, if empty lines take prefixes.
  return text === "" && prefixesEmptyLines(ctx) ? marker.trimEnd() : text;
}

function renderList(el: HtmlElement, ctx: Context): string {
  const ordered = el.name === "ol";
  const start = Number.parseInt(el.attribs.start ?? "1", 10);
  let number = Number.isFinite(start) ? start : 1;
  const marker = (): string => (ordered ? `${number++}. ` : ctx.dialect.bullet(ctx.listDepth));
  const items: string[] = [];
  let stray: HtmlNode[] = [];
  const flushStray = (): void => {
    // Content directly inside <ul>/<ol> (invalid but common): an item of its own.
    if (stray.some((node) => node.type === "element" || node.text.trim() !== "")) {
      items.push(renderListItem(stray, marker(), ctx));
    }
    stray = [];
  };
  for (const child of el.children) {
    if (child.type === "element" && child.name === "li") {
      flushStray();
      items.push(renderListItem(child.children, marker(), ctx));
    } else {
      stray.push(child);
    }
  }
  flushStray();
  const written = items.filter((item) => item !== "");
  return joinLines(written, ctx);
}

function codeLanguage(pre: HtmlElement): string {
  const code = pre.children.find((c): c is HtmlElement => c.type === "element" && c.name === "code");
  const match = /(?:^|\s)language-([\w+#.-]+)/.exec(code?.attribs.class ?? "");
  return match?.[1] ?? "";
}

function renderPre(el: HtmlElement, ctx: Context): string {
  // The parser keeps the newline right after <pre> that HTML ignores; markdown renderers
  // also end code with a newline. Both are formatting, not content.
  const code = textContent(el).replace(/^\n/, "").replace(/\n$/, "");
  return ctx.dialect.codeBlock(code, codeLanguage(el), ctx.formats);
}

function rowsOf(el: HtmlElement): HtmlElement[] {
  const rows: HtmlElement[] = [];
  for (const child of el.children) {
    if (child.type !== "element") continue;
    if (child.name === "tr") rows.push(child);
    else if (child.name === "thead" || child.name === "tbody" || child.name === "tfoot") {
      rows.push(...rowsOf(child));
    }
  }
  return rows;
}

function renderRow(row: HtmlElement, ctx: Context): string {
  const out = newWriter(ctx);
  row.children
    .filter((c): c is HtmlElement => c.type === "element" && (c.name === "td" || c.name === "th"))
    .forEach((cell, index) => {
      if (index > 0) out.markup(" | ", ctx.formats);
      // Style codes depend on what precedes them on the line, so styled cells are written in
      // place; marked cells are flows of their own, squeezed onto the line.
      if (ctx.dialect.formatting === "styles") renderChildren(cell.children, out, ctx);
      else out.markup(renderFlow(cell.children, ctx).replace(/\n+/g, " "), ctx.formats);
    });
  return asBlockText(out.finish(), ctx);
}

/** Tables have no form every network understands: one "a | b" line per row. */
function renderTable(el: HtmlElement, ctx: Context): string {
  const lines: string[] = [];
  for (const child of el.children) {
    if (child.type === "element" && child.name === "caption") lines.push(renderFlow(child.children, ctx));
  }
  for (const row of rowsOf(el)) lines.push(renderRow(row, ctx));
  const shown = lines.filter((line) => !isBlank(line, ctx));
  return joinLines(shown, ctx);
}

function renderChildren(children: readonly HtmlNode[], out: InlineWriter, ctx: Context): void {
  for (const child of children) renderInline(child, out, ctx);
}

/** Renders content on its own, to be wrapped before it joins its surroundings. */
function renderAlone(dialect: MarkersDialect, render: (buffer: InlineBuffer) => void): InlineResult {
  const buffer = new InlineBuffer(dialect.escape);
  render(buffer);
  return buffer.result();
}

function renderInline(node: HtmlNode, out: InlineWriter, ctx: Context): void {
  if (node.type === "text") return out.text(node.text, ctx.formats);
  if (isBlock(node)) {
    // Block content inside inline content (e.g. <b><p>…</p></b>): keep it on its own lines.
    const text = renderBlock(node, ctx);
    const asWritten = ctx.dialect.lineBreaksAsWritten ?? false;
    if (text === "" && !asWritten) return;
    out.breakLine();
    out.block(text);
    // Whatever follows starts on a line of its own.
    return asWritten ? out.breakLine() : out.newline();
  }
  switch (node.name) {
    case "br":
      return out.newline();
    case "img": {
      const alt = node.attribs.alt || node.attribs.title || "[image]";
      const { image } = ctx.dialect;
      return image === undefined ? out.text(alt, ctx.formats) : out.markup(image(alt), ctx.formats);
    }
    case "a":
      return renderLink(node, out, ctx);
  }
  renderFormatted(node, formatsOf(node), out, ctx);
}

function formatsOf(el: HtmlElement): InlineFormat[] {
  switch (el.name) {
    case "b":
    case "strong":
      return [{ kind: "bold" }];
    case "i":
    case "em":
      return [{ kind: "italic" }];
    case "u":
      return [{ kind: "underline" }];
    case "del":
    case "strike":
    case "s":
      return [{ kind: "strikethrough" }];
    case "code":
      return [{ kind: "code" }];
    case "font":
    case "span": {
      const formats: InlineFormat[] = [];
      const fg = el.attribs["data-mx-color"] ?? el.attribs.color;
      const bg = el.attribs["data-mx-bg-color"];
      if (fg !== undefined || bg !== undefined) formats.push({ kind: "colour", fg, bg });
      const reason = el.name === "span" ? el.attribs["data-mx-spoiler"] : undefined;
      if (reason !== undefined) formats.push({ kind: "spoiler", reason: reason || undefined });
      return formats;
    }
    default:
      return [];
  }
}

/** Renders `node`'s content inside `formats`, outermost first. */
function renderFormatted(
  node: HtmlElement,
  formats: readonly InlineFormat[],
  out: InlineWriter,
  ctx: Context,
): void {
  const [format, ...rest] = formats;
  if (format === undefined) return renderChildren(node.children, out, ctx);
  const { dialect } = ctx;
  if (dialect.formatting === "styles") return renderFormatted(node, rest, out, withFormat(ctx, format));
  if (format.kind === "code") {
    const code = dialect.inlineCode(textContent(node));
    if (code !== "") out.markup(code, ctx.formats);
    return;
  }
  if (format.kind === "spoiler" && dialect.spoiler !== undefined) {
    const inner = renderAlone(dialect, (buffer) => renderChildren(node.children, buffer, ctx));
    return emitWrapped(out, inner, dialect.spoiler(inner.text, format.reason), ctx.formats);
  }
  const mark = format.kind === "spoiler" || format.kind === "colour" ? undefined : dialect.marks[format.kind];
  // Unmarked content is written in place, where it sees its neighbours (line starts, spaces).
  if (mark === undefined || isOpen(ctx, format.kind)) return renderFormatted(node, rest, out, ctx);
  const inner = renderAlone(dialect, (buffer) =>
    renderFormatted(node, rest, buffer, withFormat(ctx, format)),
  );
  emitWrapped(out, inner, inner.text, ctx.formats, (content) =>
    wrapInMark(content, mark, dialect.marksPerLine),
  );
}

function renderLink(node: HtmlElement, out: InlineWriter, ctx: Context): void {
  const { dialect } = ctx;
  const rendering = linkRendering(node, dialect);
  if (dialect.formatting === "styles") {
    if (typeof rendering === "string") return out.markup(rendering, ctx.formats);
    out.markup(rendering.before, ctx.formats);
    renderChildren(node.children, out, ctx);
    return out.markup(rendering.after, ctx.formats);
  }
  const inner = renderAlone(dialect, (buffer) => renderChildren(node.children, buffer, ctx));
  const text = typeof rendering === "string" ? rendering : rendering.before + inner.text + rendering.after;
  emitWrapped(out, inner, text, ctx.formats);
}

/**
 * Renders Matrix HTML in `dialect`. A string is sanitized first (so script and style content
 * never leaks into the text, and `<mx-reply>` fallbacks are dropped); a tree is taken as is.
 */
export function renderHtml(html: string | HtmlElement, dialect: MarkupDialect): string {
  const tree =
    typeof html === "string" ? parseHtml(sanitizeMatrixHtml(html, { stripReplyFallback: true })) : html;
  return renderFlow(tree.children, { dialect, formats: [], listDepth: 0 }).replace(/^\n+|\n+$/g, "");
}
