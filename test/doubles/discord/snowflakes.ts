import { createHash, randomBytes } from "node:crypto";

/**
 * Mints Discord identifiers. Snowflakes carry their creation time (milliseconds since the Discord
 * epoch, shifted left by 22 bits), which Discord's clients rely on: message ordering, `before`/`after`
 * pagination and discord.js's `createdTimestamp` all read it. So ids here are real snowflakes from the
 * wall clock, strictly increasing, with a per-double worker id so two doubles never collide.
 */

const DISCORD_EPOCH = 1420070400000n;

export class SnowflakeMint {
  private readonly worker = BigInt(randomBytes(1)[0]! & 0x1f);
  private lastMs = 0n;
  private increment = 0n;

  next(): string {
    let ms = BigInt(Date.now()) - DISCORD_EPOCH;
    if (ms <= this.lastMs) {
      ms = this.lastMs;
      this.increment += 1n;
      // 4096 ids in one millisecond: borrow the next millisecond rather than repeat an id.
      if (this.increment > 0xfffn) {
        ms += 1n;
        this.increment = 0n;
      }
    } else {
      this.increment = 0n;
    }
    this.lastMs = ms;
    return ((ms << 22n) | (this.worker << 17n) | this.increment).toString();
  }

  /** A bot token shaped like Discord's: base64(user id) . timestamp part . HMAC part. */
  botToken(userId: string): string {
    const head = Buffer.from(userId).toString("base64url");
    return `${head}.${randomBytes(4).toString("base64url")}.${randomBytes(27).toString("base64url")}`;
  }

  /** Webhook and interaction tokens: long opaque url-safe strings. */
  secret(bytes = 48): string {
    return randomBytes(bytes).toString("base64url");
  }
}

/** Milliseconds since the Unix epoch at which a snowflake was minted. */
export function snowflakeTime(id: string): number {
  return Number((BigInt(id) >> 22n) + DISCORD_EPOCH);
}

/** The smallest snowflake of a moment, for comparisons like "older than two weeks". */
export function snowflakeAt(ms: number): bigint {
  return (BigInt(ms) - DISCORD_EPOCH) << 22n;
}

export function compareSnowflakes(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Discord image hashes are 32 hex digits; deriving them from the bytes keeps them stable. */
export function imageHash(data: Buffer | string): string {
  return createHash("md5").update(data).digest("hex");
}

export function isoNow(ms = Date.now()): string {
  // Discord writes microseconds and an explicit offset: 2024-05-01T12:00:00.123000+00:00.
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000+00:00");
}
