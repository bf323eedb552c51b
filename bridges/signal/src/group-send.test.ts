/**
 * Group sends on Signal's mock server, real libsignal on both sides: a message to a group goes
 * as one sealed sender-key message to every member (each gets our sender key once), a member's
 * new device is given the key, and a device that goes away makes us replace the key, after
 * which every remaining member still reads the group (mautrix-signal #647).
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import type { SenderKeyRecord } from "@signalapp/libsignal-client";
import {
  CiphertextMessageType,
  DecryptionErrorMessage,
  groupEncrypt,
  ProtocolAddress,
  SenderKeyDistributionMessage,
  SenderKeyStore,
} from "@signalapp/libsignal-client";
import { EnvelopeType, type Group, type PrimaryDevice } from "@signalapp/mock-server";
import type { LoginClient, MatrixMessage, RemoteEvent } from "@switchboard/framework";
import { SignalConnector } from "./connector.js";
import { keyMustChange } from "./group-send.js";
import { GroupTracker } from "./group-tracker.js";
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
const events: RemoteEvent[] = [];
let alice: Linked;
let carol: PrimaryDevice;
let dave: PrimaryDevice;
let group: Group;
/** Every delivery the server made: to whom, and whether it knew the sender. */
const deliveries: Array<{ to: string; sealed: boolean }> = [];

async function nextText(device: PrimaryDevice, body: string) {
  for (;;) {
    const m = await within(device.waitForMessage(), 20_000, `"${body}"`);
    if (m.body === body) return m;
  }
}

let n = 0;
function groupMessage(client: LoginClient, text: string) {
  const channelId = GroupTracker.chatOf(group.masterKey).channelId;
  const msg: MatrixMessage = {
    eventId: `$e${++n}`,
    roomId: "!group:x",
    chat: { channelId },
    sender: { userId: "@alice:x", displayname: "alice", relayed: false },
    content: { kind: "text", text },
    timestamp: Date.now(),
    mentions: [],
  };
  return (client as unknown as { sendMessage(m: MatrixMessage): Promise<unknown> }).sendMessage(msg);
}

const distribution = (loginId: string): { distributionId: string; devices: Record<string, number[]> } => {
  const channelId = GroupTracker.chatOf(group.masterKey).channelId;
  const raw = kv.get(`login\0${loginId}\0gsend:${channelId}`);
  assert.ok(typeof raw === "string", "the group's sender-key record is kept");
  return JSON.parse(raw) as { distributionId: string; devices: Record<string, number[]> };
};

before(async () => {
  mock = await startMockSignal();
  const ctx = stubSignalContext(mock, kv, [], (event) => void events.push(event));
  connector = new SignalConnector();
  await connector.start(ctx);
  const server = mock.server as unknown as {
    handlePreparedMultiDeviceMessage(source: unknown, target: string, prepared: unknown): Promise<void>;
  };
  const original = server.handlePreparedMultiDeviceMessage.bind(server);
  server.handlePreparedMultiDeviceMessage = (source, target, prepared) => {
    deliveries.push({ to: target, sealed: source === undefined });
    return original(source, target, prepared);
  };

  alice = await linkWithMock(mock, connector, 0);
  carol = await mock.server.createPrimaryDevice({ profileName: "Carol" });
  dave = await mock.server.createPrimaryDevice({ profileName: "Dave" });
  group = await alice.phone.createGroup({ title: "Climbing", members: [alice.phone, carol, dave] });
  // The linked device learns the group from a member's message, as it would in the wild.
  await carol.addSingleUseKey(alice.device, await alice.device.popSingleUseKey());
  await within(carol.sendText(alice.device, "who's in?", { group }), 15_000, "delivery");
  await within(
    (async () => {
      while (!events.some((e) => e.type === "message" && e.content.text === "who's in?")) await sleep(50);
    })(),
    15_000,
    "carol's group message at the bridge",
  );
});

after(async () => {
  await connector?.stop();
  await mock?.close();
});

test("a group message is one sealed sender-key message to every member; the key goes to each once", async () => {
  deliveries.length = 0;
  await groupMessage(alice.client, "first");
  for (const member of [carol, dave]) {
    const m = await nextText(member, "first");
    assert.equal(m.envelopeType, EnvelopeType.SenderKey, "opened with our sender key");
    assert.ok(Buffer.from(m.dataMessage.groupV2!.masterKey!).equals(group.masterKey));
  }
  const toMembers = deliveries.filter((d) => d.to === carol.device.aci || d.to === dave.device.aci);
  // Per member: the sender key (one to one) and the message itself, both sealed.
  assert.deepEqual(
    toMembers.map((d) => d.sealed),
    toMembers.map(() => true),
  );

  deliveries.length = 0;
  await groupMessage(alice.client, "second");
  for (const member of [carol, dave]) {
    assert.equal((await nextText(member, "second")).envelopeType, EnvelopeType.SenderKey);
  }
  assert.equal(
    deliveries.filter((d) => d.to === carol.device.aci || d.to === dave.device.aci).length,
    2,
    "the second message is the only delivery: nobody is sent the key again",
  );
});

test("a member's new device gets the key; when a device goes away the key is replaced and everyone still reads", async () => {
  const before = distribution(alice.record.loginId);
  // carol links a device of her own (another Switchboard login): a device the group key never reached.
  const carolsLaptop = await linkWithMock(mock, connector, 1, carol);
  await groupMessage(alice.client, "hello laptop");
  assert.equal((await nextText(carol, "hello laptop")).envelopeType, EnvelopeType.SenderKey);
  await within(
    (async () => {
      while (
        !events.some(
          (e) =>
            e.type === "message" &&
            e.content.text === "hello laptop" &&
            e.chat.channelId === GroupTracker.chatOf(group.masterKey).channelId,
        )
      )
        await sleep(50);
    })(),
    20_000,
    "the group message on carol's new device",
  );
  const withLaptop = distribution(alice.record.loginId);
  assert.equal(withLaptop.distributionId, before.distributionId, "a new device is given the same key");
  assert.deepEqual(withLaptop.devices[carol.device.aci]?.sort(), [1, carolsLaptop.device.deviceId].sort());

  // The laptop is unlinked: it must not read what comes next.
  await carolsLaptop.client.disconnect();
  await carol.unlink(carolsLaptop.device);
  await mock.server.removeDeviceByServiceId(carol.device.aci, carolsLaptop.device.deviceId);
  await groupMessage(alice.client, "after the laptop");
  for (const member of [carol, dave]) {
    assert.equal((await nextText(member, "after the laptop")).envelopeType, EnvelopeType.SenderKey);
  }
  const after = distribution(alice.record.loginId);
  assert.notEqual(after.distributionId, before.distributionId, "the key was replaced");
  assert.deepEqual(after.devices[carol.device.aci], [1]);
});

test("a member's retry request: that device is given our sender key again and reads the next message", async () => {
  const dist = distribution(alice.record.loginId);
  // What carol's phone sends when it cannot open a sender-key message from us: a retry request
  // naming our device (made from a sender-key message like ours; its key is of no consequence).
  const keys = new (class extends SenderKeyStore {
    records = new Map<string, SenderKeyRecord>();
    async saveSenderKey(_: ProtocolAddress, id: string, record: SenderKeyRecord) {
      this.records.set(id, record);
    }
    async getSenderKey(_: ProtocolAddress, id: string) {
      return this.records.get(id) ?? null;
    }
  })();
  const ours = ProtocolAddress.new(alice.device.aci, alice.device.deviceId);
  await SenderKeyDistributionMessage.create(ours, dist.distributionId, keys);
  const failed = await groupEncrypt(ours, dist.distributionId, keys, new Uint8Array([1, 2, 3]));
  const dem = DecryptionErrorMessage.forOriginal(
    failed.serialize(),
    CiphertextMessageType.SenderKey,
    Date.now(),
    alice.device.deviceId,
  );
  await within(
    carol.sendRaw(
      alice.device,
      {
        content: { decryptionErrorMessage: dem.serialize() },
        senderKeyDistributionMessage: null,
        pniSignatureMessage: null,
      } as never,
      { timestamp: Date.now() },
    ),
    15_000,
    "the retry request",
  );
  await within(
    (async () => {
      while ((distribution(alice.record.loginId).devices[carol.device.aci] ?? []).includes(1))
        await sleep(50);
    })(),
    15_000,
    "carol's phone forgotten in the group's key record",
  );
  deliveries.length = 0;
  await groupMessage(alice.client, "once more");
  assert.equal((await nextText(carol, "once more")).envelopeType, EnvelopeType.SenderKey);
  assert.equal((await nextText(dave, "once more")).envelopeType, EnvelopeType.SenderKey);
  // carol got the key again (one to one) and the message; dave only the message.
  assert.equal(deliveries.filter((d) => d.to === carol.device.aci).length, 2);
  assert.equal(deliveries.filter((d) => d.to === dave.device.aci).length, 1);
  assert.equal(distribution(alice.record.loginId).distributionId, dist.distributionId);
});

test("the sender key is replaced when a holder leaves, loses a device, or it is old; not for new devices", () => {
  const now = Date.now();
  const dist = { distributionId: "d", created: now - 1000, devices: { carol: [1, 2], dave: [1] } };
  const members = ["carol", "dave"];
  const same = new Map([
    ["carol", [1, 2]],
    ["dave", [1]],
  ]);
  assert.equal(keyMustChange(dist, members, same, now), false);
  assert.equal(keyMustChange(dist, members, new Map([["carol", [1, 2, 3]]]), now), false, "a new device");
  assert.equal(keyMustChange(dist, members, new Map(), now), false, "members not sent to this time");
  assert.equal(keyMustChange(dist, ["carol"], same, now), true, "dave left the group");
  assert.equal(
    keyMustChange(dist, members, new Map([["carol", [1]]]), now),
    true,
    "carol's device 2 is gone",
  );
  assert.equal(keyMustChange({ ...dist, created: now - 31 * 86_400_000 }, members, same, now), true, "old");
});
