import type { PublicKey } from "@signalapp/libsignal-client";
import {
  CiphertextMessageType,
  ErrorCode,
  LibSignalErrorBase,
  PlaintextContent,
  PreKeySignalMessage,
  ProtocolAddress,
  SignalMessage,
  groupDecrypt,
  processSenderKeyDistributionMessage,
  sealedSenderDecryptToUsmc,
  signalDecrypt,
  signalDecryptPreKey,
  SenderKeyDistributionMessage,
} from "@signalapp/libsignal-client";
import { ContentCodec, EnvelopeCodec, EnvelopeType, unpad, type Content, type Envelope } from "./proto.js";
import type { ProtocolStore } from "./protocol-store.js";
import { serviceIdOf } from "./ids.js";

/**
 * Opens what the message pipe delivers: every envelope type Signal sends (sealed sender,
 * prekey, whisper, sender-key, plaintext retry requests), sealed sender certificates checked
 * against the configured trust roots, padding stripped. A failure names the sender and device
 * when they can be known, so the caller can ask for the message again.
 */

export interface Opened {
  kind: "opened";
  sender: string;
  senderDevice: number;
  /** The sender's sent timestamp: with the sender, the message's identity. */
  timestamp: number;
  serverTimestamp: number;
  content: Content;
  /** For sealed sender-key messages: the group the sender said it is for. */
  groupId?: Uint8Array;
  /** Sealed sender was used (the server never saw who sent it). */
  sealed: boolean;
}

export interface Failed {
  kind: "failed";
  reason: string;
  sender?: string;
  senderDevice?: number;
  timestamp: number;
  groupId?: Uint8Array;
  /** What a DecryptionErrorMessage is made from. */
  original?: { bytes: Uint8Array<ArrayBuffer>; type: CiphertextMessageType };
}

export type ReceiveResult =
  | Opened
  | Failed
  /** Already opened before (a redelivery after a crash between committing and acking). */
  | { kind: "duplicate" }
  /** Nothing for the bridge: a server receipt, our own sealed send echoed back. */
  | { kind: "ignored"; reason: string };

export interface ReceiverContext {
  self: { aci: string; pni: string; deviceId: number };
  stores: { aci: ProtocolStore; pni: ProtocolStore };
  trustRoots: PublicKey[];
}

export function decodeEnvelope(bytes: Uint8Array): Envelope {
  return EnvelopeCodec.decode(bytes);
}

export async function openEnvelope(ctx: ReceiverContext, env: Envelope): Promise<ReceiveResult> {
  const timestamp = env.clientTimestamp ?? 0;
  const destination = serviceIdOf(env.destinationServiceIdBinary, env.destinationServiceId);
  const store = destination?.startsWith("PNI:") ? ctx.stores.pni : ctx.stores.aci;
  const local = ProtocolAddress.new(store.kind === "pni" ? ctx.self.pni : ctx.self.aci, ctx.self.deviceId);
  const body = env.content ? new Uint8Array(env.content) : null;
  if (env.type === EnvelopeType.SERVER_DELIVERY_RECEIPT) return { kind: "ignored", reason: "server receipt" };
  if (!body) return { kind: "ignored", reason: "envelope without content" };

  if (env.type === EnvelopeType.UNIDENTIFIED_SENDER) {
    let usmc;
    try {
      usmc = await sealedSenderDecryptToUsmc(body, store.identity);
    } catch (err) {
      if (isCode(err, ErrorCode.SealedSenderSelfSend)) return { kind: "ignored", reason: "own sealed send" };
      return { kind: "failed", reason: `sealed sender envelope unreadable: ${msg(err)}`, timestamp };
    }
    const cert = usmc.senderCertificate();
    const now = env.serverTimestamp ?? Date.now();
    if (!ctx.trustRoots.some((root) => cert.validate(root, now))) {
      return { kind: "failed", reason: "sealed sender certificate not signed by a trusted root", timestamp };
    }
    const sender = cert.senderUuid().toLowerCase();
    const senderDevice = cert.senderDeviceId();
    if (sender === ctx.self.aci && senderDevice === ctx.self.deviceId)
      return { kind: "ignored", reason: "own send" };
    const groupId = usmc.groupId() ?? undefined;
    return open(
      store,
      local,
      usmc.msgType(),
      usmc.contents(),
      sender,
      senderDevice,
      timestamp,
      env,
      true,
      groupId,
    );
  }

  const sender = serviceIdOf(env.sourceServiceIdBinary, env.sourceServiceId);
  const senderDevice = env.sourceDeviceId ?? 1;
  if (!sender) return { kind: "failed", reason: "envelope without a sender", timestamp };
  const type =
    env.type === EnvelopeType.PREKEY_MESSAGE
      ? CiphertextMessageType.PreKey
      : env.type === EnvelopeType.DOUBLE_RATCHET
        ? CiphertextMessageType.Whisper
        : env.type === EnvelopeType.SENDERKEY_MESSAGE
          ? CiphertextMessageType.SenderKey
          : env.type === EnvelopeType.PLAINTEXT_CONTENT
            ? CiphertextMessageType.Plaintext
            : null;
  if (type === null) return { kind: "ignored", reason: `envelope type ${env.type ?? "none"}` };
  return open(store, local, type, body, sender, senderDevice, timestamp, env, false, undefined);
}

async function open(
  store: ProtocolStore,
  local: ProtocolAddress,
  type: CiphertextMessageType,
  bytes: Uint8Array<ArrayBuffer>,
  sender: string,
  senderDevice: number,
  timestamp: number,
  env: Envelope,
  sealed: boolean,
  groupId: Uint8Array | undefined,
): Promise<ReceiveResult> {
  const from = ProtocolAddress.new(sender, senderDevice);
  let plain: Uint8Array;
  try {
    switch (type) {
      case CiphertextMessageType.PreKey:
        plain = await signalDecryptPreKey(
          PreKeySignalMessage.deserialize(bytes),
          from,
          local,
          store.session,
          store.identity,
          store.preKeys,
          store.signedPreKeys,
          store.kyberPreKeys,
        );
        break;
      case CiphertextMessageType.Whisper:
        plain = await signalDecrypt(
          SignalMessage.deserialize(bytes),
          from,
          local,
          store.session,
          store.identity,
        );
        break;
      case CiphertextMessageType.SenderKey:
        plain = await groupDecrypt(from, store.senderKeys, bytes);
        break;
      case CiphertextMessageType.Plaintext:
        plain = PlaintextContent.deserialize(bytes).body();
        break;
      default:
        return { kind: "ignored", reason: `ciphertext type ${String(type)}` };
    }
  } catch (err) {
    if (isCode(err, ErrorCode.DuplicatedMessage)) return { kind: "duplicate" };
    return {
      kind: "failed",
      reason: msg(err),
      sender,
      senderDevice,
      timestamp,
      ...(groupId ? { groupId } : {}),
      original: { bytes, type },
    };
  }
  let content: Content;
  try {
    content = ContentCodec.decode(type === CiphertextMessageType.Plaintext ? tryUnpad(plain) : unpad(plain));
  } catch (err) {
    return { kind: "failed", reason: `undecodable content: ${msg(err)}`, sender, senderDevice, timestamp };
  }
  if (content.senderKeyDistributionMessage) {
    // Sender keys arrive inside 1:1 messages; store them before anything else uses them.
    await processSenderKeyDistributionMessage(
      from,
      SenderKeyDistributionMessage.deserialize(new Uint8Array(content.senderKeyDistributionMessage)),
      store.senderKeys,
    );
  }
  return {
    kind: "opened",
    sender,
    senderDevice,
    timestamp,
    serverTimestamp: env.serverTimestamp ?? Date.now(),
    content,
    sealed,
    ...(groupId ? { groupId } : {}),
  };
}

function tryUnpad(bytes: Uint8Array): Uint8Array {
  try {
    return unpad(bytes);
  } catch {
    return bytes;
  }
}

const isCode = (err: unknown, code: ErrorCode): boolean =>
  err instanceof LibSignalErrorBase && err.code === code;
const msg = (err: unknown): string => (err instanceof Error ? err.message : String(err));
