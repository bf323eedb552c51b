import type { Http2SecureServer } from "node:http2";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { Net } from "@signalapp/libsignal-client";
import { Server, ServiceIdKind, loadCertificates, type PrimaryDevice } from "@signalapp/mock-server";
import type { ChatFetch } from "../transport.js";
import { httpFetch } from "../http.js";
import { requestOver } from "../chat-connection.js";
import { downloadAttachment, encryptAttachment } from "../attachments.js";
import { randomUUID } from "node:crypto";
import type { HttpFetch, ServiceUrls } from "../transport.js";

/**
 * Signal's own mock of its service (`@signalapp/mock-server`, what Signal-Desktop's tests run
 * on) for this package's tests: TLS on localhost, websockets over HTTP/2 only, the chat, CDN and
 * group/storage services all on one port. Test-only; the bridge never imports it.
 */
export interface MockSignal {
  server: Server;
  port: number;
  /** The mock's CA (PEM): the root certificate the bridge must trust. */
  rootCertificate: string;
  /** Base64 public key that signs sealed-sender server certificates. */
  trustRoot: string;
  /** Base64 zkgroup ServerPublicParams. */
  zkPublicParams: string;
  urls: ServiceUrls;
  http: HttpFetch;
  /** libsignal's network client pointed at the mock. */
  net(): Net.Net;
  /** An authenticated chat connection as a primary device made with a known `password`. */
  chatAs(primary: PrimaryDevice, password: string): Promise<{ fetch: ChatFetch; close: () => Promise<void> }>;
  /**
   * Closes every device's message socket the way Signal's server does when a device is removed
   * (close code 4401): the mock itself leaves an unlinked device's socket open.
   */
  dropConnections(): void;
  /** `bridges.signal.service` for a bridge that should use this mock instead of Signal. */
  serviceConfig(): Record<string, unknown>;
  /** Encrypts a file the way a phone does and puts it on the mock's CDN 3: what its pointer needs. */
  storeAttachment(
    data: Buffer,
  ): Promise<{ cdnKey: string; cdnNumber: 3; key: Buffer; digest: Buffer; size: number }>;
  /** Puts bytes as they are on the mock's CDN 0 (group pictures live there): the CDN path to them. */
  storeOnCdn0(data: Uint8Array): Promise<string>;
  /** Downloads and decrypts what a pointer names (what a phone does with an attachment it got). */
  fetchAttachment(pointer: {
    cdnKey: string;
    key: Uint8Array;
    digest?: Uint8Array;
    size?: number;
  }): Promise<Buffer>;
  close(): Promise<void>;
}

export const pemToDer = (pem: string): Uint8Array<ArrayBuffer> =>
  new Uint8Array(Buffer.from(pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64"));

/** The mock is written for Node 22; Node 20 lacks Promise.withResolvers, which it uses for offline devices. */
function polyfillWithResolvers(): void {
  const P = Promise as unknown as { withResolvers?: unknown };
  if (P.withResolvers) return;
  P.withResolvers = <T>() => {
    let resolve!: (v: T) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

/**
 * The mock waits for a new linked device's keys under one entry per identity sharing one record
 * of what arrived, and once both have it deletes only the PNI's: the device's next ACI upload (a
 * refill, a rotation; Signal's apps make them too) then fails its "duplicate" assertion. Entries
 * whose wait is over are dropped before each upload, which is what the mock means to do.
 */
function allowLaterKeyUploads(server: Server): void {
  const mock = server as unknown as {
    provisionResultQueueByKey: Map<string, { seenServiceIdKinds: Set<string> }>;
    updateDeviceKeys(...args: unknown[]): Promise<void>;
  };
  const upload = mock.updateDeviceKeys.bind(server);
  mock.updateDeviceKeys = async (...args: unknown[]) => {
    for (const [key, entry] of mock.provisionResultQueueByKey) {
      if (entry.seenServiceIdKinds.has(ServiceIdKind.ACI) && entry.seenServiceIdKinds.has(ServiceIdKind.PNI))
        mock.provisionResultQueueByKey.delete(key);
    }
    return upload(...args);
  };
}

export async function startMockSignal(): Promise<MockSignal> {
  polyfillWithResolvers();
  const cdn3Path = await mkdtemp(join(tmpdir(), "mock-signal-cdn3-"));
  const server = new Server({ cdn3Path, timeout: 30_000 });
  await server.listen(0);
  allowLaterKeyUploads(server);
  // libsignal keeps its HTTP/2 session open after disconnect(), and the mock's close() waits for
  // every session: track them so close() can end them.
  const sessions = new Set<{ destroy(): void }>();
  const https = (server as unknown as { https: Http2SecureServer }).https;
  https.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  // HTTP/1.1 clients (undici, for the CDN and REST calls) are plain TLS sockets, not sessions.
  https.on("secureConnection", (socket) => {
    sessions.add(socket);
    socket.once("close", () => sessions.delete(socket));
  });
  const port = (server.address() as AddressInfo).port;
  const certs = await loadCertificates();
  const base = `https://localhost:${port}`;
  // CDN 3 lives under /cdn3 on the mock; CDN 0 is its in-memory store under /attachments.
  const urls: ServiceUrls = {
    cdn: { 0: base, 2: base, 3: `${base}/cdn3` },
    storage: `${base}/storageService`,
  };
  const http = httpFetch(certs.certificateAuthority);
  const nets: Net.Net[] = [];
  const closers: Array<() => Promise<void>> = [];
  const net = () => {
    const n = new Net.Net({
      localTestServer: true,
      userAgent: "switchboard-test",
      TESTING_localServer_chatPort: port,
      TESTING_localServer_cdsiPort: 9,
      TESTING_localServer_svr2Port: 9,
      TESTING_localServer_svrBPort: 9,
      TESTING_localServer_rootCertificateDer: pemToDer(certs.certificateAuthority),
      TESTING_localServer_httpVersion: 2,
    });
    nets.push(n);
    return n;
  };
  return {
    server,
    port,
    rootCertificate: certs.certificateAuthority,
    trustRoot: certs.serverTrustRoots[0]!,
    zkPublicParams: certs.serverPublicParams,
    urls,
    http: http.fetch,
    net,
    async chatAs(primary, password) {
      const chat = await net().connectAuthenticatedChat(`${primary.device.aci}.1`, password, false, {
        onIncomingMessage: (_e, _t, ack) => ack.send(200),
        onQueueEmpty: () => undefined,
        onConnectionInterrupted: () => undefined,
      });
      const close = () => chat.disconnect().catch(() => undefined);
      closers.push(close);
      const fetch: ChatFetch = (req) => requestOver(chat, req);
      return { fetch, close };
    },
    dropConnections() {
      const sockets = (server as unknown as { webSockets: Map<unknown, { close(code: number): void }> })
        .webSockets;
      for (const socket of sockets.values()) socket.close(4401);
    },
    serviceConfig() {
      return {
        environment: "local",
        local_port: port,
        root_certificate: certs.certificateAuthority,
        cdn_urls: { "0": base, "2": base, "3": `${base}/cdn3` },
        storage_url: `${base}/storageService`,
        trust_roots: [certs.serverTrustRoots[0]!],
        zkgroup_public_params: certs.serverPublicParams,
        // The mock looks the linking account up by ACI; Signal's service by number.
        link_username: "aci",
      };
    },
    async storeAttachment(data) {
      const enc = encryptAttachment(data);
      const cdnKey = randomUUID();
      await server.storeAttachmentOnCdn(3, cdnKey, new Uint8Array(enc.ciphertext));
      return { cdnKey, cdnNumber: 3 as const, key: enc.key, digest: enc.digest, size: enc.size };
    },
    async storeOnCdn0(data) {
      // The mock's CDN 0 store is not in its public typings.
      const cdn0 = server as unknown as { storeAttachment(data: Buffer): Promise<string> };
      return `attachments/${await cdn0.storeAttachment(Buffer.from(data))}`;
    },
    fetchAttachment(pointer) {
      return downloadAttachment(http.fetch, urls, {
        cdnNumber: 3,
        cdnKey: pointer.cdnKey,
        key: Buffer.from(pointer.key),
        ...(pointer.digest ? { digest: Buffer.from(pointer.digest) } : {}),
        ...(pointer.size !== undefined ? { size: pointer.size } : {}),
      });
    },
    async close() {
      for (const c of closers) await c();
      await http.close();
      for (const session of sessions) session.destroy();
      await Promise.race([server.close(), new Promise((r) => setTimeout(r, 3000).unref())]);
      await rm(cdn3Path, { recursive: true, force: true });
    },
  };
}

// What the suites drive a contact's own group changes with (the requests a phone makes).
export { encryptGroupAvatar, GroupsClient } from "../groups.js";
export { linkWithMock, stateBytes, stubSignalContext, within, type Linked } from "./stub-context.js";
