import { randomUUID } from "node:crypto";
import {
  ContentHint,
  ErrorCode,
  groupEncrypt,
  LibSignalErrorBase,
  ProtocolAddress,
  sealedSenderMultiRecipientEncrypt,
  SenderKeyDistributionMessage,
  UnidentifiedSenderMessageContent,
} from "@signalapp/libsignal-client";
import type { MultiRecipientMessageRequest } from "@signalapp/libsignal-client/dist/net/chat/UnauthMessagesService.js";
import { PermanentError, RateLimitedError, type LoginState } from "@switchboard/framework";
import type { SendEndorsements } from "./groups.js";
import { ContentCodec, pad, type Content } from "./proto.js";
import type { ProtocolStore } from "./protocol-store.js";
import type { Sender } from "./sender.js";

/**
 * Group sends the way Signal's apps make them: the message is encrypted once with this
 * device's sender key for the group and goes to every member's devices in one sealed-sender v2
 * request, authorized by the group's send endorsements (the server learns neither the sender
 * nor, beyond the recipients, the group). Members get the sender key itself (a
 * SenderKeyDistributionMessage) one to one, once per device.
 *
 * Which devices hold our key is recorded per group. When a member leaves or one of their
 * devices goes away, the key is replaced, so what follows is unreadable to them; a new or
 * re-registered device just gets the key. Keeping this record right is what mautrix-signal
 * #647 lacked ("group sends fail until the database is edited"): here a device-list correction
 * from the server updates it, and the send is tried again.
 */

export interface GroupSendContext {
  sender: Sender;
  store: ProtocolStore;
  state: LoginState;
  self: { aci: string; deviceId: number };
  /** The shared unauthenticated connection; null: every member is sent to one by one. */
  multiRecipient: ((request: MultiRecipientMessageRequest) => Promise<string[]>) | null;
  /** The group's endorsements (cached by the caller), or null when the service gave none. */
  endorsements(channelId: string, refresh: boolean): Promise<SendEndorsements | null>;
  /** A member's access key, for sending them the sender key sealed. */
  accessKey(aci: string): Promise<Uint8Array | null>;
  exclusive<T>(fn: () => Promise<T>): Promise<T>;
}

/** Who holds which sender key: the distribution id and, per member, the devices that have it. */
export interface Distribution {
  distributionId: string;
  created: number;
  devices: Record<string, number[]>;
}

export interface GroupSendResult {
  /** Members the one multi-recipient send reached. */
  sent: string[];
  /** Members to send to one by one (no endorsement for them, or the group path is unavailable). */
  fallback: string[];
  /** Members Signal says are no longer registered: nothing to deliver to them. */
  gone: string[];
}

/** A sender key is replaced at least this often, as Signal's apps do. */
const KEY_MAX_AGE_MS = 30 * 86_400_000;
const ATTEMPTS = 4;

/**
 * Whether a group's sender key must be replaced before the next send: someone who holds it
 * left the group, or a device that holds it is no longer among its owner's devices (`current`:
 * the devices of the members being sent to), or the key is older than Signal's apps keep one.
 */
export function keyMustChange(
  dist: Distribution,
  members: readonly string[],
  current: ReadonlyMap<string, readonly number[]>,
  now = Date.now(),
): boolean {
  if (now - dist.created >= KEY_MAX_AGE_MS) return true;
  return Object.entries(dist.devices).some(([aci, devices]) => {
    if (!members.includes(aci)) return true;
    const present = current.get(aci);
    return present !== undefined && devices.some((d) => !present.includes(d));
  });
}

export class GroupSender {
  constructor(private readonly ctx: GroupSendContext) {}

  private stateKey(channelId: string): string {
    return `gsend:${channelId}`;
  }

  private async load(channelId: string): Promise<Distribution | null> {
    const raw = await this.ctx.state.get(this.stateKey(channelId));
    return raw ? (JSON.parse(raw) as Distribution) : null;
  }

  private async save(channelId: string, dist: Distribution): Promise<void> {
    await this.ctx.state.set(this.stateKey(channelId), JSON.stringify(dist));
  }

  private get selfAddress(): ProtocolAddress {
    return ProtocolAddress.new(this.ctx.self.aci, this.ctx.self.deviceId);
  }

  /**
   * Sends `content` to `recipients` (members of the group, never this account) with one
   * sender-key message. `members` is the group's whole membership: a member no longer in it who
   * held our key makes us replace the key.
   */
  async send(
    group: { channelId: string; groupId: Uint8Array },
    members: readonly string[],
    recipients: readonly string[],
    content: Content,
    timestamp: number,
    options: { urgent?: boolean; onlineOnly?: boolean } = {},
  ): Promise<GroupSendResult> {
    const { urgent = true, onlineOnly = false } = options;
    const all = { sent: [], fallback: [...recipients], gone: [] };
    const send = this.ctx.multiRecipient;
    if (!send || recipients.length === 0) return all;
    let endorsements = await this.ctx.endorsements(group.channelId, false);
    if (!endorsements?.fresh()) endorsements = await this.ctx.endorsements(group.channelId, true);
    if (!endorsements) return all;
    const gone: string[] = [];
    let refreshed = false;

    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const targets = new Map<string, number[]>();
      for (const aci of recipients) {
        if (gone.includes(aci)) continue;
        try {
          targets.set(aci, await this.ctx.sender.devicesOf(aci));
        } catch (err) {
          if (!(err instanceof PermanentError)) throw err;
          gone.push(aci);
        }
      }
      const dist = await this.current(group.channelId, members, targets);
      const withKey = [...targets.keys()].filter((aci) => endorsements!.has(aci));
      const fallback = [...targets.keys()].filter((aci) => !withKey.includes(aci));
      await this.distribute(group.channelId, dist, withKey, targets);
      const token = withKey.length > 0 ? endorsements.tokenFor(withKey) : null;
      if (!token) return { sent: [], fallback, gone };

      const payload = await this.ctx.exclusive(async () => {
        const cert = await this.ctx.sender.senderCertificate();
        const message = await groupEncrypt(
          this.selfAddress,
          dist.distributionId,
          this.ctx.store.senderKeys,
          new Uint8Array(pad(ContentCodec.encode(content))),
        );
        const usmc = UnidentifiedSenderMessageContent.new(
          message,
          cert,
          ContentHint.Resendable,
          new Uint8Array(group.groupId),
        );
        const addresses = withKey.flatMap((aci) =>
          (dist.devices[aci] ?? []).map((d) => ProtocolAddress.new(aci, d)),
        );
        return sealedSenderMultiRecipientEncrypt(
          usmc,
          addresses,
          this.ctx.store.identity,
          this.ctx.store.session,
        );
      });
      try {
        const unregistered = await send({ payload, timestamp, auth: token, onlineOnly, urgent });
        return {
          sent: withKey.filter((aci) => !unregistered.includes(aci)),
          fallback,
          gone: [...gone, ...withKey.filter((aci) => unregistered.includes(aci))],
        };
      } catch (err) {
        if (LibSignalErrorBase.is(err, ErrorCode.MismatchedDevices)) {
          for (const entry of err.entries) {
            const aci = entry.account.getServiceIdString();
            await this.ctx.sender.correctDevices(aci, entry);
            // A stale device re-registered: it has lost our key and needs it again.
            if (entry.staleDevices.length > 0) {
              dist.devices[aci] = (dist.devices[aci] ?? []).filter((d) => !entry.staleDevices.includes(d));
              await this.save(group.channelId, dist);
            }
          }
          continue;
        }
        if (LibSignalErrorBase.is(err, ErrorCode.RequestUnauthorized) && !refreshed) {
          // Endorsements from before a membership change: fetch the group's current ones once.
          refreshed = true;
          endorsements = await this.ctx.endorsements(group.channelId, true);
          if (!endorsements) return { sent: [], fallback: [...targets.keys()], gone };
          continue;
        }
        if (LibSignalErrorBase.is(err, ErrorCode.RequestUnauthorized)) {
          return { sent: [], fallback: [...targets.keys()], gone };
        }
        if (LibSignalErrorBase.is(err, ErrorCode.RateLimitedError)) {
          throw new RateLimitedError(
            Math.max(1, err.retryAfterSecs) * 1000,
            "Signal is rate limiting this account",
          );
        }
        if (LibSignalErrorBase.is(err, ErrorCode.RateLimitChallengeError)) {
          throw new PermanentError(
            "Signal wants this account to prove it is human before it sends more: open Signal on your phone and send a message there, then try again",
          );
        }
        throw err;
      }
    }
    throw new Error("Signal kept correcting the group's device lists; will retry");
  }

  /**
   * The group's distribution, replaced by a fresh sender key when someone who held the current
   * one lost access (left the group, or a device of theirs is gone) or the key is old.
   */
  private async current(
    channelId: string,
    members: readonly string[],
    targets: ReadonlyMap<string, number[]>,
  ): Promise<Distribution> {
    const known = await this.load(channelId);
    if (known && !keyMustChange(known, members, targets)) return known;
    if (known) await this.ctx.store.resetSenderKey(this.selfAddress, known.distributionId);
    const fresh: Distribution = { distributionId: randomUUID(), created: Date.now(), devices: {} };
    await this.save(channelId, fresh);
    return fresh;
  }

  /** Sends our sender key to every device of these members that lacks it, one to one. */
  private async distribute(
    channelId: string,
    dist: Distribution,
    acis: readonly string[],
    targets: ReadonlyMap<string, number[]>,
  ): Promise<void> {
    const lacking = acis.filter((aci) => {
      const have = dist.devices[aci] ?? [];
      return (targets.get(aci) ?? []).some((d) => !have.includes(d)) || have.length === 0;
    });
    if (lacking.length === 0) return;
    const skdm = await this.ctx.exclusive(() =>
      SenderKeyDistributionMessage.create(this.selfAddress, dist.distributionId, this.ctx.store.senderKeys),
    );
    for (const aci of lacking) {
      const accessKey = await this.ctx.accessKey(aci);
      await this.ctx.sender.send(aci, { senderKeyDistributionMessage: skdm.serialize() }, Date.now(), {
        urgent: false,
        ...(accessKey ? { accessKey } : {}),
      });
      // The send itself may have corrected the device list: what it reached is what has the key.
      dist.devices[aci] = await this.ctx.store.sessionDevices(aci);
      await this.save(channelId, dist);
    }
  }

  /**
   * A member's device could not open something we sent (a retry request came): it may have
   * lost our sender key, so every group's record forgets that device and the next send gives
   * it the key again.
   */
  async forgetDevice(aci: string, deviceId: number): Promise<void> {
    for (const { key, value } of await this.ctx.state.list("gsend:")) {
      const dist = JSON.parse(value) as Distribution;
      const devices = dist.devices[aci];
      if (!devices?.includes(deviceId)) continue;
      dist.devices[aci] = devices.filter((d) => d !== deviceId);
      await this.ctx.state.set(key, JSON.stringify(dist));
    }
  }
}
