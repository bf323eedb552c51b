import {
  KEMKeyPair,
  KyberPreKeyRecord,
  PreKeyRecord,
  PrivateKey,
  SignedPreKeyRecord,
} from "@signalapp/libsignal-client";

/**
 * The keys a device publishes so others can start sessions with it: a signed EC prekey, a
 * last-resort Kyber key (both replaced every few days), and batches of one-time EC and Kyber
 * keys (used once each, refilled when Signal says few are left).
 */

export interface UploadKey {
  id: number;
  record: SignedPreKeyRecord | KyberPreKeyRecord | PreKeyRecord;
  json: { keyId: number; publicKey: string; signature?: string };
}

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString("base64");

export function newSignedPreKey(
  identity: PrivateKey,
  id: number,
): UploadKey & { record: SignedPreKeyRecord } {
  const key = PrivateKey.generate();
  const pub = key.getPublicKey().serialize();
  const signature = identity.sign(pub);
  return {
    id,
    record: SignedPreKeyRecord.new(id, Date.now(), key.getPublicKey(), key, signature),
    json: { keyId: id, publicKey: b64(pub), signature: b64(signature) },
  };
}

export function newLastResortKey(
  identity: PrivateKey,
  id: number,
): UploadKey & { record: KyberPreKeyRecord } {
  const pair = KEMKeyPair.generate();
  const pub = pair.getPublicKey().serialize();
  const signature = identity.sign(pub);
  return {
    id,
    record: KyberPreKeyRecord.new(id, Date.now(), pair, signature),
    json: { keyId: id, publicKey: b64(pub), signature: b64(signature) },
  };
}

export function newOneTimeKey(id: number): UploadKey & { record: PreKeyRecord } {
  const key = PrivateKey.generate();
  return {
    id,
    record: PreKeyRecord.new(id, key.getPublicKey(), key),
    json: { keyId: id, publicKey: b64(key.getPublicKey().serialize()) },
  };
}

/** Key ids are 24-bit on the wire; ours count up and wrap, skipping 0. */
export const nextKeyId = (id: number): number => (id % 0xffffff) + 1;
