/**
 * HTML escaping that matches what `sanitizeMatrixHtml` (sanitize-html) emits, so generated HTML
 * survives a sanitize pass byte for byte: text escapes `& < >`, attribute values also `"`.
 */

export function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** For values written inside double-quoted attributes. */
export function escapeHtmlAttribute(value: string): string {
  return escapeHtml(value).replace(/"/g, "&quot;");
}
