/**
 * Profile pictures: the profile names a CDN 0 path, the file there opens with the owner's
 * profile key, and the connector hands the framework the image (fetched from the mock's CDN 0).
 * Signal's mock server keeps no profile pictures, so the profile answer here is made by hand.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createCipheriv, randomBytes } from "node:crypto";
import { Aci } from "@signalapp/libsignal-client";
import { ProfileKey } from "@signalapp/libsignal-client/dist/zkgroup/index.js";
import { SignalConnector } from "./connector.js";
import { decryptProfileAvatar, Profiles } from "./profiles.js";
import { startMockSignal, stubSignalContext, type MockSignal } from "./testing/mock-signal.js";
import type { ChatRequest } from "./transport.js";

let mock: MockSignal;
let connector: SignalConnector;

before(async () => {
  mock = await startMockSignal();
  connector = new SignalConnector();
  await connector.start(stubSignalContext(mock, new Map(), []));
});

after(async () => {
  await connector?.stop();
  await mock?.close();
});

/** What a phone uploads: AES-256-GCM under the profile key, nonce first and tag last. */
function sealForProfile(plain: Buffer, key: Buffer): Buffer {
  const nonce = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, nonce);
  return Buffer.concat([nonce, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
}

function memoryState() {
  const kv = new Map<string, string>();
  return {
    get: async (k: string) => kv.get(k) ?? null,
    set: async (k: string, v: string) => void kv.set(k, v),
    delete: async (k: string) => void kv.delete(k),
    list: async () => [],
  };
}

test("a contact's profile picture reaches the framework as the image their phone uploaded", async () => {
  const aci = "9d0652a3-dcc3-4d11-975f-74d61598733f";
  const profileKey = randomBytes(32);
  const picture = Buffer.concat([Buffer.from("ffd8ffe0", "hex"), randomBytes(3000)]);
  const path = await mock.storeOnCdn0(sealForProfile(picture, profileKey));
  const version = new ProfileKey(new Uint8Array(profileKey))
    .getProfileKeyVersion(Aci.fromUuid(aci))
    .toString();
  const asked: string[] = [];
  const chat = async (req: ChatRequest) => {
    asked.push(req.path);
    const body = {
      name: sealForProfile(Buffer.concat([Buffer.from("Carol"), Buffer.alloc(48)]), profileKey).toString(
        "base64",
      ),
      avatar: path,
    };
    return { status: 200, headers: [], body: new Uint8Array(Buffer.from(JSON.stringify(body))) };
  };
  const profiles = new Profiles(memoryState(), chat, mock.urls.cdn[0]!);
  assert.equal(await profiles.avatar(aci), undefined, "no profile key: nothing to show");
  await profiles.rememberKey(aci, profileKey);
  assert.equal(await profiles.displayName(aci), "Carol");
  const media = await profiles.avatar(aci);
  assert.ok(media);
  assert.equal(media.key, `signal-profile-avatar:${path}`);
  assert.deepEqual(
    asked,
    [`/v1/profile/${aci}/${version}`],
    "one profile fetch for the name and the picture",
  );

  const fetched = await connector.fetchMedia(media.ref);
  assert.ok(fetched.data.equals(picture));
  assert.equal(fetched.mimetype, "image/jpeg");
});

test("a picture that does not open with the profile key is refused, not shown", () => {
  const sealed = sealForProfile(Buffer.from("image"), randomBytes(32));
  assert.equal(decryptProfileAvatar(sealed, randomBytes(32)), null);
  assert.equal(decryptProfileAvatar(Buffer.alloc(10), randomBytes(32)), null);
});
