/**
 * Sanitizes `formatted_body` HTML down to the subset the Matrix spec recommends for
 * `m.room.message` (client-server API, "m.room.message msgtypes" → HTML). Everything else is
 * removed: unknown tags are unwrapped (their text kept), script-like tags dropped with their
 * content, attributes allow-listed per tag, URLs limited to safe schemes.
 */
import sanitizeHtml from "sanitize-html";

export interface SanitizeOptions {
  /**
   * Remove `<mx-reply>` blocks (legacy rich-reply fallbacks) together with their content.
   * Without it the `<mx-reply>` element is kept as is, so a later step can still strip it.
   */
  stripReplyFallback?: boolean;
}

/** The tag allow-list from the spec. */
export const MATRIX_ALLOWED_TAGS: readonly string[] = [
  "font",
  "del",
  "h1",
  "h2",
  "h3",
  "h4",
  "h5",
  "h6",
  "blockquote",
  "p",
  "a",
  "ul",
  "ol",
  "sup",
  "sub",
  "li",
  "b",
  "i",
  "u",
  "strong",
  "em",
  "strike",
  "code",
  "hr",
  "br",
  "div",
  "table",
  "thead",
  "tbody",
  "tr",
  "th",
  "td",
  "caption",
  "pre",
  "span",
  "img",
  "details",
  "summary",
];

/** Schemes allowed in `<a href>`; `<img src>` only takes `mxc:`. */
export const MATRIX_LINK_SCHEMES: readonly string[] = ["https", "http", "ftp", "mailto", "magnet", "matrix"];

/** The spec recommends limiting nesting to 100 levels; deeper tags are unwrapped. */
const NESTING_LIMIT = 100;

/** Tags whose content is never text worth keeping (sanitize-html's defaults plus a few). */
const NON_TEXT_TAGS = [
  "script",
  "style",
  "textarea",
  "option",
  "xmp",
  "noscript",
  "noembed",
  "noframes",
  "template",
  "title",
  "iframe",
  "object",
  "head",
  "svg",
  "math",
];

const HEX_COLOR = /^#[0-9a-fA-F]{6}$/;
/** `<font color>` also accepts CSS colour names. */
const FONT_COLOR = /^(#[0-9a-fA-F]{6}|[a-zA-Z]{1,20})$/;
const MXC_URI = /^mxc:\/\/[^/\s]+\/[^\s]+$/;
const INTEGER = /^-?\d{1,9}$/;
const DIMENSION = /^\d{1,5}$/;

type Attributes = sanitizeHtml.Attributes;
type Validators = Readonly<Record<string, RegExp | null>>;

/**
 * Keeps the attributes that have a validator and pass it (`null`: any value), in their
 * original order. Values checked against a pattern are trimmed.
 */
function filterAttributes(attribs: Attributes, validators: Validators): Attributes {
  const out: Attributes = {};
  for (const [name, value] of Object.entries(attribs)) {
    const validator = validators[name];
    if (validator === null) out[name] = value;
    else if (validator !== undefined && validator.test(value.trim())) out[name] = value.trim();
  }
  return out;
}

const FONT_ATTRIBUTES: Validators = {
  "data-mx-color": HEX_COLOR,
  "data-mx-bg-color": HEX_COLOR,
  color: FONT_COLOR,
};
const SPAN_ATTRIBUTES: Validators = {
  "data-mx-color": HEX_COLOR,
  "data-mx-bg-color": HEX_COLOR,
  "data-mx-spoiler": null,
};
const OL_ATTRIBUTES: Validators = { start: INTEGER };
const IMG_ATTRIBUTES: Validators = {
  src: MXC_URI,
  width: DIMENSION,
  height: DIMENSION,
  alt: null,
  title: null,
};

/** Keeps colour attributes only when they hold a valid colour. */
function filterColours(tagName: string, attribs: Attributes): sanitizeHtml.Tag {
  return {
    tagName,
    attribs: filterAttributes(attribs, tagName === "font" ? FONT_ATTRIBUTES : SPAN_ATTRIBUTES),
  };
}

function filterOl(tagName: string, attribs: Attributes): sanitizeHtml.Tag {
  return { tagName, attribs: filterAttributes(attribs, OL_ATTRIBUTES) };
}

/**
 * Images must be `mxc://` (clients never fetch other URLs for inline images). An image that
 * fails this check becomes its alt/title text, or disappears when it has none.
 */
function makeImgFilter(dropped: WeakSet<Attributes>): sanitizeHtml.Transformer {
  return (tagName, attribs) => {
    const filtered = filterAttributes(attribs, IMG_ATTRIBUTES);
    if (filtered.src !== undefined) return { tagName, attribs: filtered };
    const text = attribs.alt || attribs.title || "";
    if (text !== "") return { tagName: "span", attribs: {}, text };
    const marker: Attributes = {};
    dropped.add(marker);
    return { tagName, attribs: marker };
  };
}

function buildOptions(stripReplyFallback: boolean): sanitizeHtml.IOptions {
  // Images rewritten to nothing: their (transformed) attribute objects, dropped on close.
  const droppedImages = new WeakSet<Attributes>();
  return {
    allowedTags: stripReplyFallback ? [...MATRIX_ALLOWED_TAGS] : [...MATRIX_ALLOWED_TAGS, "mx-reply"],
    allowedAttributes: {
      font: ["data-mx-bg-color", "data-mx-color", "color"],
      span: ["data-mx-bg-color", "data-mx-color", "data-mx-spoiler"],
      a: ["name", "target", "href"],
      img: ["width", "height", "alt", "title", "src"],
      ol: ["start"],
      code: ["class"],
    },
    allowedClasses: { code: ["language-*"] },
    allowedSchemes: [...MATRIX_LINK_SCHEMES],
    allowedSchemesByTag: { img: ["mxc"] },
    allowedSchemesAppliedToAttributes: ["href", "src"],
    allowProtocolRelative: false,
    nonTextTags: stripReplyFallback ? [...NON_TEXT_TAGS, "mx-reply"] : NON_TEXT_TAGS,
    disallowedTagsMode: "discard",
    nestingLimit: NESTING_LIMIT,
    transformTags: {
      font: filterColours,
      span: filterColours,
      ol: filterOl,
      img: makeImgFilter(droppedImages),
    },
    exclusiveFilter: (frame) => droppedImages.has(frame.attribs),
    parser: { decodeEntities: true, lowerCaseTags: true, lowerCaseAttributeNames: true },
  };
}

const KEEP_FALLBACK = buildOptions(false);
const STRIP_FALLBACK = buildOptions(true);

/**
 * Returns HTML that only uses the spec's recommended tags and attributes. Safe to embed in a
 * client: no scripts, styles, event handlers, `javascript:`/`data:` URLs, or non-mxc images.
 * Idempotent: sanitizing the output again returns it unchanged.
 */
export function sanitizeMatrixHtml(html: string, options: SanitizeOptions = {}): string {
  return sanitizeHtml(html, options.stripReplyFallback ? STRIP_FALLBACK : KEEP_FALLBACK);
}
