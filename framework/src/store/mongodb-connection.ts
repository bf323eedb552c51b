/**
 * Connecting: what a MongoDB URL points at, and errors that say where and what to do. The URL holds
 * the password, so no error made here carries the URL, or an error (or its `cause`) that might.
 */
import { MongoClient } from "mongodb";

/** Shorter secrets would turn ordinary words of a message into asterisks; they protect nothing. */
const MIN_REDACTED_SECRET = 4;

const SCHEME = /^mongodb(\+srv)?:\/\//;

/** A MongoDB URL cut where the database name goes. */
export interface UrlParts {
  /** `mongodb://user:password@host:port,...` (or `mongodb+srv://...`), without a trailing slash. */
  head: string;
  /** The database named in the path, decoded; "" when the URL names none. */
  database: string;
  /** `?options`, or "". */
  query: string;
}

/**
 * Splits a URL the driver accepts (`targetOf` checks that first). The driver refuses `/`, `?` and `@`
 * unescaped in the user name and password, and a Unix socket host is percent-encoded, so the first
 * `/` or `?` ends the host list.
 */
export function urlParts(url: string): UrlParts {
  const scheme = SCHEME.exec(url)?.[0] ?? "";
  const rest = url.slice(scheme.length);
  const slash = rest.indexOf("/");
  const question = rest.indexOf("?");
  const end = question === -1 ? rest.length : question;
  const authorityEnd = slash !== -1 && slash < end ? slash : end;
  const path = rest.slice(authorityEnd, end);
  let database = path.replace(/^\//, "");
  try {
    database = decodeURIComponent(database);
  } catch {
    // Left as written: the driver reports a malformed name itself.
  }
  return { head: scheme + rest.slice(0, authorityEnd), database, query: rest.slice(end) };
}

/** The same URL naming another database (tests give each case a database of its own). */
export function withDatabase(url: string, database: string): string {
  const parts = urlParts(url);
  return `${parts.head}/${encodeURIComponent(database)}${parts.query}`;
}

/** Where a URL points, for error messages: everything but the password. */
export interface Target {
  description: string;
  database: string;
  /** Forms of the password as they could appear in a message: as written in the URL, and decoded. */
  secrets: string[];
}

export function targetOf(url: string): Target {
  let client: MongoClient;
  try {
    // Resolves the URL exactly as the store's client will (defaults, options, checks); connects nowhere.
    client = new MongoClient(url);
  } catch (error) {
    // The driver's reason helps ("Password contains unescaped characters"); the error itself may hold
    // more of the URL (a `cause`), so only its message is kept, with anything like a password blanked.
    // Only the driver's words are redacted: ours would lose "password" to a password "password".
    const reason = redact(error instanceof Error ? error.message : String(error), guessedSecrets(url));
    // eslint-disable-next-line preserve-caught-error -- the cause may hold the URL, password included
    throw new Error(
      `MongoDB store: store.url is not a valid MongoDB URL (${reason}): write ` +
        "mongodb://user:password@host:27017/database, percent-encoding special characters in the password",
    );
  }
  const options = client.options;
  const { head, database } = urlParts(url);
  const secrets = [...guessedSecrets(head)];
  if (options.credentials?.password) secrets.push(options.credentials.password);
  if (database === "") {
    // Without one the driver would quietly use a database named "test".
    throw new Error(
      "MongoDB store: store.url names no database: add one, e.g. mongodb://user:password@host:27017/switchboard",
    );
  }
  const hosts = options.srvHost
    ? `SRV host ${options.srvHost}`
    : `host${options.hosts.length === 1 ? "" : "s"} ${options.hosts.map(String).join(", ")}`;
  const credentials = options.credentials;
  let who = "no user";
  if (credentials?.username) {
    who = `user "${credentials.username}"`;
    if (credentials.source && credentials.source !== database)
      who += ` (auth database "${credentials.source}")`;
  }
  return { description: `${hosts}, database "${database}", ${who}`, database, secrets };
}

/** What follows the first `:` of the user info (up to the last `@` before the path), raw and decoded. */
function guessedSecrets(url: string): string[] {
  const userInfo = /^[^:/]*:\/\/([^/?]*)@/.exec(url)?.[1] ?? /^[^:/]*:\/\/(.*)@/.exec(url)?.[1];
  if (userInfo === undefined) return [];
  const colon = userInfo.indexOf(":");
  if (colon === -1) return [];
  const raw = userInfo.slice(colon + 1);
  const out = [raw];
  try {
    out.push(decodeURIComponent(raw));
  } catch {
    // Not percent-encoded properly: the raw form is all there is.
  }
  return out;
}

export function redact(message: string, secrets: readonly string[]): string {
  // Longest first, so that a secret containing another is blanked whole.
  return [...secrets]
    .filter((s) => s.length >= MIN_REDACTED_SECRET)
    .sort((a, b) => b.length - a.length)
    .reduce((text, secret) => text.split(secret).join("***"), message);
}

/** Server error codes (`code`) and what to do about them. */
const CODE_HINTS: Record<number, string> = {
  18:
    "check the user and password in store.url; a user created in another database (often admin) " +
    "needs ?authSource=<that database> in store.url",
  13: "the user may not do this here: grant it the readWrite role on this database",
};

/** Messages of connection failures (the driver gives no code for them) and what to do. */
const MESSAGE_HINTS: Array<[RegExp, string]> = [
  [/ECONNREFUSED/, "is MongoDB running there, and are host and port in store.url right?"],
  [/ENOTFOUND|EAI_AGAIN|querySrv/, "is the host name in store.url right?"],
  [
    /timed out|ETIMEDOUT/i,
    "is the server reachable from here (firewall, its bindIp), and is replicaSet in store.url its name?",
  ],
  [/certificate|SSL|TLS/i, "check the tls options in store.url"],
];

/** A new error naming the target and the remedy; never the cause itself (it may carry the URL). */
export function openError(target: Target, error: unknown): Error {
  const cause = error as { message?: unknown; code?: unknown };
  const code = typeof cause.code === "number" || typeof cause.code === "string" ? cause.code : undefined;
  // Only the server's or driver's words are redacted (the description and hints are ours).
  const raw = redact(
    typeof cause.message === "string" && cause.message !== "" ? cause.message : String(error),
    target.secrets,
  );
  const hint =
    (typeof code === "number" ? CODE_HINTS[code] : undefined) ??
    MESSAGE_HINTS.find(([pattern]) => pattern.test(raw))?.[1];
  const wrapped = new Error(`MongoDB store at ${target.description}: ${raw}${hint ? ` (${hint})` : ""}`);
  if (code !== undefined) Object.assign(wrapped, { code });
  return wrapped;
}
