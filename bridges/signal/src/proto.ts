import protobuf from "protobufjs";

/**
 * The part of Signal's wire protocol the bridge speaks, as our own schema (field numbers are
 * Signal's; names and the subset are ours), parsed once by protobufjs at load. Decoded
 * messages are plain objects: bytes as Buffers, 64-bit timestamps as numbers (ms since 1970
 * fit in 53 bits).
 */
const SCHEMA = `
syntax = "proto2";
package sb;

message ProvisionEnvelope { optional bytes publicKey = 1; optional bytes body = 2; }
message ProvisionMessage {
  optional bytes aciIdentityKeyPublic = 1;
  optional bytes aciIdentityKeyPrivate = 2;
  optional bytes pniIdentityKeyPublic = 11;
  optional bytes pniIdentityKeyPrivate = 12;
  optional string number = 3;
  optional string provisioningCode = 4;
  optional bytes profileKey = 6;
  optional bool readReceipts = 7;
  optional uint32 provisioningVersion = 9;
  optional bytes masterKey = 13;
  optional string accountEntropyPool = 15;
  optional bytes aciBinary = 17;
  optional bytes pniBinary = 18;
}
message DeviceName { optional bytes ephemeralPublic = 1; optional bytes syntheticIv = 2; optional bytes ciphertext = 3; }

message Envelope {
  optional int32 type = 1;
  optional string sourceServiceId = 11;
  optional uint32 sourceDeviceId = 7;
  optional string destinationServiceId = 13;
  optional uint64 clientTimestamp = 5;
  optional bytes content = 8;
  optional string serverGuid = 9;
  optional uint64 serverTimestamp = 10;
  optional bool urgent = 14;
  optional bool story = 16;
  optional bytes sourceServiceIdBinary = 19;
  optional bytes destinationServiceIdBinary = 20;
  optional bytes serverGuidBinary = 21;
}

message Content {
  optional DataMessage dataMessage = 1;
  optional SyncMessage syncMessage = 2;
  optional bytes callMessage = 3;
  optional NullMessage nullMessage = 4;
  optional ReceiptMessage receiptMessage = 5;
  optional TypingMessage typingMessage = 6;
  optional bytes senderKeyDistributionMessage = 7;
  optional bytes decryptionErrorMessage = 8;
  optional bytes storyMessage = 9;
  optional EditMessage editMessage = 11;
}

message NullMessage { optional bytes padding = 1; }
message ReceiptMessage { optional int32 type = 1; repeated uint64 timestamp = 2; }
message TypingMessage { optional uint64 timestamp = 1; optional int32 action = 2; optional bytes groupId = 3; }
message EditMessage { optional uint64 targetSentTimestamp = 1; optional DataMessage dataMessage = 2; }

message BodyRange {
  optional uint32 start = 1;
  optional uint32 length = 2;
  optional string mentionAci = 3;
  optional int32 style = 4;
  optional bytes mentionAciBinary = 5;
}

message AttachmentPointer {
  optional fixed64 cdnId = 1;
  optional string cdnKey = 15;
  optional string contentType = 2;
  optional bytes key = 3;
  optional uint32 size = 4;
  optional bytes digest = 6;
  optional string fileName = 7;
  optional uint32 flags = 8;
  optional uint32 width = 9;
  optional uint32 height = 10;
  optional string caption = 11;
  optional uint64 uploadTimestamp = 13;
  optional uint32 cdnNumber = 14;
}

message GroupContextV2 { optional bytes masterKey = 1; optional uint32 revision = 2; optional bytes groupChange = 3; }

message DataMessage {
  message Quote {
    optional uint64 id = 1;
    optional string authorAci = 5;
    optional string text = 3;
    repeated BodyRange bodyRanges = 6;
    optional bytes authorAciBinary = 8;
  }
  message Sticker {
    optional bytes packId = 1;
    optional bytes packKey = 2;
    optional uint32 stickerId = 3;
    optional AttachmentPointer data = 4;
    optional string emoji = 5;
  }
  message Reaction {
    optional string emoji = 1;
    optional bool remove = 2;
    optional string targetAuthorAci = 4;
    optional uint64 targetSentTimestamp = 5;
    optional bytes targetAuthorAciBinary = 6;
  }
  message Delete { optional uint64 targetSentTimestamp = 1; }
  optional string body = 1;
  repeated AttachmentPointer attachments = 2;
  optional GroupContextV2 groupV2 = 15;
  optional uint32 flags = 4;
  optional uint32 expireTimer = 5;
  optional bytes profileKey = 6;
  optional uint64 timestamp = 7;
  optional Quote quote = 8;
  optional Sticker sticker = 11;
  optional uint32 requiredProtocolVersion = 12;
  optional bool isViewOnce = 14;
  optional Reaction reaction = 16;
  optional Delete delete = 17;
  repeated BodyRange bodyRanges = 18;
}

message SyncMessage {
  message Sent {
    optional string destinationE164 = 1;
    optional string destinationServiceId = 7;
    optional uint64 timestamp = 2;
    optional DataMessage message = 3;
    optional uint64 expirationStartTimestamp = 4;
    optional bool isRecipientUpdate = 6;
    optional EditMessage editMessage = 10;
    optional bytes destinationServiceIdBinary = 12;
  }
  message Request { optional int32 type = 1; }
  message Contacts { optional AttachmentPointer blob = 1; optional bool complete = 2; }
  message Read { optional string senderAci = 3; optional uint64 timestamp = 2; optional bytes senderAciBinary = 4; }
  optional Sent sent = 1;
  optional Contacts contacts = 2;
  optional Request request = 4;
  repeated Read read = 5;
  optional bytes padding = 8;
}

message ContactDetails {
  optional string number = 1;
  optional string name = 2;
  optional uint32 expireTimer = 8;
  optional string aci = 9;
  optional bytes aciBinary = 13;
}

message UnidentifiedSenderMessage {
  message Message {
    optional int32 type = 1;
    optional bytes senderCertificate = 2;
    optional bytes content = 3;
  }
}
`;

const root = protobuf.parse(SCHEMA, { keepCase: true }).root;

export const EnvelopeType = {
  DOUBLE_RATCHET: 1,
  PREKEY_MESSAGE: 3,
  SERVER_DELIVERY_RECEIPT: 5,
  UNIDENTIFIED_SENDER: 6,
  SENDERKEY_MESSAGE: 7,
  PLAINTEXT_CONTENT: 8,
} as const;

export const Style = { NONE: 0, BOLD: 1, ITALIC: 2, SPOILER: 3, STRIKETHROUGH: 4, MONOSPACE: 5 } as const;
export const ReceiptType = { DELIVERY: 0, READ: 1, VIEWED: 2 } as const;
export const TypingAction = { STARTED: 0, STOPPED: 1 } as const;
export const SyncRequestType = { CONTACTS: 1, BLOCKED: 3, CONFIGURATION: 4, KEYS: 5 } as const;
export const DataFlags = { END_SESSION: 1, EXPIRATION_TIMER_UPDATE: 2, PROFILE_KEY_UPDATE: 4 } as const;

export interface ProvisionEnvelope {
  publicKey?: Buffer;
  body?: Buffer;
}
export interface ProvisionMessage {
  aciIdentityKeyPublic?: Buffer;
  aciIdentityKeyPrivate?: Buffer;
  pniIdentityKeyPublic?: Buffer;
  pniIdentityKeyPrivate?: Buffer;
  number?: string;
  provisioningCode?: string;
  profileKey?: Buffer;
  readReceipts?: boolean;
  masterKey?: Buffer;
  aciBinary?: Buffer;
  pniBinary?: Buffer;
}
export interface DeviceName {
  ephemeralPublic: Uint8Array;
  syntheticIv: Uint8Array;
  ciphertext: Uint8Array;
}
export interface Envelope {
  type?: number;
  sourceServiceId?: string;
  sourceDeviceId?: number;
  destinationServiceId?: string;
  clientTimestamp?: number;
  content?: Buffer;
  serverGuid?: string;
  serverTimestamp?: number;
  urgent?: boolean;
  story?: boolean;
  sourceServiceIdBinary?: Buffer;
  destinationServiceIdBinary?: Buffer;
  serverGuidBinary?: Buffer;
}
export interface BodyRangeProto {
  start?: number;
  length?: number;
  mentionAci?: string;
  style?: number;
  mentionAciBinary?: Buffer;
}
export interface AttachmentPointer {
  cdnId?: number;
  cdnKey?: string;
  contentType?: string;
  key?: Uint8Array;
  size?: number;
  digest?: Uint8Array;
  fileName?: string;
  flags?: number;
  width?: number;
  height?: number;
  caption?: string;
  uploadTimestamp?: number;
  cdnNumber?: number;
}
export interface GroupContextV2 {
  masterKey?: Uint8Array;
  revision?: number;
  groupChange?: Uint8Array;
}
export interface Quote {
  id?: number;
  authorAci?: string;
  text?: string;
  bodyRanges?: BodyRangeProto[];
  authorAciBinary?: Uint8Array;
}
export interface Reaction {
  emoji?: string;
  remove?: boolean;
  targetAuthorAci?: string;
  targetSentTimestamp?: number;
  targetAuthorAciBinary?: Uint8Array;
}
export interface DataMessage {
  body?: string;
  attachments?: AttachmentPointer[];
  groupV2?: GroupContextV2;
  flags?: number;
  expireTimer?: number;
  profileKey?: Uint8Array;
  timestamp?: number;
  quote?: Quote;
  sticker?: {
    packId?: Uint8Array;
    packKey?: Uint8Array;
    stickerId?: number;
    data?: AttachmentPointer;
    emoji?: string;
  };
  requiredProtocolVersion?: number;
  isViewOnce?: boolean;
  reaction?: Reaction;
  delete?: { targetSentTimestamp?: number };
  bodyRanges?: BodyRangeProto[];
}
export interface EditMessage {
  targetSentTimestamp?: number;
  dataMessage?: DataMessage;
}
export interface SyncMessage {
  sent?: {
    destinationE164?: string;
    destinationServiceId?: string;
    timestamp?: number;
    message?: DataMessage;
    expirationStartTimestamp?: number;
    isRecipientUpdate?: boolean;
    editMessage?: EditMessage;
    destinationServiceIdBinary?: Uint8Array;
  };
  request?: { type?: number };
  contacts?: { blob?: AttachmentPointer; complete?: boolean };
  read?: Array<{ senderAci?: string; timestamp?: number; senderAciBinary?: Uint8Array }>;
  padding?: Uint8Array;
}
export interface Content {
  dataMessage?: DataMessage;
  syncMessage?: SyncMessage;
  callMessage?: Uint8Array;
  nullMessage?: { padding?: Uint8Array };
  receiptMessage?: { type?: number; timestamp?: number[] };
  typingMessage?: { timestamp?: number; action?: number; groupId?: Uint8Array };
  senderKeyDistributionMessage?: Uint8Array;
  decryptionErrorMessage?: Uint8Array;
  storyMessage?: Uint8Array;
  editMessage?: EditMessage;
}

export interface ContactDetails {
  number?: string;
  name?: string;
  expireTimer?: number;
  aci?: string;
  aciBinary?: Uint8Array;
}

export interface Codec<T> {
  encode(message: T): Uint8Array;
  decode(bytes: Uint8Array): T;
}

/** A typed codec for one message type of a parsed schema (this one, or the groups schema). */
export function codecOf<T>(type: protobuf.Type): Codec<T> {
  return {
    encode: (message) => {
      const err = type.verify(message as Record<string, unknown>);
      if (err) throw new Error(`bad ${type.name}: ${err}`);
      return type.encode(type.fromObject(message as Record<string, unknown>)).finish();
    },
    // toObject with longs as numbers and bytes as Buffers: what the interfaces promise.
    decode: (bytes) => type.toObject(type.decode(bytes), { longs: Number, bytes: Buffer }) as T,
  };
}

const codec = <T>(name: string): Codec<T> => codecOf<T>(root.lookupType(`sb.${name}`));

export const ProvisionEnvelopeCodec = codec<ProvisionEnvelope>("ProvisionEnvelope");
export const ProvisionMessageCodec = codec<ProvisionMessage>("ProvisionMessage");
export const DeviceNameCodec = codec<DeviceName>("DeviceName");
export const EnvelopeCodec = codec<Envelope>("Envelope");
export const ContentCodec = codec<Content>("Content");
export const DataMessageCodec = codec<DataMessage>("DataMessage");
const ContactDetailsCodec = codec<ContactDetails>("ContactDetails");

/**
 * A contacts sync blob: ContactDetails messages, each after its varint length (an avatar, when
 * a contact has one, follows its record: `avatar.length` bytes, which this subset skips by
 * reading the avatar field's length).
 */
export function parseContacts(blob: Uint8Array): ContactDetails[] {
  const out: ContactDetails[] = [];
  let at = 0;
  while (at < blob.length) {
    let length = 0;
    let shift = 0;
    for (;;) {
      if (at >= blob.length) throw new Error("contacts blob ends inside a length");
      const byte = blob[at++]!;
      length += (byte & 0x7f) * 2 ** shift;
      shift += 7;
      if (!(byte & 0x80)) break;
      if (shift > 35) throw new Error("contacts blob has a malformed length");
    }
    if (at + length > blob.length) throw new Error("contacts blob ends inside a record");
    const record = blob.subarray(at, at + length);
    at += length;
    out.push(ContactDetailsCodec.decode(record));
    const avatarLength = avatarLengthOf(record);
    if (avatarLength) at += avatarLength;
  }
  return out;
}

const ContactAvatarType = protobuf
  .parse(
    `syntax = "proto2"; message A { message Av { optional uint32 length = 2; } optional Av avatar = 3; }`,
  )
  .root.lookupType("A");

function avatarLengthOf(record: Uint8Array): number {
  const m = ContactAvatarType.toObject(ContactAvatarType.decode(record)) as { avatar?: { length?: number } };
  return m.avatar?.length ?? 0;
}

/** Signal's content padding: one 0x80 byte, then zeros up to the next multiple of 160 bytes. */
export function pad(plaintext: Uint8Array): Uint8Array {
  const size = Math.ceil((plaintext.length + 1) / 160) * 160;
  const out = new Uint8Array(size);
  out.set(plaintext);
  out[plaintext.length] = 0x80;
  return out;
}

export function unpad(padded: Uint8Array): Uint8Array {
  let i = padded.length - 1;
  while (i >= 0 && padded[i] === 0) i--;
  if (i < 0 || padded[i] !== 0x80) throw new Error("content padding is malformed");
  return padded.subarray(0, i);
}
