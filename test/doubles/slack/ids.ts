import { randomBytes, randomUUID } from "node:crypto";

const ID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/**
 * Mints Slack-looking identifiers. IDs carry a per-double random stem so two doubles in one process
 * never hand out the same ID (a test mixing them up fails loudly), and are long enough for the
 * spec's patterns (`^[CGD][A-Z0-9]{8,}$` and friends).
 */
export class IdMint {
  private readonly stem = Array.from(randomBytes(4), (b) => ID_ALPHABET[b % ID_ALPHABET.length]).join("");
  private counter = 0;
  private lastMicros = 0;
  private now: () => number = Date.now;

  /**
   * The wall clock messages are stamped with (`SlackDouble.setClock`): a channel's past. Set
   * before the past is posted; going back is allowed then, since nothing was stamped in the past
   * yet, and the real clock (none) is past every stamp it made.
   */
  setClock(now?: () => number): void {
    this.now = now ?? Date.now;
    if (now) this.lastMicros = Math.floor(now() * 1000) - 1;
  }

  /** T team, U user, B bot, A app, C channel, D im, F file, Ev event. */
  id(prefix: "T" | "U" | "B" | "A" | "C" | "D" | "F" | "Ev"): string {
    this.counter += 1;
    return `${prefix}${this.stem}${this.counter.toString(36).toUpperCase().padStart(6, "0")}`;
  }

  /**
   * Message timestamps are the identity of a message in Slack, so they must never repeat or go
   * backwards: wall-clock microseconds, bumped by one when two land in the same microsecond.
   */
  ts(): string {
    const micros = Math.max(this.now() * 1000, this.lastMicros + 1);
    this.lastMicros = micros;
    return `${Math.floor(micros / 1e6)}.${String(micros % 1e6).padStart(6, "0")}`;
  }

  token(kind: "xoxb" | "xoxp"): string {
    return `${kind}-${digits()}-${digits()}-${randomBytes(12).toString("base64url")}`;
  }

  appToken(appId: string): string {
    return `xapp-1-${appId}-${digits()}-${randomBytes(32).toString("hex")}`;
  }

  secret(): string {
    return randomBytes(16).toString("hex");
  }

  /** An app's Client ID: two dot-separated numbers, like Slack's. */
  clientId(): string {
    return `${digits()}.${digits()}${digits().slice(0, 3)}`;
  }

  /** A one-time OAuth authorization code. */
  oauthCode(): string {
    return `${digits()}.${digits()}.${randomBytes(32).toString("hex")}`;
  }

  uuid(): string {
    return randomUUID();
  }
}

function digits(): string {
  return String(1_000_000_000 + Math.floor(Math.random() * 8_999_999_999));
}

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
