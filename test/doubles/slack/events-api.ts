import { createHmac } from "node:crypto";
import { nowSeconds } from "./ids.js";

/**
 * Slack's Events API side: signed POSTs to the app's Request URL. One call is one attempt; the
 * retry policy lives in event-delivery.ts.
 */

export type PushOutcome = "acked" | "timeout" | "http_error" | "connection_failed";

export interface PushResult {
  outcome: PushOutcome;
  status?: number;
  body?: string;
}

/** `v0=` + hex HMAC-SHA256 of "v0:<timestamp>:<body>", Slack's request signature. */
export function slackSignature(secret: string, timestamp: number, body: string): string {
  return `v0=${createHmac("sha256", secret).update(`v0:${timestamp}:${body}`).digest("hex")}`;
}

/** X-Slack-Retry-Reason values, by why the previous attempt failed. */
const RETRY_REASON: Record<string, string> = {
  timeout: "http_timeout",
  http_error: "http_error",
  connection_failed: "connection_failed",
  connection_closed: "connection_failed",
};

export class EventsApiPusher {
  /** How many upcoming pushes get a signature made with the wrong secret. */
  corruptSignatures = 0;
  private readonly inFlight = new Set<AbortController>();

  constructor(private readonly signingSecret: string) {}

  async push(
    url: string,
    body: string,
    timeoutMs: number,
    retry?: { num: number; previousOutcome: string },
  ): Promise<PushResult> {
    const timestamp = nowSeconds();
    let secret = this.signingSecret;
    if (this.corruptSignatures > 0) {
      this.corruptSignatures -= 1;
      secret = `${secret}-wrong`;
    }
    const headers: Record<string, string> = {
      "Content-Type": "application/json",
      "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
      "X-Slack-Request-Timestamp": String(timestamp),
      "X-Slack-Signature": slackSignature(secret, timestamp, body),
    };
    if (retry) {
      headers["X-Slack-Retry-Num"] = String(retry.num);
      headers["X-Slack-Retry-Reason"] = RETRY_REASON[retry.previousOutcome] ?? "unknown_error";
    }
    const controller = new AbortController();
    this.inFlight.add(controller);
    const timer = setTimeout(() => controller.abort(new Error("timeout")), timeoutMs);
    try {
      const res = await fetch(url, {
        method: "POST",
        headers,
        body,
        signal: controller.signal,
        redirect: "manual",
      });
      const text = await res.text();
      return { outcome: res.status === 200 ? "acked" : "http_error", status: res.status, body: text };
    } catch {
      return { outcome: controller.signal.aborted ? "timeout" : "connection_failed" };
    } finally {
      clearTimeout(timer);
      this.inFlight.delete(controller);
    }
  }

  /** Slack's Request URL check: the app must echo `challenge` (as JSON {challenge} or plain text). */
  async verifyUrl(url: string, verificationToken: string, timeoutMs: number): Promise<boolean> {
    const challenge = `chal-${Math.random().toString(36).slice(2)}`;
    const body = JSON.stringify({ token: verificationToken, challenge, type: "url_verification" });
    const result = await this.push(url, body, timeoutMs);
    if (result.outcome !== "acked" || result.body === undefined) return false;
    if (result.body.trim() === challenge) return true;
    try {
      return (JSON.parse(result.body) as { challenge?: unknown }).challenge === challenge;
    } catch {
      return false;
    }
  }

  abortAll(): void {
    for (const c of this.inFlight) c.abort(new Error("double closed"));
  }
}
