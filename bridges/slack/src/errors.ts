import { PermanentError, RateLimitedError } from "@switchboard/framework";

/**
 * Slack's error codes as the framework's decisions: what can never succeed is a
 * `PermanentError` with words for the room (retrying a `channel_not_found` for minutes helps
 * nobody), a rate limit the Web API gave up on is a `RateLimitedError`, and anything else
 * (Slack unreachable, a 5xx) stays transient and is retried.
 */
const PERMANENT: Record<string, string> = {
  channel_not_found: "the Slack channel no longer exists or the bridge cannot see it",
  not_in_channel: "the bridge's Slack app is not in that channel (invite it with /invite)",
  is_archived: "the Slack channel is archived",
  msg_too_long: "the message is too long for Slack",
  no_text: "the message has no text Slack accepts",
  restricted_action: "the workspace's settings do not allow this",
  cant_update_message: "Slack does not allow editing that message",
  edit_window_closed: "Slack's time limit for editing that message has passed",
  message_not_found: "the Slack message no longer exists",
  cant_delete_message: "Slack does not allow deleting that message",
  invalid_name: "Slack has no such emoji",
  too_many_emoji: "the message already has as many reactions as Slack allows",
  too_many_reactions: "the message already has as many reactions as Slack allows",
  file_uploads_disabled: "file uploads are disabled in this Slack workspace",
  missing_scope: "the bridge's Slack app lacks a permission (scope) for this: see the Slack bridge README",
};

/** Codes that mean Slack no longer accepts a token (revoked, expired, deactivated account). */
export const SLACK_TOKEN_ERRORS = new Set([
  "token_revoked",
  "token_expired",
  "invalid_auth",
  "account_inactive",
  "not_authed",
]);

/** The error code of a failed Web API call, when Slack gave one. */
export function slackError(err: unknown): string | undefined {
  const data = (err as { data?: { error?: unknown } } | null)?.data;
  return typeof data?.error === "string" ? data.error : undefined;
}

export function typedSlackError(err: unknown): unknown {
  const code = slackError(err);
  if (code && code in PERMANENT) return new PermanentError(`${PERMANENT[code]} (${code})`, { cause: err });
  const retryAfter = (err as { retryAfter?: unknown } | null)?.retryAfter;
  if (typeof retryAfter === "number") return new RateLimitedError(retryAfter * 1000);
  return err;
}

/** Runs a Matrix → Slack call, translating Slack's refusals. */
export async function decided<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (err) {
    throw typedSlackError(err);
  }
}
