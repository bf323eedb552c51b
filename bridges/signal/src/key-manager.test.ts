/**
 * Published keys stay healthy, on Signal's mock server: when contacts have used up the login's
 * one-time keys it uploads a new batch, and after `rotate_days` it replaces its signed and
 * last-resort keys, which new sessions then start from.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { SignalConnector } from "./connector.js";
import {
  linkWithMock,
  startMockSignal,
  stubSignalContext,
  within,
  type Linked,
  type MockSignal,
} from "./testing/mock-signal.js";

let mock: MockSignal;
let connector: SignalConnector;
const kv = new Map<string, unknown>();
let linked: Linked;
const CAROL_PASSWORD = "carol-password-1234";

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

before(async () => {
  mock = await startMockSignal();
  connector = new SignalConnector();
  await connector.start(stubSignalContext(mock, kv, []));
  linked = await linkWithMock(mock, connector, 0);
});

after(async () => {
  await connector?.stop();
  await mock?.close();
});

test("one-time keys used up by contacts are refilled (refill_below 10, batch 100)", async () => {
  const device = linked.device;
  const start = await device.getPreKeyCount();
  assert.ok(start >= 10, `the link uploaded one-time keys (${start})`);
  // Contacts starting sessions take one key each: leave fewer than 10.
  const taken = [];
  while ((await device.getPreKeyCount()) >= 10) taken.push(await device.popSingleUseKey());
  const low = await device.getPreKeyCount();
  const contact = await mock.server.createPrimaryDevice({ profileName: "Contact" });
  await contact.addSingleUseKey(device, taken.pop()!);
  // A message that used one of our one-time keys makes the login check its counts, even sealed
  // (the envelope then does not say it started a session).
  await within(contact.sendText(device, "hello", { sealed: true }), 15_000, "delivery");
  assert.ok(low < 10);
  // Signal replaces the unused one-time keys with the uploaded batch.
  await until("the refill", async () => (await device.getPreKeyCount()) >= 100);
  assert.ok((await device.getKyberPreKeyCount()) >= 100, "Kyber one-time keys too");
});

test("signed and last-resort keys are replaced after rotate_days; new sessions start from the new ones", async () => {
  const carol = await mock.server.createPrimaryDevice({ profileName: "Carol", password: CAROL_PASSWORD });
  const chat = await mock.chatAs(carol, CAROL_PASSWORD);
  const signedKeyId = async (): Promise<number> => {
    const res = await chat.fetch({
      verb: "GET",
      path: `/v2/keys/${linked.device.aci}/${linked.device.deviceId}`,
    });
    assert.equal(res.status, 200);
    const body = JSON.parse(Buffer.from(res.body!).toString()) as {
      devices: Array<{ signedPreKey: { keyId: number }; pqPreKey: { keyId: number } }>;
    };
    return body.devices[0]!.signedPreKey.keyId;
  };
  const before = await signedKeyId();
  // Three days pass (rotate_days is 2 in this config): the login, loaded again, rotates.
  const countersKey = `login\0${linked.record.loginId}\0keys:aci`;
  const counters = JSON.parse(kv.get(countersKey) as string) as { rotatedAt: number };
  kv.set(countersKey, JSON.stringify({ ...counters, rotatedAt: Date.now() - 3 * 86_400_000 }));
  await linked.client.disconnect();
  linked.client = await connector.loadLogin(linked.record);
  await until("the new signed key on the server", async () => (await signedKeyId()) !== before);
  const after = JSON.parse(kv.get(countersKey) as string) as { rotatedAt: number };
  assert.ok(Date.now() - after.rotatedAt < 60_000, "the rotation time was recorded");

  // A contact starting a session now uses the new signed key, and the login opens it.
  await carol.addSingleUseKey(linked.device, await linked.device.popSingleUseKey());
  await within(carol.sendText(linked.device, "after rotation"), 15_000, "delivery with the new keys");
  await chat.close();
});
