import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";

/**
 * Credentials at rest: AES-256-GCM under a key derived (HKDF-SHA256) from the configured
 * secret, so the store never holds a token in the clear and a tampered record fails to
 * decrypt instead of yielding garbage.
 */
export class CredentialBox {
  private readonly key: Buffer;

  constructor(secret: string | Buffer) {
    this.key = Buffer.from(hkdfSync("sha256", secret, "switchboard", "credentials v1", 32));
  }

  seal(value: unknown): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.key, iv);
    const data = Buffer.concat([cipher.update(JSON.stringify(value), "utf8"), cipher.final()]);
    return `v1:${Buffer.concat([iv, cipher.getAuthTag(), data]).toString("base64")}`;
  }

  open(sealed: string): unknown {
    if (!sealed.startsWith("v1:")) throw new Error("unknown credential format");
    const raw = Buffer.from(sealed.slice(3), "base64");
    const decipher = createDecipheriv("aes-256-gcm", this.key, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    const text = Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8");
    return JSON.parse(text) as unknown;
  }
}

/**
 * A short public name for a key: which key sealed a backup's credentials, checkable on restore
 * without unsealing anything. A separate HKDF output, so it says nothing about the sealing key.
 */
export function keyFingerprint(secret: string | Buffer): string {
  return Buffer.from(hkdfSync("sha256", secret, "switchboard", "key fingerprint v1", 16)).toString("hex");
}
