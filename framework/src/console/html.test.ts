import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { html, raw } from "./html.js";

describe("console HTML", () => {
  test("every interpolated value is escaped; only html fragments and raw constants pass", () => {
    const name = `<img src=x onerror="alert(1)">&'`;
    const out = html`<td title="${name}">${name}${html`<b>${name}</b>`}${raw("<hr>")}</td>`.toString();
    assert.equal(
      out,
      '<td title="&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;&#39;">&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;&#39;<b>&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;&#39;</b><hr></td>',
    );
  });

  test("lists are joined, and null, undefined and false render nothing", () => {
    assert.equal(html`${["a", html`<i>b</i>`, null, undefined, false, 0]}`.toString(), "a<i>b</i>0");
  });
});
