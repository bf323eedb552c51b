import { test } from "node:test";
import assert from "node:assert/strict";
import { encodeMatrixId, parseMatrixLink, roomPermalink, userPermalink } from "./permalinks.js";

test("user permalinks encode what must be encoded and keep @ and :", () => {
  assert.equal(userPermalink("@alice:example.org"), "https://matrix.to/#/@alice:example.org");
  assert.equal(
    userPermalink("@a/b?c#d%e:[::1]:8448"),
    "https://matrix.to/#/@a%2Fb%3Fc%23d%25e:%5B::1%5D:8448",
  );
  assert.equal(encodeMatrixId("#room:example.org"), "%23room:example.org");
  assert.equal(roomPermalink("!r:example.org", "$ev/x"), "https://matrix.to/#/!r:example.org/%24ev%2Fx");
});

test("parseMatrixLink reads matrix.to links", () => {
  assert.deepEqual(parseMatrixLink("https://matrix.to/#/@alice:example.org"), {
    kind: "user",
    userId: "@alice:example.org",
  });
  assert.deepEqual(parseMatrixLink("https://matrix.to/#/%40alice%3Aexample.org?via=x"), {
    kind: "user",
    userId: "@alice:example.org",
  });
  assert.deepEqual(parseMatrixLink("HTTPS://Matrix.TO/#/@a/b:example.org"), {
    kind: "user",
    userId: "@a/b:example.org",
  });
  assert.deepEqual(parseMatrixLink("https://matrix.to/#/#room:example.org"), {
    kind: "room",
    roomIdOrAlias: "#room:example.org",
  });
  assert.deepEqual(parseMatrixLink("https://matrix.to/#/!opaqueV12id"), {
    kind: "room",
    roomIdOrAlias: "!opaqueV12id",
  });
  assert.deepEqual(parseMatrixLink("https://matrix.to/#/!r:example.org/%24ev?via=example.org"), {
    kind: "event",
    roomIdOrAlias: "!r:example.org",
    eventId: "$ev",
  });
  for (const id of ["@a/b?c#d%e:[::1]:8448", "@alice:example.org"]) {
    assert.deepEqual(parseMatrixLink(userPermalink(id)), { kind: "user", userId: id });
  }
});

test("parseMatrixLink reads matrix: URIs", () => {
  assert.deepEqual(parseMatrixLink("matrix:u/alice:example.org?action=chat"), {
    kind: "user",
    userId: "@alice:example.org",
  });
  assert.deepEqual(parseMatrixLink("matrix:r/room:example.org"), {
    kind: "room",
    roomIdOrAlias: "#room:example.org",
  });
  assert.deepEqual(parseMatrixLink("matrix:roomid/abc:example.org/e/ev1?via=x"), {
    kind: "event",
    roomIdOrAlias: "!abc:example.org",
    eventId: "$ev1",
  });
});

test("parseMatrixLink rejects everything else without throwing", () => {
  for (const href of [
    "https://example.org/#/@alice:example.org",
    "https://matrix.to/#/@alice",
    "https://matrix.to/#/%E0%A4%A",
    "https://matrix.to/#/!r:x/notanevent",
    "https://matrix.to/#/!r:x/$e/extra",
    "matrix:u/",
    "matrix:u/alice:example.org/e/x",
    "matrix:x/alice:example.org",
    "matrix:roomid/abc:x/e/",
    "javascript:alert(1)",
    "",
  ]) {
    assert.equal(parseMatrixLink(href), null, href);
  }
});
