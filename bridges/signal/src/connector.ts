import { Net } from "@signalapp/libsignal-client";
import type {
  BridgeContext,
  ChatRef,
  Connector,
  FetchesMedia,
  HasLogins,
  LoginClient,
  LoginFlow,
  LoginProcess,
  LoginStep,
  MediaRef,
  RemoteUser,
  StartsDms,
} from "@switchboard/framework";
import { PermanentError } from "@switchboard/framework";
import { SignalConfigSchema, type SignalConfig } from "./config.js";
import { httpFetch } from "./http.js";
import { isAci } from "./ids.js";
import { KeyManager } from "./key-manager.js";
import { DeviceLink, type LinkedAccount } from "./link.js";
import { SignalLogin, type SignalCredentials } from "./login.js";
import { UnauthChat } from "./unauth-chat.js";
import { ServerPublicParams } from "@signalapp/libsignal-client/dist/zkgroup/index.js";
import { decryptGroupAvatar } from "./groups.js";
import { decryptProfileAvatar } from "./profiles.js";
import { ProtocolStore } from "./protocol-store.js";
import { downloadAttachment } from "./attachments.js";
import type { HttpFetch, ServiceUrls } from "./transport.js";

const pemToDer = (pem: string): Uint8Array<ArrayBuffer> =>
  new Uint8Array(Buffer.from(pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64"));

/**
 * Signal: each Matrix user links the bridge as a device of their own Signal account (there is
 * no bot account), so every chat is seen through a login, and rooms relay through a login a
 * room admin chose. Nothing here knows Matrix: the framework makes DM and group portals from
 * the events the logins emit.
 */
export class SignalConnector implements Connector, HasLogins, StartsDms, FetchesMedia {
  readonly id = "signal";
  readonly displayName = "Signal";
  readonly configSchema = SignalConfigSchema;
  readonly loginFlows: LoginFlow[] = [
    {
      id: "qr",
      name: "Link device",
      description: "scan a QR code with Signal on your phone (Settings → Linked devices)",
    },
  ];

  private ctx!: BridgeContext;
  private config!: SignalConfig;
  private net!: Net.Net;
  private http!: { fetch: HttpFetch; close: () => Promise<void> };
  private urls!: ServiceUrls;
  private readonly logins = new Map<string, SignalLogin>();
  /** The chat service's REST URL (the same service as the websocket). */
  private chatUrl = "https://chat.signal.org";
  private unauth!: UnauthChat;

  async start(ctx: BridgeContext): Promise<void> {
    this.ctx = ctx;
    this.config = ctx.config as unknown as SignalConfig;
    const service = this.config.service;
    try {
      new ServerPublicParams(new Uint8Array(Buffer.from(service.zkgroup_public_params, "base64")));
    } catch (err) {
      throw new Error(
        `bridges.signal.service.zkgroup_public_params is not a zkgroup ServerPublicParams value (${String(err)}): leave it unset for Signal's production service`,
        { cause: err },
      );
    }
    if (service.environment === "local") {
      if (!service.local_port || !service.root_certificate) {
        throw new Error("bridges.signal.service: environment local needs local_port and root_certificate");
      }
      this.net = new Net.Net({
        localTestServer: true,
        userAgent: "Switchboard",
        TESTING_localServer_chatPort: service.local_port,
        // Contact discovery and key backup are not used by the bridge: any closed port will do.
        TESTING_localServer_cdsiPort: 9,
        TESTING_localServer_svr2Port: 9,
        TESTING_localServer_svrBPort: 9,
        TESTING_localServer_rootCertificateDer: pemToDer(service.root_certificate),
        TESTING_localServer_httpVersion: 2,
      });
    } else {
      this.net = new Net.Net({
        env: service.environment === "staging" ? Net.Environment.Staging : Net.Environment.Production,
        userAgent: "Switchboard",
      });
    }
    this.http = httpFetch(service.root_certificate);
    this.unauth = new UnauthChat(this.net);
    this.chatUrl =
      service.environment === "local"
        ? `https://localhost:${service.local_port}`
        : service.environment === "staging"
          ? "https://chat.staging.signal.org"
          : "https://chat.signal.org";
    this.urls = {
      cdn: Object.fromEntries(Object.entries(service.cdn_urls).map(([k, v]) => [Number(k), v])),
      storage: service.storage_url,
    };
  }

  async stop(): Promise<void> {
    await Promise.all([...this.logins.values()].map((l) => l.disconnect().catch(() => undefined)));
    this.logins.clear();
    await this.unauth?.close();
    await this.http?.close().catch(() => undefined);
  }

  async getUser(userId: string): Promise<RemoteUser | null> {
    if (!isAci(userId)) return null;
    return { id: userId };
  }

  chatFromAlias(): ChatRef | null {
    return null; // Signal chats are private: no portal is joined by alias.
  }

  aliasFor(): string | null {
    return null;
  }

  dmChat(remoteUserId: string, matrixUserId: string): ChatRef | null {
    if (!isAci(remoteUserId)) return null;
    const login = [...this.logins.values()].find((l) => l.matrixUserId === matrixUserId);
    return login ? { channelId: remoteUserId, receiver: login.loginId } : null;
  }

  async fetchMedia(ref: MediaRef): Promise<{ data: Buffer; mimetype?: string }> {
    const m = ref.meta ?? {};
    if (typeof m.groupMasterKey === "string") {
      // A group's picture: on CDN 0, encrypted with the group's key.
      const res = await this.http.fetch({ method: "GET", url: ref.url });
      if (res.status !== 200) throw new Error(`Signal's CDN answered ${res.status} for a group picture`);
      const data = decryptGroupAvatar(Buffer.from(m.groupMasterKey, "base64"), res.body);
      return { data, ...(imageType(data) ? { mimetype: imageType(data)! } : {}) };
    }
    if (typeof m.profileKey === "string") {
      // A profile picture: on CDN 0, encrypted with its owner's profile key.
      const res = await this.http.fetch({ method: "GET", url: ref.url });
      if (res.status !== 200) throw new Error(`Signal's CDN answered ${res.status} for a profile picture`);
      const data = decryptProfileAvatar(res.body, Buffer.from(m.profileKey, "base64"));
      if (!data) throw new PermanentError("the Signal profile picture does not open with its profile key");
      return { data, ...(imageType(data) ? { mimetype: imageType(data)! } : {}) };
    }
    if (typeof m.key !== "string") throw new PermanentError("the Signal attachment has no key");
    const data = await downloadAttachment(this.http.fetch, this.urls, {
      cdnNumber: Number(m.cdnNumber ?? 0),
      ...(typeof m.cdnKey === "string" ? { cdnKey: m.cdnKey } : {}),
      ...(typeof m.cdnId === "string" ? { cdnId: m.cdnId } : {}),
      key: Buffer.from(m.key, "base64"),
      ...(typeof m.digest === "string" ? { digest: Buffer.from(m.digest, "base64") } : {}),
      ...(typeof m.size === "number" ? { size: m.size } : {}),
    });
    return { data };
  }

  createLogin(_flowId: string, matrixUserId: string): LoginProcess {
    const link = new DeviceLink({
      net: this.net,
      deviceName: this.config.device_name,
      linkUsername: this.config.service.link_username,
    });
    const deadline = Date.now() + this.config.link_timeout_seconds * 1000;
    const show = (url: string): LoginStep => ({
      type: "display",
      instructions:
        "Open Signal on your phone → Settings → Linked devices → Link new device, and scan this QR code (it is replaced every 45 seconds; say `cancel` to stop):",
      qr: url,
      url,
    });
    return {
      start: async () => show(await link.start()),
      wait: async () => {
        const timer = setTimeout(() => link.cancel(), Math.max(0, deadline - Date.now()));
        try {
          const next = await link.next();
          if (next.type === "url") return show(next.url);
          return await this.completeLink(next.account, matrixUserId);
        } finally {
          clearTimeout(timer);
        }
      },
      cancel: () => link.cancel(),
    };
  }

  /** Writes the new device's identity and keys into the login's sealed state, before the framework stores the login. */
  private async completeLink(account: LinkedAccount, matrixUserId: string): Promise<LoginStep> {
    const state = this.ctx.loginState(account.aci);
    // A device linked again starts clean: old sessions belong to the old device id.
    for (const { key } of await state.list("")) await state.delete(key);
    const aci = await ProtocolStore.create(state, "aci", account.aciIdentity, account.aciRegistrationId);
    const pni = await ProtocolStore.create(state, "pni", account.pniIdentity, account.pniRegistrationId);
    await KeyManager.recordLinkKeys(state, aci, account.keys.aci.signed, account.keys.aci.lastResort);
    await KeyManager.recordLinkKeys(state, pni, account.keys.pni.signed, account.keys.pni.lastResort);
    const credentials: SignalCredentials = {
      aci: account.aci,
      pni: account.pni,
      number: account.number,
      deviceId: account.deviceId,
      password: account.password,
      ...(account.profileKey ? { profileKey: account.profileKey.toString("base64") } : {}),
    };
    this.ctx.log.info({ matrixUserId, aci: account.aci, device: account.deviceId }, "Signal device linked");
    return {
      type: "complete",
      loginId: account.aci,
      remoteName: account.number ? `${account.number} (${account.aci})` : account.aci,
      credentials,
    };
  }

  async loadLogin(login: {
    loginId: string;
    matrixUserId: string;
    remoteName: string;
    credentials: unknown;
  }): Promise<LoginClient> {
    const creds = login.credentials as SignalCredentials;
    if (!creds?.aci || !creds.password || !creds.deviceId)
      throw new Error("the stored Signal login is incomplete");
    const state = this.ctx.loginState(login.loginId);
    const events = {
      identityChanged: (aci: string) => {
        void this.ctx
          .noticeInChat(
            { channelId: aci, receiver: login.loginId },
            "Their safety number changed (a new phone or a reinstall).",
          )
          .catch(() => undefined);
      },
    };
    const aci = await ProtocolStore.open(state, "aci", events);
    const pni = await ProtocolStore.open(state, "pni", events);
    if (!aci || !pni) throw new Error("this Signal device's keys are missing from the store: link it again");
    this.logins
      .get(login.loginId)
      ?.disconnect()
      .catch(() => undefined);
    const client = new SignalLogin(
      this.ctx,
      this.config,
      this.net,
      {
        url: this.chatUrl,
        http: this.http.fetch,
        urls: this.urls,
        unauth: this.unauth.fetch,
        multiRecipient: (request) => this.unauth.sendMultiRecipient(request),
      },
      login.matrixUserId,
      login.remoteName,
      creds,
      state,
      { aci, pni },
      (l, reason) => {
        if (this.logins.get(l.loginId) === l) this.logins.delete(l.loginId);
        void this.ctx
          .loginFailed(l.loginId, `Signal says this device is no longer linked (${reason})`, {
            loggedOut: true,
          })
          .catch(() => undefined);
      },
    );
    this.logins.set(login.loginId, client);
    await client.start();
    return client;
  }
}

/** The image type from its first bytes (Signal's pictures carry none): PNG, JPEG, GIF or WebP. */
export function imageType(data: Buffer): string | null {
  if (data.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])))
    return "image/png";
  if (data[0] === 0xff && data[1] === 0xd8 && data[2] === 0xff) return "image/jpeg";
  if (data.subarray(0, 4).toString("latin1") === "GIF8") return "image/gif";
  if (data.subarray(0, 4).toString("latin1") === "RIFF" && data.subarray(8, 12).toString("latin1") === "WEBP")
    return "image/webp";
  return null;
}
