import {
  DecryptionErrorMessage,
  PlaintextContent,
  ProtocolAddress,
  PublicKey,
  type Net,
} from "@signalapp/libsignal-client";
import {
  BridgeStoppingError,
  PermanentError,
  UnsupportedError,
  type BridgeContext,
  type ChatCapabilities,
  type ChatInfo,
  type ChatRef,
  type DeletesMessages,
  type EditsMessages,
  type LoginClient,
  type LoginState,
  type MarksRead,
  type MatrixMessage,
  type MatrixSender,
  type MessageRef,
  type Reacts,
  type SendResult,
  type SendsTyping,
  type ListsMembers,
  type ChangesChatInfo,
  type RemoteUser,
  type BridgeContent,
} from "@switchboard/framework";
import { ChatConnection } from "./chat-connection.js";
import type { SignalConfig } from "./config.js";
import { groupChannel, isAci, isGroupChannel, messageId, parseMessageId, serviceIdOf } from "./ids.js";
import { toRemoteEvents, type Emission, type InboundContext } from "./inbound.js";
import { KeyManager } from "./key-manager.js";
import {
  ReceiptType,
  TypingAction,
  type AttachmentPointer,
  type Content,
  type DataMessage,
} from "./proto.js";
import { downloadAttachment, uploadAttachment } from "./attachments.js";
import type { ProtocolStore } from "./protocol-store.js";
import { decodeEnvelope, openEnvelope, type Failed, type Opened, type ReceiverContext } from "./receiver.js";
import { Sender } from "./sender.js";
import { ADMIN_LEVEL, GroupTracker } from "./group-tracker.js";
import { Expiries } from "./expiry.js";
import { GroupsClient, type SendEndorsements } from "./groups.js";
import { GroupSender, type GroupSendContext } from "./group-send.js";
import { Profiles } from "./profiles.js";
import type { ChatFetch, HttpFetch, ServiceUrls } from "./transport.js";
import { matrixToSignal } from "./format.js";
import { DataFlags, Style, SyncRequestType, parseContacts } from "./proto.js";

/** What a stored login keeps in its (sealed) credentials. */
export interface SignalCredentials {
  aci: string;
  pni: string;
  number: string;
  deviceId: number;
  password: string;
  profileKey?: string;
}

export const DM_CAPABILITIES: ChatCapabilities = {
  edits: true,
  replies: true,
  threads: false,
  reactions: true,
  redactions: true,
  typing: true,
  readReceipts: true,
  media: true,
};

const STYLE_NUMBERS = {
  BOLD: Style.BOLD,
  ITALIC: Style.ITALIC,
  SPOILER: Style.SPOILER,
  STRIKETHROUGH: Style.STRIKETHROUGH,
  MONOSPACE: Style.MONOSPACE,
} as const;

/**
 * A Matrix user's linked Signal device: one authenticated connection, the protocol store in
 * the login's sealed state, and the network client the framework sends through. Envelopes are
 * handled one at a time in arrival order, each acknowledged to Signal only once its events are
 * durable in the framework's journal.
 */
export class SignalLogin
  implements
    LoginClient,
    EditsMessages,
    DeletesMessages,
    Reacts,
    MarksRead,
    SendsTyping,
    ListsMembers,
    ChangesChatInfo
{
  readonly loginId: string;
  private readonly connection: ChatConnection;
  private readonly sender: Sender;
  private readonly keys: KeyManager;
  private lock: Promise<unknown> = Promise.resolve();
  private incoming: Promise<void> = Promise.resolve();
  private maintenance: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly trustRoots: PublicKey[];
  /** Chat of each of our recent sends by timestamp: receipts name only timestamps. */
  private readonly sentChats = new Map<number, ChatRef>();
  /** Chat of each recent received message by id: the phone's read syncs name only the message. */
  private readonly receivedChats = new Map<string, ChatRef>();
  private readonly groups: GroupTracker;
  readonly profiles: Profiles;
  private readonly expiries: Expiries;
  private readonly groupsClient: GroupsClient | null;
  private readonly groupSender: GroupSender;
  /** Each group's send endorsements and the revision they were fetched at (a day's worth; memory only). */
  private readonly endorsements = new Map<string, { revision: number; value: SendEndorsements | null }>();

  constructor(
    private readonly ctx: BridgeContext,
    private readonly config: SignalConfig,
    net: Net.Net,
    private readonly rest: {
      url: string;
      http: HttpFetch;
      urls: ServiceUrls;
      unauth: ChatFetch;
      multiRecipient: GroupSendContext["multiRecipient"];
    },
    readonly matrixUserId: string,
    readonly remoteName: string,
    readonly creds: SignalCredentials,
    private readonly state: LoginState,
    private readonly stores: { aci: ProtocolStore; pni: ProtocolStore },
    private readonly onLoggedOut: (login: SignalLogin, reason: string) => void,
  ) {
    this.loginId = creds.aci;
    this.trustRoots = config.service.trust_roots.map((r) =>
      PublicKey.deserialize(new Uint8Array(Buffer.from(r, "base64"))),
    );
    this.connection = new ChatConnection(
      net,
      `${creds.aci}.${creds.deviceId}`,
      creds.password,
      {
        envelope: (bytes, ack) => {
          this.incoming = this.incoming.then(() => this.receive(bytes, ack));
        },
        queueEmpty: () => undefined,
        state: (state, message) => {
          if (state === "TRANSIENT_DISCONNECT")
            this.ctx.log.info(
              { login: this.loginId, cause: message },
              "Signal connection lost; reconnecting",
            );
          this.ctx.reportState({ loginId: this.loginId, state, ...(message ? { message } : {}) });
        },
        loggedOut: (reason) => {
          this.ctx.reportState({ loginId: this.loginId, state: "LOGGED_OUT", message: reason });
          this.onLoggedOut(this, reason);
        },
      },
      () => this.stillLinked(),
    );
    this.sender = new Sender({
      chat: this.connection.fetch,
      unauth: rest.unauth,
      store: stores.aci,
      self: { aci: creds.aci, deviceId: creds.deviceId },
      exclusive: (fn) => this.exclusive(fn),
    });
    const zk = config.service.zkgroup_public_params;
    const groupsClient = zk
      ? new GroupsClient({
          chat: this.connection.fetch,
          http: rest.http,
          urls: rest.urls,
          serverPublicParams: new Uint8Array(Buffer.from(zk, "base64")),
          aci: creds.aci,
          pni: creds.pni,
        })
      : null;
    this.groupsClient = groupsClient;
    this.groups = new GroupTracker(
      state,
      groupsClient,
      this.loginId,
      creds.aci,
      (err, channelId) =>
        this.ctx.log.warn(
          { err, login: this.loginId, channelId },
          "Signal's group service could not be read; will try again",
        ),
      (masterKey, path) => ({
        key: `signal-group-avatar:${path}`,
        ref: {
          url: `${(rest.urls.cdn[0] ?? "").replace(/\/+$/, "")}/${path}`,
          meta: { groupMasterKey: masterKey },
        },
      }),
    );
    this.profiles = new Profiles(state, this.connection.fetch, rest.urls.cdn[0] ?? "");
    this.groupSender = new GroupSender({
      sender: this.sender,
      store: stores.aci,
      state,
      self: { aci: creds.aci, deviceId: creds.deviceId },
      multiRecipient: groupsClient ? rest.multiRecipient : null,
      endorsements: (channelId, refresh) => this.endorsementsOf(channelId, refresh),
      accessKey: async (aci) => (await this.profiles.accessKey(aci)) ?? null,
      exclusive: (fn) => this.exclusive(fn),
    });
    this.expiries = new Expiries(
      state,
      (item) =>
        this.ctx.emit({ type: "delete", chat: item.chat, id: item.id }, { key: `expired:${item.id}` }),
      (err) =>
        this.ctx.log.warn({ err, login: this.loginId }, "a disappearing message could not be redacted yet"),
    );
    this.keys = new KeyManager(state, [stores.aci, stores.pni], this.connection.fetch, {
      refillBelow: config.prekeys.refill_below,
      batch: config.prekeys.batch,
      rotateDays: config.prekeys.rotate_days,
    });
  }

  /** Whether Signal still takes our credentials: 401/403 says no; anything else cannot tell. */
  private async stillLinked(): Promise<boolean | null> {
    const auth = Buffer.from(`${this.creds.aci}.${this.creds.deviceId}:${this.creds.password}`).toString(
      "base64",
    );
    const res = await this.rest.http({
      method: "GET",
      url: `${this.rest.url}/v1/devices`,
      headers: { authorization: `Basic ${auth}` },
    });
    if (res.status === 401 || res.status === 403) return false;
    return res.status < 500 ? true : null;
  }

  async start(): Promise<void> {
    await this.connection.connect();
    await this.exclusive(() => this.keys.maintain());
    void this.expiries.run();
    this.maintenance = setInterval(() => void this.maintainKeys(), 6 * 3600_000);
    this.maintenance.unref();
    void this.requestSync();
  }

  /**
   * A newly linked device asks the phone for what it cannot read from the server: contacts
   * (names for people who have not shared a profile key), blocked people, settings. Once per
   * link; the phone answers with sync messages.
   */
  private async requestSync(): Promise<void> {
    if (await this.state.get("sync-requested")) return;
    try {
      for (const type of [SyncRequestType.CONTACTS, SyncRequestType.BLOCKED, SyncRequestType.CONFIGURATION]) {
        const timestamp = Date.now();
        await this.sender.send(this.creds.aci, { syncMessage: { request: { type } } }, timestamp, {
          urgent: false,
        });
      }
      await this.state.set("sync-requested", String(Date.now()));
    } catch (err) {
      if (this.stopped) return;
      this.ctx.log.warn(
        { err, login: this.loginId },
        "could not ask the phone for its contacts; will ask at the next start",
      );
    }
  }

  /** The phone's contacts blob: names for contacts without a profile key. */
  private async contactsSynced(blob: AttachmentPointer): Promise<void> {
    if (!blob.key || !(blob.cdnKey || blob.cdnId !== undefined)) return;
    try {
      const data = await downloadAttachment(this.rest.http, this.rest.urls, {
        cdnNumber: blob.cdnNumber ?? 0,
        ...(blob.cdnKey ? { cdnKey: blob.cdnKey } : { cdnId: String(blob.cdnId) }),
        key: Buffer.from(blob.key),
        ...(blob.digest ? { digest: Buffer.from(blob.digest) } : {}),
        ...(blob.size !== undefined ? { size: blob.size } : {}),
      });
      let named = 0;
      for (const contact of parseContacts(data)) {
        const aci = serviceIdOf(contact.aciBinary, contact.aci);
        if (!aci || !isAci(aci) || !contact.name) continue;
        await this.profiles.rememberContactName(aci, contact.name);
        named++;
      }
      this.ctx.log.info({ login: this.loginId, contacts: named }, "Signal contacts synced from the phone");
    } catch (err) {
      this.ctx.log.warn({ err, login: this.loginId }, "the phone's contacts could not be read");
    }
  }

  private async maintainKeys(): Promise<void> {
    try {
      await this.exclusive(() => this.keys.maintain());
    } catch (err) {
      // A login being disconnected cuts its maintenance short: nothing to report.
      if (this.stopped) return;
      this.ctx.log.warn({ err, login: this.loginId }, "Signal prekey maintenance failed; will retry");
    }
  }

  /** Protocol-store work one at a time: a send and a receive must not ratchet the same session at once. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  async disconnect(): Promise<void> {
    this.stopped = true;
    if (this.maintenance) clearInterval(this.maintenance);
    this.expiries.stop();
    await this.connection.close();
    await this.incoming.catch(() => undefined);
  }

  async logout(): Promise<void> {
    // Removing our own device is what "unlink" on the phone does; Signal allows a device to do it itself.
    await this.connection
      .fetch({ verb: "DELETE", path: `/v1/devices/${this.creds.deviceId}` })
      .catch(() => undefined);
  }

  // ---- receiving ----

  private inbound(): InboundContext {
    return {
      loginId: this.loginId,
      selfAci: this.creds.aci,
      groupChat: (masterKey) => GroupTracker.chatOf(masterKey),
      mentionHtml: (aci, name) => this.ctx.mentionHtml(aci, name),
      nameOf: (aci) => this.profiles.cachedName(aci) ?? aci,
      chatOfMessage: (id) => this.receivedChats.get(id) ?? null,
    };
  }

  private async receive(bytes: Uint8Array, ack: () => void): Promise<void> {
    if (this.stopped) return;
    const rctx: ReceiverContext = {
      self: { aci: this.creds.aci, pni: this.creds.pni, deviceId: this.creds.deviceId },
      stores: this.stores,
      trustRoots: this.trustRoots,
    };
    try {
      let envelope;
      try {
        envelope = decodeEnvelope(bytes);
      } catch (err) {
        this.ctx.log.warn(
          { err, login: this.loginId },
          "Signal sent an envelope that does not parse; dropped",
        );
        ack();
        return;
      }
      const keysUsedBefore = this.stores.aci.oneTimeKeysUsed + this.stores.pni.oneTimeKeysUsed;
      await this.exclusive(async () => {
        const store = this.stores.aci;
        this.stores.aci.hold();
        this.stores.pni.hold();
        let keep = false;
        try {
          const result = await openEnvelope(rctx, envelope);
          if (result.kind === "opened") {
            for (const { event, options } of await this.eventsOf(result)) await this.ctx.emit(event, options);
            keep = true;
          } else if (result.kind === "failed") {
            keep = true;
            await this.failedToOpen(result);
          } else if (result.kind === "ignored") {
            keep = true;
          }
        } finally {
          await this.stores.aci.release(keep);
          await this.stores.pni.release(keep);
          void store;
        }
      });
      ack();
      // A contact used one of our one-time keys (inside sealed sender too): top them up if low.
      if (this.stores.aci.oneTimeKeysUsed + this.stores.pni.oneTimeKeysUsed > keysUsedBefore)
        void this.maintainKeys();
    } catch (err) {
      // Not acknowledged: Signal delivers it again on the next connection.
      if (!(err instanceof BridgeStoppingError)) {
        this.ctx.log.error(
          { err, login: this.loginId },
          "a Signal envelope could not be handled; Signal will deliver it again",
        );
      }
    }
  }

  /**
   * An opened envelope's events: first what its group's newer revision changed (read from the
   * group service), then the envelope's own, each sender named from their Signal profile.
   */
  private async eventsOf(opened: Opened): Promise<Emission[]> {
    const content = opened.content;
    if (content.decryptionErrorMessage && opened.sender !== this.creds.aci) {
      await this.retryRequested(opened.sender, opened.senderDevice, content.decryptionErrorMessage);
    }
    const contacts = content.syncMessage?.contacts?.blob;
    if (contacts && opened.sender === this.creds.aci) await this.contactsSynced(contacts);
    const dm = content.dataMessage ?? content.syncMessage?.sent?.message ?? content.editMessage?.dataMessage;
    if (dm?.profileKey && opened.sender !== this.creds.aci)
      await this.profiles.rememberKey(opened.sender, dm.profileKey);
    const out: Emission[] = [];
    const after: Emission[] = [];
    const gv2 = dm?.groupV2;
    if (gv2?.masterKey?.length === 32) {
      const observed = await this.groups.observe(gv2.masterKey, gv2.revision ?? 0);
      out.push(...observed.before);
      after.push(...observed.after);
      const known = await this.groups.known(GroupTracker.chatOf(gv2.masterKey).channelId);
      for (const [aci, key] of Object.entries(known?.profileKeys ?? {})) {
        if (aci !== this.creds.aci) await this.profiles.rememberKey(aci, Buffer.from(key, "base64"));
      }
    }
    out.push(...toRemoteEvents(this.inbound(), opened, (ts) => this.sentChats.get(ts) ?? null), ...after);
    if (dm) await this.disappearing(dm, out);
    for (const { event } of out) {
      if (event.type === "message" && event.id && !event.sender.fromLogin) {
        this.receivedChats.set(event.id, event.chat);
        if (this.receivedChats.size > 5000)
          this.receivedChats.delete(this.receivedChats.keys().next().value!);
      }
      if ("sender" in event && event.sender && !event.sender.fromLogin) {
        const name = await this.profiles.displayName(event.sender.userId);
        if (name) event.sender.displayname = name;
        const avatar = await this.profiles.avatar(event.sender.userId);
        if (avatar) event.sender.avatar = avatar;
      }
      if (event.type === "member") {
        const name = await this.profiles.displayName(event.user.id);
        if (name) event.user.displayname = name;
        const avatar = await this.profiles.avatar(event.user.id);
        if (avatar) event.user.avatar = avatar;
      }
    }
    return out;
  }

  /**
   * A chat's disappearing-message timer, as its messages carry it: remembered (outgoing
   * messages carry it too) and, with `redact_expired`, each bridged copy is redacted when the
   * timer runs out.
   */
  private async disappearing(dm: DataMessage, events: Emission[]): Promise<void> {
    const seconds = dm.expireTimer ?? 0;
    const explicit = ((dm.flags ?? 0) & DataFlags.EXPIRATION_TIMER_UPDATE) !== 0;
    for (const { event } of events) {
      if (event.type !== "message") continue;
      if (explicit || seconds > 0) await this.expiries.setTimer(event.chat.channelId, seconds);
      if (seconds > 0 && !explicit && this.config.redact_expired) {
        await this.expiries.schedule((event.timestamp ?? Date.now()) + seconds * 1000, {
          chat: event.chat,
          id: event.id ?? "",
        });
      }
    }
  }

  /**
   * A member's device could not open something we sent and asks for it again. No copy of what
   * was sent is kept (Signal's apps keep a day's send log; a bridge's messages live in Matrix),
   * so the device gets a fresh start instead: a new session if the failure was one to one (the
   * request names the ratchet key), and our sender keys again in every group, so the next
   * message opens.
   */
  private async retryRequested(aci: string, device: number, bytes: Uint8Array): Promise<void> {
    let dem: DecryptionErrorMessage;
    try {
      dem = DecryptionErrorMessage.deserialize(new Uint8Array(bytes));
    } catch (err) {
      this.ctx.log.warn({ err, login: this.loginId, sender: aci }, "an unreadable Signal retry request");
      return;
    }
    if (dem.deviceId() !== this.creds.deviceId) return;
    this.ctx.log.info(
      { login: this.loginId, sender: aci, device, timestamp: dem.timestamp() },
      "a Signal contact could not decrypt a message from this device; the next one starts afresh",
    );
    if (dem.ratchetKey()) await this.stores.aci.archiveSession(ProtocolAddress.new(aci, device));
    await this.groupSender.forgetDevice(aci, device);
  }

  /**
   * A message that cannot be opened is never silent: the chat is told, the sender's device is
   * asked to send it again (a DecryptionErrorMessage), and our session with that device is
   * archived so the retry starts a fresh one (mautrix-signal #552, #562).
   */
  private async failedToOpen(failed: Failed): Promise<void> {
    this.ctx.log.warn(
      { login: this.loginId, sender: failed.sender, device: failed.senderDevice, reason: failed.reason },
      "a Signal message could not be decrypted",
    );
    if (!failed.sender || failed.senderDevice === undefined) return;
    const chat: ChatRef = failed.groupId?.length
      ? { channelId: groupChannel(failed.groupId) }
      : { channelId: failed.sender, receiver: this.loginId };
    await this.ctx
      .noticeInChat(
        chat,
        "A Signal message could not be decrypted. The sender's phone was asked to send it again.",
      )
      .catch(() => undefined);
    const addr = ProtocolAddress.new(failed.sender, failed.senderDevice);
    await this.stores.aci.archiveSession(addr);
    if (!failed.original) return;
    try {
      const dem = DecryptionErrorMessage.forOriginal(
        failed.original.bytes,
        failed.original.type,
        failed.timestamp,
        failed.senderDevice,
      );
      // Sent outside the protocol lock's current holder: the retry request needs no session.
      const sender = failed.sender;
      const device = failed.senderDevice;
      setImmediate(() => {
        this.sender
          .sendPlaintext(sender, device, PlaintextContent.from(dem), Date.now())
          .catch((err: unknown) =>
            this.ctx.log.warn({ err, login: this.loginId }, "the Signal retry request was not sent"),
          );
      });
    } catch (err) {
      this.ctx.log.warn(
        { err, login: this.loginId },
        "no retry request could be made for an undecryptable message",
      );
    }
  }

  // ---- the framework's client ----

  capabilities(chat: ChatRef): ChatCapabilities {
    return chat.channelId in this.readOnly
      ? { ...DM_CAPABILITIES, readOnly: this.readOnly[chat.channelId] }
      : DM_CAPABILITIES;
  }

  /** Announcement-only groups where this account is no admin, with why (asked per event: kept in memory). */
  private readonly readOnly: Record<string, string> = {};

  async inChat(chat: ChatRef): Promise<boolean> {
    if (chat.receiver) return chat.receiver === this.loginId;
    if (!isGroupChannel(chat.channelId)) return false;
    const known = await this.groups.known(chat.channelId);
    if (!known) return false;
    this.noteAnnouncements(chat.channelId, known);
    return known.members.length === 0 || known.members.includes(this.creds.aci);
  }

  private noteAnnouncements(
    channelId: string,
    known: { announcementsOnly: boolean; admins: string[] },
  ): void {
    if (known.announcementsOnly && !known.admins.includes(this.creds.aci)) {
      this.readOnly[channelId] = "only the group's admins can send messages in this Signal group";
    } else delete this.readOnly[channelId];
  }

  async getChat(chat: ChatRef): Promise<ChatInfo | null> {
    if (isGroupChannel(chat.channelId)) {
      const known = await this.groups.known(chat.channelId);
      if (!known) return null;
      this.noteAnnouncements(chat.channelId, known);
      return {
        name: known.title,
        ...(known.description ? { topic: known.description } : {}),
        isPrivate: true,
      };
    }
    if (chat.receiver !== this.loginId) return null;
    const name = (await this.profiles.displayName(chat.channelId)) ?? chat.channelId;
    return { name, isDirect: true, isPrivate: true, otherUser: { id: chat.channelId, displayname: name } };
  }

  async getMembers(chat: ChatRef): Promise<RemoteUser[]> {
    if (!isGroupChannel(chat.channelId)) return [{ id: chat.channelId }];
    const known = await this.groups.known(chat.channelId);
    const out: RemoteUser[] = [];
    for (const aci of known?.members ?? []) {
      if (aci === this.creds.aci) continue;
      const name = await this.profiles.displayName(aci);
      const level = known?.admins.includes(aci) ? ADMIN_LEVEL : 0;
      out.push({ id: aci, ...(name ? { displayname: name } : {}), ...(level ? { level } : {}) });
    }
    return out;
  }

  /** A group's send endorsements, fetched again when the group changed since or when asked. */
  private async endorsementsOf(channelId: string, refresh: boolean): Promise<SendEndorsements | null> {
    const known = await this.groups.known(channelId);
    if (!known || !this.groupsClient) return null;
    const cached = this.endorsements.get(channelId);
    if (cached && !refresh && cached.revision === known.revision) return cached.value;
    const value = await this.groupsClient
      .sendEndorsements(Buffer.from(known.masterKey, "base64"))
      .catch((err: unknown) => {
        this.ctx.log.warn(
          { err, login: this.loginId, channelId },
          "no group send endorsements; sending to each member one by one",
        );
        return null;
      });
    this.endorsements.set(channelId, { revision: known.revision, value });
    return value;
  }

  private async masterKeyOf(chat: ChatRef): Promise<Uint8Array | null> {
    const known = await this.groups.known(chat.channelId);
    return known ? new Uint8Array(Buffer.from(known.masterKey, "base64")) : null;
  }

  private async revisionOf(chat: ChatRef): Promise<number> {
    return (await this.groups.known(chat.channelId))?.revision ?? 0;
  }

  /**
   * The framework retries a failed call with the same event id. Signal names a message by its
   * sender and timestamp, so a retry reuses the first attempt's timestamp and skips recipients
   * that already have it: a contact never sees a Matrix message twice. The record goes once
   * every recipient and our own devices have it.
   */
  private async outgoing(eventId: string): Promise<{ timestamp: number; done: string[] }> {
    const known = await this.state.get(`out:${eventId}`);
    if (known) return JSON.parse(known) as { timestamp: number; done: string[] };
    const fresh = { timestamp: Date.now(), done: [] as string[] };
    await this.state.set(`out:${eventId}`, JSON.stringify(fresh));
    return fresh;
  }

  private async deliver(
    eventId: string,
    chat: ChatRef,
    build: (timestamp: number) => { content: Content; sync?: Parameters<SignalLogin["syncSent"]>[1] },
  ): Promise<number> {
    const out = await this.outgoing(eventId);
    const { content, sync } = build(out.timestamp);
    const members = await this.recipientsOf(chat);
    if (isGroupChannel(chat.channelId)) {
      // One sender-key message for the group; whoever it cannot reach is sent to one by one below.
      const pending = members.filter((m) => !out.done.includes(m));
      const result = await this.groupSender.send(
        { channelId: chat.channelId, groupId: Buffer.from(chat.channelId.slice(2), "base64url") },
        members,
        pending,
        content,
        out.timestamp,
      );
      if (result.sent.length + result.gone.length > 0) {
        out.done.push(...result.sent, ...result.gone);
        await this.state.set(`out:${eventId}`, JSON.stringify(out));
      }
    }
    const recipients = [...members, ...(sync ? [this.creds.aci] : [])];
    for (const to of recipients) {
      if (out.done.includes(to)) continue;
      if (to === this.creds.aci && sync) await this.syncSent(chat, sync, out.timestamp);
      else {
        const accessKey = await this.profiles.accessKey(to);
        await this.sender.send(to, content, out.timestamp, accessKey ? { accessKey } : {});
      }
      out.done.push(to);
      await this.state.set(`out:${eventId}`, JSON.stringify(out));
    }
    await this.state.delete(`out:${eventId}`);
    return out.timestamp;
  }

  /** A data message for a chat (its group context, our profile key), sent with a transcript to our own devices. */
  private async sendData(
    eventId: string,
    chat: ChatRef,
    make: (timestamp: number) => DataMessage,
  ): Promise<number> {
    const masterKey = isGroupChannel(chat.channelId) ? await this.masterKeyOf(chat) : null;
    const revision = await this.revisionOf(chat);
    const timer = await this.expiries.timerOf(chat.channelId);
    if (isGroupChannel(chat.channelId) && !masterKey) {
      throw new PermanentError("this Signal group is not known to your linked device yet");
    }
    return this.deliver(eventId, chat, (timestamp) => {
      const dm = make(timestamp);
      if (masterKey) dm.groupV2 = { masterKey, revision };
      if (this.creds.profileKey) dm.profileKey = Buffer.from(this.creds.profileKey, "base64");
      if (timer > 0 && (dm.body !== undefined || dm.attachments)) dm.expireTimer = timer;
      return { content: { dataMessage: dm }, sync: { message: dm } };
    });
  }

  private async syncSent(
    chat: ChatRef,
    sent: { message?: DataMessage; editMessage?: Content["editMessage"] },
    timestamp: number,
  ): Promise<void> {
    await this.sender.send(
      this.creds.aci,
      {
        syncMessage: {
          sent: {
            ...(chat.receiver ? { destinationServiceId: chat.channelId } : {}),
            timestamp,
            ...sent,
          },
        },
      },
      timestamp,
    );
  }

  /** Who gets a message in this chat: the contact, or every other member of the group (one 1:1 send each). */
  private async recipientsOf(chat: ChatRef): Promise<string[]> {
    if (!isGroupChannel(chat.channelId)) return [chat.channelId];
    const known = await this.groups.known(chat.channelId);
    if (!known || known.members.length === 0) {
      throw new PermanentError(
        "this Signal group's members are not known (is bridges.signal.service.zkgroup_public_params set?)",
      );
    }
    return known.members.filter((m) => m !== this.creds.aci);
  }

  private toSignalText(content: BridgeContent): { body: string; bodyRanges: DataMessage["bodyRanges"] } {
    const { body, ranges } = matrixToSignal(content.html, content.text, (mxid) => this.ghostAci(mxid));
    return {
      body,
      bodyRanges: ranges.map((r) => ({
        start: r.start,
        length: r.length,
        ...(r.style ? { style: STYLE_NUMBERS[r.style] } : {}),
        ...(r.mentionAci ? { mentionAci: r.mentionAci } : {}),
      })),
    };
  }

  /** The ACI behind a pill to one of our ghosts (`@signal_<aci>:hs`), or null. */
  private ghostAci(matrixUserId: string): string | null {
    const localpart = /^@([^:]+):/.exec(matrixUserId)?.[1];
    const prefix = this.config.user_prefix ?? "signal_";
    if (!localpart?.startsWith(prefix)) return null;
    const id = localpart.slice(prefix.length);
    return isAci(id) ? id : null;
  }

  async sendMessage(msg: MatrixMessage): Promise<SendResult> {
    const text = this.toSignalText(msg.content);
    // Signal has no relay bot: a relayed message says who wrote it.
    const prefix = msg.sender.relayed ? `${msg.sender.displayname}: ` : "";
    const attachment = msg.content.media ? await this.upload(msg.content) : null;
    const target = msg.replyTo ? parseMessageId(msg.replyTo.remoteId) : null;
    // A file's caption is its text; a bare file's text is only its name, which the pointer carries.
    const caption = !attachment || (msg.content.text && msg.content.text !== msg.content.media?.name);
    const timestamp = await this.sendData(msg.eventId, msg.chat, (ts) => ({
      timestamp: ts,
      ...(caption || prefix
        ? {
            body: prefix + (caption ? text.body : ""),
            bodyRanges: caption
              ? (text.bodyRanges ?? []).map((r) => ({ ...r, start: (r.start ?? 0) + prefix.length }))
              : [],
          }
        : {}),
      ...(attachment ? { attachments: [attachment] } : {}),
      ...(target && msg.replyTo
        ? { quote: { id: target.timestamp, authorAci: target.author, text: msg.replyTo.text.slice(0, 200) } }
        : {}),
    }));
    this.rememberSent(timestamp, msg.chat);
    const timer = await this.expiries.timerOf(msg.chat.channelId);
    if (timer > 0 && this.config.redact_expired) {
      await this.expiries.schedule(timestamp + timer * 1000, {
        chat: msg.chat,
        id: messageId(this.creds.aci, timestamp),
      });
    }
    return { remoteId: messageId(this.creds.aci, timestamp), timestamp };
  }

  /** Encrypts and uploads a Matrix file to Signal's CDN; the pointer is what the message carries. */
  private async upload(content: BridgeContent): Promise<AttachmentPointer> {
    const media = content.media;
    if (!media?.download) throw new UnsupportedError("this file cannot be fetched from Matrix");
    const data = await media.download();
    if (data.length > 100 * 1024 * 1024) throw new PermanentError("the file is larger than Signal's 100 MB");
    const up = await uploadAttachment((n) => this.connection.uploadForm(n), this.rest.http, data);
    return {
      cdnKey: up.cdnKey,
      cdnNumber: up.cdnNumber,
      contentType: media.mimetype,
      key: up.key,
      size: up.size,
      digest: up.digest,
      fileName: media.name,
      uploadTimestamp: Date.now(),
    };
  }

  private rememberSent(timestamp: number, chat: ChatRef): void {
    this.sentChats.set(timestamp, chat);
    if (this.sentChats.size > 2000) this.sentChats.delete(this.sentChats.keys().next().value as number);
  }

  async editMessage(edit: {
    chat: ChatRef;
    target: MessageRef;
    sender: MatrixSender;
    content: BridgeContent;
    eventId: string;
  }): Promise<void> {
    const target = parseMessageId(edit.target.remoteId);
    if (!target || target.author !== this.creds.aci)
      throw new UnsupportedError("only your own Signal messages can be edited");
    const text = this.toSignalText(edit.content);
    const masterKey = isGroupChannel(edit.chat.channelId) ? await this.masterKeyOf(edit.chat) : null;
    const revision = await this.revisionOf(edit.chat);
    await this.deliver(edit.eventId, edit.chat, (timestamp) => {
      const dm: DataMessage = { timestamp, body: text.body, bodyRanges: text.bodyRanges };
      if (masterKey) dm.groupV2 = { masterKey, revision };
      const editMessage = { targetSentTimestamp: target.timestamp, dataMessage: dm };
      return { content: { editMessage }, sync: { editMessage } };
    });
  }

  async deleteMessage(r: {
    chat: ChatRef;
    target: MessageRef;
    sender: MatrixSender;
    eventId: string;
  }): Promise<void> {
    const target = parseMessageId(r.target.remoteId);
    if (!target || target.author !== this.creds.aci)
      throw new UnsupportedError("only your own Signal messages can be deleted for everyone");
    await this.sendData(r.eventId, r.chat, (timestamp) => ({
      timestamp,
      delete: { targetSentTimestamp: target.timestamp },
    }));
  }

  async react(r: {
    chat: ChatRef;
    target: MessageRef;
    key: string;
    sender: MatrixSender;
    eventId: string;
  }): Promise<SendResult> {
    const target = parseMessageId(r.target.remoteId);
    if (!target) throw new UnsupportedError("that message cannot be reacted to on Signal");
    const timestamp = await this.sendData(r.eventId, r.chat, (ts) => ({
      timestamp: ts,
      reaction: {
        emoji: r.key,
        remove: false,
        targetAuthorAci: target.author,
        targetSentTimestamp: target.timestamp,
      },
    }));
    return { remoteId: messageId(this.creds.aci, timestamp) };
  }

  async unreact(r: {
    chat: ChatRef;
    target: MessageRef;
    key: string;
    sender: MatrixSender;
    reaction: SendResult;
  }): Promise<void> {
    const target = parseMessageId(r.target.remoteId);
    if (!target) return;
    await this.sendData(`unreact:${r.reaction.remoteId ?? r.target.remoteId}:${r.key}`, r.chat, (ts) => ({
      timestamp: ts,
      reaction: {
        emoji: r.key,
        remove: true,
        targetAuthorAci: target.author,
        targetSentTimestamp: target.timestamp,
      },
    }));
  }

  /**
   * A Matrix rename or topic change of a group portal: the group's title or description through
   * the group service (where this account's role allows), then the signed change to every member
   * so their phones show it, as Signal's own clients do.
   */
  async setChatInfo(
    chat: ChatRef,
    change: { name?: string; topic?: string },
    _sender: MatrixSender,
  ): Promise<void> {
    if (!isGroupChannel(chat.channelId)) throw new UnsupportedError("a Signal DM has no name of its own");
    if (!this.groupsClient)
      throw new UnsupportedError("the group service is not configured (zkgroup_public_params)");
    const masterKey = await this.masterKeyOf(chat);
    if (!masterKey) throw new PermanentError("this Signal group is not known to your linked device yet");
    const modified = await this.groupsClient.setAttributes(masterKey, {
      ...(change.name !== undefined ? { title: change.name } : {}),
      ...(change.topic !== undefined ? { description: change.topic } : {}),
    });
    await this.groups.observe(masterKey, modified.revision);
    await this.deliver(`group-change:${chat.channelId}:${modified.revision}`, chat, (timestamp) => {
      const dm: DataMessage = {
        timestamp,
        groupV2: { masterKey, revision: modified.revision, groupChange: modified.groupChange },
      };
      return { content: { dataMessage: dm }, sync: { message: dm } };
    });
  }

  async markRead(chat: ChatRef, target: MessageRef): Promise<void> {
    const parsed = parseMessageId(target.remoteId);
    if (!parsed || parsed.author === this.creds.aci) return;
    const timestamp = Date.now();
    await this.sender.send(
      parsed.author,
      { receiptMessage: { type: ReceiptType.READ, timestamp: [parsed.timestamp] } },
      timestamp,
      { urgent: false },
    );
    await this.sender.send(
      this.creds.aci,
      { syncMessage: { read: [{ senderAci: parsed.author, timestamp: parsed.timestamp }] } },
      timestamp,
      { urgent: false },
    );
    void chat;
  }

  async setTyping(chat: ChatRef, typing: boolean): Promise<void> {
    const timestamp = Date.now();
    const action = typing ? TypingAction.STARTED : TypingAction.STOPPED;
    const masterKey = isGroupChannel(chat.channelId) ? await this.masterKeyOf(chat) : null;
    const groupId = masterKey
      ? Buffer.from(GroupTracker.chatOf(masterKey).channelId.slice(2), "base64url")
      : null;
    const content: Content = { typingMessage: { timestamp, action, ...(groupId ? { groupId } : {}) } };
    let recipients = await this.recipientsOf(chat);
    if (groupId) {
      // Typing in a group rides the group's sender key too, to whoever is online right now.
      const result = await this.groupSender.send(
        { channelId: chat.channelId, groupId },
        recipients,
        recipients,
        content,
        timestamp,
        { urgent: false, onlineOnly: true },
      );
      recipients = result.fallback;
    }
    for (const to of recipients) await this.sender.send(to, content, timestamp, { urgent: false });
  }
}
