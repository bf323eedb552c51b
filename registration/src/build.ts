import { randomBytes } from "node:crypto";
import type { Namespace, Registration, RegistrationInput } from "./types.js";
import { RegistrationError } from "./types.js";

/** Bytes of randomness in a generated token (43 url-safe base64 characters). */
export const TOKEN_BYTES = 32;

/** Characters allowed in a Matrix user localpart (spec: a-z, 0-9, ".", "_", "=", "-", "/", "+"). */
const LOCALPART = /^[a-z0-9._=\-/+]+$/;
/** A server_name: DNS name, IPv4 or [IPv6] literal, optional port. */
const SERVER_NAME = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?$/;

/** A fresh random token: 32 bytes from crypto.randomBytes, base64url (no padding). */
export function generateToken(): string {
  return randomBytes(TOKEN_BYTES).toString("base64url");
}

/**
 * Escapes regex metacharacters so the text matches literally, in POSIX ERE, Python `re`,
 * Rust `regex` and JavaScript alike. Only metacharacters are escaped: some engines reject
 * escapes of ordinary characters.
 */
export function escapeRegex(text: string): string {
  return text.replace(/[\\.+*?()|[\]{}^$]/g, "\\$&");
}

/** The users regex for a localpart prefix, e.g. `@irc_.*:example\.org`. */
export function userNamespaceRegex(prefix: string, domain: string): string {
  return `@${escapeRegex(prefix)}.*:${escapeRegex(domain)}`;
}

/** The aliases regex for an alias prefix, e.g. `#irc_.*:example\.org`. */
export function aliasNamespaceRegex(prefix: string, domain: string): string {
  return `#${escapeRegex(prefix)}.*:${escapeRegex(domain)}`;
}

/** The exact-match users regex for the bot, e.g. `@switchboard:example\.org`. */
export function botUserRegex(localpart: string, domain: string): string {
  return `@${escapeRegex(localpart)}:${escapeRegex(domain)}`;
}

/** True when `regex` matches the whole of `text` (JavaScript semantics). */
function fullyMatches(regex: string, text: string): boolean {
  return new RegExp(`^(?:${regex})$`).test(text);
}

function validateInput(input: RegistrationInput): void {
  const errors: string[] = [];
  if (input.id.trim() === "") errors.push("id: must not be empty");
  if (input.url !== null) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(input.url);
    } catch {
      errors.push(`url: "${input.url}" is not an absolute URL (expected e.g. http://127.0.0.1:9000)`);
    }
    if (parsed && parsed.protocol !== "http:" && parsed.protocol !== "https:") {
      errors.push(`url: "${input.url}" must use http or https`);
    }
  }
  if (!LOCALPART.test(input.senderLocalpart)) {
    errors.push(
      `senderLocalpart: "${input.senderLocalpart}" is not a valid Matrix localpart (use a-z, 0-9 and . _ = - / +)`,
    );
  }
  if (!SERVER_NAME.test(input.domain)) {
    errors.push(`domain: "${input.domain}" is not a valid server_name (expected e.g. example.org)`);
  }
  // No bridge enabled is still a valid registration (the bot's own namespace): a fresh install
  // starts, and the bridge tells the admin to enable one.
  input.namespaces.forEach((ns, i) => {
    const label = `namespaces[${i}]${ns.name ? ` (${ns.name})` : ""}`;
    if (ns.userPrefix === "") {
      errors.push(`${label}.userPrefix: must not be empty (it would claim every user on the server)`);
    } else if (!LOCALPART.test(ns.userPrefix)) {
      errors.push(
        `${label}.userPrefix: "${ns.userPrefix}" has characters not allowed in a localpart (use a-z, 0-9 and . _ = - / +)`,
      );
    }
    if (ns.aliasPrefix === "") {
      errors.push(`${label}.aliasPrefix: must not be empty (it would claim every alias on the server)`);
    } else if (/[\s:]/.test(ns.aliasPrefix)) {
      errors.push(`${label}.aliasPrefix: "${ns.aliasPrefix}" must not contain ":" or whitespace`);
    }
  });
  if (errors.length > 0) {
    throw new RegistrationError("Cannot build an appservice registration from this input:", errors);
  }
}

function pushUnique(list: Namespace[], regex: string): void {
  if (!list.some((n) => n.regex === regex)) list.push({ exclusive: true, regex });
}

/**
 * Builds the registration. Tokens are random, except that tokens found in `existing` are kept,
 * so regenerating the file never breaks a bridge that is already deployed with them.
 */
export function buildRegistration(input: RegistrationInput, existing?: Registration): Registration {
  validateInput(input);

  const users: Namespace[] = [];
  const aliases: Namespace[] = [];
  for (const ns of input.namespaces) {
    pushUnique(users, userNamespaceRegex(ns.userPrefix, input.domain));
    pushUnique(aliases, aliasNamespaceRegex(ns.aliasPrefix, input.domain));
  }
  const botId = `@${input.senderLocalpart}:${input.domain}`;
  if (!users.some((n) => fullyMatches(n.regex, botId))) {
    users.push({ exclusive: true, regex: botUserRegex(input.senderLocalpart, input.domain) });
  }

  const keep = (token: string | undefined): string | undefined =>
    typeof token === "string" && token !== "" ? token : undefined;

  const registration: Registration = {
    id: input.id,
    url: input.url,
    as_token: keep(existing?.as_token) ?? generateToken(),
    hs_token: keep(existing?.hs_token) ?? generateToken(),
    sender_localpart: input.senderLocalpart,
    rate_limited: false,
    receive_ephemeral: true,
    "de.sorunome.msc2409.push_ephemeral": true,
    namespaces: { users, aliases, rooms: [] },
  };
  if (input.protocols && input.protocols.length > 0) {
    registration.protocols = [...input.protocols];
  }
  return registration;
}
