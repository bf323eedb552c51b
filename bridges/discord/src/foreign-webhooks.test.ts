import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { foreignWebhookAuthor } from "./foreign-webhooks.js";

const HOOK = "111111111111111111";
const APP = "222222222222222222";
const msg = (username: string, webhookId: string | null = HOOK, applicationId: string | null = null) => ({
  webhookId,
  applicationId,
  author: { username },
});

describe("foreignWebhookAuthor", () => {
  it("a webhook username holding a Matrix id names the Matrix user, listed or not", () => {
    assert.deepEqual(foreignWebhookAuthor(msg("Alice (@alice:example.org)"), []), {
      matrixUserId: "@alice:example.org",
    });
  });

  it("a listed webhook, or a webhook of a listed application, gives a name hint", () => {
    assert.deepEqual(foreignWebhookAuthor(msg("Alice"), [HOOK]), { nameHint: "Alice" });
    assert.deepEqual(foreignWebhookAuthor(msg("Alice", "333333333333333333", APP), [APP]), {
      nameHint: "Alice",
    });
  });

  it("people, and webhooks nobody listed, are not another bridge's", () => {
    assert.equal(foreignWebhookAuthor(msg("Alice", null), [HOOK]), undefined);
    assert.equal(foreignWebhookAuthor(msg("GitHub"), []), undefined);
    assert.equal(foreignWebhookAuthor(msg("@alice:example.org", null), []), undefined);
  });
});
