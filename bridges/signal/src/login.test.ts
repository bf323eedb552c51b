/**
 * The receive path's promise, on Signal's mock server: an envelope is acknowledged only once
 * the framework accepted its events, and one the framework refused is opened again when Signal
 * delivers it again (the session it advanced was not kept), so nothing is lost in between.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { PrivateKey } from "@signalapp/libsignal-client";
import { BridgeStoppingError, type ChatRef, type RemoteEvent } from "@switchboard/framework";
import { SignalConnector } from "./connector.js";
import { linkWithMock, startMockSignal, stubSignalContext, type MockSignal } from "./testing/mock-signal.js";

let mock: MockSignal;
let connector: SignalConnector;
const events: RemoteEvent[] = [];
const kv = new Map<string, unknown>();
const notices: Array<{ chat: ChatRef; text: string }> = [];
let refuse = true;

before(async () => {
  mock = await startMockSignal();
  const ctx = stubSignalContext(
    mock,
    kv,
    [],
    (event) => {
      if (event.type === "message" && refuse) throw new BridgeStoppingError();
      events.push(event);
    },
    notices,
  );
  connector = new SignalConnector();
  await connector.start(ctx);
});

after(async () => {
  await connector?.stop();
  await mock?.close();
});

let linked: Awaited<ReturnType<typeof linkWithMock>>;
let contact: Awaited<ReturnType<MockSignal["server"]["createPrimaryDevice"]>>;

test("an envelope the framework did not accept is not acknowledged, and opens again when redelivered", async () => {
  linked = await linkWithMock(mock, connector, 0);
  contact = await mock.server.createPrimaryDevice({ profileName: "Contact" });
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

test("a contact whose identity key changed: the user is told in the DM that the safety number changed", async () => {
  // The login knew another key for the contact (their old phone): put one in its store and load
  // the login again, as after a restart.
  const aci = contact.device.aci;
  kv.set(
    `login\0${linked.record.loginId}\0ik:${aci}`,
    Buffer.from(PrivateKey.generate().getPublicKey().serialize()).toString("base64"),
  );
  await linked.client.disconnect();
  await connector.loadLogin(linked.record);
  await Promise.race([
    contact.sendText(linked.device, "new phone, who dis"),
    sleep(20_000, undefined, { ref: false }).then(() => assert.fail("not delivered")),
  ]);
  const told = notices.find((n) => /safety number changed/.test(n.text));
  assert.ok(told, "the user was told");
  assert.deepEqual(told.chat, { channelId: aci, receiver: linked.record.loginId });
  assert.ok(
    events.some((e) => e.type === "message" && e.content.text === "new phone, who dis"),
    "the message still arrives",
  );
});
