import { Aci, Pni } from "@signalapp/libsignal-client";
import {
  type AuthCredentialWithPni,
  AuthCredentialWithPniResponse,
  ClientZkAuthOperations,
  ClientZkGroupCipher,
  GroupMasterKey,
  GroupSecretParams,
  GroupSendEndorsement,
  GroupSendEndorsementsResponse,
  type GroupSendFullToken,
  NotarySignature,
  ProfileKeyCiphertext,
  ProfileKeyCredentialPresentation,
  ServerPublicParams,
  UuidCiphertext,
} from "@signalapp/libsignal-client/dist/zkgroup/index.js";
import { PermanentError, RateLimitedError } from "@switchboard/framework";
import {
  AccessRequired,
  GroupAttributeBlobCodec,
  GroupChangeActionsCodec,
  GroupChangeCodec,
  GroupChangeResponseCodec,
  GroupChangesCodec,
  GroupResponseCodec,
  Role,
  type GroupAttributeBlob,
  type GroupChangeActions,
  type GroupChangeProto,
  type GroupProto,
  type MemberProto,
} from "./groups-proto.js";
import {
  parseJson,
  type ChatFetch,
  type HttpFetch,
  type HttpResponse,
  type ServiceUrls,
} from "./transport.js";

/**
 * A client for Signal's groups v2 service (the storage service's `/v2/groups`). The service only
 * stores ciphertext: titles, timers and member ids are encrypted with keys derived from the
 * group's master key, which members learn from each other's messages (`groupV2.masterKey`).
 * Every request proves membership with a zero-knowledge presentation of a daily auth credential
 * fetched over the chat websocket, so the service never learns who asks.
 */

export type AccessLevel = "unknown" | "any" | "member" | "administrator" | "unsatisfiable";
export type GroupRole = "member" | "admin";

export interface GroupMember {
  /** ACI (bare UUID). */
  aci: string;
  role: GroupRole;
  /** 32 bytes; absent only if the service gave none. */
  profileKey?: Uint8Array;
}

export interface GroupState {
  /** Base64 group identifier, derived from the master key (the id in `groupIdFromMasterKey`). */
  id: string;
  revision: number;
  title: string;
  description?: string;
  /** CDN key of the encrypted avatar; absent when the group has none. */
  avatarUrl?: string;
  members: GroupMember[];
  /** Invited but not yet joined: service id strings (a bare UUID for an ACI, "PNI:<uuid>" for a PNI). */
  pendingMembers: string[];
  announcementsOnly: boolean;
  /** Absent when disappearing messages are off. */
  disappearingTimerSeconds?: number;
  accessControl: {
    /** Who may change title, description, avatar and timer. */
    attributes: AccessLevel;
    /** Who may add members. */
    members: AccessLevel;
    addFromInviteLink: AccessLevel;
  };
}

/** One revision of a group, decrypted: what a member did. Empty lists mean "no such action". */
export interface GroupChange {
  revision: number;
  /** Service id string of who made the change (a PNI when someone accepted an invite sent to their PNI). */
  editor?: string;
  /**
   * True when a server signature came with the change and verified. A change a peer relays in a
   * message must be signed (`decryptChange` insists); one read from the service's own log may not
   * be: revision 0 never is, and Signal's mock server signs none of its log.
   */
  signed: boolean;
  /** Joined: added, accepted an invite, or approved. */
  membersAdded: GroupMember[];
  /** ACIs removed or who left. */
  membersRemoved: string[];
  rolesChanged: Array<{ aci: string; role: GroupRole }>;
  profileKeysChanged: Array<{ aci: string; profileKey: Uint8Array }>;
  /** Service ids invited. */
  invited: string[];
  /** Service ids whose invite was revoked or declined. */
  invitesRemoved: string[];
  title?: string;
  /** "" when the description was cleared. */
  description?: string;
  /** "" when the avatar was removed. */
  avatarUrl?: string;
  /** 0 when disappearing messages were turned off. */
  disappearingTimerSeconds?: number;
  announcementsOnly?: boolean;
  accessControl?: Partial<GroupState["accessControl"]>;
}

export interface GroupChangeLog {
  /** Oldest first. */
  changes: GroupChange[];
  /** The group after the last change; absent when there was nothing new. */
  state?: GroupState;
}

export interface GroupModification {
  /** The group's revision after the change. */
  revision: number;
  change: GroupChange;
  /**
   * The signed change (a `GroupChange` message). Signal clients learn of a change from the
   * editor's next group message, not from the service: send it as `groupV2.groupChange`, with
   * `revision`, to every member.
   */
  groupChange: Uint8Array;
}

export interface GroupsClientOptions {
  chat: ChatFetch;
  http: HttpFetch;
  urls: ServiceUrls;
  /** zkgroup ServerPublicParams of the Signal environment. */
  serverPublicParams: Uint8Array;
  /** This login's ACI (bare UUID). */
  aci: string;
  /** This login's PNI, bare or "PNI:"-prefixed; the credential response's own PNI wins when it has one. */
  pni: string;
}

const DAY_SECONDS = 86_400;
/** The most days of credentials Signal's chat service issues at once. */
const CREDENTIAL_DAYS = 7;
/** The newest change format we decode (PNI invites); the service downgrades what it can for older ones. */
const MAX_CHANGE_EPOCH = 5;
const CONFLICT_RETRIES = 3;

const ACCESS_LEVELS: Record<number, AccessLevel> = {
  [AccessRequired.ANY]: "any",
  [AccessRequired.MEMBER]: "member",
  [AccessRequired.ADMINISTRATOR]: "administrator",
  [AccessRequired.UNSATISFIABLE]: "unsatisfiable",
};
const accessLevel = (value: number | undefined): AccessLevel => ACCESS_LEVELS[value ?? 0] ?? "unknown";
const roleOf = (value: number | undefined): GroupRole => (value === Role.ADMINISTRATOR ? "admin" : "member");

/** libsignal wants bytes it owns (an ArrayBuffer-backed copy), not a view into a decoded Buffer. */
const own = (bytes: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(bytes);
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");
const nonEmpty = (bytes: Uint8Array | undefined): bytes is Uint8Array =>
  bytes !== undefined && bytes.length > 0;

const secretParamsOf = (masterKey: Uint8Array): GroupSecretParams =>
  GroupSecretParams.deriveFromMasterKey(new GroupMasterKey(own(masterKey)));

/** Signal's identifier of the group with this master key, base64 (what DataMessages and the mock call the group id). */
export function groupIdFromMasterKey(masterKey: Uint8Array): string {
  return secretParamsOf(masterKey).getPublicParams().getGroupIdentifier().toString();
}

interface AuthCredentialJson {
  credentials: Array<{ credential: string; redemptionTime: number }>;
  pni?: string;
}

function isAuthCredentialJson(value: unknown): value is AuthCredentialJson {
  if (typeof value !== "object" || value === null) return false;
  const { credentials, pni } = value as Record<string, unknown>;
  return (
    Array.isArray(credentials) &&
    credentials.every(
      (c: unknown) =>
        typeof c === "object" &&
        c !== null &&
        typeof (c as Record<string, unknown>).credential === "string" &&
        typeof (c as Record<string, unknown>).redemptionTime === "number",
    ) &&
    (pni === undefined || pni === null || typeof pni === "string")
  );
}

/**
 * A group's picture is a GroupAttributeBlob on CDN 0, encrypted with the group's secret params
 * like its title: these turn the downloaded bytes into the image, and an image into what is
 * uploaded.
 */
export function decryptGroupAvatar(masterKey: Uint8Array, encrypted: Uint8Array): Buffer {
  const avatar = new GroupCipher(secretParamsOf(masterKey)).blob(encrypted)?.avatar;
  if (!avatar?.length) throw new PermanentError("the Signal group's picture is empty");
  return Buffer.from(avatar);
}

export function encryptGroupAvatar(masterKey: Uint8Array, image: Uint8Array): Uint8Array {
  return new GroupCipher(secretParamsOf(masterKey)).encryptBlob({ avatar: image });
}

/** Decrypts one group's ciphertexts; built per request from the group's master key. */
class GroupCipher {
  private readonly cipher: ClientZkGroupCipher;

  constructor(readonly secretParams: GroupSecretParams) {
    this.cipher = new ClientZkGroupCipher(secretParams);
  }

  serviceId(userId: Uint8Array): string {
    return this.cipher.decryptServiceId(new UuidCiphertext(own(userId))).getServiceIdString();
  }

  aci(userId: Uint8Array): Aci {
    const id = this.cipher.decryptServiceId(new UuidCiphertext(own(userId)));
    if (!(id instanceof Aci)) throw new Error(`group member ${id.getServiceIdString()} is not an ACI`);
    return id;
  }

  profileKey(ciphertext: Uint8Array, aci: Aci): Uint8Array {
    return this.cipher.decryptProfileKey(new ProfileKeyCiphertext(own(ciphertext)), aci).serialize();
  }

  blob(ciphertext: Uint8Array | undefined): GroupAttributeBlob | undefined {
    if (!nonEmpty(ciphertext)) return undefined;
    return GroupAttributeBlobCodec.decode(this.cipher.decryptBlob(own(ciphertext)));
  }

  encryptBlob(blob: GroupAttributeBlob): Uint8Array {
    return this.cipher.encryptBlob(own(GroupAttributeBlobCodec.encode(blob)));
  }

  /**
   * A member as a change or state carries it: the server fills in `userId`/`profileKey` from
   * the member's presentation, but a change a client submitted may carry only the presentation.
   */
  member(
    ref: { userId?: Uint8Array; profileKey?: Uint8Array; presentation?: Uint8Array },
    role?: number,
  ): GroupMember {
    let userId = ref.userId;
    let profileKey = ref.profileKey;
    if (!nonEmpty(userId) && nonEmpty(ref.presentation)) {
      const presentation = new ProfileKeyCredentialPresentation(own(ref.presentation));
      userId = presentation.getUuidCiphertext().serialize();
      profileKey = presentation.getProfileKeyCiphertext().serialize();
    }
    if (!nonEmpty(userId)) throw new Error("group member without a user id");
    const aci = this.aci(userId);
    return {
      aci: aci.getServiceIdString(),
      role: roleOf(role),
      ...(nonEmpty(profileKey) ? { profileKey: this.profileKey(profileKey, aci) } : {}),
    };
  }

  state(group: GroupProto): GroupState {
    const timer = this.blob(group.disappearingMessagesTimer)?.disappearingMessagesDuration;
    const description = this.blob(group.description)?.description;
    return {
      id: this.secretParams.getPublicParams().getGroupIdentifier().toString(),
      revision: group.version ?? 0,
      title: this.blob(group.title)?.title ?? "",
      ...(description ? { description } : {}),
      ...(group.avatarUrl ? { avatarUrl: group.avatarUrl } : {}),
      members: (group.members ?? []).map((m: MemberProto) => this.member(m, m.role)),
      pendingMembers: (group.membersPendingProfileKey ?? []).flatMap((p) =>
        nonEmpty(p.member?.userId) ? [this.serviceId(p.member.userId)] : [],
      ),
      announcementsOnly: group.announcementsOnly ?? false,
      ...(timer ? { disappearingTimerSeconds: timer } : {}),
      accessControl: {
        attributes: accessLevel(group.accessControl?.attributes),
        members: accessLevel(group.accessControl?.members),
        addFromInviteLink: accessLevel(group.accessControl?.addFromInviteLink),
      },
    };
  }

  change(actions: GroupChangeActions, signed: boolean): GroupChange {
    const ids = (list: Array<{ deletedUserId?: Uint8Array }> | undefined) =>
      (list ?? []).flatMap((a) => (nonEmpty(a.deletedUserId) ? [this.serviceId(a.deletedUserId)] : []));
    const change: GroupChange = {
      revision: actions.version ?? 0,
      ...(nonEmpty(actions.sourceUserId) ? { editor: this.serviceId(actions.sourceUserId) } : {}),
      signed,
      membersAdded: [
        ...(actions.addMembers ?? []).flatMap((a) => (a.added ? [this.member(a.added, a.added.role)] : [])),
        ...(actions.promoteMembersPendingProfileKey ?? []).map((a) => this.member(a, Role.DEFAULT)),
        ...(actions.promoteMembersPendingPniAciProfileKey ?? []).map((a) => this.member(a, Role.DEFAULT)),
        ...(actions.promoteMembersPendingAdminApproval ?? []).flatMap((a) =>
          nonEmpty(a.userId) ? [this.member({ userId: a.userId }, a.role)] : [],
        ),
      ],
      membersRemoved: ids(actions.deleteMembers),
      rolesChanged: (actions.modifyMemberRoles ?? []).flatMap((a) =>
        nonEmpty(a.userId) ? [{ aci: this.serviceId(a.userId), role: roleOf(a.role) }] : [],
      ),
      profileKeysChanged: (actions.modifyMemberProfileKeys ?? []).flatMap((a) => {
        const m = this.member(a);
        return m.profileKey ? [{ aci: m.aci, profileKey: m.profileKey }] : [];
      }),
      invited: (actions.addMembersPendingProfileKey ?? []).flatMap((a) =>
        nonEmpty(a.added?.member?.userId) ? [this.serviceId(a.added.member.userId)] : [],
      ),
      invitesRemoved: ids(actions.deleteMembersPendingProfileKey),
    };
    if (actions.modifyTitle) change.title = this.blob(actions.modifyTitle.title)?.title ?? "";
    if (actions.modifyDescription) {
      change.description = this.blob(actions.modifyDescription.description)?.description ?? "";
    }
    if (actions.modifyAvatar) change.avatarUrl = actions.modifyAvatar.avatar ?? "";
    if (actions.modifyDisappearingMessageTimer) {
      change.disappearingTimerSeconds =
        this.blob(actions.modifyDisappearingMessageTimer.timer)?.disappearingMessagesDuration ?? 0;
    }
    if (actions.modifyAnnouncementsOnly) {
      change.announcementsOnly = actions.modifyAnnouncementsOnly.announcementsOnly ?? false;
    }
    const access: Partial<GroupState["accessControl"]> = {};
    if (actions.modifyAttributesAccess)
      access.attributes = accessLevel(actions.modifyAttributesAccess.attributesAccess);
    if (actions.modifyMemberAccess) access.members = accessLevel(actions.modifyMemberAccess.membersAccess);
    if (actions.modifyAddFromInviteLinkAccess) {
      access.addFromInviteLink = accessLevel(actions.modifyAddFromInviteLinkAccess.addFromInviteLinkAccess);
    }
    if (Object.keys(access).length > 0) change.accessControl = access;
    return change;
  }
}

/** A group's send endorsements (see GroupsClient.sendEndorsements), valid until `expiration`. */
export class SendEndorsements {
  constructor(
    private readonly secret: GroupSecretParams,
    readonly expiration: Date,
    private readonly byMember: ReadonlyMap<string, GroupSendEndorsement>,
  ) {}

  /** Still good for a send now (a margin for the clock and the request in flight). */
  fresh(now = Date.now()): boolean {
    return this.expiration.getTime() - now > 60_000;
  }

  /** Whether the service endorsed sends to this member (a cheap lookup: no zk work). */
  has(aci: string): boolean {
    return this.byMember.has(aci);
  }

  /** The token for a send to exactly these members; null if one of them has no endorsement. */
  tokenFor(members: readonly string[]): GroupSendFullToken | null {
    const endorsements: GroupSendEndorsement[] = [];
    for (const aci of members) {
      const e = this.byMember.get(aci);
      if (!e) return null;
      endorsements.push(e);
    }
    return GroupSendEndorsement.combine(endorsements).toFullToken(this.secret, this.expiration);
  }
}

export class GroupsClient {
  private readonly serverParams: ServerPublicParams;
  private readonly auth: ClientZkAuthOperations;
  private readonly aci: Aci;
  /** Today's and the coming days' credentials, by redemption day (seconds, UTC midnight). */
  private credentials = new Map<number, AuthCredentialWithPni>();
  private fetchingCredentials: Promise<void> | undefined;

  constructor(private readonly options: GroupsClientOptions) {
    this.serverParams = new ServerPublicParams(own(options.serverPublicParams));
    this.auth = new ClientZkAuthOperations(this.serverParams);
    this.aci = Aci.fromUuid(options.aci);
  }

  /** The group's current state. */
  async getGroup(masterKey: Uint8Array): Promise<GroupState> {
    const cipher = new GroupCipher(secretParamsOf(masterKey));
    const res = await this.request(cipher, "GET", "/v2/groups", "fetch the group");
    const group = GroupResponseCodec.decode(res.body).group;
    if (!group) throw new Error("Signal's groups service answered without a group");
    return cipher.state(group);
  }

  /**
   * The group's send endorsements: the service's blind signatures, one per member, that let a
   * member prove to the chat service it may send sealed messages to any set of the group's
   * members without saying who it is (what authorizes a multi-recipient send). Null when the
   * service gave none or they do not verify against the group's state.
   */
  async sendEndorsements(masterKey: Uint8Array): Promise<SendEndorsements | null> {
    const secret = secretParamsOf(masterKey);
    const cipher = new GroupCipher(secret);
    const res = await this.request(cipher, "GET", "/v2/groups", "fetch the group");
    const decoded = GroupResponseCodec.decode(res.body);
    if (!decoded.group || !nonEmpty(decoded.groupSendEndorsementsResponse)) return null;
    const members = cipher.state(decoded.group).members.map((m) => m.aci);
    const response = new GroupSendEndorsementsResponse(own(decoded.groupSendEndorsementsResponse));
    const received = response.receiveWithServiceIds(
      members.map((aci) => Aci.fromUuid(aci)),
      this.aci,
      secret,
      this.serverParams,
    );
    const byMember = new Map(members.map((aci, i) => [aci, received.endorsements[i]!] as const));
    return new SendEndorsements(secret, response.getExpiration(), byMember);
  }

  /**
   * What changed after `knownRevision`, oldest first, and the group's state after the last
   * change. Signatures that come with the changes are verified.
   */
  async getChanges(masterKey: Uint8Array, knownRevision: number): Promise<GroupChangeLog> {
    const cipher = new GroupCipher(secretParamsOf(masterKey));
    const changes: GroupChange[] = [];
    let state: GroupProto | undefined;
    let from = knownRevision + 1;
    for (;;) {
      const query = `includeFirstState=false&includeLastState=true&maxSupportedChangeEpoch=${MAX_CHANGE_EPOCH}`;
      const res = await this.request(
        cipher,
        "GET",
        `/v2/groups/logs/${from}?${query}`,
        "fetch the group's changes",
        {
          // Required by the service; we keep no group-send endorsements, so ours are always stale.
          "Cached-Send-Endorsements": "0",
        },
      );
      const page = GroupChangesCodec.decode(res.body).groupChanges ?? [];
      for (const entry of page) {
        if (!entry.groupChange) continue;
        const change = this.openChange(cipher, entry.groupChange, false);
        if (change.revision > knownRevision) changes.push(change);
        if (entry.groupState) state = entry.groupState;
      }
      // The service sends at most 64 revisions a page, with 206 and "versions <from>-<to>/<latest>".
      const range = /versions (\d+)-(\d+)\/(\d+)/.exec(res.headers["content-range"] ?? "");
      if (res.status !== 206 || !range) break;
      const [to, latest] = [Number(range[2]), Number(range[3])];
      if (to >= latest || to < from) break;
      from = to + 1;
    }
    return { changes, ...(state ? { state: cipher.state(state) } : {}) };
  }

  /**
   * Decrypts a change a member relayed (`groupV2.groupChange` of a DataMessage). It came through
   * a peer, not from the service, so it must carry a valid server signature.
   */
  decryptChange(masterKey: Uint8Array, groupChange: Uint8Array): GroupChange {
    const cipher = new GroupCipher(secretParamsOf(masterKey));
    return this.openChange(cipher, GroupChangeCodec.decode(groupChange), true);
  }

  /** Renames the group, if this login's role allows it. */
  setTitle(masterKey: Uint8Array, title: string): Promise<GroupModification> {
    return this.setAttributes(masterKey, { title });
  }

  /** Changes the title and/or description, if this login's role allows it: one change, one revision. */
  async setAttributes(
    masterKey: Uint8Array,
    attributes: { title?: string; description?: string },
  ): Promise<GroupModification> {
    const cipher = new GroupCipher(secretParamsOf(masterKey));
    for (let attempt = 0; ; attempt++) {
      const res = await this.request(cipher, "GET", "/v2/groups", "fetch the group");
      const group = GroupResponseCodec.decode(res.body).group;
      if (!group) throw new Error("Signal's groups service answered without a group");
      const state = cipher.state(group);
      this.assertMayModifyAttributes(
        state,
        attributes.title !== undefined ? "change the title of" : "change the description of",
      );
      const actions = GroupChangeActionsCodec.encode({
        version: state.revision + 1,
        ...(attributes.title !== undefined
          ? { modifyTitle: { title: cipher.encryptBlob({ title: attributes.title }) } }
          : {}),
        ...(attributes.description !== undefined
          ? {
              modifyDescription: { description: cipher.encryptBlob({ description: attributes.description }) },
            }
          : {}),
      });
      const patch = await this.request(
        cipher,
        "PATCH",
        "/v2/groups",
        "change the group's title",
        {},
        actions,
        [409],
      );
      // Someone else changed the group between our read and write: re-read and try again.
      if (patch.status === 409 && attempt < CONFLICT_RETRIES) continue;
      if (patch.status === 409) throw new Error("the group kept changing while renaming it; try again");
      const signed = GroupChangeResponseCodec.decode(patch.body).groupChange;
      if (!signed) throw new Error("Signal's groups service accepted the change but sent no change back");
      const change = this.openChange(cipher, signed, true);
      return { revision: change.revision, change, groupChange: GroupChangeCodec.encode(signed) };
    }
  }

  private assertMayModifyAttributes(state: GroupState, what: string): void {
    const me = state.members.find((m) => m.aci === this.aci.getServiceIdString());
    const name = state.title ? `"${state.title}"` : "this group";
    if (!me)
      throw new PermanentError(`Can't ${what} ${name}: this Signal account is not a member of the group`);
    const access = state.accessControl.attributes;
    const allowed =
      access === "any" || access === "member" || (access === "administrator" && me.role === "admin");
    if (!allowed) {
      throw new PermanentError(
        access === "administrator"
          ? `Can't ${what} ${name}: only group admins can, and this Signal account is not an admin`
          : `Can't ${what} ${name}: the group's settings let nobody do that`,
      );
    }
  }

  /** Verifies (when signed, or when `mustBeSigned`) and decrypts one change. */
  private openChange(cipher: GroupCipher, change: GroupChangeProto, mustBeSigned: boolean): GroupChange {
    if (!nonEmpty(change.actions)) throw new Error("group change without actions");
    const signed = nonEmpty(change.serverSignature);
    if (mustBeSigned && !signed) throw new Error("group change is not signed by Signal's server");
    if (signed) {
      try {
        this.serverParams.verifySignature(
          own(change.actions),
          new NotarySignature(own(change.serverSignature!)),
        );
      } catch (cause) {
        throw new Error("group change signature does not verify against Signal's server key", { cause });
      }
    }
    const actions = GroupChangeActionsCodec.decode(change.actions);
    const groupId = cipher.secretParams.getPublicParams().getGroupIdentifier().serialize();
    // A signed change for another group would otherwise be replayable into this one.
    if (nonEmpty(actions.groupId) && !Buffer.from(actions.groupId).equals(Buffer.from(groupId))) {
      throw new Error("group change belongs to another group");
    }
    return cipher.change(actions, signed);
  }

  /**
   * One authenticated request to the groups service. A 401 may mean a credential the service no
   * longer accepts, so it drops the cache and tries once more with fresh ones.
   */
  private async request(
    cipher: GroupCipher,
    method: "GET" | "PATCH",
    path: string,
    what: string,
    headers: Record<string, string> = {},
    body?: Uint8Array,
    passStatuses: number[] = [],
  ): Promise<HttpResponse> {
    for (let attempt = 0; ; attempt++) {
      const res = await this.options.http({
        method,
        url: `${this.options.urls.storage.replace(/\/$/, "")}${path}`,
        headers: {
          authorization: await this.authorization(cipher.secretParams),
          ...(body ? { "content-type": "application/x-protobuf" } : {}),
          ...headers,
        },
        ...(body ? { body } : {}),
      });
      if ((res.status >= 200 && res.status < 300) || passStatuses.includes(res.status)) return res;
      if (res.status === 401 && attempt === 0) {
        this.credentials.clear();
        continue;
      }
      throw this.failure(res, what);
    }
  }

  private failure(res: HttpResponse, what: string): Error {
    const detail = res.body.length > 0 && res.body.length < 500 ? `: ${res.body.toString("utf8")}` : "";
    switch (res.status) {
      case 403:
        return new PermanentError(`Can't ${what}: Signal says this account is not (or no longer) a member`);
      case 404:
        return new PermanentError(`Can't ${what}: Signal has no such group`);
      case 429: {
        const seconds = Number(res.headers["retry-after"]);
        return new RateLimitedError(Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 60_000);
      }
      default:
        return new Error(`Signal's groups service answered ${res.status} when trying to ${what}${detail}`);
    }
  }

  /** `Basic hex(groupPublicParams):hex(presentation)`: a fresh, unlinkable presentation per request. */
  private async authorization(secretParams: GroupSecretParams): Promise<string> {
    const credential = await this.todaysCredential();
    const presentation = this.auth.createAuthCredentialWithPniPresentation(secretParams, credential);
    const user = `${hex(secretParams.getPublicParams().serialize())}:${hex(presentation.serialize())}`;
    return `Basic ${Buffer.from(user).toString("base64")}`;
  }

  private async todaysCredential(): Promise<AuthCredentialWithPni> {
    const today = startOfDay(Date.now());
    for (const day of this.credentials.keys()) if (day < today) this.credentials.delete(day);
    let credential = this.credentials.get(today);
    if (!credential) {
      // Concurrent requests share one fetch.
      this.fetchingCredentials ??= this.fetchCredentials(today).finally(
        () => (this.fetchingCredentials = undefined),
      );
      await this.fetchingCredentials;
      credential = this.credentials.get(today);
    }
    if (!credential) throw new Error("Signal issued no group credential for today");
    return credential;
  }

  private async fetchCredentials(today: number): Promise<void> {
    const end = today + CREDENTIAL_DAYS * DAY_SECONDS;
    const res = await this.options.chat({
      verb: "GET",
      path: `/v1/certificate/auth/group?redemptionStartSeconds=${today}&redemptionEndSeconds=${end}`,
    });
    if (res.status !== 200) throw new Error(`Signal answered ${res.status} when asked for group credentials`);
    const body = parseJson(res);
    if (!isAuthCredentialJson(body))
      throw new Error("Signal's group credentials response has an unexpected shape");
    const pni = parsePni(body.pni ?? this.options.pni);
    for (const { credential, redemptionTime } of body.credentials) {
      const response = new AuthCredentialWithPniResponse(own(Buffer.from(credential, "base64")));
      this.credentials.set(
        redemptionTime,
        this.auth.receiveAuthCredentialWithPniAsServiceId(this.aci, pni, redemptionTime, response),
      );
    }
  }
}

const parsePni = (value: string): Pni => Pni.fromUuid(value.replace(/^PNI:/, ""));

const startOfDay = (ms: number): number => Math.floor(ms / 1000 / DAY_SECONDS) * DAY_SECONDS;
