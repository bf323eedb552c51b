import type { SessionRecord } from "@signalapp/libsignal-client";
import {
  CiphertextMessageType,
  KEMPublicKey,
  PreKeyBundle,
  ProtocolAddress,
  PublicKey,
  processPreKeyBundle,
  sealedSenderEncryptMessage,
  SenderCertificate,
  signalEncrypt,
  type PlaintextContent,
} from "@signalapp/libsignal-client";
import { PermanentError, RateLimitedError } from "@switchboard/framework";
import { ContentCodec, EnvelopeType, pad, type Content } from "./proto.js";
import type { ProtocolStore } from "./protocol-store.js";
import { json, parseJson, type ChatFetch, type ChatResponse } from "./transport.js";

/**
 * 1:1 sends: encrypt to every device of the recipient we have a session with, and let Signal
 * correct the device list (409: devices we missed or that no longer exist; 410: devices whose
 * session is stale), fetching prekey bundles for new devices. Sending to our own ACI reaches
 * the user's phone and other linked devices (sync messages); Signal leaves out this device.
 */

export interface SenderContext {
  chat: ChatFetch;
  /** The shared unauthenticated connection sealed-sender sends go through. */
  unauth?: ChatFetch;
  store: ProtocolStore;
  self: { aci: string; deviceId: number };
  /** Runs protocol-store work one at a time per login (sends and receives share sessions). */
  exclusive<T>(fn: () => Promise<T>): Promise<T>;
}

export interface DeviceList {
  missingDevices?: number[];
  extraDevices?: number[];
  staleDevices?: number[];
}

interface KeyBundleResponse {
  identityKey: string;
  devices: Array<{
    deviceId: number;
    registrationId: number;
    preKey?: { keyId: number; publicKey: string } | null;
    signedPreKey: { keyId: number; publicKey: string; signature: string };
    pqPreKey: { keyId: number; publicKey: string; signature: string };
  }>;
}

const unb64 = (s: string): Uint8Array<ArrayBuffer> => new Uint8Array(Buffer.from(s, "base64"));

export class Sender {
  constructor(private readonly ctx: SenderContext) {}

  /**
   * Sends a Content to every device of `destination` (an ACI). With the recipient's access key
   * (derived from their profile key) it goes sealed over the unauthenticated connection, so the
   * server does not learn the sender; a refused key falls back to an ordinary send.
   */
  async send(
    destination: string,
    content: Content,
    timestamp: number,
    options: { urgent?: boolean; accessKey?: Uint8Array } = {},
  ): Promise<void> {
    if (options.accessKey && this.ctx.unauth && destination !== this.ctx.self.aci) {
      try {
        if (await this.sendSealed(destination, content, timestamp, options.accessKey, options.urgent ?? true))
          return;
      } catch (err) {
        if (!(err instanceof SealedRefused)) throw err;
      }
    }
    const plaintext = pad(ContentCodec.encode(content));
    const isSelf = destination === this.ctx.self.aci;
    for (let attempt = 0; attempt < 4; attempt++) {
      let devices = (await this.ctx.store.sessionDevices(destination)).filter(
        (d) => !(isSelf && d === this.ctx.self.deviceId),
      );
      // A first message to someone: learn their devices from their keys (ourselves: from Signal's 409).
      if (devices.length === 0 && !isSelf && attempt === 0) {
        await this.fetchBundles(destination, "*");
        devices = await this.ctx.store.sessionDevices(destination);
      }
      const messages = await this.ctx.exclusive(() => this.encrypt(destination, devices, plaintext));
      const res = await this.ctx.chat({
        verb: "PUT",
        path: `/v1/messages/${destination}`,
        headers: [["content-type", "application/json"]],
        body: json({ messages, timestamp, online: false, urgent: options.urgent ?? true }),
      });
      if (res.status === 200) return;
      if (res.status === 409 || res.status === 410) {
        await this.correctDevices(destination, (parseJson(res) ?? {}) as DeviceList);
        continue;
      }
      throw sendError(res, destination);
    }
    throw new Error(`Signal kept correcting ${destination}'s device list; will retry`);
  }

  /**
   * Signal's correction of a recipient's device list (409/410, or libsignal's
   * MismatchedDevicesError): sessions with removed or stale devices are archived, and new or
   * stale ones get sessions from fresh prekey bundles. This device never sends to itself.
   */
  async correctDevices(destination: string, list: DeviceList): Promise<void> {
    for (const d of [...(list.extraDevices ?? []), ...(list.staleDevices ?? [])]) {
      await this.ctx.exclusive(() => this.ctx.store.archiveSession(ProtocolAddress.new(destination, d)));
    }
    for (const d of [...(list.missingDevices ?? []), ...(list.staleDevices ?? [])]) {
      if (destination === this.ctx.self.aci && d === this.ctx.self.deviceId) continue;
      await this.fetchBundles(destination, String(d));
    }
  }

  /** Devices of `destination` we can encrypt to, starting sessions from their keys on first contact. */
  async devicesOf(destination: string): Promise<number[]> {
    const known = await this.ctx.store.sessionDevices(destination);
    if (known.length > 0) return known;
    await this.fetchBundles(destination, "*");
    return this.ctx.store.sessionDevices(destination);
  }

  private certificate: { cert: SenderCertificate; expires: number } | null = null;

  /** Our sender certificate (signed by Signal, names this device), cached until shortly before it expires. */
  async senderCertificate(): Promise<SenderCertificate> {
    if (this.certificate && this.certificate.expires - Date.now() > 3600_000) return this.certificate.cert;
    const res = await this.ctx.chat({ verb: "GET", path: "/v1/certificate/delivery?includeE164=false" });
    if (res.status !== 200) throw sendError(res, "the sender certificate");
    const body = parseJson(res) as { certificate?: string } | null;
    if (!body?.certificate) throw new Error("Signal sent no sender certificate");
    const cert = SenderCertificate.deserialize(unb64(body.certificate));
    this.certificate = { cert, expires: cert.expiration() };
    return cert;
  }

  /** The sealed send; false when there is nothing to seal to yet (no sessions: the ordinary path learns devices). */
  private async sendSealed(
    destination: string,
    content: Content,
    timestamp: number,
    accessKey: Uint8Array,
    urgent: boolean,
  ): Promise<boolean> {
    const plaintext = pad(ContentCodec.encode(content));
    const cert = await this.senderCertificate();
    for (let attempt = 0; attempt < 4; attempt++) {
      const devices = await this.ctx.store.sessionDevices(destination);
      if (devices.length === 0) return false;
      const messages = await this.ctx.exclusive(async () => {
        const out: Array<Record<string, unknown>> = [];
        for (const deviceId of devices) {
          const addr = ProtocolAddress.new(destination, deviceId);
          const record = await this.ctx.store.session.getSession(addr);
          if (!record || !record.hasCurrentState()) continue;
          const sealed = await sealedSenderEncryptMessage(
            new Uint8Array(plaintext),
            addr,
            cert,
            this.ctx.store.session,
            this.ctx.store.identity,
          );
          out.push({
            type: EnvelopeType.UNIDENTIFIED_SENDER,
            destinationDeviceId: deviceId,
            destinationRegistrationId: record.remoteRegistrationId(),
            content: Buffer.from(sealed).toString("base64"),
          });
        }
        return out;
      });
      const res = await this.ctx.unauth!({
        verb: "PUT",
        path: `/v1/messages/${destination}`,
        headers: [
          ["content-type", "application/json"],
          ["unidentified-access-key", Buffer.from(accessKey).toString("base64")],
        ],
        body: json({ messages, timestamp, online: false, urgent }),
      });
      if (res.status === 200) return true;
      if (res.status === 401) throw new SealedRefused();
      if (res.status === 409 || res.status === 410) {
        await this.correctDevices(destination, (parseJson(res) ?? {}) as DeviceList);
        continue;
      }
      throw sendError(res, destination);
    }
    return false;
  }

  /** A retry request (DecryptionErrorMessage) to the one device whose message failed. */
  async sendPlaintext(
    destination: string,
    deviceId: number,
    content: PlaintextContent,
    timestamp: number,
  ): Promise<void> {
    const session = await this.ctx.store.session.getSession(ProtocolAddress.new(destination, deviceId));
    // Without a session (that is often why the message failed) the device's registration id comes from its keys.
    const registrationId = session
      ? session.remoteRegistrationId()
      : await this.registrationIdOf(destination, deviceId);
    const res = await this.ctx.chat({
      verb: "PUT",
      path: `/v1/messages/${destination}`,
      headers: [["content-type", "application/json"]],
      body: json({
        messages: [
          {
            type: EnvelopeType.PLAINTEXT_CONTENT,
            destinationDeviceId: deviceId,
            ...(registrationId !== null ? { destinationRegistrationId: registrationId } : {}),
            content: Buffer.from(content.serialize()).toString("base64"),
          },
        ],
        timestamp,
        online: false,
        urgent: false,
      }),
    });
    if (res.status !== 200) throw sendError(res, destination);
  }

  private async registrationIdOf(destination: string, deviceId: number): Promise<number | null> {
    const res = await this.ctx.chat({ verb: "GET", path: `/v2/keys/${destination}/${deviceId}` });
    if (res.status !== 200) return null;
    const bundle = parseJson(res) as KeyBundleResponse;
    return bundle.devices.find((d) => d.deviceId === deviceId)?.registrationId ?? null;
  }

  private async encrypt(
    destination: string,
    devices: number[],
    plaintext: Uint8Array,
  ): Promise<Array<Record<string, unknown>>> {
    const local = ProtocolAddress.new(this.ctx.self.aci, this.ctx.self.deviceId);
    const out: Array<Record<string, unknown>> = [];
    for (const deviceId of devices) {
      const addr = ProtocolAddress.new(destination, deviceId);
      const record: SessionRecord | null = await this.ctx.store.session.getSession(addr);
      if (!record || !record.hasCurrentState()) continue;
      const ct = await signalEncrypt(
        new Uint8Array(plaintext),
        addr,
        local,
        this.ctx.store.session,
        this.ctx.store.identity,
      );
      out.push({
        type:
          ct.type() === CiphertextMessageType.PreKey
            ? EnvelopeType.PREKEY_MESSAGE
            : EnvelopeType.DOUBLE_RATCHET,
        destinationDeviceId: deviceId,
        destinationRegistrationId: record.remoteRegistrationId(),
        content: Buffer.from(ct.serialize()).toString("base64"),
      });
    }
    return out;
  }

  /** Starts sessions from prekey bundles: `device` is a device id or "*" for all of them. */
  private async fetchBundles(destination: string, device: string): Promise<void> {
    const res = await this.ctx.chat({ verb: "GET", path: `/v2/keys/${destination}/${device}` });
    if (res.status === 404) {
      if (device === "*") throw new PermanentError(`${destination} is not on Signal (any more)`);
      return;
    }
    if (res.status !== 200) throw sendError(res, destination);
    const bundle = parseJson(res) as KeyBundleResponse;
    const identity = PublicKey.deserialize(unb64(bundle.identityKey));
    const local = ProtocolAddress.new(this.ctx.self.aci, this.ctx.self.deviceId);
    await this.ctx.exclusive(async () => {
      for (const d of bundle.devices) {
        const pre = d.preKey ?? null;
        await processPreKeyBundle(
          PreKeyBundle.new(
            d.registrationId,
            d.deviceId,
            pre ? pre.keyId : null,
            pre ? PublicKey.deserialize(unb64(pre.publicKey)) : null,
            d.signedPreKey.keyId,
            PublicKey.deserialize(unb64(d.signedPreKey.publicKey)),
            unb64(d.signedPreKey.signature),
            identity,
            d.pqPreKey.keyId,
            KEMPublicKey.deserialize(unb64(d.pqPreKey.publicKey)),
            unb64(d.pqPreKey.signature),
          ),
          ProtocolAddress.new(destination, d.deviceId),
          local,
          this.ctx.store.session,
          this.ctx.store.identity,
        );
      }
    });
  }
}

/** Signal refused the access key (a stale profile key): the send goes unsealed instead. */
class SealedRefused extends Error {}

/** What Signal's refusals mean for the framework: rate limits wait, challenges and unknown recipients are told. */
export function sendError(res: ChatResponse, destination: string): Error {
  const retryAfter = res.headers.find(([k]) => k.toLowerCase() === "retry-after")?.[1];
  if (res.status === 413 || res.status === 429) {
    return new RateLimitedError(
      Math.max(1, Number(retryAfter ?? 60)) * 1000,
      "Signal is rate limiting this account",
    );
  }
  if (res.status === 428) {
    return new PermanentError(
      "Signal wants this account to prove it is human before it sends more: open Signal on your phone and send a message there, then try again",
    );
  }
  if (res.status === 404) return new PermanentError(`${destination} is not on Signal (any more)`);
  if (res.status === 401 || res.status === 403)
    return new Error(`Signal refused the send (${res.status}); will retry`);
  return new Error(`Signal answered ${res.status} to a send; will retry`);
}
