import { invalidForm } from "./errors.js";
import type { Interactions } from "./interactions.js";
import type { MessageEdit, MessageInput, NewAttachment } from "./messages.js";
import type { Model } from "./model.js";

/**
 * The REST API's shared machinery: what a route handler receives, what it returns, the body readers
 * that turn Discord's JSON (or multipart `payload_json` + `files[n]`) into model inputs, and route
 * matching. The handlers themselves live in routes-*.ts, one small function per route; HTTP,
 * authentication, rate limits and spec checks are http-server.ts's business.
 */

export interface UploadedFile {
  field: string;
  filename: string;
  contentType: string;
  data: Buffer;
}

export interface RouteContext {
  model: Model;
  interactions: Interactions;
  params: Record<string, string>;
  query: URLSearchParams;
  body: unknown;
  files: UploadedFile[];
  /** What GET /gateway(/bot) answers as `url`. */
  gatewayUrl: string;
}

export interface RouteResult {
  status?: number;
  body?: unknown;
}

export interface Route {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** The path template exactly as the OpenAPI spec writes it. */
  path: string;
  /** "bot": needs `Authorization: Bot <token>`; "none": webhook/interaction tokens in the path authorise. */
  auth: "bot" | "none";
  run(ctx: RouteContext): RouteResult;
}

/** Answer with a JSON body and status 200 (or another), or 204 when there is nothing to say. */
export const ok = (body: unknown, status = 200): RouteResult => ({ status, body });
export const noContent = (): RouteResult => ({ status: 204 });

export function matchRoute(
  routes: Route[],
  method: string,
  path: string,
): { route: Route; params: Record<string, string> } | undefined {
  // Clients percent-encode segments (`%40me`, emoji): compare and capture them decoded.
  const parts = path
    .split("/")
    .filter((p) => p !== "")
    .map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        return p;
      }
    });
  let best: { route: Route; params: Record<string, string>; literals: number } | undefined;
  for (const route of routes) {
    if (route.method !== method) continue;
    const tpl = route.path.split("/").filter((p) => p !== "");
    if (tpl.length !== parts.length) continue;
    const params: Record<string, string> = {};
    let literals = 0;
    let matched = true;
    for (const [i, seg] of tpl.entries()) {
      const actual = parts[i] ?? "";
      if (seg.startsWith("{") && seg.endsWith("}")) {
        params[seg.slice(1, -1)] = actual;
      } else if (seg === actual) {
        literals += 1;
      } else {
        matched = false;
        break;
      }
    }
    // `/users/@me` beats `/users/{user_id}`: the template with more literal segments wins.
    if (matched && (!best || literals > best.literals)) best = { route, params, literals };
  }
  return best && { route: best.route, params: best.params };
}

/** Any path under some route template, whatever the method: a 405 rather than a 404. */
export function pathKnown(routes: Route[], path: string): boolean {
  return ["GET", "POST", "PUT", "PATCH", "DELETE"].some((m) => matchRoute(routes, m, path) !== undefined);
}

// ---- body readers ------------------------------------------------------------------------------

export type Json = Record<string, unknown>;

export function objectBody(body: unknown): Json {
  if (body === undefined || body === null) return {};
  if (typeof body !== "object" || Array.isArray(body)) {
    throw invalidForm("_root", "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType");
  }
  return body as Json;
}

export function optString(o: Json, key: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw invalidForm(key, "BASE_TYPE_STRING", "Must be a string.");
  return v;
}

export function requireString(o: Json, key: string): string {
  const v = optString(o, key);
  if (v === undefined) throw invalidForm(key, "BASE_TYPE_REQUIRED", "This field is required");
  return v;
}

export function optInt(o: Json, key: string): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  const n = typeof v === "string" && /^-?\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== "number" || !Number.isInteger(n))
    throw invalidForm(key, "NUMBER_TYPE_COERCE", "Value is not int.");
  return n;
}

export function optBool(o: Json, key: string): boolean | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "boolean") throw invalidForm(key, "BOOLEAN_TYPE_CONVERT", "Must be either true or false.");
  return v;
}

export function optArray(o: Json, key: string): Json[] | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw invalidForm(key, "LIST_TYPE_CONVERT", "Must be an array.");
  return v.map((x) => objectBody(x));
}

/** Query `limit` within Discord's bounds; absent means the route's default. */
export function queryLimit(q: URLSearchParams, fallback: number, min: number, max: number): number {
  const raw = q.get("limit");
  if (raw === null || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n)) throw invalidForm("limit", "NUMBER_TYPE_COERCE", "Value is not int.");
  if (n < min || n > max) {
    throw invalidForm(
      "limit",
      n < min ? "NUMBER_TYPE_MIN" : "NUMBER_TYPE_MAX",
      `int value should be ${n < min ? "greater" : "less"} than or equal to ${n < min ? min : max}.`,
    );
  }
  return n;
}

export function querySnowflake(q: URLSearchParams, key: string): string | undefined {
  const raw = q.get(key);
  if (raw === null || raw === "") return undefined;
  if (!/^\d{1,20}$/.test(raw))
    throw invalidForm(key, "NUMBER_TYPE_COERCE", `Value "${raw}" is not snowflake.`);
  return raw;
}

export function queryBool(q: URLSearchParams, key: string): boolean {
  const raw = q.get(key);
  return raw === "true" || raw === "True" || raw === "1";
}

/**
 * Uploads keyed by `files[n]` (discord.js) or any other field with a filename, matched to the
 * payload's `attachments` entries whose `id` is the upload's index, which carry description/title.
 */
function uploads(o: Json, files: UploadedFile[]): NewAttachment[] {
  const meta = optArray(o, "attachments") ?? [];
  return files.map((f, index) => {
    const n = /^files\[(\d+)\]$/.exec(f.field)?.[1] ?? String(index);
    const m = meta.find((a) => String(a.id) === n);
    const description = m ? optString(m, "description") : undefined;
    const title = m ? optString(m, "title") : undefined;
    const filename = (m ? optString(m, "filename") : undefined) ?? f.filename;
    return {
      filename,
      data: f.data,
      ...(f.contentType !== "" && f.contentType !== "application/octet-stream"
        ? { contentType: f.contentType }
        : {}),
      ...(description !== undefined ? { description } : {}),
      ...(title !== undefined ? { title } : {}),
    };
  });
}

/** A create-message body (MessageCreateRequest, webhook execute, interaction data) as model input. */
export function messageInput(o: Json, files: UploadedFile[]): MessageInput {
  const ref = o.message_reference;
  const refObj = ref === undefined || ref === null ? undefined : objectBody(ref);
  const nonce = o.nonce;
  if (nonce !== undefined && nonce !== null && typeof nonce !== "string" && typeof nonce !== "number") {
    throw invalidForm("nonce", "BASE_TYPE_STRING", "Must be a string.");
  }
  const content = optString(o, "content");
  const embeds = optArray(o, "embeds");
  const components = optArray(o, "components");
  const allowed = o.allowed_mentions;
  const tts = optBool(o, "tts");
  const flags = optInt(o, "flags");
  const enforceNonce = optBool(o, "enforce_nonce");
  return {
    ...(content !== undefined ? { content } : {}),
    ...(embeds ? { embeds } : {}),
    ...(components ? { components } : {}),
    files: uploads(o, files),
    ...(refObj
      ? {
          replyTo: {
            messageId: requireString(refObj, "message_id"),
            ...(optString(refObj, "channel_id") !== undefined
              ? { channelId: optString(refObj, "channel_id")! }
              : {}),
            ...(optBool(refObj, "fail_if_not_exists") !== undefined
              ? { failIfNotExists: optBool(refObj, "fail_if_not_exists")! }
              : {}),
          },
        }
      : {}),
    ...(allowed !== undefined ? { allowedMentions: allowed === null ? null : objectBody(allowed) } : {}),
    ...(tts !== undefined ? { tts } : {}),
    ...(flags !== undefined ? { flags } : {}),
    ...(nonce !== undefined && nonce !== null ? { nonce } : {}),
    ...(enforceNonce !== undefined ? { enforceNonce } : {}),
  };
}

/** An edit body: `attachments` lists what to keep (existing ids) and which uploads to add (indexes). */
export function messageEdit(o: Json, files: UploadedFile[], existingIds: string[]): MessageEdit {
  const edit: MessageEdit = {};
  if ("content" in o) edit.content = o.content === null ? null : requireString(o, "content");
  if ("embeds" in o) edit.embeds = optArray(o, "embeds") ?? null;
  if ("components" in o) edit.components = optArray(o, "components") ?? null;
  if ("flags" in o) edit.flags = optInt(o, "flags") ?? null;
  if ("allowed_mentions" in o)
    edit.allowedMentions = o.allowed_mentions === null ? null : objectBody(o.allowed_mentions);
  const meta = optArray(o, "attachments");
  const added = uploads(o, files);
  if (meta) {
    edit.keepAttachments = meta.map((a) => String(a.id)).filter((id) => existingIds.includes(id));
    const wanted = new Set(meta.map((a) => String(a.id)));
    edit.files = added.filter((_, i) =>
      wanted.has(/^files\[(\d+)\]$/.exec(files[i]?.field ?? "")?.[1] ?? String(i)),
    );
  } else {
    edit.files = added;
  }
  return edit;
}
