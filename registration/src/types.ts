/** One namespace entry, as in the spec's `namespace_list.yaml`. */
export interface Namespace {
  exclusive: boolean;
  regex: string;
}

/**
 * An application-service registration, shaped and spelled (snake_case) exactly like the YAML file
 * the homeserver loads. See the Matrix spec, application-service/definitions/registration.yaml.
 */
export interface Registration {
  id: string;
  /** Where the homeserver reaches the appservice; `null` means "send no traffic". */
  url: string | null;
  as_token: string;
  hs_token: string;
  sender_localpart: string;
  namespaces: {
    users: Namespace[];
    aliases: Namespace[];
    rooms: Namespace[];
  };
  /** Optional in the spec; Synapse treats a missing value as `true`. */
  rate_limited?: boolean;
  /** Matrix 1.13 name for MSC2409 (typing, read receipts, presence pushed to the appservice). */
  receive_ephemeral?: boolean;
  /** Unstable MSC2409 name, still read by older homeservers. */
  "de.sorunome.msc2409.push_ephemeral"?: boolean;
  protocols?: string[];
}

/** What the registration is built from. Knows nothing of the config file format. */
export interface RegistrationInput {
  /** Appservice id, e.g. "switchboard". */
  id: string;
  /** Where the homeserver reaches the appservice, e.g. "http://127.0.0.1:9000". */
  url: string | null;
  /** The bridge bot's localpart, e.g. "switchboard". */
  senderLocalpart: string;
  /** The homeserver's server_name, e.g. "example.org". */
  domain: string;
  /** One per enabled bridge, e.g. { userPrefix: "irc_", aliasPrefix: "irc_" }. */
  namespaces: NamespaceInput[];
  /** Optional third-party protocol ids (spec `protocols`), e.g. ["irc"]. */
  protocols?: string[];
}

export interface NamespaceInput {
  userPrefix: string;
  aliasPrefix: string;
  /** Used only to make messages readable, e.g. "irc". */
  name?: string;
}

export type RegistrationProblemCode =
  | "url-missing"
  | "url-mismatch"
  | "id-mismatch"
  | "sender-localpart-mismatch"
  | "users-namespace-missing"
  | "aliases-namespace-missing"
  | "namespace-not-exclusive"
  | "namespace-invalid-regex"
  | "as-token-mismatch"
  | "hs-token-mismatch"
  | "tokens-equal"
  | "token-too-short"
  | "rate-limited"
  | "receive-ephemeral-missing";

export interface RegistrationProblem {
  code: RegistrationProblemCode;
  /** Dotted path into the registration, e.g. "namespaces.users[0].exclusive". */
  path: string;
  /** What is wrong and what it breaks. Never contains a token. */
  message: string;
  /** What the admin should do about it. */
  fix: string;
}

/** Thrown for unreadable registration files and for inputs that cannot make a valid registration. */
export class RegistrationError extends Error {
  /** One line per problem found (also joined into `message`). */
  readonly details: string[];

  constructor(message: string, details: string[] = []) {
    super(details.length > 0 ? `${message}\n${details.map((d) => `  - ${d}`).join("\n")}` : message);
    this.name = "RegistrationError";
    this.details = details;
  }
}

/** The command that regenerates the registration; quoted in problem fixes and the YAML header. */
export const REGENERATE_COMMAND = "switchboard registration -c config.yaml -o registration.yaml";
