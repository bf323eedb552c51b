import { createDecipheriv } from "node:crypto";
import { Aci } from "@signalapp/libsignal-client";
import { ProfileKey } from "@signalapp/libsignal-client/dist/zkgroup/index.js";
import type { LoginState, RemoteMedia } from "@switchboard/framework";
import { parseJson, type ChatFetch } from "./transport.js";

/**
 * Signal profiles: names are encrypted with each person's profile key, which reaches us in
 * their messages (`profileKey`) and in group state. Keys are kept in the login's sealed state;
 * decrypted names are cached for an hour, so a busy chat costs one profile fetch per person.
 */

const NAME_TTL_MS = 3600_000;

/** Profile fields and the avatar file are AES-256-GCM under the profile key: nonce (12) | ciphertext | tag (16). */
function openProfileCiphertext(ciphertext: Buffer, profileKey: Buffer): Buffer | null {
  if (ciphertext.length < 12 + 16 || profileKey.length !== 32) return null;
  try {
    const decipher = createDecipheriv("aes-256-gcm", profileKey, ciphertext.subarray(0, 12));
    decipher.setAuthTag(ciphertext.subarray(ciphertext.length - 16));
    return Buffer.concat([
      decipher.update(ciphertext.subarray(12, ciphertext.length - 16)),
      decipher.final(),
    ]);
  } catch {
    return null;
  }
}

/** Someone's profile picture, as downloaded from CDN 0; null when it does not open with their key. */
export function decryptProfileAvatar(ciphertext: Buffer, profileKey: Buffer): Buffer | null {
  const plain = openProfileCiphertext(ciphertext, profileKey);
  return plain?.length ? plain : null;
}

export function decryptProfileName(ciphertext: Buffer, profileKey: Buffer): string | null {
  const plain = openProfileCiphertext(ciphertext, profileKey);
  if (!plain) return null;
  // Padded with NULs to hide its length; given and family name are NUL-separated.
  const [given = "", family = ""] = plain.toString("utf8").replace(/\0+$/, "").split("\0");
  const name = [given, family].filter(Boolean).join(" ").trim();
  return name || null;
}

export class Profiles {
  private readonly names = new Map<string, { name: string | null; avatar?: string; at: number }>();
  private readonly keys = new Map<string, string>();

  constructor(
    private readonly state: LoginState,
    private readonly chat: ChatFetch,
    /** CDN 0, where profile pictures are. */
    private readonly cdn0: string,
  ) {}

  /** Remembers someone's profile key (a changed key means a changed profile: forget the name). */
  async rememberKey(aci: string, profileKey: Uint8Array): Promise<void> {
    if (profileKey.length !== 32) return;
    const value = Buffer.from(profileKey).toString("base64");
    if ((this.keys.get(aci) ?? (await this.state.get(`pkey:${aci}`))) === value) {
      this.keys.set(aci, value);
      return;
    }
    await this.state.set(`pkey:${aci}`, value);
    this.keys.set(aci, value);
    this.names.delete(aci);
  }

  /** The name someone chose on Signal, or null when we have no key for them or Signal will not say. */
  async displayName(aci: string): Promise<string | null> {
    const cached = this.names.get(aci);
    if (cached && Date.now() - cached.at < NAME_TTL_MS) return cached.name;
    const key = this.keys.get(aci) ?? (await this.state.get(`pkey:${aci}`));
    const contactName = await this.state.get(`cname:${aci}`);
    if (!key) {
      if (contactName) this.names.set(aci, { name: contactName, at: Date.now() });
      return contactName;
    }
    this.keys.set(aci, key);
    let name: string | null = null;
    let avatar: string | undefined;
    try {
      // The versioned path: Signal answers with the name sealed for this key's version.
      const version = new ProfileKey(new Uint8Array(Buffer.from(key, "base64"))).getProfileKeyVersion(
        Aci.fromUuid(aci),
      );
      const res = await this.chat({ verb: "GET", path: `/v1/profile/${aci}/${version.toString()}` });
      const body = res.status === 200 ? (parseJson(res) as { name?: string; avatar?: string } | null) : null;
      if (body?.name) name = decryptProfileName(Buffer.from(body.name, "base64"), Buffer.from(key, "base64"));
      if (typeof body?.avatar === "string" && body.avatar) avatar = body.avatar;
    } catch {
      return cached?.name ?? null;
    }
    name ??= contactName;
    this.names.set(aci, { name, ...(avatar ? { avatar } : {}), at: Date.now() });
    return name;
  }

  /**
   * Someone's profile picture as the framework fetches it (lazily, and only when its CDN path
   * changed); undefined when their profile is unknown or has none. Read with `displayName`,
   * which fetches the profile.
   */
  async avatar(aci: string): Promise<RemoteMedia | undefined> {
    await this.displayName(aci);
    const path = this.names.get(aci)?.avatar;
    const key = this.keys.get(aci);
    if (!path || !key) return undefined;
    return {
      key: `signal-profile-avatar:${path}`,
      ref: { url: `${this.cdn0.replace(/\/+$/, "")}/${path}`, meta: { profileKey: key } },
    };
  }

  /**
   * The name the user's phone has for a contact (contacts sync): used only while Signal gives
   * no profile name for them (no profile key yet), as Signal's own apps do.
   */
  async rememberContactName(aci: string, name: string): Promise<void> {
    if ((await this.state.get(`cname:${aci}`)) === name) return;
    await this.state.set(`cname:${aci}`, name);
    const cached = this.names.get(aci);
    if (cached && !cached.name) this.names.delete(aci);
  }

  /** Someone's unidentified access key (from their profile key): what a sealed-sender send to them needs. */
  async accessKey(aci: string): Promise<Uint8Array | undefined> {
    const key = this.keys.get(aci) ?? (await this.state.get(`pkey:${aci}`));
    if (!key) return undefined;
    this.keys.set(aci, key);
    return new ProfileKey(new Uint8Array(Buffer.from(key, "base64"))).deriveAccessKey();
  }

  /** The cached name only (for mentions, which are rendered synchronously). */
  cachedName(aci: string): string | null {
    return this.names.get(aci)?.name ?? null;
  }
}
