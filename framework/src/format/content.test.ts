import { test } from "node:test";
import assert from "node:assert/strict";
import { HTML_FORMAT, htmlBodyOf, isMatrixMessageContent } from "./content.js";

test("isMatrixMessageContent checks the fields bridges rely on", () => {
  assert.equal(isMatrixMessageContent({ msgtype: "m.text", body: "hi" }), true);
  assert.equal(
    isMatrixMessageContent({ msgtype: "m.image", body: "cat.png", url: "mxc://a/b", info: { w: 1 } }),
    true,
  );
  for (const bad of [
    null,
    "x",
    [],
    { msgtype: "m.text" },
    { body: "x" },
    { msgtype: 1, body: "x" },
    { msgtype: "m.text", body: "x", formatted_body: 3 },
    { msgtype: "m.text", body: "x", info: "big" },
  ]) {
    assert.equal(isMatrixMessageContent(bad), false, JSON.stringify(bad));
  }
});

test("htmlBodyOf only returns HTML in the Matrix format", () => {
  assert.equal(
    htmlBodyOf({ msgtype: "m.text", body: "b", format: HTML_FORMAT, formatted_body: "<b>b</b>" }),
    "<b>b</b>",
  );
  assert.equal(
    htmlBodyOf({ msgtype: "m.text", body: "b", format: "text/x-other", formatted_body: "b" }),
    undefined,
  );
  assert.equal(htmlBodyOf({ msgtype: "m.text", body: "b" }), undefined);
});
