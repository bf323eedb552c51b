import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  randomBytes,
  randomInt,
  timingSafeEqual,
} from "node:crypto";
import {
  PrivateKey,
  PublicKey,
  hkdf,
  type KyberPreKeyRecord,
  type Net,
  type SignedPreKeyRecord,
} from "@signalapp/libsignal-client";
import {
  DeviceNameCodec,
  ProvisionEnvelopeCodec,
  ProvisionMessageCodec,
  type ProvisionMessage,
} from "./proto.js";
import { json, parseJson } from "./transport.js";
import { newLastResortKey, newSignedPreKey, type UploadKey } from "./prekeys.js";
import { uuidFromBytes } from "./ids.js";

/**
 * Linking the bridge as a secondary device: the provisioning socket gives an address, the
 * phone scans `sgnl://linkdevice?uuid=…&pub_key=…`, and sends its identity keys sealed to our
 * ephemeral key. libsignal has no provisioning cipher, so the decryption is here.
 */

/** What the phone handed over, plus what we made for the new device. */
export interface LinkedAccount {
  aci: string;
  pni: string;
  number: string;
  deviceId: number;
  password: string;
  aciIdentity: PrivateKey;
  pniIdentity: PrivateKey;
  aciRegistrationId: number;
  pniRegistrationId: number;
  profileKey?: Buffer;
  masterKey?: Buffer;
  /** The signed and last-resort keys registered with the link (to store as ours). */
  keys: { aci: LinkKeys; pni: LinkKeys };
}

export interface LinkKeys {
  signed: UploadKey & { record: SignedPreKeyRecord };
  lastResort: UploadKey & { record: KyberPreKeyRecord };
}

const PROVISION_INFO = new TextEncoder().encode("TextSecure Provisioning Message");

/** Opens a ProvisionEnvelope sealed to `ours`: ECDH, HKDF, HMAC-SHA256 check, AES-256-CBC. */
export function openProvisionEnvelope(envelope: Uint8Array, ours: PrivateKey): ProvisionMessage {
  const env = ProvisionEnvelopeCodec.decode(envelope);
  if (!env.publicKey || !env.body) throw new Error("provisioning envelope without key or body");
  const shared = ours.agree(PublicKey.deserialize(new Uint8Array(env.publicKey)));
  const keys = Buffer.from(hkdf(64, shared, PROVISION_INFO, null));
  const body = env.body;
  if (body.length < 1 + 16 + 16 + 32 || body[0] !== 1)
    throw new Error("unknown provisioning envelope version");
  const mac = body.subarray(body.length - 32);
  const expected = createHmac("sha256", keys.subarray(32))
    .update(body.subarray(0, body.length - 32))
    .digest();
  if (!timingSafeEqual(mac, expected)) throw new Error("provisioning envelope MAC mismatch");
  const decipher = createDecipheriv("aes-256-cbc", keys.subarray(0, 32), body.subarray(1, 17));
  const plain = Buffer.concat([decipher.update(body.subarray(17, body.length - 32)), decipher.final()]);
  return ProvisionMessageCodec.decode(plain);
}

/**
 * The device name as Signal stores it: encrypted to the account's identity key so the server
 * never reads it (synthetic IV: HMAC of the name; key: HMAC chain over the ECDH secret; AES-CTR).
 */
export function encryptDeviceName(name: string, identityPublic: PublicKey): string {
  const ephemeral = PrivateKey.generate();
  const master = Buffer.from(ephemeral.agree(identityPublic));
  const plain = Buffer.from(name, "utf8");
  const authKey = createHmac("sha256", master).update("auth").digest();
  const syntheticIv = createHmac("sha256", authKey).update(plain).digest().subarray(0, 16);
  const cipherKey0 = createHmac("sha256", master).update("cipher").digest();
  const cipherKey = createHmac("sha256", cipherKey0).update(syntheticIv).digest();
  const cipher = createCipheriv("aes-256-ctr", cipherKey, Buffer.alloc(16));
  const ciphertext = Buffer.concat([cipher.update(plain), cipher.final()]);
  const bytes = DeviceNameCodec.encode({
    ephemeralPublic: ephemeral.getPublicKey().serialize(),
    syntheticIv,
    ciphertext,
  });
  return Buffer.from(bytes).toString("base64");
}

export interface LinkOptions {
  net: Net.Net;
  deviceName: string;
  /** Who the link request authenticates as: Signal takes the number, its mock server the ACI. */
  linkUsername: "aci" | "number";
  /** How often a fresh QR code is made while nobody scans (Signal's addresses expire). */
  refreshMs?: number;
}

/**
 * One linking attempt: `next()` resolves with a URL to show (again after each refresh) or with
 * the linked account. Cancel closes the provisioning socket.
 */
export class DeviceLink {
  private ephemeral = PrivateKey.generate();
  private connection: Net.ProvisioningConnection | null = null;
  private waiter: { resolve: (v: LinkProgress) => void; reject: (e: Error) => void } | null = null;
  private queued: LinkProgress[] = [];
  private failed: Error | null = null;
  private cancelled = false;
  private refreshTimer: NodeJS.Timeout | null = null;
  private linking = false;

  constructor(private readonly options: LinkOptions) {}

  /** Connects and resolves with the first URL. */
  async start(): Promise<string> {
    await this.connect();
    const first = await this.next();
    if (first.type !== "url") throw new Error("linking finished before it started");
    return first.url;
  }

  next(): Promise<LinkProgress> {
    const queued = this.queued.shift();
    if (queued) return Promise.resolve(queued);
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  cancel(): void {
    this.cancelled = true;
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    void this.connection?.disconnect().catch(() => undefined);
    this.fail(new Error("linking cancelled"));
  }

  private push(p: LinkProgress): void {
    const w = this.waiter;
    this.waiter = null;
    if (w) w.resolve(p);
    else this.queued.push(p);
  }

  private fail(err: Error): void {
    this.failed = err;
    const w = this.waiter;
    this.waiter = null;
    w?.reject(err);
  }

  private async connect(): Promise<void> {
    if (this.cancelled) return;
    this.ephemeral = PrivateKey.generate();
    const pubKey = Buffer.from(this.ephemeral.getPublicKey().serialize()).toString("base64");
    const ours = this.ephemeral;
    this.connection = await this.options.net.connectProvisioning({
      onReceivedAddress: (address, ack) => {
        ack.send(200);
        this.push({
          type: "url",
          url: `sgnl://linkdevice?uuid=${encodeURIComponent(address)}&pub_key=${encodeURIComponent(pubKey)}`,
        });
        // An address is good for a short while: make a new one until the phone scans.
        if (this.refreshTimer) clearTimeout(this.refreshTimer);
        this.refreshTimer = setTimeout(() => {
          if (this.linking || this.cancelled) return;
          const old = this.connection;
          void old?.disconnect().catch(() => undefined);
          this.connect().catch((err: Error) => this.fail(err));
        }, this.options.refreshMs ?? 45_000);
      },
      onReceivedEnvelope: (envelope, ack) => {
        ack.send(200);
        this.linking = true;
        if (this.refreshTimer) clearTimeout(this.refreshTimer);
        this.finish(envelope, ours).then(
          (account) => this.push({ type: "linked", account }),
          (err: Error) => this.fail(err),
        );
      },
      onConnectionInterrupted: (cause) => {
        if (this.linking || this.cancelled || this.connection === null) return;
        if (cause) this.fail(new Error(`the provisioning connection dropped: ${cause.message}`));
      },
    });
  }

  private async finish(envelope: Uint8Array, ours: PrivateKey): Promise<LinkedAccount> {
    const message = openProvisionEnvelope(envelope, ours);
    void this.connection?.disconnect().catch(() => undefined);
    if (!message.aciIdentityKeyPrivate || !message.pniIdentityKeyPrivate || !message.aciBinary) {
      throw new Error("the phone sent no identity keys (is it up to date?)");
    }
    if (!message.provisioningCode) throw new Error("the phone sent no provisioning code");
    const aci = uuidFromBytes(message.aciBinary);
    const pni = message.pniBinary ? uuidFromBytes(message.pniBinary) : "";
    const aciIdentity = PrivateKey.deserialize(new Uint8Array(message.aciIdentityKeyPrivate));
    const pniIdentity = PrivateKey.deserialize(new Uint8Array(message.pniIdentityKeyPrivate));
    // Registration ids are 14 bits, never 0.
    const aciRegistrationId = randomInt(1, 16381);
    const pniRegistrationId = randomInt(1, 16381);
    const keys = {
      aci: { signed: newSignedPreKey(aciIdentity, 1), lastResort: newLastResortKey(aciIdentity, 1) },
      pni: { signed: newSignedPreKey(pniIdentity, 1), lastResort: newLastResortKey(pniIdentity, 1) },
    };
    const password = randomBytes(18).toString("base64url");
    const number = message.number ?? "";
    const username = this.options.linkUsername === "aci" || !number ? aci : number;
    const unauth = await this.options.net.connectUnauthenticatedChat({
      onConnectionInterrupted: () => undefined,
    });
    try {
      const res = await unauth.fetch({
        verb: "PUT",
        path: "/v1/devices/link",
        headers: [
          ["content-type", "application/json"],
          ["authorization", `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`],
        ],
        body: new Uint8Array(
          json({
            verificationCode: message.provisioningCode,
            accountAttributes: {
              fetchesMessages: true,
              registrationId: aciRegistrationId,
              pniRegistrationId,
              name: encryptDeviceName(this.options.deviceName, aciIdentity.getPublicKey()),
              capabilities: { deleteSync: true, versionedExpirationTimer: true },
            },
            aciSignedPreKey: keys.aci.signed.json,
            aciPqLastResortPreKey: keys.aci.lastResort.json,
            pniSignedPreKey: keys.pni.signed.json,
            pniPqLastResortPreKey: keys.pni.lastResort.json,
          }),
        ),
      });
      if (res.status === 409 || res.status === 411)
        throw new Error("the phone already has the most linked devices Signal allows");
      if (res.status === 403) throw new Error("Signal refused the link code (it expired: try again)");
      if (res.status !== 200) throw new Error(`Signal answered ${res.status} to the link request`);
      const body = parseJson(res) as { deviceId?: number } | null;
      if (!body?.deviceId) throw new Error("Signal's link answer has no device id");
      return {
        aci,
        pni,
        number,
        deviceId: body.deviceId,
        password,
        aciIdentity,
        pniIdentity,
        aciRegistrationId,
        pniRegistrationId,
        ...(message.profileKey ? { profileKey: message.profileKey } : {}),
        ...(message.masterKey ? { masterKey: message.masterKey } : {}),
        keys,
      };
    } finally {
      await unauth.disconnect().catch(() => undefined);
    }
  }
}

export type LinkProgress = { type: "url"; url: string } | { type: "linked"; account: LinkedAccount };
