import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { classifyForeign, foreignRules } from "./foreign-puppets.js";

const rules = foreignRules("libera", { nick_hints: ["[m]", "|m", "-m"], realname_patterns: [] });

describe("classifyForeign", () => {
  it("a realname holding a Matrix id names the Matrix user behind the nick", () => {
    assert.deepEqual(classifyForeign("alice[m]", "@alice:example.org", rules), {
      matrixUserId: "@alice:example.org",
    });
    assert.deepEqual(classifyForeign("bob", "@bob:matrix.org:8448 (Matrix)", rules), {
      matrixUserId: "@bob:matrix.org:8448",
    });
  });

  it("a nick ending is only a hint, with the name it hints at", () => {
    assert.deepEqual(classifyForeign("dave[m]", "Dave Smith", rules), { nameHint: "dave" });
    assert.deepEqual(classifyForeign("Eve|m", undefined, rules), { nameHint: "Eve" });
    assert.equal(classifyForeign("[m]", "x", rules), undefined, "a bare suffix names nobody");
  });

  it("ordinary users are nobody's puppet", () => {
    assert.equal(classifyForeign("carol", "Carol C", rules), undefined);
    assert.equal(classifyForeign("carol", "mail me at carol@example.org", rules), undefined);
  });

  it("configured realname patterns mark puppets; a Matrix id in the first group names whom", () => {
    const custom = foreignRules("libera", {
      nick_hints: [],
      realname_patterns: ["^matrix bridge user$", "^bridged from (\\S+)$"],
    });
    assert.deepEqual(classifyForeign("x", "Matrix bridge user", custom), { unknown: true });
    assert.deepEqual(classifyForeign("x", "bridged from org.example:alice", custom), { unknown: true });
    assert.equal(classifyForeign("dave[m]", "Dave", custom), undefined, "no hints configured");
  });

  it("a bad pattern is a config error naming its place", () => {
    assert.throws(
      () => foreignRules("libera", { nick_hints: [], realname_patterns: ["("] }),
      /bridges\.irc\.networks\.libera\.foreign_bridges\.realname_patterns\[0\] is not a regular expression/,
    );
  });
});
