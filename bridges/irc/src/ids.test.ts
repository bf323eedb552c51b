import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ghostLocalpart, loginId, parseLoginId, remoteIdFromLocalpart, splitId, userId } from "./ids.js";

describe("implicit login ids", () => {
  it("are the network and the Matrix user id, and parse back", () => {
    assert.equal(loginId("libera", "@alice:example.org"), "libera/@alice:example.org");
    assert.deepEqual(parseLoginId("libera/@alice:example.org"), {
      network: "libera",
      matrixUserId: "@alice:example.org",
    });
    // A server name with a port, and a localpart with a slash, survive the round trip.
    const odd = "@a/b=c:matrix.example.org:8448";
    assert.deepEqual(parseLoginId(loginId("oftc", odd)), { network: "oftc", matrixUserId: odd });
  });

  it("never clash with remote user or channel ids (a nick has no @)", () => {
    assert.equal(parseLoginId(userId("libera", "alice")), null);
    assert.equal(parseLoginId("libera/#rust"), null);
    assert.equal(parseLoginId("libera/@alice"), null, "no server part: not a Matrix user id");
    assert.equal(parseLoginId("@alice:example.org"), null, "no network");
    assert.equal(parseLoginId("Libera/@alice:example.org"), null, "network names are lower case");
    assert.deepEqual(splitId("libera/@alice:example.org"), { network: "libera", name: "@alice:example.org" });
  });
});

describe("ghost localparts", () => {
  it("round-trip, escaping what a localpart cannot hold", () => {
    for (const nick of ["alice", "al[i]ce", "ünï", "a_b", "x=y"]) {
      const id = userId("libera", nick);
      const localpart = ghostLocalpart(id);
      assert.match(localpart, /^[a-z0-9._=-]+$/);
      assert.equal(remoteIdFromLocalpart(localpart), id);
    }
    assert.equal(ghostLocalpart("libera/alice"), "libera_alice");
  });
});
