/** Configuration the connector checks at start: Signal's groups service parameters. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Value } from "@sinclair/typebox/value";
import { ServerPublicParams } from "@signalapp/libsignal-client/dist/zkgroup/index.js";
import { SignalServiceSchema } from "./config.js";
import { SignalConnector } from "./connector.js";
import type { BridgeContext } from "@switchboard/framework";

test("the groups service's public params default to Signal's production value, which libsignal reads", () => {
  const service = Value.Default(SignalServiceSchema, {}) as { zkgroup_public_params: string };
  const bytes = Buffer.from(service.zkgroup_public_params, "base64");
  assert.equal(bytes.length, 673);
  assert.doesNotThrow(() => new ServerPublicParams(new Uint8Array(bytes)));
});

test("public params that are not zkgroup's are refused at start, naming the key", async () => {
  const service = Value.Default(SignalServiceSchema, {}) as Record<string, unknown>;
  const ctx = {
    config: { service: { ...service, zkgroup_public_params: Buffer.alloc(120, 7).toString("base64") } },
  } as unknown as BridgeContext;
  await assert.rejects(new SignalConnector().start(ctx), /bridges\.signal\.service\.zkgroup_public_params/);
});
