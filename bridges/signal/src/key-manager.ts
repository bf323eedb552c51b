import type { KyberPreKeyRecord, SignedPreKeyRecord } from "@signalapp/libsignal-client";
import type { LoginState } from "@switchboard/framework";
import type { ProtocolStore } from "./protocol-store.js";
import { newLastResortKey, newOneTimeKey, newSignedPreKey, nextKeyId } from "./prekeys.js";
import { json, parseJson, type ChatFetch } from "./transport.js";

/**
 * Keeps a login's published keys healthy for each identity (ACI and PNI): refills one-time EC
 * and Kyber keys when Signal's count drops below `refillBelow`, and replaces the signed and
 * last-resort keys every `rotateDays` (an old signed key stays usable for sessions already
 * started with it). Counters and rotation times live in the login state with the keys.
 */

export interface KeyPolicy {
  refillBelow: number;
  batch: number;
  rotateDays: number;
}

interface KeyCounters {
  nextPreKeyId: number;
  nextKyberId: number;
  nextSignedId: number;
  rotatedAt: number;
}

export class KeyManager {
  constructor(
    private readonly state: LoginState,
    private readonly stores: ProtocolStore[],
    private readonly chat: ChatFetch,
    private readonly policy: KeyPolicy,
  ) {}

  /** Writes the keys registered with the link request as current. */
  static async recordLinkKeys(
    state: LoginState,
    store: ProtocolStore,
    signed: { id: number; record: SignedPreKeyRecord },
    lastResort: { id: number; record: KyberPreKeyRecord },
  ): Promise<void> {
    await store.signedPreKeys.saveSignedPreKey(signed.id, signed.record);
    await store.kyberPreKeys.saveKyberPreKey(lastResort.id, lastResort.record);
    const counters: KeyCounters = {
      nextPreKeyId: 1,
      nextKyberId: lastResort.id + 1,
      nextSignedId: signed.id + 1,
      rotatedAt: Date.now(),
    };
    await state.set(`keys:${store.kind}`, JSON.stringify(counters));
  }

  /** Tops up and rotates every identity's keys as needed; safe to call often. */
  async maintain(): Promise<void> {
    for (const store of this.stores) await this.maintainOne(store);
  }

  private async counters(store: ProtocolStore): Promise<KeyCounters> {
    const raw = await this.state.get(`keys:${store.kind}`);
    return raw
      ? (JSON.parse(raw) as KeyCounters)
      : { nextPreKeyId: 1, nextKyberId: 2, nextSignedId: 2, rotatedAt: 0 };
  }

  private async maintainOne(store: ProtocolStore): Promise<void> {
    const counters = await this.counters(store);
    const res = await this.chat({ verb: "GET", path: `/v2/keys?identity=${store.kind}` });
    if (res.status !== 200) throw new Error(`Signal answered ${res.status} to the key count`);
    const counts = (parseJson(res) ?? {}) as { count?: number; pqCount?: number };
    const upload: Record<string, unknown> = {};
    if ((counts.count ?? 0) < this.policy.refillBelow) {
      const keys = [];
      for (let i = 0; i < this.policy.batch; i++) {
        const key = newOneTimeKey(counters.nextPreKeyId);
        counters.nextPreKeyId = nextKeyId(counters.nextPreKeyId);
        await store.preKeys.savePreKey(key.id, key.record);
        keys.push(key.json);
      }
      upload.preKeys = keys;
    }
    if ((counts.pqCount ?? 0) < this.policy.refillBelow) {
      const keys = [];
      for (let i = 0; i < this.policy.batch; i++) {
        const key = newLastResortKey(store.identityKey, counters.nextKyberId);
        counters.nextKyberId = nextKeyId(counters.nextKyberId);
        await store.kyberPreKeys.saveKyberPreKey(key.id, key.record);
        await store.markKyberOneTime(key.id);
        keys.push(key.json);
      }
      upload.pqPreKeys = keys;
    }
    if (Date.now() - counters.rotatedAt > this.policy.rotateDays * 86_400_000) {
      const signed = newSignedPreKey(store.identityKey, counters.nextSignedId);
      counters.nextSignedId = nextKeyId(counters.nextSignedId);
      await store.signedPreKeys.saveSignedPreKey(signed.id, signed.record);
      const lastResort = newLastResortKey(store.identityKey, counters.nextKyberId);
      counters.nextKyberId = nextKeyId(counters.nextKyberId);
      await store.kyberPreKeys.saveKyberPreKey(lastResort.id, lastResort.record);
      upload.signedPreKey = signed.json;
      upload.pqLastResortPreKey = lastResort.json;
      counters.rotatedAt = Date.now();
    }
    if (Object.keys(upload).length === 0) return;
    // A rotation alone still names the (empty) one-time key list, as Signal's apps send it.
    upload.preKeys ??= [];
    // Counters first: a crash after the upload must not reuse an id Signal already has.
    await this.state.set(`keys:${store.kind}`, JSON.stringify(counters));
    const put = await this.chat({
      verb: "PUT",
      path: `/v2/keys?identity=${store.kind}`,
      headers: [["content-type", "application/json"]],
      body: json(upload),
    });
    if (put.status !== 200 && put.status !== 204)
      throw new Error(`Signal answered ${put.status} to the key upload`);
  }
}
