import type { Direction, ProtocolAddress } from "@signalapp/libsignal-client";
import {
  IdentityChange,
  IdentityKeyStore,
  KyberPreKeyRecord,
  KyberPreKeyStore,
  PreKeyRecord,
  PreKeyStore,
  PrivateKey,
  PublicKey,
  SenderKeyRecord,
  SenderKeyStore,
  SessionRecord,
  SessionStore,
  SignedPreKeyRecord,
  SignedPreKeyStore,
  type Uuid,
} from "@signalapp/libsignal-client";
import type { LoginState } from "@switchboard/framework";

/**
 * libsignal's protocol stores (identity, sessions, prekeys, sender keys) over the framework's
 * sealed login state, one set per identity (ACI and PNI each have their own keys). Records are
 * written through before a call resolves, because libsignal treats a resolved save as durable:
 * a session advanced in memory but lost in a crash is exactly the "couldn't be decrypted" that
 * mautrix-signal users report. Reads are cached: each message touches the same few records.
 */

export type IdentityKind = "aci" | "pni";

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString("base64");
const unb64 = (text: string): Uint8Array<ArrayBuffer> => new Uint8Array(Buffer.from(text, "base64"));

/**
 * A record cache over LoginState: values are base64 of libsignal's serialized records. One-time
 * prekeys are not cached: each is read once, and a login uploads 200 of them (Kyber ones are
 * several kB), which would be most of an idle login's memory.
 */
const cacheable = (key: string): boolean => !key.startsWith("pk:") && !key.startsWith("kpk:");

class Records {
  private cache = new Map<string, string | null>();
  /** Writes held back while a received message is opened (see ProtocolStore.hold). */
  private held: Map<string, string | null> | null = null;
  constructor(private readonly state: LoginState) {}

  hold(): void {
    this.held = new Map();
  }

  async release(keep: boolean): Promise<void> {
    const held = this.held;
    this.held = null;
    if (!held) return;
    for (const [key, value] of held) {
      if (!keep) {
        this.cache.delete(key);
        continue;
      }
      if (value === null) await this.state.delete(key);
      else await this.state.set(key, value);
      if (cacheable(key)) this.cache.set(key, value);
    }
  }

  async get(key: string): Promise<Uint8Array<ArrayBuffer> | null> {
    const heldValue = this.held?.get(key);
    if (heldValue !== undefined) return heldValue === null ? null : unb64(heldValue);
    let value = this.cache.get(key);
    if (value === undefined) {
      value = await this.state.get(key);
      if (cacheable(key)) this.cache.set(key, value);
    }
    return value === null ? null : unb64(value);
  }

  async set(key: string, bytes: Uint8Array): Promise<void> {
    const value = b64(bytes);
    if (this.held) {
      this.held.set(key, value);
      return;
    }
    await this.state.set(key, value);
    if (cacheable(key)) this.cache.set(key, value);
  }

  async delete(key: string): Promise<void> {
    if (this.held) {
      this.held.set(key, null);
      return;
    }
    await this.state.delete(key);
    this.cache.set(key, null);
  }

  async keys(prefix: string): Promise<string[]> {
    return (await this.state.list(prefix)).map((r) => r.key);
  }
}

export interface IdentityEvents {
  /** A contact's identity key changed (a new phone, a reinstall): their safety number changed. */
  identityChanged?(name: string): void;
}

export class ProtocolStore {
  readonly session: SessionStore;
  readonly identity: IdentityKeyStore;
  readonly preKeys: PreKeyStore;
  readonly signedPreKeys: SignedPreKeyStore;
  readonly kyberPreKeys: KyberPreKeyStore;
  readonly senderKeys: SenderKeyStore;
  private readonly records: Records;
  /** One-time prekeys used by contacts starting sessions (sealed or not): the cue to check the counts. */
  oneTimeKeysUsed = 0;

  private constructor(
    state: LoginState,
    readonly kind: IdentityKind,
    readonly identityKey: PrivateKey,
    readonly registrationId: number,
    events: IdentityEvents,
  ) {
    const records = (this.records = new Records(state));
    const onOneTimeKeyUsed = () => {
      this.oneTimeKeysUsed++;
    };
    const k = kind;
    this.session = new (class extends SessionStore {
      async saveSession(addr: ProtocolAddress, record: SessionRecord): Promise<void> {
        await records.set(`s:${k}:${addr.toString()}`, record.serialize());
      }
      async getSession(addr: ProtocolAddress): Promise<SessionRecord | null> {
        const bytes = await records.get(`s:${k}:${addr.toString()}`);
        return bytes ? SessionRecord.deserialize(bytes) : null;
      }
      async getExistingSessions(addrs: ProtocolAddress[]): Promise<SessionRecord[]> {
        const out: SessionRecord[] = [];
        for (const addr of addrs) {
          const bytes = await records.get(`s:${k}:${addr.toString()}`);
          if (!bytes) throw new Error(`no session for ${addr.toString()}`);
          out.push(SessionRecord.deserialize(bytes));
        }
        return out;
      }
    })();
    const ownKey = identityKey;
    this.identity = new (class extends IdentityKeyStore {
      async getIdentityKey(): Promise<PrivateKey> {
        return ownKey;
      }
      async getLocalRegistrationId(): Promise<number> {
        return registrationId;
      }
      async saveIdentity(addr: ProtocolAddress, key: PublicKey): Promise<IdentityChange> {
        const stored = await records.get(`ik:${addr.name()}`);
        const bytes = key.serialize();
        if (stored && Buffer.from(stored).equals(Buffer.from(bytes))) return IdentityChange.NewOrUnchanged;
        await records.set(`ik:${addr.name()}`, bytes);
        if (!stored) return IdentityChange.NewOrUnchanged;
        events.identityChanged?.(addr.name());
        return IdentityChange.ReplacedExisting;
      }
      // Like Signal's own linked devices, a bridge cannot verify safety numbers: it trusts the
      // newest key and tells the user when it changed (saveIdentity above).
      async isTrustedIdentity(
        _addr: ProtocolAddress,
        _key: PublicKey,
        _direction: Direction,
      ): Promise<boolean> {
        return true;
      }
      async getIdentity(addr: ProtocolAddress): Promise<PublicKey | null> {
        const stored = await records.get(`ik:${addr.name()}`);
        return stored ? PublicKey.deserialize(stored) : null;
      }
    })();
    this.preKeys = new (class extends PreKeyStore {
      async savePreKey(id: number, record: PreKeyRecord): Promise<void> {
        await records.set(`pk:${k}:${id}`, record.serialize());
      }
      async getPreKey(id: number): Promise<PreKeyRecord> {
        const bytes = await records.get(`pk:${k}:${id}`);
        if (!bytes) throw new Error(`one-time prekey ${id} is not known (already used?)`);
        return PreKeyRecord.deserialize(bytes);
      }
      async removePreKey(id: number): Promise<void> {
        await records.delete(`pk:${k}:${id}`);
        onOneTimeKeyUsed();
      }
    })();
    this.signedPreKeys = new (class extends SignedPreKeyStore {
      async saveSignedPreKey(id: number, record: SignedPreKeyRecord): Promise<void> {
        await records.set(`spk:${k}:${id}`, record.serialize());
      }
      async getSignedPreKey(id: number): Promise<SignedPreKeyRecord> {
        const bytes = await records.get(`spk:${k}:${id}`);
        if (!bytes) throw new Error(`signed prekey ${id} is not known`);
        return SignedPreKeyRecord.deserialize(bytes);
      }
    })();
    this.kyberPreKeys = new (class extends KyberPreKeyStore {
      async saveKyberPreKey(id: number, record: KyberPreKeyRecord): Promise<void> {
        await records.set(`kpk:${k}:${id}`, record.serialize());
      }
      async getKyberPreKey(id: number): Promise<KyberPreKeyRecord> {
        const bytes = await records.get(`kpk:${k}:${id}`);
        if (!bytes) throw new Error(`kyber prekey ${id} is not known`);
        return KyberPreKeyRecord.deserialize(bytes);
      }
      // One-time Kyber keys are deleted once used; the last-resort key stays (it is reused by design).
      async markKyberPreKeyUsed(id: number): Promise<void> {
        if (await records.get(`kpk1:${k}:${id}`)) {
          await records.delete(`kpk:${k}:${id}`);
          onOneTimeKeyUsed();
        }
      }
    })();
    this.senderKeys = new (class extends SenderKeyStore {
      async saveSenderKey(
        sender: ProtocolAddress,
        distributionId: Uuid,
        record: SenderKeyRecord,
      ): Promise<void> {
        await records.set(`sk:${sender.toString()}:${distributionId}`, record.serialize());
      }
      async getSenderKey(sender: ProtocolAddress, distributionId: Uuid): Promise<SenderKeyRecord | null> {
        const bytes = await records.get(`sk:${sender.toString()}:${distributionId}`);
        return bytes ? SenderKeyRecord.deserialize(bytes) : null;
      }
    })();
  }

  /** Writes a new identity (at link time) and opens its store. */
  static async create(
    state: LoginState,
    kind: IdentityKind,
    identityKey: PrivateKey,
    registrationId: number,
    events: IdentityEvents = {},
  ): Promise<ProtocolStore> {
    await state.set(`id:${kind}`, JSON.stringify({ key: b64(identityKey.serialize()), registrationId }));
    return new ProtocolStore(state, kind, identityKey, registrationId, events);
  }

  /** Opens a stored identity; null when the login never finished linking. */
  static async open(
    state: LoginState,
    kind: IdentityKind,
    events: IdentityEvents = {},
  ): Promise<ProtocolStore | null> {
    const raw = await state.get(`id:${kind}`);
    if (!raw) return null;
    const { key, registrationId } = JSON.parse(raw) as { key: string; registrationId: number };
    return new ProtocolStore(state, kind, PrivateKey.deserialize(unb64(key)), registrationId, events);
  }

  /**
   * Opening a message advances its session and may use up a prekey. Those writes are held
   * until the message is durably handed to the framework (`release(true)`), so a crash in
   * between leaves the old state and Signal's redelivery opens the message again; the
   * framework drops the second copy by its key. `release(false)` forgets them.
   */
  hold(): void {
    this.records.hold();
  }

  release(keep: boolean): Promise<void> {
    return this.records.release(keep);
  }

  /** Marks a Kyber key as one-time (deleted after use) rather than last-resort. */
  async markKyberOneTime(id: number): Promise<void> {
    await this.records.set(`kpk1:${this.kind}:${id}`, new Uint8Array([1]));
  }

  /** Deletes every session with a contact's device (archive before re-establishing: the retry path). */
  async archiveSession(addr: ProtocolAddress): Promise<void> {
    await this.records.delete(`s:${this.kind}:${addr.toString()}`);
  }

  /** Device ids we have sessions with for a service id. */
  async sessionDevices(serviceId: string): Promise<number[]> {
    const keys = await this.records.keys(`s:${this.kind}:${serviceId}.`);
    return keys.map((key) => Number(key.slice(key.lastIndexOf(".") + 1))).filter((n) => Number.isInteger(n));
  }

  /** Drops our sender-key state for a distribution (a member's devices changed: mautrix #647). */
  async resetSenderKey(ourAddress: ProtocolAddress, distributionId: string): Promise<void> {
    await this.records.delete(`sk:${ourAddress.toString()}:${distributionId}`);
  }

  async oneTimePreKeyIds(): Promise<number[]> {
    return (await this.records.keys(`pk:${this.kind}:`)).map((key) => Number(key.split(":")[2]));
  }
}
