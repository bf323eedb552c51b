/**
 * Discord's JSON errors: `{ code, message, errors? }` with an HTTP status. The REST layer answers
 * them as-is; the test-facing helpers throw them too, so a test doing something Discord's own client
 * would refuse (reacting with a non-emoji, posting into a forum) fails with Discord's words.
 */

/** Per-field errors of a 50035 Invalid Form Body: `{ field: { _errors: [{ code, message }] } }`. */
export interface FieldErrors {
  [field: string]: FieldErrors | { _errors: Array<{ code: string; message: string }> };
}

export class DiscordApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
    readonly errors?: FieldErrors,
  ) {
    super(message);
  }

  body(): { code: number; message: string; errors?: FieldErrors } {
    return { code: this.code, message: this.message, ...(this.errors ? { errors: this.errors } : {}) };
  }
}

const UNKNOWN = {
  account: [10001, "Unknown Account"],
  application: [10002, "Unknown Application"],
  channel: [10003, "Unknown Channel"],
  guild: [10004, "Unknown Guild"],
  member: [10007, "Unknown Member"],
  message: [10008, "Unknown Message"],
  role: [10011, "Unknown Role"],
  user: [10013, "Unknown User"],
  emoji: [10014, "Unknown Emoji"],
  webhook: [10015, "Unknown Webhook"],
  interaction: [10062, "Unknown interaction"],
  command: [10063, "Unknown application command"],
} as const;

export function unknown(what: keyof typeof UNKNOWN): DiscordApiError {
  const [code, message] = UNKNOWN[what];
  // Unknown Emoji is a 400 on Discord (the emoji is part of the request), the rest are 404s.
  return new DiscordApiError(what === "emoji" ? 400 : 404, code, message);
}

export const missingAccess = (): DiscordApiError => new DiscordApiError(403, 50001, "Missing Access");
export const missingPermissions = (): DiscordApiError =>
  new DiscordApiError(403, 50013, "Missing Permissions");
export const unauthorized = (): DiscordApiError => new DiscordApiError(401, 0, "401: Unauthorized");

/** 50035 with one field's error, the way Discord nests it (`message_reference` → `_errors`). */
export function invalidForm(path: string, code: string, message: string): DiscordApiError {
  const parts = path.split(".");
  let errors: FieldErrors = { [parts.at(-1)!]: { _errors: [{ code, message }] } };
  for (const part of parts.slice(0, -1).reverse()) errors = { [part]: errors };
  return new DiscordApiError(400, 50035, "Invalid Form Body", errors);
}

export function badRequest(code: number, message: string): DiscordApiError {
  return new DiscordApiError(400, code, message);
}
