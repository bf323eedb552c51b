/**
 * The receive path's promise, on Signal's mock server: an envelope is acknowledged only once
 * the framework accepted its events, and one the framework refused is opened again when Signal
 * delivers it again (the session it advanced was not kept), so nothing is lost in between.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { BridgeStoppingError, type RemoteEvent } from "@switchboard/framework";
import { SignalConnector } from "./connector.js";
import { linkWithMock, startMockSignal, stubSignalContext, type MockSignal } from "./testing/mock-signal.js";

let mock: MockSignal;
let connector: SignalConnector;
const events: RemoteEvent[] = [];
let refuse = true;

before(async () => {
  mock = await startMockSignal();
  const ctx = stubSignalContext(mock, new Map(), [], (event) => {
    if (event.type === "message" && refuse) throw new BridgeStoppingError();
    events.push(event);
  });
  connector = new SignalConnector();
  await connector.start(ctx);
});

after(async () => {
  await connector?.stop();
  await mock?.close();
});

test("an envelope the framework did not accept is not acknowledged, and opens again when redelivered", async () => {
  const linked = await linkWithMock(mock, connector, 0);
  const contact = await mock.server.createPrimaryDevice({ profileName: "Contact" });
  await contact.addSingleUseKey(linked.device, await linked.device.popSingleUseKey());
  let acked = false;
  const sending = contact.sendText(linked.device, "kept until durable").then(() => (acked = true));
  await sleep(1500);
  assert.equal(acked, false, "Signal was not told the message arrived");
  assert.equal(events.length, 0);

  // The framework takes events again; Signal delivers the envelope again on the next connection.
  refuse = false;
  mock.dropConnections();
  await Promise.race([
    sending,
    sleep(20_000, undefined, { ref: false }).then(() => assert.fail("never acknowledged")),
  ]);
  const messages = events.filter((e) => e.type === "message");
  assert.equal(messages.length, 1);
  assert.equal(messages[0]?.type === "message" && messages[0].content.text, "kept until durable");
});
