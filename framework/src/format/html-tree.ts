/**
 * A minimal HTML tree built with htmlparser2 (the parser sanitize-html itself uses). Entities
 * are decoded, tag and attribute names lower-cased, implied end tags (`<p>`, `<li>`) handled.
 * Callers that render the tree should sanitize first; the tree does no filtering of its own.
 */
import { Parser } from "htmlparser2";

export interface HtmlElement {
  type: "element";
  name: string;
  attribs: Record<string, string>;
  children: HtmlNode[];
}

export interface HtmlText {
  type: "text";
  text: string;
}

export type HtmlNode = HtmlElement | HtmlText;

/** Parses a fragment into a synthetic root element named `#root`. */
export function parseHtml(html: string): HtmlElement {
  const root: HtmlElement = { type: "element", name: "#root", attribs: {}, children: [] };
  const stack: HtmlElement[] = [root];
  const current = (): HtmlElement => stack[stack.length - 1] ?? root;
  const parser = new Parser({
    onopentag(name, attribs) {
      const element: HtmlElement = { type: "element", name, attribs: { ...attribs }, children: [] };
      current().children.push(element);
      stack.push(element);
    },
    onclosetag() {
      if (stack.length > 1) stack.pop();
    },
    ontext(text) {
      const children = current().children;
      const last = children[children.length - 1];
      if (last?.type === "text") last.text += text;
      else children.push({ type: "text", text });
    },
  });
  parser.write(html);
  parser.end();
  return root;
}

function pushReversed(stack: HtmlNode[], nodes: readonly HtmlNode[]): void {
  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i];
    if (node !== undefined) stack.push(node);
  }
}

/**
 * The text of a subtree as written: `<br>` becomes "\n", images their alt text, whitespace
 * is not collapsed. Iterative, so deeply nested input cannot overflow the stack.
 */
export function textContent(node: HtmlNode): string {
  let out = "";
  const pending: HtmlNode[] = [node];
  while (pending.length > 0) {
    const next = pending.pop();
    if (next === undefined) break;
    if (next.type === "text") out += next.text;
    else if (next.name === "br") out += "\n";
    else if (next.name === "img") out += next.attribs.alt ?? "";
    else pushReversed(pending, next.children);
  }
  return out;
}

/** All elements of the subtree in document order (iterative). */
export function* elements(node: HtmlElement): Generator<HtmlElement> {
  const pending: HtmlNode[] = [...node.children].reverse();
  while (pending.length > 0) {
    const next = pending.pop();
    if (next === undefined || next.type !== "element") continue;
    yield next;
    pushReversed(pending, next.children);
  }
}
