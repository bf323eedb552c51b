import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { foreignBotMessage } from "./foreign-bots.js";

describe("foreignBotMessage", () => {
  it("a bot message whose username is a Matrix id names that Matrix user", () => {
    assert.deepEqual(foreignBotMessage({ bot_id: "B9", username: "@alice:example.org" }, "B1", []), {
      matrixUserId: "@alice:example.org",
    });
  });
  it("a configured bridge bot's username is a name hint; without one it is an unknown puppet", () => {
    assert.deepEqual(foreignBotMessage({ bot_id: "B9", username: "Alice" }, "B1", ["B9"]), {
      nameHint: "Alice",
    });
    assert.deepEqual(foreignBotMessage({ bot_id: "B9" }, "B1", ["B9"]), { unknown: true });
  });
  it("people, our own bot and other bots are nobody's puppet", () => {
    assert.equal(foreignBotMessage({ username: "@alice:example.org" }, "B1", ["B9"]), undefined);
    assert.equal(foreignBotMessage({ bot_id: "B1", username: "@a:b.c" }, "B1", ["B1"]), undefined);
    assert.equal(foreignBotMessage({ bot_id: "B7", username: "GitHub" }, "B1", ["B9"]), undefined);
  });
});
