/**
 * Connecting: node-postgres settings of our pool, and errors that say where and what to do. The URL
 * holds the password, so no error made here carries the URL or an error that might.
 */
import pg from "pg";

/** Shorter passwords would turn ordinary words of a message into asterisks; they protect nothing. */
const MIN_REDACTED_PASSWORD = 4;

/**
 * Column parsers for this pool only (not node-postgres's global ones, which other code may use):
 * jsonb arrives as text for `fromDbJson`, and bigint (seq, counts) as a number: seq and row counts
 * stay far below 2^53.
 */
export function typeParsers(): pg.CustomTypesConfig {
  const types = new pg.TypeOverrides();
  types.setTypeParser(pg.types.builtins.JSONB, (text: string) => text);
  types.setTypeParser(pg.types.builtins.INT8, (text: string) => Number(text));
  return types;
}

/** Where a URL points, for error messages: everything but the password. */
export interface Target {
  description: string;
  password: string;
}

export function targetOf(url: string): Target {
  try {
    // Resolves the URL exactly as the pool will (libpq defaults, PG* environment); connects nowhere.
    const client = new pg.Client({ connectionString: url });
    const host = client.host.startsWith("/") ? `socket directory ${client.host}` : `host ${client.host}`;
    const database = client.database ?? "(default)";
    const user = client.user ?? "(default)";
    return {
      description: `${host}, port ${client.port}, database "${database}", user "${user}"`,
      password: typeof client.password === "string" ? client.password : "",
    };
  } catch {
    // The parser's error carries the whole URL (password included) in its `input` property.
    throw new Error(
      "PostgreSQL store: store.url is not a valid PostgreSQL URL (postgres://user:password@host:port/database; " +
        "percent-encode special characters in the password)",
    );
  }
}

export function redact(message: string, password: string): string {
  return password.length >= MIN_REDACTED_PASSWORD ? message.split(password).join("***") : message;
}

const CONNECTION_HINTS: Record<string, string> = {
  ECONNREFUSED: "is PostgreSQL running there, and are host and port in store.url right?",
  ENOTFOUND: "is the host name in store.url right?",
  EAI_AGAIN: "is the host name in store.url right?",
  ETIMEDOUT: "is the server reachable from here (firewall, listen_addresses)?",
  "28P01": "check the user and password in store.url",
  "28000": "the server's pg_hba.conf does not let this user connect from here",
  "3D000": "create it first, e.g. createdb -O <user> <database>",
};

/** A new error naming the target and the remedy; never the cause itself (it may carry the URL). */
export function openError(target: Target, error: unknown): Error {
  const cause = error as { message?: unknown; code?: unknown };
  const code = typeof cause.code === "string" ? cause.code : undefined;
  const raw = typeof cause.message === "string" && cause.message !== "" ? cause.message : String(error);
  const reason = /timeout/i.test(raw) ? `${raw} (${CONNECTION_HINTS.ETIMEDOUT})` : raw;
  const hint = code !== undefined && CONNECTION_HINTS[code] ? ` (${CONNECTION_HINTS[code]})` : "";
  const wrapped = new Error(
    redact(`PostgreSQL store at ${target.description}: ${reason}${hint}`, target.password),
  );
  if (code !== undefined) Object.assign(wrapped, { code });
  return wrapped;
}
