import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import type { Http2SecureServer, Http2Session } from "node:http2";
import { PermanentError, RateLimitedError } from "@switchboard/framework";
// The mock's own attachment encryption (what its phone uses for sync blobs): Signal's reference.
import { encryptAttachment as mockEncryptAttachment } from "@signalapp/mock-server/src/crypto.js";
import {
  decryptAttachment,
  downloadAttachment,
  encryptAttachment,
  paddedSize,
  restUploadForms,
  uploadAttachment,
} from "./attachments.js";
import { startMockSignal, type MockSignal } from "./testing/mock-signal.js";
import {
  json,
  type ChatFetch,
  type ChatRequest,
  type HttpFetch,
  type HttpRequest,
  type ServiceUrls,
} from "./transport.js";

/** iv || AES-CBC(PKCS7) of the padded plaintext || mac. */
const blobLength = (size: number) => 16 + (Math.floor(paddedSize(size) / 16) + 1) * 16 + 32;

const sha256 = (data: Buffer) => createHash("sha256").update(data).digest();

const flip = (data: Buffer, at: number) => {
  const copy = Buffer.from(data);
  copy[at] = copy[at]! ^ 0x01;
  return copy;
};

test("padding follows Signal's buckets: powers of 1.05, at least 541 bytes", () => {
  assert.equal(paddedSize(0), 541);
  assert.equal(paddedSize(1), 541);
  assert.equal(paddedSize(541), 541);
  assert.equal(paddedSize(542), 568);
  assert.equal(paddedSize(1000), 1020);
  assert.equal(paddedSize(1 << 20), 1093831);
  let previous = 0;
  for (let n = 0; n < 200_000; n += 997) {
    const padded = paddedSize(n);
    assert.ok(padded >= n && padded >= previous, `bucket for ${n}`);
    assert.ok(padded <= Math.max(541, Math.ceil(n * 1.05)), `at most 5% overhead for ${n}`);
    previous = padded;
  }
});

test("encrypt then decrypt returns the same bytes for every size, padded to a bucket", () => {
  for (const size of [0, 1, 15, 16, 17, 540, 541, 542, 4096, 100_000, 1 << 20]) {
    const plaintext = randomBytes(size);
    const enc = encryptAttachment(plaintext);
    assert.equal(enc.size, size);
    assert.equal(enc.key.length, 64);
    assert.equal(enc.ciphertext.length, blobLength(size), `ciphertext length for ${size}`);
    assert.deepEqual(enc.digest, sha256(enc.ciphertext));
    assert.deepEqual(
      decryptAttachment(enc.ciphertext, enc.key, enc.digest, enc.size),
      plaintext,
      `size ${size}`,
    );
    assert.deepEqual(decryptAttachment(enc.ciphertext, enc.key, undefined, enc.size), plaintext);
  }
  // Same bucket, same length on the CDN: the padding hides the size.
  assert.equal(
    encryptAttachment(randomBytes(1)).ciphertext.length,
    encryptAttachment(randomBytes(540)).ciphertext.length,
  );
  // Fresh key and IV each time.
  const twice = Buffer.from("same bytes");
  assert.notDeepEqual(encryptAttachment(twice).ciphertext, encryptAttachment(twice).ciphertext);
});

test("without a size the padded plaintext comes back, zeros after the data", () => {
  const plaintext = randomBytes(100);
  const enc = encryptAttachment(plaintext);
  const padded = decryptAttachment(enc.ciphertext, enc.key, enc.digest, undefined);
  assert.equal(padded.length, paddedSize(100));
  assert.deepEqual(padded.subarray(0, 100), plaintext);
  assert.ok(padded.subarray(100).every((b) => b === 0));
});

test("a tampered, truncated, extended or misattributed blob is rejected, never returned", () => {
  const enc = encryptAttachment(randomBytes(3000));
  const { ciphertext: ct, key, digest, size } = enc;
  const rejects = (data: Buffer, k: Buffer, d: Buffer | undefined, s: number | undefined, message: RegExp) =>
    assert.throws(() => decryptAttachment(data, k, d, s), message);

  for (const at of [0, 15, 16, ct.length / 2, ct.length - 33, ct.length - 32, ct.length - 1]) {
    rejects(flip(ct, Math.floor(at)), key, digest, size, /MAC/);
    // Without a digest the MAC alone still catches it.
    rejects(flip(ct, Math.floor(at)), key, undefined, size, /MAC/);
  }
  rejects(ct, key, flip(digest, 0), size, /digest/);
  rejects(ct, key, digest.subarray(0, 31), size, /digest/);
  rejects(ct, flip(key, 40), digest, size, /MAC/);
  rejects(ct, encryptAttachment(Buffer.alloc(1)).key, digest, size, /MAC/);
  rejects(ct, key.subarray(0, 32), digest, size, /key is 32 bytes/);
  rejects(ct.subarray(0, ct.length - 1), key, digest, size, /truncated/);
  rejects(ct.subarray(0, ct.length - 16), key, digest, size, /MAC/);
  rejects(ct.subarray(0, ct.length - 32), key, digest, size, /MAC/);
  rejects(ct.subarray(0, 63), key, digest, size, /truncated/);
  rejects(Buffer.alloc(0), key, digest, size, /truncated/);
  rejects(Buffer.concat([ct, Buffer.alloc(16)]), key, digest, size, /MAC/);
  rejects(ct, key, digest, paddedSize(3000) + 1, /claims/);
  rejects(ct, key, digest, -1, /claims/);
});

test("our blobs are byte-for-byte what the mock's own attachment encryption makes", () => {
  for (const size of [0, 1, 5000]) {
    const enc = encryptAttachment(randomBytes(size));
    const padded = decryptAttachment(enc.ciphertext, enc.key, enc.digest, undefined);
    const theirs = mockEncryptAttachment(Buffer.from(padded), {
      aesKey: Buffer.from(enc.key.subarray(0, 32)),
      macKey: Buffer.from(enc.key.subarray(32)),
      iv: Buffer.from(enc.ciphertext.subarray(0, 16)),
    });
    assert.deepEqual(theirs.blob, enc.ciphertext);
    assert.deepEqual(theirs.digest, enc.digest);
    assert.deepEqual(theirs.key, enc.key);
  }
  // And what the mock encrypts (unpadded, as its phone does) opens with ours.
  const plaintext = randomBytes(777);
  const theirs = mockEncryptAttachment(plaintext);
  assert.deepEqual(decryptAttachment(theirs.blob, theirs.key, theirs.digest, theirs.size), plaintext);
});

// --- against Signal's mock server ---

let mock: MockSignal;
let urls: ServiceUrls;
const sessions = new Set<Http2Session>();

before(async () => {
  mock = await startMockSignal();
  // The mock serves CDN 3 under /cdn3 on its single port (Signal's CDN 3 at its root).
  urls = { ...mock.urls, cdn: { ...mock.urls.cdn, 3: `https://localhost:${mock.port}/cdn3` } };
  // libsignal keeps its HTTP/2 connection open after disconnect(), and the mock's close() waits
  // for it forever, keeping this process alive; end those sessions from the server side.
  const { https } = mock.server as unknown as { https?: Http2SecureServer };
  https?.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
});

after(async () => {
  for (const session of sessions) session.destroy();
  await mock?.close();
});

/**
 * An authenticated chat connection to the mock whose upload-form requests are recorded. The
 * mock (27.x) hands out forms only over gRPC; when its websocket answers 404 to Signal's REST
 * route, the same form is answered from the mock's own form generator (what its gRPC route and
 * older mocks' REST route return), so the CDN side stays the mock's real one.
 */
async function uploaderChat(): Promise<{
  fetch: ChatFetch;
  formRequests: string[];
  close: () => Promise<void>;
}> {
  const phone = await mock.server.createPrimaryDevice({ profileName: "Uploader", password: "pw" });
  const chat = await mock.chatAs(phone, "pw");
  const formRequests: string[] = [];
  const fetch: ChatFetch = async (req) => {
    const isForm = req.verb === "GET" && req.path.startsWith("/v4/attachments/form/upload");
    if (isForm) formRequests.push(req.path);
    const res = await chat.fetch(req);
    if (!isForm || res.status !== 404) return res;
    const form = await mock.server.getAttachmentUploadForm("attachments", randomUUID());
    return { status: 200, headers: [], body: json(form) };
  };
  return { fetch, formRequests, close: chat.close };
}

const storeOnCdn0 = (blob: Buffer): Promise<string> =>
  (mock.server as unknown as { storeAttachment(blob: Buffer): Promise<string> }).storeAttachment(blob);

test("upload through the mock, then download and decrypt: identical bytes", async () => {
  const chat = await uploaderChat();
  try {
    for (const size of [0, 1234, 1 << 20]) {
      const plaintext = randomBytes(size);
      const up = await uploadAttachment(restUploadForms(chat.fetch), mock.http, plaintext);
      assert.equal(up.cdnNumber, 3);
      assert.equal(up.size, size);
      assert.match(chat.formRequests.at(-1)!, new RegExp(`uploadLength=${blobLength(size)}$`));
      // What the CDN holds is the blob the digest commits to.
      const raw = await mock.http({ method: "GET", url: `${urls.cdn[3]}/attachments/${up.cdnKey}` });
      assert.equal(raw.status, 200);
      assert.deepEqual(sha256(raw.body), up.digest);
      const back = await downloadAttachment(mock.http, urls, {
        cdnNumber: up.cdnNumber,
        cdnKey: up.cdnKey,
        key: up.key,
        digest: up.digest,
        size: up.size,
      });
      assert.deepEqual(back, plaintext, `size ${size}`);
    }
  } finally {
    await chat.close();
  }
});

test("attachments the mock put on its CDNs download and decrypt with ours", async () => {
  const plaintext = randomBytes(20_000);
  const theirs = mockEncryptAttachment(plaintext);
  const locator = { key: theirs.key, digest: theirs.digest, size: theirs.size };

  const cdnKey = randomUUID();
  await mock.server.storeAttachmentOnCdn(3, cdnKey, theirs.blob);
  assert.deepEqual(
    await downloadAttachment(mock.http, urls, { cdnNumber: 3, cdnKey, ...locator }),
    plaintext,
  );

  // A legacy numeric id is fetched by that id.
  await mock.server.storeAttachmentOnCdn(3, "4242", theirs.blob);
  assert.deepEqual(
    await downloadAttachment(mock.http, urls, { cdnNumber: 3, cdnId: "4242", ...locator }),
    plaintext,
  );

  // CDN 0 is where the mock keeps its sync blobs (contacts), served at /attachments/<key>.
  const id = await storeOnCdn0(theirs.blob);
  assert.deepEqual(
    await downloadAttachment(mock.http, urls, { cdnNumber: 0, cdnKey: id, ...locator }),
    plaintext,
  );
});

test("a missing attachment is a PermanentError; a tampered one on the CDN is rejected", async () => {
  const enc = encryptAttachment(randomBytes(100));
  const locator = { key: enc.key, digest: enc.digest, size: enc.size };
  for (const cdnNumber of [0, 3]) {
    await assert.rejects(
      downloadAttachment(mock.http, urls, { cdnNumber, cdnKey: randomUUID(), ...locator }),
      (e) => e instanceof PermanentError && /no longer/.test(e.message),
    );
  }
  const cdnKey = randomUUID();
  await mock.server.storeAttachmentOnCdn(3, cdnKey, flip(enc.ciphertext, 40));
  await assert.rejects(
    downloadAttachment(mock.http, urls, { cdnNumber: 3, cdnKey, ...locator }),
    (e) => e instanceof PermanentError && /MAC/.test(e.message),
  );
  await assert.rejects(
    downloadAttachment(mock.http, urls, { cdnNumber: 7, cdnKey, ...locator }),
    (e) => e instanceof PermanentError && /CDN 7/.test(e.message),
  );
  await assert.rejects(
    downloadAttachment(mock.http, urls, { cdnNumber: 3, ...locator }),
    (e) => e instanceof PermanentError && /no CDN key/.test(e.message),
  );
});

// --- the parts the mock cannot show: other answers, and CDN 2 ---

const respond =
  (status: number, body?: unknown, headers: Array<[string, string]> = []): ChatFetch =>
  async () => ({ status, headers, body: body === undefined ? undefined : json(body) });

const form = (cdn: number, signedUploadLocation = "https://cdn.example/upload") => ({
  cdn,
  key: "the-key",
  headers: { Authorization: "Bearer t" },
  signedUploadLocation,
});

test("upload form refusals carry the framework's decision", async () => {
  const http: HttpFetch = async () => assert.fail("nothing should be uploaded");
  const file = randomBytes(10);
  await assert.rejects(uploadAttachment(restUploadForms(respond(413)), http, file), PermanentError);
  await assert.rejects(
    uploadAttachment(restUploadForms(respond(429, undefined, [["Retry-After", "7"]])), http, file),
    (e) => {
      return e instanceof RateLimitedError && e.retryAfterMs === 7000;
    },
  );
  for (const chat of [
    respond(500),
    respond(200, { cdn: 3 }),
    respond(200, form(3, "http://cdn.example/upload")),
  ]) {
    await assert.rejects(
      uploadAttachment(restUploadForms(chat), http, file),
      (e) => e instanceof Error && !(e instanceof PermanentError),
    );
  }
  await assert.rejects(uploadAttachment(restUploadForms(respond(200, form(5))), http, file), /CDN 5/);
});

test("a CDN 3 upload the CDN refuses or only partly takes is an error to retry", async () => {
  const file = randomBytes(10);
  const answers: Array<{ status: number; headers: Record<string, string> }> = [
    { status: 500, headers: {} },
    { status: 201, headers: { "upload-offset": "3" } },
  ];
  for (const answer of answers) {
    const http: HttpFetch = async () => ({ ...answer, body: Buffer.alloc(0) });
    await assert.rejects(
      uploadAttachment(restUploadForms(respond(200, form(3))), http, file),
      (e) => e instanceof Error && !(e instanceof PermanentError),
    );
  }
});

test("CDN 2: the signed POST opens a session, the PUT carries the blob", async () => {
  const requests: HttpRequest[] = [];
  const http: HttpFetch = async (req) => {
    requests.push(req);
    const headers: Record<string, string> =
      req.method === "POST" ? { location: "https://gcs.example/session/1" } : {};
    return { status: req.method === "POST" ? 201 : 200, headers, body: Buffer.alloc(0) };
  };
  const chatRequests: ChatRequest[] = [];
  const chat: ChatFetch = async (req) => {
    chatRequests.push(req);
    return respond(200, form(2))(req);
  };
  const plaintext = randomBytes(2000);
  const up = await uploadAttachment(restUploadForms(chat), http, plaintext);
  assert.deepEqual(
    { cdnNumber: up.cdnNumber, cdnKey: up.cdnKey, size: up.size },
    { cdnNumber: 2, cdnKey: "the-key", size: 2000 },
  );
  assert.equal(chatRequests[0]!.path, `/v4/attachments/form/upload?uploadLength=${blobLength(2000)}`);
  const [start, put] = requests;
  assert.equal(start!.url, "https://cdn.example/upload");
  assert.equal(start!.headers!.Authorization, "Bearer t");
  assert.equal(start!.body, undefined);
  assert.equal(put!.method, "PUT");
  assert.equal(put!.url, "https://gcs.example/session/1");
  assert.deepEqual(decryptAttachment(Buffer.from(put!.body!), up.key, up.digest, up.size), plaintext);
});

test("a CDN 3 upload sends the TUS creation-with-upload headers and the form's credentials", async () => {
  const requests: HttpRequest[] = [];
  const http: HttpFetch = async (req) => {
    requests.push(req);
    return { status: 201, headers: { "upload-offset": String(req.body!.length) }, body: Buffer.alloc(0) };
  };
  const up = await uploadAttachment(restUploadForms(respond(200, form(3))), http, randomBytes(50));
  const [post] = requests;
  assert.equal(requests.length, 1);
  assert.equal(post!.method, "POST");
  assert.equal(post!.url, "https://cdn.example/upload");
  assert.deepEqual(
    { ...post!.headers },
    {
      Authorization: "Bearer t",
      "Tus-Resumable": "1.0.0",
      "Upload-Length": String(blobLength(50)),
      "Upload-Metadata": `filename ${Buffer.from("the-key").toString("base64")}`,
      "X-Signal-Checksum-Sha256": up.digest.toString("base64"),
      "Content-Type": "application/offset+octet-stream",
    },
  );
});

test("a form header named like one of ours, in any case, is sent once", async () => {
  const requests: HttpRequest[] = [];
  const http: HttpFetch = async (req) => {
    requests.push(req);
    return { status: 201, headers: {}, body: Buffer.alloc(0) };
  };
  const withMetadata = {
    ...form(3),
    headers: { "upload-metadata": "filename Zm9v", "tus-resumable": "0.2" },
  };
  await uploadAttachment(restUploadForms(respond(200, withMetadata)), http, randomBytes(5));
  const sent = Object.entries(requests[0]!.headers!).map(([name, value]) => [name.toLowerCase(), value]);
  assert.deepEqual(
    sent.filter(([name]) => name === "upload-metadata" || name === "tus-resumable"),
    [
      ["tus-resumable", "1.0.0"],
      ["upload-metadata", "filename Zm9v"],
    ],
  );
});
