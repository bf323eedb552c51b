import protobuf from "protobufjs";
import { codecOf, type Codec } from "./proto.js";

/**
 * The part of Signal's groups v2 protocol (the storage service's `/v2/groups` API) the bridge
 * speaks, as our own schema: field numbers are Signal's, names and the subset are ours. Fields
 * we leave out are skipped on decode; nothing we send needs them. Decoded messages are plain
 * objects: bytes as Buffers, 64-bit numbers as numbers, enums as numbers, absent fields absent.
 */
export const GROUPS_SCHEMA = `
syntax = "proto3";
package sbgroups;

message AccessControl {
  enum AccessRequired { UNKNOWN = 0; ANY = 1; MEMBER = 2; ADMINISTRATOR = 3; UNSATISFIABLE = 4; }
  AccessRequired attributes = 1;
  AccessRequired members = 2;
  AccessRequired addFromInviteLink = 3;
}

message Member {
  enum Role { UNKNOWN = 0; DEFAULT = 1; ADMINISTRATOR = 2; }
  bytes userId = 1;
  Role role = 2;
  bytes profileKey = 3;
  bytes presentation = 4;
  uint32 joinedAtVersion = 5;
}

message MemberPendingProfileKey {
  Member member = 1;
  bytes addedByUserId = 2;
  uint64 timestamp = 3;
}

message Group {
  bytes publicKey = 1;
  bytes title = 2;
  bytes description = 11;
  string avatarUrl = 3;
  bytes disappearingMessagesTimer = 4;
  AccessControl accessControl = 5;
  uint32 version = 6;
  repeated Member members = 7;
  repeated MemberPendingProfileKey membersPendingProfileKey = 8;
  bool announcementsOnly = 12;
}

message GroupAttributeBlob {
  oneof content {
    string title = 1;
    bytes avatar = 2;
    uint32 disappearingMessagesDuration = 3;
    string description = 4;
  }
}

message GroupChange {
  message Actions {
    message AddMemberAction { Member added = 1; bool joinFromInviteLink = 2; }
    message DeleteMemberAction { bytes deletedUserId = 1; }
    message ModifyMemberRoleAction { bytes userId = 1; Member.Role role = 2; }
    message ModifyMemberProfileKeyAction { bytes presentation = 1; bytes userId = 2; bytes profileKey = 3; }
    message AddMemberPendingProfileKeyAction { MemberPendingProfileKey added = 1; }
    message DeleteMemberPendingProfileKeyAction { bytes deletedUserId = 1; }
    message PromoteMemberPendingProfileKeyAction { bytes presentation = 1; bytes userId = 2; bytes profileKey = 3; }
    message PromoteMemberPendingPniAciProfileKeyAction {
      bytes presentation = 1;
      bytes userId = 2;
      bytes pni = 3;
      bytes profileKey = 4;
    }
    message PromoteMemberPendingAdminApprovalAction { bytes userId = 1; Member.Role role = 2; }
    message ModifyTitleAction { bytes title = 1; }
    message ModifyDescriptionAction { bytes description = 1; }
    message ModifyAvatarAction { string avatar = 1; }
    message ModifyDisappearingMessageTimerAction { bytes timer = 1; }
    message ModifyAttributesAccessControlAction { AccessControl.AccessRequired attributesAccess = 1; }
    message ModifyMembersAccessControlAction { AccessControl.AccessRequired membersAccess = 1; }
    message ModifyAddFromInviteLinkAccessControlAction { AccessControl.AccessRequired addFromInviteLinkAccess = 1; }
    message ModifyAnnouncementsOnlyAction { bool announcementsOnly = 1; }

    bytes sourceUserId = 1;
    bytes groupId = 25;
    uint32 version = 2;
    repeated AddMemberAction addMembers = 3;
    repeated DeleteMemberAction deleteMembers = 4;
    repeated ModifyMemberRoleAction modifyMemberRoles = 5;
    repeated ModifyMemberProfileKeyAction modifyMemberProfileKeys = 6;
    repeated AddMemberPendingProfileKeyAction addMembersPendingProfileKey = 7;
    repeated DeleteMemberPendingProfileKeyAction deleteMembersPendingProfileKey = 8;
    repeated PromoteMemberPendingProfileKeyAction promoteMembersPendingProfileKey = 9;
    ModifyTitleAction modifyTitle = 10;
    ModifyAvatarAction modifyAvatar = 11;
    ModifyDisappearingMessageTimerAction modifyDisappearingMessageTimer = 12;
    ModifyAttributesAccessControlAction modifyAttributesAccess = 13;
    ModifyMembersAccessControlAction modifyMemberAccess = 14;
    ModifyAddFromInviteLinkAccessControlAction modifyAddFromInviteLinkAccess = 15;
    repeated PromoteMemberPendingAdminApprovalAction promoteMembersPendingAdminApproval = 18;
    ModifyDescriptionAction modifyDescription = 20;
    ModifyAnnouncementsOnlyAction modifyAnnouncementsOnly = 21;
    repeated PromoteMemberPendingPniAciProfileKeyAction promoteMembersPendingPniAciProfileKey = 24;
  }
  bytes actions = 1;
  bytes serverSignature = 2;
  uint32 changeEpoch = 3;
}

message GroupChanges {
  message GroupChangeState {
    GroupChange groupChange = 1;
    Group groupState = 2;
  }
  repeated GroupChangeState groupChanges = 1;
  bytes groupSendEndorsementsResponse = 2;
}

message GroupResponse {
  Group group = 1;
  bytes groupSendEndorsementsResponse = 2;
}

message GroupChangeResponse {
  GroupChange groupChange = 1;
  bytes groupSendEndorsementsResponse = 2;
}
`;

const root = protobuf.parse(GROUPS_SCHEMA, { keepCase: true }).root;

export const AccessRequired = { UNKNOWN: 0, ANY: 1, MEMBER: 2, ADMINISTRATOR: 3, UNSATISFIABLE: 4 } as const;
export const Role = { UNKNOWN: 0, DEFAULT: 1, ADMINISTRATOR: 2 } as const;

export interface AccessControlProto {
  attributes?: number;
  members?: number;
  addFromInviteLink?: number;
}
export interface MemberProto {
  userId?: Uint8Array;
  role?: number;
  profileKey?: Uint8Array;
  presentation?: Uint8Array;
  joinedAtVersion?: number;
}
export interface MemberPendingProfileKeyProto {
  member?: MemberProto;
  addedByUserId?: Uint8Array;
  timestamp?: number;
}
export interface GroupProto {
  publicKey?: Uint8Array;
  title?: Uint8Array;
  description?: Uint8Array;
  avatarUrl?: string;
  disappearingMessagesTimer?: Uint8Array;
  accessControl?: AccessControlProto;
  version?: number;
  members?: MemberProto[];
  membersPendingProfileKey?: MemberPendingProfileKeyProto[];
  announcementsOnly?: boolean;
}
export interface GroupAttributeBlob {
  title?: string;
  avatar?: Uint8Array;
  disappearingMessagesDuration?: number;
  description?: string;
}
/** A member's ciphertexts as a change carries them: `userId`, or a presentation proving it. */
interface MemberRef {
  presentation?: Uint8Array;
  userId?: Uint8Array;
  profileKey?: Uint8Array;
}
export interface GroupChangeActions {
  sourceUserId?: Uint8Array;
  groupId?: Uint8Array;
  version?: number;
  addMembers?: Array<{ added?: MemberProto; joinFromInviteLink?: boolean }>;
  deleteMembers?: Array<{ deletedUserId?: Uint8Array }>;
  modifyMemberRoles?: Array<{ userId?: Uint8Array; role?: number }>;
  modifyMemberProfileKeys?: MemberRef[];
  addMembersPendingProfileKey?: Array<{ added?: MemberPendingProfileKeyProto }>;
  deleteMembersPendingProfileKey?: Array<{ deletedUserId?: Uint8Array }>;
  promoteMembersPendingProfileKey?: MemberRef[];
  modifyTitle?: { title?: Uint8Array };
  modifyAvatar?: { avatar?: string };
  modifyDisappearingMessageTimer?: { timer?: Uint8Array };
  modifyAttributesAccess?: { attributesAccess?: number };
  modifyMemberAccess?: { membersAccess?: number };
  modifyAddFromInviteLinkAccess?: { addFromInviteLinkAccess?: number };
  promoteMembersPendingAdminApproval?: Array<{ userId?: Uint8Array; role?: number }>;
  modifyDescription?: { description?: Uint8Array };
  modifyAnnouncementsOnly?: { announcementsOnly?: boolean };
  promoteMembersPendingPniAciProfileKey?: Array<MemberRef & { pni?: Uint8Array }>;
}
export interface GroupChangeProto {
  /** Encoded `GroupChangeActions`, kept as bytes: the server's signature covers exactly these. */
  actions?: Uint8Array;
  serverSignature?: Uint8Array;
  changeEpoch?: number;
}
export interface GroupChangesProto {
  groupChanges?: Array<{ groupChange?: GroupChangeProto; groupState?: GroupProto }>;
  groupSendEndorsementsResponse?: Uint8Array;
}
export interface GroupResponseProto {
  group?: GroupProto;
  groupSendEndorsementsResponse?: Uint8Array;
}
export interface GroupChangeResponseProto {
  groupChange?: GroupChangeProto;
  groupSendEndorsementsResponse?: Uint8Array;
}

const codec = <T>(name: string): Codec<T> => codecOf<T>(root.lookupType(`sbgroups.${name}`));

export const GroupCodec = codec<GroupProto>("Group");
export const GroupAttributeBlobCodec = codec<GroupAttributeBlob>("GroupAttributeBlob");
export const GroupChangeCodec = codec<GroupChangeProto>("GroupChange");
export const GroupChangeActionsCodec = codec<GroupChangeActions>("GroupChange.Actions");
export const GroupChangesCodec = codec<GroupChangesProto>("GroupChanges");
export const GroupResponseCodec = codec<GroupResponseProto>("GroupResponse");
export const GroupChangeResponseCodec = codec<GroupChangeResponseProto>("GroupChangeResponse");
