import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { ServiceIdKind, type Group, type PrimaryDevice } from "@signalapp/mock-server";
import { PermanentError } from "@switchboard/framework";
import { GroupsClient, groupIdFromMasterKey } from "./groups.js";
import { AccessRequired, GroupChangeCodec, GroupChangesCodec, GroupResponseCodec } from "./groups-proto.js";
import { startMockSignal, type MockSignal } from "./testing/mock-signal.js";
import type { ChatFetch, HttpFetch, HttpRequest } from "./transport.js";

describe("GroupsClient against Signal's mock server", () => {
  let mock: MockSignal;
  let phone: PrimaryDevice;
  let alice: PrimaryDevice;
  let bob: PrimaryDevice;
  let carol: PrimaryDevice;
  const passwords = new Map<PrimaryDevice, string>();

  before(async () => {
    mock = await startMockSignal();
    const primary = async (profileName: string) => {
      const password = `pw-${profileName}`;
      const device = await mock.server.createPrimaryDevice({ profileName, password });
      passwords.set(device, password);
      return device;
    };
    [phone, alice, bob, carol] = await Promise.all([
      primary("Phone"),
      primary("Alice"),
      primary("Bob"),
      primary("Carol"),
    ]);
  });
  after(() => mock.close());

  async function clientAs(
    primary: PrimaryDevice,
    wrap: { chat?: (f: ChatFetch) => ChatFetch; http?: (f: HttpFetch) => HttpFetch } = {},
  ): Promise<GroupsClient> {
    const chat = await mock.chatAs(primary, passwords.get(primary)!);
    return new GroupsClient({
      chat: wrap.chat ? wrap.chat(chat.fetch) : chat.fetch,
      http: wrap.http ? wrap.http(mock.http) : mock.http,
      // The mock serves the storage service under /storageService; Signal's is at the root of its own host.
      urls: {
        ...mock.urls,
        storage: mock.urls.storage.endsWith("/storageService")
          ? mock.urls.storage
          : `${mock.urls.storage}/storageService`,
      },
      serverPublicParams: Buffer.from(mock.zkPublicParams, "base64"),
      aci: primary.device.aci,
      pni: primary.device.pni!,
    });
  }

  /** A group of phone and alice (both admins, as the mock makes every creator-listed member) that bob joined as a plain member. */
  async function groupWithBob(title: string): Promise<Group> {
    const created = await phone.createGroup({ title, members: [phone, alice] });
    const invited = await phone.inviteToGroup(created, bob.device, {
      serviceIdKind: ServiceIdKind.PNI,
      sendUpdateTo: [],
    });
    return bob.acceptPniInvite(invited);
  }

  /** Rewrites the group the service returns, to put the group in a state the mock can't make. */
  const rewriteGroup =
    (
      edit: (group: NonNullable<ReturnType<typeof GroupResponseCodec.decode>["group"]>) => void,
      seen: HttpRequest[],
    ) =>
    (inner: HttpFetch): HttpFetch =>
    async (req) => {
      seen.push(req);
      const res = await inner(req);
      if (req.method !== "GET" || !req.url.endsWith("/v2/groups") || res.status !== 200) return res;
      const decoded = GroupResponseCodec.decode(res.body);
      if (decoded.group) edit(decoded.group);
      return { ...res, body: Buffer.from(GroupResponseCodec.encode(decoded)) };
    };

  it("reads a group's title, members, roles, profile keys and settings; fetches credentials once a day", async () => {
    const group = await phone.createGroup({ title: "Book club", members: [phone, alice] });
    let credentialFetches = 0;
    const client = await clientAs(phone, {
      chat: (inner) => async (req) => {
        if (req.path.startsWith("/v1/certificate/auth/group?")) credentialFetches++;
        return inner(req);
      },
    });

    assert.equal(groupIdFromMasterKey(group.masterKey), group.id);
    const state = await client.getGroup(group.masterKey);
    assert.equal(state.id, group.id);
    assert.equal(state.revision, 0);
    assert.equal(state.title, "Book club");
    assert.deepEqual(
      state.members.map((m) => [m.aci, m.role]).sort(),
      [
        [phone.device.aci, "admin"],
        [alice.device.aci, "admin"],
      ].sort(),
    );
    const aliceMember = state.members.find((m) => m.aci === alice.device.aci);
    assert.deepEqual(Buffer.from(aliceMember!.profileKey!), Buffer.from(alice.profileKey.serialize()));
    assert.deepEqual(state.pendingMembers, []);
    assert.equal(state.announcementsOnly, false);
    assert.equal(state.disappearingTimerSeconds, undefined);
    assert.deepEqual(state.accessControl, {
      attributes: "member",
      members: "member",
      addFromInviteLink: "unsatisfiable",
    });

    await client.getGroup(group.masterKey);
    assert.equal(credentialFetches, 1, "the second request reuses today's credential");
  });

  it("learns invites, joins and timer changes made by other members, revision by revision", async () => {
    const group = await phone.createGroup({ title: "Climbing", members: [phone, alice] });
    const client = await clientAs(alice);

    const invited = await phone.inviteToGroup(group, bob.device, {
      serviceIdKind: ServiceIdKind.PNI,
      sendUpdateTo: [],
    });
    const first = await client.getChanges(group.masterKey, 0);
    assert.deepEqual(
      first.changes.map((c) => [c.revision, c.editor, c.invited]),
      [[1, phone.device.aci, [bob.device.pni]]],
    );
    assert.deepEqual(first.state?.pendingMembers, [bob.device.pni]);

    const joined = await bob.acceptPniInvite(invited);
    await phone.modifyGroupDisappearingMessageTimer(joined, 3600, { sendUpdateTo: [] });
    const { changes, state } = await client.getChanges(group.masterKey, 1);
    assert.deepEqual(
      changes.map((c) => c.revision),
      [2, 3],
    );
    const [join, timer] = changes;
    assert.deepEqual(
      join!.membersAdded.map((m) => [m.aci, m.role]),
      [[bob.device.aci, "member"]],
    );
    assert.deepEqual(
      Buffer.from(join!.membersAdded[0]!.profileKey!),
      Buffer.from(bob.profileKey.serialize()),
    );
    assert.equal(join!.editor, bob.device.pni, "an invite accepted by PNI is edited by that PNI");
    assert.equal(timer!.disappearingTimerSeconds, 3600);
    assert.equal(timer!.title, undefined);
    assert.equal(state?.revision, 3);
    assert.deepEqual(state?.pendingMembers, []);
    assert.equal(state?.members.find((m) => m.aci === bob.device.aci)?.role, "member");
    assert.equal(state?.disappearingTimerSeconds, 3600);

    assert.deepEqual(await client.getChanges(group.masterKey, 3), { changes: [] });
  });

  it("renames the group as a plain member and returns a signed change that peers verify", async () => {
    const group = await groupWithBob("Old name");
    const bobClient = await clientAs(bob);
    const phoneClient = await clientAs(phone);

    const result = await bobClient.setTitle(group.masterKey, "Renamed by Bob");
    assert.equal(result.revision, 3);
    assert.equal(result.change.title, "Renamed by Bob");
    assert.equal(result.change.editor, bob.device.aci);
    assert.equal(result.change.signed, true);

    const state = await phoneClient.getGroup(group.masterKey);
    assert.equal(state.title, "Renamed by Bob");
    assert.equal(state.revision, 3);
    const log = await phoneClient.getChanges(group.masterKey, 2);
    assert.deepEqual(
      log.changes.map((c) => [c.revision, c.editor, c.title]),
      [[3, bob.device.aci, "Renamed by Bob"]],
    );

    const relayed = phoneClient.decryptChange(group.masterKey, result.groupChange);
    assert.equal(relayed.title, "Renamed by Bob");
    assert.equal(relayed.signed, true);

    const signed = GroupChangeCodec.decode(result.groupChange);
    const forged = Buffer.from(signed.serverSignature!);
    forged[0] = forged[0]! ^ 1;
    assert.throws(
      () =>
        phoneClient.decryptChange(
          group.masterKey,
          GroupChangeCodec.encode({ ...signed, serverSignature: forged }),
        ),
      /signature does not verify/,
    );
    assert.throws(
      () => phoneClient.decryptChange(group.masterKey, GroupChangeCodec.encode({ actions: signed.actions })),
      /not signed/,
    );
    const other = await phone.createGroup({ title: "Other", members: [phone] });
    assert.throws(() => phoneClient.decryptChange(other.masterKey, result.groupChange), /another group/);
  });

  it("refuses a rename the member's role doesn't allow, before asking the service", async () => {
    const group = await groupWithBob("Admins only");
    const adminsOnly = (g: { accessControl?: { attributes?: number } }) => {
      g.accessControl = { ...g.accessControl, attributes: AccessRequired.ADMINISTRATOR };
    };
    const bobRequests: HttpRequest[] = [];
    const bobClient = await clientAs(bob, { http: rewriteGroup(adminsOnly, bobRequests) });
    await assert.rejects(
      bobClient.setTitle(group.masterKey, "Nope"),
      (e: unknown) => e instanceof PermanentError && /only group admins can/.test(e.message),
    );
    assert.deepEqual(
      bobRequests.map((r) => r.method),
      ["GET"],
      "nothing was sent to change the group",
    );

    const carolRequests: HttpRequest[] = [];
    const carolClient = await clientAs(carol, { http: rewriteGroup(() => undefined, carolRequests) });
    await assert.rejects(
      carolClient.setTitle(group.masterKey, "Nope"),
      (e: unknown) => e instanceof PermanentError && /not a member/.test(e.message),
    );
    assert.ok(!carolRequests.some((r) => r.method === "PATCH"));

    const adminClient = await clientAs(phone, { http: rewriteGroup(adminsOnly, []) });
    assert.equal((await adminClient.setTitle(group.masterKey, "By an admin")).change.title, "By an admin");
    assert.equal((await adminClient.getGroup(group.masterKey)).title, "By an admin");
  });

  it("rejects a change log whose signatures don't verify", async () => {
    const group = await phone.createGroup({ title: "Signed", members: [phone, alice] });
    await phone.modifyGroupDisappearingMessageTimer(group, 60, { sendUpdateTo: [] });

    const honest = await (await clientAs(alice)).getChanges(group.masterKey, 0);
    assert.equal(honest.changes[0]?.disappearingTimerSeconds, 60);
    assert.equal(honest.changes[0]?.signed, false, "the mock's log carries no signatures");

    const forging: (inner: HttpFetch) => HttpFetch = (inner) => async (req) => {
      const res = await inner(req);
      if (!req.url.includes("/v2/groups/logs/") || res.status !== 200) return res;
      const log = GroupChangesCodec.decode(res.body);
      for (const entry of log.groupChanges ?? []) {
        if (entry.groupChange) entry.groupChange.serverSignature = randomBytes(64);
      }
      return { ...res, body: Buffer.from(GroupChangesCodec.encode(log)) };
    };
    const fooled = await clientAs(alice, { http: forging });
    await assert.rejects(fooled.getChanges(group.masterKey, 0), /signature does not verify/);
  });
});
