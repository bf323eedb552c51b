/**
 * The Signal bridge against Signal's own mock server (`@signalapp/mock-server`: phones and
 * contacts running real libsignal) and the real Synapse: a Matrix user links the bridge from
 * the bot DM by the QR code's URL, DMs flow both ways (with a sync transcript to the phone),
 * reactions, edits, deletes, typing and read receipts cross, nothing is lost across kill -9,
 * an undecryptable message is told and recovered from, and unlinking on the phone logs out.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  EMPTY_DATA_MESSAGE,
  EnvelopeType,
  ServiceIdKind,
  type Device,
  type PrimaryDevice,
} from "@signalapp/mock-server";
import {
  encryptGroupAvatar,
  GroupsClient,
  startMockSignal,
  within,
  type MockSignal,
} from "@switchboard/bridge-signal/testing";
import { startBridgeEnvironment, type BridgeEnvironment } from "../harness/switchboard.js";
import { TestMatrixClient, botSays, dmWithBot, type MatrixTestEvent } from "../harness/matrix-client.js";
import { until } from "../harness/wait.js";

let mock: MockSignal;
const CAROL_PASSWORD = "carol-password-1234";
let env: BridgeEnvironment;
let alice: TestMatrixClient;
let mgmt: string;
let phone: PrimaryDevice;
let carol: PrimaryDevice;
let dave: PrimaryDevice;
let erin: PrimaryDevice;
let frank: PrimaryDevice;
let device: Device;
let portal: string;

/** carol's app sends a Content of its own making (a reaction, an edit, a timer, a file): what sendText cannot. */
const carolSends = (content: Record<string, unknown>) =>
  carol.sendRaw(device, { content, senderKeyDistributionMessage: null, pniSignatureMessage: null } as never, {
    timestamp: Date.now(),
  });

/** A data message from carol: the mock's empty one with these fields. */
const carolSendsData = (fields: Record<string, unknown>) =>
  carolSends({ dataMessage: { ...EMPTY_DATA_MESSAGE, timestamp: BigInt(Date.now()), ...fields } });

/** carol's next message from the bridge that `match`es (what else she got is logged, so a failure explains itself). */
async function carolGets(
  match: (m: Awaited<ReturnType<PrimaryDevice["waitForMessage"]>>) => boolean,
  what: string,
) {
  for (;;) {
    const m = await within(carol.waitForMessage(), 20_000, what);
    if (match(m)) return m;
    console.log(`carol also got: ${m.body}`);
  }
}

const text = (body: string) => (e: MatrixTestEvent) => e.type === "m.room.message" && e.content.body === body;

before(async () => {
  mock = await startMockSignal();
  carol = await mock.server.createPrimaryDevice({ profileName: "Carol", password: CAROL_PASSWORD });
  dave = await mock.server.createPrimaryDevice({ profileName: "Dave" });
  erin = await mock.server.createPrimaryDevice({ profileName: "Erin" });
  frank = await mock.server.createPrimaryDevice({ profileName: "Frank" });
  phone = await mock.server.createPrimaryDevice({
    profileName: "Alice",
    contacts: [carol, dave, erin],
    contactsWithoutProfileKey: [frank],
  });
  env = await startBridgeEnvironment({
    bridges: {
      signal: {
        enabled: true,
        service: mock.serviceConfig(),
      },
    },
  });
  const a = await env.hs.registerUser("alice");
  alice = new TestMatrixClient(env.hs.url, a.accessToken, a.userId);
  mgmt = await dmWithBot(alice, env.botUserId);
});

after(async () => {
  await env?.cleanup();
  await mock?.close();
});

describe("Signal", () => {
  test("linking by QR code from the bot DM", async () => {
    const provisioning = mock.server.waitForProvision();
    await alice.sendText(mgmt, "login signal");
    const shown = await alice.waitForEvent(mgmt, botSays(env.botUserId, /sgnl:\/\/linkdevice\?/), 20_000);
    const url = /sgnl:\/\/linkdevice\?\S+/.exec(String(shown.content.body))?.[0];
    assert.ok(url, "the bot shows the link URL");
    const provision = await provisioning;
    device = await within(
      provision.complete({ provisionURL: url, primaryDevice: phone }),
      30_000,
      "the link",
    );
    await alice.waitForEvent(
      mgmt,
      botSays(
        env.botUserId,
        new RegExp(`Logged in to Signal as \\${phone.device.number} \\(${phone.device.aci}\\)`),
      ),
      20_000,
    );
    // The QR code came as an image too.
    const images = (await alice.timeline(mgmt)).filter(
      (e) => e.sender === env.botUserId && e.content.msgtype === "m.image",
    );
    assert.equal(images.length >= 1, true);
    await alice.sendText(mgmt, "status");
    await alice.waitForEvent(mgmt, botSays(env.botUserId, /Signal[\s\S]*connected/i));
    // The new device asked the phone for its contacts, blocked list and settings.
    await within(phone.waitForSync(device), 20_000, "the sync requests");
    // What a real phone learns from the server: the new device's one-time keys.
    await phone.addSingleUseKey(device, await device.popSingleUseKey());
    await carol.addSingleUseKey(device, await device.popSingleUseKey());
  });

  test("a contact's message opens a DM portal; the reply reaches them and the phone's transcript", async () => {
    const sentAt = Date.now();
    // Her message carries her profile key, as Signal's clients do with contacts: the reply can be sealed.
    await within(
      carol.sendText(device, "hello from carol", { timestamp: sentAt, withProfileKey: true }),
      15_000,
      "delivery",
    );
    portal = await until(
      "the DM portal's invite",
      async () => {
        await alice.syncOnce(500);
        return [...alice.invites][0] ?? null;
      },
      20_000,
    );
    await alice.join(portal);
    await alice.waitForEvent(portal, text("hello from carol"), 20_000);

    // Who the server saw sending to carol: nobody, for a sealed-sender send.
    const server = mock.server as unknown as {
      handlePreparedMultiDeviceMessage(source: unknown, target: string, ...rest: unknown[]): Promise<unknown>;
    };
    const handle = server.handlePreparedMultiDeviceMessage.bind(server);
    const seenSenders: string[] = [];
    server.handlePreparedMultiDeviceMessage = (source, target, ...rest) => {
      if (target === carol.device.aci) seenSenders.push(source ? "known" : "sealed");
      return handle(source, target, ...rest);
    };
    await alice.sendText(portal, "hi carol, from Matrix");
    const got = await within(carol.waitForMessage(), 20_000, "carol's copy");
    assert.equal(got.body, "hi carol, from Matrix");
    assert.equal(got.source.aci, phone.device.aci);
    assert.deepEqual(seenSenders, ["sealed"], "sealed sender: the server did not see who sent it");
    server.handlePreparedMultiDeviceMessage = handle;
    const sync = await within(phone.waitForSyncMessage(), 20_000, "the phone's transcript");
    const sent = sync.syncMessage.content?.sent;
    assert.equal(sent?.message?.body, "hi carol, from Matrix");
    assert.equal(sent?.destinationServiceId ?? carol.device.aci, carol.device.aci);
  });

  test("the phone's contacts name people who shared no profile key", async () => {
    await frank.addSingleUseKey(device, await device.popSingleUseKey());
    await within(frank.sendText(device, "hi, frank here"), 15_000, "delivery");
    const frankPortal = await until(
      "frank's DM portal",
      async () => {
        await alice.syncOnce(500);
        return [...alice.invites].find((r) => r !== portal) ?? null;
      },
      20_000,
    );
    await alice.join(frankPortal);
    const hi = await alice.waitForEvent(frankPortal, text("hi, frank here"), 20_000);
    const profile = await alice.request<{ displayname?: string }>(
      "GET",
      `/_matrix/client/v3/profile/${encodeURIComponent(hi.sender)}`,
    );
    assert.equal(profile.displayname, "Frank");

    // Signal wants this account to prove it is human (428) before it sends to frank again: the
    // user is told what to do, and once done the next message goes.
    const pair = { source: phone.device.aci, target: frank.device.aci };
    mock.server.rateLimit(pair);
    await alice.sendText(frankPortal, "are you there?");
    await alice.waitForEvent(
      frankPortal,
      (e) =>
        e.type === "m.room.message" &&
        /could not be delivered[\s\S]*prove it is human[\s\S]*open Signal on your phone/.test(
          String(e.content.body),
        ),
      20_000,
    );
    assert.ok((mock.server.stopRateLimiting(pair) ?? 0) >= 1, "Signal was asked");
    await alice.sendText(frankPortal, "done, now?");
    const got = await within(frank.waitForMessage(), 20_000, "the message after the challenge");
    assert.equal(got.body, "done, now?");
  });

  test("an image both ways, with identical bytes", async () => {
    const png = Buffer.concat([Buffer.from("89504e470d0a1a0a", "hex"), randomBytes(20_000)]);
    const stored = await mock.storeAttachment(png);
    await carolSendsData({
      attachments: [
        {
          attachmentIdentifier: { cdnKey: stored.cdnKey },
          clientUuid: null,
          contentType: "image/png",
          key: stored.key,
          size: stored.size,
          thumbnail: null,
          digest: stored.digest,
          incrementalMac: null,
          chunkSize: null,
          fileName: "carol.png",
          flags: null,
          width: null,
          height: null,
          caption: null,
          blurHash: null,
          uploadTimestamp: null,
          cdnNumber: 3,
        },
      ],
    });
    const image = await alice.waitForEvent(portal, (e) => e.content.msgtype === "m.image", 20_000);
    const file = await alice.download(String(image.content.url));
    assert.equal(file.status, 200);
    assert.ok(file.data.equals(png), "the Matrix copy has carol's bytes");

    const jpeg = Buffer.concat([Buffer.from("ffd8ffe0", "hex"), randomBytes(30_000)]);
    const url = await alice.upload("alice.jpg", "image/jpeg", jpeg);
    await alice.sendMessage(portal, {
      msgtype: "m.image",
      body: "alice.jpg",
      url,
      info: { mimetype: "image/jpeg" },
    });
    const got = await carolGets((m) => (m.dataMessage.attachments?.length ?? 0) > 0, "alice's image");
    const pointer = got.dataMessage.attachments[0]!;
    assert.equal(pointer.contentType, "image/jpeg");
    const cdnKey = (pointer.attachmentIdentifier as { cdnKey?: string } | null)?.cdnKey;
    assert.ok(cdnKey, "the pointer names its CDN object");
    const bytes = await mock.fetchAttachment({
      cdnKey,
      key: pointer.key!,
      digest: pointer.digest ?? undefined,
      size: pointer.size ?? undefined,
    });
    assert.ok(bytes.equals(jpeg), "carol's copy has alice's bytes");
  });

  test("the bridge is killed -9 while the contact sends 5 messages: all 5 arrive once, in order", async () => {
    const sends: Array<Promise<void>> = [];
    const at = Date.now();
    for (let i = 1; i <= 5; i++) {
      sends.push(carol.sendText(device, `offline ${i}`, { timestamp: at + i }));
      // Killed mid-burst: the first ones may be on their way into Matrix, the rest still at Signal.
      if (i === 2) {
        await alice.waitForEvent(portal, text("offline 1"), 20_000);
        await env.bridge.kill9();
      }
    }
    await env.bridge.restart();
    await within(Promise.all(sends), 30_000, "delivery after restart");
    await alice.waitForEvent(portal, text("offline 5"), 30_000).catch(() => undefined);
    await sleep(1500);
    const bodies = (await alice.timeline(portal))
      .filter((e) => e.type === "m.room.message" && /^offline \d$/.test(String(e.content.body)))
      .map((e) => e.content.body);
    assert.deepEqual(bodies, ["offline 1", "offline 2", "offline 3", "offline 4", "offline 5"]);
  });

  test("a message encrypted to a session the bridge no longer has: told, retried, and the next one decrypts", async () => {
    // The bridge loses its session with carol (a restored backup, a broken store): drop it from the data.
    await env.bridge.stop();
    const kvPath = join(env.bridge.dir, "data", "kv.db");
    const lines = (await readFile(kvPath, "utf8")).split("\n");
    const kept = lines.filter((l) => !l.includes(`s:aci:${carol.device.aci}.`));
    assert.ok(kept.length < lines.length, "the session with carol was in the store");
    await writeFile(kvPath, kept.join("\n"));
    await env.bridge.restart();

    await within(carol.sendText(device, "lost in transit"), 20_000, "delivery");
    await alice.waitForEvent(
      portal,
      (e) => e.type === "m.room.message" && /could not be decrypted/.test(String(e.content.body)),
      20_000,
    );
    const retry = await within(carol.waitForDecryptionError(), 20_000, "the retry request");
    assert.equal(retry.senderDevice, 1);
    // What carol's client does with a retry request: a fresh session, then the message again.
    await carol.addSingleUseKey(device, await device.popSingleUseKey());
    await within(carol.sendText(device, "sent again"), 20_000, "delivery");
    await alice.waitForEvent(portal, text("sent again"), 20_000);
  });

  test("reactions, edits, deletes both ways; typing; a Matrix read receipt reaches the contact", async () => {
    const ts = Date.now();
    await within(carol.sendText(device, "react to me", { timestamp: ts }), 15_000, "delivery");
    const original = await alice.waitForEvent(portal, text("react to me"), 20_000);
    // carol reacts to her own message and edits it.
    await carolSendsData({
      reaction: {
        emoji: "👍",
        remove: false,
        targetAuthorAci: carol.device.aci,
        targetSentTimestamp: BigInt(ts),
        targetAuthorAciBinary: null,
      },
    });
    await alice.waitForEvent(
      portal,
      (e) =>
        e.type === "m.reaction" &&
        (e.content["m.relates_to"] as { event_id?: string; key?: string })?.key === "👍" &&
        (e.content["m.relates_to"] as { event_id?: string })?.event_id === original.event_id,
      20_000,
    );

    // Matrix → Signal: a reaction, an edit and a redaction of alice's own message.
    const mine = await alice.sendText(portal, "typo here");
    const copy = await carolGets((m) => m.body === "typo here", "alice's message");
    const mineTs = Number(copy.dataMessage.timestamp);
    await alice.request(
      "PUT",
      `/_matrix/client/v3/rooms/${encodeURIComponent(portal)}/send/m.reaction/r${Date.now()}`,
      {
        "m.relates_to": { rel_type: "m.annotation", event_id: original.event_id, key: "🎉" },
      },
    );
    const reaction = await carolGets((m) => m.dataMessage.reaction != null, "the reaction");
    assert.equal(reaction.dataMessage.reaction?.emoji, "🎉");
    assert.equal(Number(reaction.dataMessage.reaction?.targetSentTimestamp), ts);

    await alice.request(
      "PUT",
      `/_matrix/client/v3/rooms/${encodeURIComponent(portal)}/send/m.room.message/e${Date.now()}`,
      {
        msgtype: "m.text",
        body: "* no typo",
        "m.new_content": { msgtype: "m.text", body: "no typo" },
        "m.relates_to": { rel_type: "m.replace", event_id: mine },
      },
    );
    const edit = await within(carol.waitForEditMessage(), 20_000, "the edit");
    assert.equal(Number(edit.editMessage.targetSentTimestamp), mineTs);
    assert.equal(edit.editMessage.dataMessage?.body, "no typo");

    await alice.request(
      "PUT",
      `/_matrix/client/v3/rooms/${encodeURIComponent(portal)}/redact/${encodeURIComponent(mine)}/d${Date.now()}`,
      {},
    );
    const del = await carolGets((m) => m.dataMessage.delete != null, "the delete");
    assert.equal(Number(del.dataMessage.delete?.targetSentTimestamp), mineTs);

    // carol edits, then deletes, her message; she types.
    await carolSends({
      editMessage: {
        targetSentTimestamp: BigInt(ts),
        dataMessage: { ...EMPTY_DATA_MESSAGE, body: "react to me (edited)", timestamp: BigInt(Date.now()) },
      },
    });
    await alice.waitForEvent(
      portal,
      (e) =>
        (e.content["m.new_content"] as { body?: string } | undefined)?.body === "react to me (edited)" &&
        (e.content["m.relates_to"] as { event_id?: string })?.event_id === original.event_id,
      20_000,
    );
    await carolSends({
      dataMessage: {
        ...EMPTY_DATA_MESSAGE,
        timestamp: BigInt(Date.now()),
        delete: { targetSentTimestamp: BigInt(ts) },
      },
    });
    await alice.waitForEvent(
      portal,
      (e) => e.type === "m.room.redaction" && (e.redacts ?? e.content.redacts) === original.event_id,
      20_000,
    );
    await carolSends({ typingMessage: { timestamp: BigInt(Date.now()), action: 0, groupId: null } });
    await alice.waitForEvent(
      portal,
      (e) =>
        e.type === "m.typing" &&
        ((e.content.user_ids as string[]) ?? []).some((u) => u.includes(carol.device.aci)),
      20_000,
    );

    // A read receipt on carol's newest message reaches her as a Signal read receipt.
    const readTs = Date.now();
    await within(carol.sendText(device, "read me", { timestamp: readTs }), 15_000, "delivery");
    const readMe = await alice.waitForEvent(portal, text("read me"), 20_000);
    await alice.request(
      "POST",
      `/_matrix/client/v3/rooms/${encodeURIComponent(portal)}/receipt/m.read/${encodeURIComponent(readMe.event_id!)}`,
      {},
    );
    const receipt = await within(carol.waitForReceipt(), 20_000, "the read receipt");
    assert.equal(receipt.receiptMessage.type, 1);
    assert.deepEqual(receipt.receiptMessage.timestamp.map(Number), [readTs]);
  });

  test("disappearing messages: the timer is told, bridged copies are redacted when it runs out, replies carry it", async () => {
    await carolSendsData({ flags: 2, expireTimer: 3 });
    await alice.waitForEvent(
      portal,
      (e) => /disappearing messages to 3 seconds/.test(String(e.content.body)),
      20_000,
    );
    await carolSendsData({ body: "this will vanish", expireTimer: 3 });
    const vanishing = await alice.waitForEvent(portal, text("this will vanish"), 20_000);
    await alice.waitForEvent(
      portal,
      (e) => e.type === "m.room.redaction" && (e.redacts ?? e.content.redacts) === vanishing.event_id,
      20_000,
    );
    await alice.sendText(portal, "mine too");
    const reply = await carolGets((m) => m.body === "mine too", "alice's reply");
    assert.equal(reply.dataMessage.expireTimer, 3);
    await carolSendsData({ flags: 2, expireTimer: 0 });
    await alice.waitForEvent(
      portal,
      (e) => /turned off disappearing messages/.test(String(e.content.body)),
      20_000,
    );
  });

  test("a group of three: messages both ways, a member added and the title changed on Signal, a relay for people without a login", async () => {
    let group = await phone.createGroup({ title: "Hiking", members: [phone, carol, dave] });
    // The group has a picture (on CDN 0, encrypted with the group's key). The mock's phones cannot
    // set one, so it goes into the mock service's copy of the group.
    const picture = Buffer.concat([Buffer.from("89504e470d0a1a0a", "hex"), randomBytes(5_000)]);
    const onServer = await mock.server.getGroup(group.secretParams.getPublicParams().serialize());
    assert.ok(onServer);
    Object.assign(onServer.state, {
      avatarUrl: await mock.storeOnCdn0(encryptGroupAvatar(group.masterKey, picture)),
    });
    await dave.addSingleUseKey(device, await device.popSingleUseKey());
    const hiAt = Date.now();
    await within(carol.sendText(device, "hi hikers", { group, timestamp: hiAt }), 15_000, "delivery");
    const groupPortal = await until(
      "the group portal's invite",
      async () => {
        await alice.syncOnce(500);
        return [...alice.invites].find((r) => r !== portal) ?? null;
      },
      20_000,
    );
    await alice.join(groupPortal);
    const hi = await alice.waitForEvent(groupPortal, text("hi hikers"), 20_000);
    // alice reads it on her phone: the read marker moves in the group's room, not in a DM.
    await phone.sendRaw(
      device,
      {
        content: {
          syncMessage: {
            content: null,
            read: [{ senderAci: carol.device.aci, timestamp: BigInt(hiAt), senderAciBinary: null }],
            stickerPackOperation: null,
            viewed: null,
            padding: null,
          },
        },
        senderKeyDistributionMessage: null,
        pniSignatureMessage: null,
      } as never,
      { timestamp: Date.now() },
    );
    // The portal's picture and alice's read marker may come in one sync: watch for both at once.
    let avatar: MatrixTestEvent | undefined;
    let readMarker = false;
    await alice.waitForEvent(
      groupPortal,
      (e) => {
        if (e.type === "m.room.avatar" && e.content.url) avatar = e;
        const read = (e.content[hi.event_id!] as { "m.read"?: object } | undefined)?.["m.read"];
        if (e.type === "m.receipt" && Object.keys(read ?? {}).some((u) => u.includes(phone.device.aci)))
          readMarker = true;
        return avatar !== undefined && readMarker;
      },
      20_000,
    );
    assert.ok(avatar);
    const avatarFile = await alice.download(String(avatar.content.url));
    assert.equal(avatarFile.contentType, "image/png");
    assert.ok(avatarFile.data.equals(picture), "the room's picture is the group's");
    assert.match(hi.sender, new RegExp(carol.device.aci));
    const name = await alice.request<{ name: string }>(
      "GET",
      `/_matrix/client/v3/rooms/${encodeURIComponent(groupPortal)}/state/m.room.name/`,
    );
    assert.equal(name.name, "Hiking");
    // The members are in the room as ghosts named from their Signal profiles.
    const members = await alice.request<{ joined: Record<string, { display_name?: string }> }>(
      "GET",
      `/_matrix/client/v3/rooms/${encodeURIComponent(groupPortal)}/joined_members`,
    );
    const ghostOf = (p: PrimaryDevice) =>
      Object.entries(members.joined).find(([id]) => id.includes(p.device.aci));
    assert.equal(ghostOf(carol)?.[1].display_name, "Carol");
    assert.equal(ghostOf(dave)?.[1].display_name, "Dave");

    await alice.sendText(groupPortal, "hello from Matrix");
    const forCarol = await carolGets((m) => m.body === "hello from Matrix", "the group message");
    assert.ok(Buffer.from(forCarol.dataMessage.groupV2!.masterKey!).equals(group.masterKey));
    assert.equal(forCarol.envelopeType, EnvelopeType.SenderKey, "sent with the bridge's sender key");
    const forDave = await within(dave.waitForMessage(), 20_000, "dave's copy");
    assert.equal(forDave.body, "hello from Matrix");

    // erin joins on Signal (invited by the phone, she accepts); the next message carries the revision.
    group = await phone.inviteToGroup(group, erin.device, {
      serviceIdKind: ServiceIdKind.PNI,
      sendUpdateTo: [],
    });
    group = await erin.acceptPniInvite(group, { sendUpdateTo: [] });
    await within(carol.sendText(device, "welcome erin", { group }), 15_000, "delivery");
    await alice.waitForEvent(
      groupPortal,
      (e) =>
        e.type === "m.room.member" &&
        String(e.state_key).includes(erin.device.aci) &&
        e.content.membership === "join",
      20_000,
    );
    await alice.waitForEvent(groupPortal, text("welcome erin"), 20_000);

    // carol renames the group from her Signal app (the group service's own PATCH).
    const carolChat = await mock.chatAs(carol, CAROL_PASSWORD);
    const groups = new GroupsClient({
      chat: carolChat.fetch,
      http: mock.http,
      urls: mock.urls,
      serverPublicParams: new Uint8Array(Buffer.from(mock.zkPublicParams, "base64")),
      aci: carol.device.aci,
      pni: carol.device.pni!,
    });
    const renamed = await groups.setTitle(group.masterKey, "Hiking 2027");
    await carolSendsData({
      body: "new name",
      groupV2: { masterKey: group.masterKey, revision: renamed.revision, groupChange: null },
    });
    await alice.waitForEvent(
      groupPortal,
      (e) => e.type === "m.room.name" && e.content.name === "Hiking 2027",
      20_000,
    );
    await alice.waitForEvent(groupPortal, text("new name"), 20_000);

    // Renamed in Matrix by alice (a group admin): the group's title changes, and members are told.
    await alice.request(
      "PUT",
      `/_matrix/client/v3/rooms/${encodeURIComponent(groupPortal)}/state/m.room.name/`,
      { name: "Hiking, from Matrix" },
    );
    const update = await carolGets((m) => m.dataMessage.groupV2?.groupChange != null, "the group change");
    assert.ok(Number(update.dataMessage.groupV2!.revision) > renamed.revision);
    assert.equal((await groups.getGroup(group.masterKey)).title, "Hiking, from Matrix");
    await carolChat.close();

    // Signal has no bot: alice makes her login the room's relay; bob, without a login, is heard as "bob: …".
    await alice.sendText(groupPortal, "!set-relay");
    // She may: as a Signal admin of the group she administers its portal.
    await alice.waitForEvent(groupPortal, botSays(env.botUserId, /now relayed through/), 20_000);
    const b = await env.hs.registerUser("bob");
    const bob = new TestMatrixClient(env.hs.url, b.accessToken, b.userId);
    await alice.request("POST", `/_matrix/client/v3/rooms/${encodeURIComponent(groupPortal)}/invite`, {
      user_id: b.userId,
    });
    await bob.join(groupPortal);
    await bob.sendText(groupPortal, "hello from bob");
    const relayed = await carolGets((m) => /hello from bob/.test(m.body), "bob's relayed message");
    assert.match(relayed.body, /^bob: hello from bob$/);
  });

  test("an announcement-only group where the user is no admin: the room is read-only and says why", async () => {
    const news = await phone.createGroup({ title: "News", members: [phone, carol] });
    // Made announcement-only by carol, who stays its only admin (the mock's phones make every
    // member an admin and cannot change roles, so its service's copy of the group is edited).
    const onServer = await mock.server.getGroup(news.secretParams.getPublicParams().serialize());
    assert.ok(onServer);
    const mine = Buffer.from(news.encryptServiceId(phone.device.aci));
    for (const m of onServer.state.members ?? [])
      if (m.userId && mine.equals(Buffer.from(m.userId))) m.role = 1;
    Object.assign(onServer.state, { announcementsOnly: true });
    await within(carol.sendText(device, "big news", { group: news }), 15_000, "delivery");
    const known = new Set(alice.invites);
    const newsPortal = await until(
      "the announcement group's portal",
      async () => {
        await alice.syncOnce(500);
        return [...alice.invites].find((r) => !known.has(r) && r !== portal) ?? null;
      },
      20_000,
    );
    await alice.join(newsPortal);
    await alice.waitForEvent(newsPortal, text("big news"), 20_000);
    await alice.sendText(newsPortal, "can I say something?");
    await alice.waitForEvent(
      newsPortal,
      (e) =>
        e.type === "m.room.message" &&
        /only the group's admins can send messages/.test(String(e.content.body)),
      20_000,
    );
  });

  test("the phone unlinks the device: the user is told and the login is LOGGED_OUT", async () => {
    await phone.unlink(device);
    await mock.server.removeDeviceByServiceId(device.aci, device.deviceId);
    mock.dropConnections();
    await alice.waitForEvent(mgmt, botSays(env.botUserId, /no longer linked/), 30_000);
    await alice.sendText(mgmt, "status");
    await alice.waitForEvent(mgmt, botSays(env.botUserId, /Signal[\s\S]*(logged out|LOGGED_OUT)/i));
  });
});
