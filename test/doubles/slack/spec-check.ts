import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import SwaggerParser from "@apidevtools/swagger-parser";
import Ajv from "ajv";
import type { ErrorObject, ValidateFunction } from "ajv";

/**
 * Checks the double against Slack's published specs (../shared/specs/slack, frozen Oct 2020):
 * requests it receives against the Web API's parameter lists, responses it sends against the
 * `200` schemas, and events it pushes against the Events API wrapper and AsyncAPI payloads.
 * A mismatch means the double (or the client) drifted from Slack, unless it is one of the
 * spec's own known bugs listed in KNOWN_SPEC_BUGS.
 */

interface Parameter {
  name: string;
  in: string;
  type?: string;
  required?: boolean;
}

interface Operation {
  parameters?: Parameter[];
  responses: Record<string, { schema?: object } | undefined>;
}

interface WebApiSpec {
  paths: Record<string, Record<string, Operation | undefined> | undefined>;
}

interface AsyncApiSpec {
  topics: Record<string, { subscribe?: { payload?: object } } | undefined>;
  components: { schemas: Record<string, object> };
}

/** One rule the frozen spec gets wrong. Kept narrow: a keyword at a path, with the reason. */
interface KnownSpecBug {
  where: "response" | "event";
  /** Method (responses) or event type (events); omitted = all. */
  scope?: RegExp;
  keyword: string;
  /** JSON pointer of the offending value. */
  dataPath: RegExp;
  /** Further narrowing on Ajv's error (e.g. which additional property). */
  test?: (e: ErrorObject) => boolean;
  why: string;
}

const extraProperty =
  (...names: string[]) =>
  (e: ErrorObject) =>
    names.includes((e.params as { additionalProperty?: string }).additionalProperty ?? "");

/** Fields of objs_message that conversations.replies' narrower message variants leave out. */
const REPLY_FIELDS_MISSING_FROM_SPEC = [
  "client_msg_id",
  "bot_id",
  "bot_profile",
  "app_id",
  "username",
  "icons",
  "subtype",
  "blocks",
  "attachments",
  "files",
  "upload",
  "display_as_bot",
  "reactions",
  "edited",
  "metadata",
];

/**
 * Known bugs of the Oct 2020 spec, each checked against Slack's documented behaviour. Anything
 * not matched here is reported as a violation.
 */
export const KNOWN_SPEC_BUGS: KnownSpecBug[] = [
  {
    where: "response",
    keyword: "additionalProperties",
    dataPath: /(^|\/)(message|messages\/\d+|previous_message|latest)$/,
    test: extraProperty("edited", "metadata", "hidden", "app_id"),
    why:
      "objs_message (additionalProperties:false) omits `edited` (on every edited message), `metadata` " +
      "(message metadata, 2022), `hidden` (tombstones) and `app_id` (on every message an app posts)",
  },
  {
    where: "response",
    keyword: "additionalProperties",
    dataPath: /(^|\/)icons$/,
    test: extraProperty("image_48"),
    why: "objs_message.icons only lists emoji/image_64, but a post with icon_url comes back as icons.image_48",
  },
  {
    where: "response",
    keyword: "additionalProperties",
    dataPath: /(^|\/)attachments\/\d+$/,
    why: "objs_message.attachments items only list id/fallback/image_*, not text/title/color/fields/... of real attachments",
  },
  {
    where: "response",
    scope: /^conversations\.replies$/,
    keyword: "additionalProperties",
    dataPath: /^\/messages\/\d+$/,
    test: extraProperty(...REPLY_FIELDS_MISSING_FROM_SPEC),
    why:
      "conversations.replies describes its two message variants (root/reply) from one plain human sample; " +
      "replies are ordinary messages and carry every objs_message field (bot_id, files, reactions, blocks, ...)",
  },
  {
    where: "response",
    scope: /^conversations\.replies$/,
    keyword: "required",
    dataPath: /^\/messages\/\d+$/,
    test: (e) =>
      (e.params as { missingProperty?: string }).missingProperty === "user" &&
      typeof (e.data as { bot_id?: unknown } | undefined)?.bot_id === "string",
    why: "the same variants require `user`, which bot_message replies (username override) do not have",
  },
  {
    where: "response",
    keyword: "minItems",
    dataPath: /^\/messages$/,
    why: "conversations.history/replies say messages has minItems 1, but an empty channel or time window answers []",
  },
  {
    where: "response",
    keyword: "additionalProperties",
    dataPath: /^$/,
    test: extraProperty("response_metadata"),
    why: "conversations.history/replies do not declare `response_metadata`, which carries next_cursor when has_more",
  },
  {
    where: "response",
    keyword: "additionalProperties",
    dataPath: /(^|\/)shares\/(public|private)$/,
    why: "objs_file.shares.public/private are objects keyed by channel id, but the spec gives them no properties and additionalProperties:false",
  },
  {
    where: "response",
    keyword: "pattern",
    dataPath: /(^|\/)groups\/\d+$/,
    why: "defs_group_id requires G-prefixed ids; private channels created since 2021 have C ids (as in this double)",
  },
  {
    where: "response",
    keyword: "enum",
    dataPath: /^\/error$/,
    why:
      "per-method error enums are incomplete (e.g. token_revoked, ratelimited, not_allowed_token_type, " +
      "not_in_channel are missing on many methods); only the {ok:false,error:string} shape is checked",
  },
  {
    where: "event",
    scope: /^message$/,
    keyword: "required",
    dataPath: /^\/event(\/|$)/,
    why:
      "the AsyncAPI `message` payload was generated from one message_deleted-of-a-file-comment sample " +
      "(events-1512674163.json), so it requires deleted_ts/hidden/previous_message.file/... of every message",
  },
];

/** The Events API topic of an event type: reaction_added -> reaction.added. */
function topicOf(eventType: string): string {
  return eventType.replaceAll("_", ".");
}

/**
 * The spec writes "one of A or B" as a tuple `items: [A, B]` on values that are not arrays
 * (bot_id, tz, objs_conversation, objs_user, ...). Ajv ignores `items` there, which would leave
 * those values unchecked, so read it the way the generator meant it: anyOf.
 */
function tupleItemsToAnyOf(node: unknown, seen = new Set<object>()): void {
  if (node === null || typeof node !== "object" || seen.has(node)) return;
  seen.add(node);
  const obj = node as Record<string, unknown>;
  if (Array.isArray(obj.items) && obj.type !== "array") {
    obj.anyOf = obj.items;
    delete obj.items;
  }
  for (const value of Object.values(obj)) tupleItemsToAnyOf(value, seen);
}

function formatError(e: ErrorObject): string {
  const where = e.dataPath === "" ? "(root)" : e.dataPath;
  return `${where} ${e.message ?? e.keyword}${e.keyword === "additionalProperties" ? ` '${(e.params as { additionalProperty?: string }).additionalProperty}'` : ""}`;
}

function within(inner: string, outer: string): boolean {
  return inner === outer || inner.startsWith(`${outer}/`);
}

/**
 * Ajv's errors minus the known spec bugs. An anyOf counts as satisfied when one of its branches
 * failed only on known bugs; otherwise it is reported with the errors of its closest branch.
 */
function unexplained(errors: ErrorObject[], isKnown: (e: ErrorObject) => boolean): ErrorObject[] {
  let remaining = [...errors];
  const anyOfs = errors
    .filter((e) => e.keyword === "anyOf")
    .sort((a, b) => b.schemaPath.length - a.schemaPath.length); // innermost first
  for (const a of anyOfs) {
    const prefix = `${a.schemaPath}/`;
    const inside = remaining.filter((e) => e.schemaPath.startsWith(prefix) && within(e.dataPath, a.dataPath));
    const branches = new Map<string, ErrorObject[]>();
    for (const e of inside) {
      const branch = e.schemaPath.slice(prefix.length).split("/")[0] ?? "";
      branches.set(branch, [...(branches.get(branch) ?? []), e]);
    }
    const scored = [...branches.values()]
      .map((errs) => ({ errs, real: errs.filter((e) => e.keyword === "anyOf" || !isKnown(e)) }))
      .sort((x, y) => x.real.length - y.real.length);
    const best = scored[0];
    const drop = new Set(inside);
    if (!best || best.real.length === 0) drop.add(a);
    else for (const e of best.real) drop.delete(e);
    remaining = remaining.filter((e) => !drop.has(e));
  }
  return remaining.filter((e) => e.keyword === "anyOf" || !isKnown(e));
}

export class SpecChecker {
  private readonly ajv = new Ajv({ allErrors: true, jsonPointers: true, verbose: true, logger: false });
  private readonly responseValidators = new Map<string, ValidateFunction | undefined>();
  private readonly wrapperValidator: ValidateFunction;
  private readonly topicValidators = new Map<string, ValidateFunction | undefined>();

  constructor(
    private readonly web: WebApiSpec,
    private readonly events: AsyncApiSpec,
    wrapperSchema: object,
  ) {
    this.wrapperValidator = this.ajv.compile(wrapperSchema);
  }

  private operation(method: string): Operation | undefined {
    const path = this.web.paths[`/${method}`];
    return path?.get ?? path?.post;
  }

  hasMethod(method: string): boolean {
    return this.operation(method) !== undefined;
  }

  /** Required parameters present and values of a sane type. The token is checked as auth, not here. */
  checkRequest(method: string, params: Record<string, unknown>, jsonBody: boolean): string[] {
    const op = this.operation(method);
    if (!op) return [];
    const problems: string[] = [];
    for (const p of op.parameters ?? []) {
      if (p.name === "token") continue;
      const value = params[p.name];
      if (value === undefined) {
        if (p.required) problems.push(`${method} request: required parameter \`${p.name}\` is missing`);
        continue;
      }
      if (!valueFitsType(value, p.type, jsonBody)) {
        problems.push(`${method} request: \`${p.name}\`=${JSON.stringify(value)} is not a ${p.type}`);
      }
    }
    return problems;
  }

  checkResponse(method: string, body: Record<string, unknown>): string[] {
    const key = `${method}:${body.ok === true ? "200" : "default"}`;
    if (!this.responseValidators.has(key)) {
      const schema = this.operation(method)?.responses[body.ok === true ? "200" : "default"]?.schema;
      this.responseValidators.set(key, schema ? this.ajv.compile(schema) : undefined);
    }
    const validate = this.responseValidators.get(key);
    if (!validate || validate(body)) return [];
    const errors = unexplained(validate.errors ?? [], (e) => isKnownBug("response", method, e));
    return errors.map((e) => `${method} response: ${formatError(e)}`);
  }

  checkEvent(wrapper: Record<string, unknown>): string[] {
    const type = String((wrapper.event as { type?: unknown } | undefined)?.type ?? "");
    const problems: string[] = [];
    const check = (validate: ValidateFunction, what: string) => {
      if (validate(wrapper)) return;
      const errors = unexplained(validate.errors ?? [], (e) => isKnownBug("event", type, e));
      for (const e of errors) problems.push(`${type} event (${what}): ${formatError(e)}`);
    };
    check(this.wrapperValidator, "event wrapper");
    const topic = topicOf(type);
    if (!this.topicValidators.has(topic)) {
      const payload = this.events.topics[topic]?.subscribe?.payload;
      this.topicValidators.set(topic, payload ? this.ajv.compile(payload) : undefined);
    }
    const validate = this.topicValidators.get(topic);
    if (validate) check(validate, `AsyncAPI ${topic}`);
    return problems;
  }
}

function isKnownBug(where: "response" | "event", scope: string, e: ErrorObject): boolean {
  return KNOWN_SPEC_BUGS.some(
    (bug) =>
      bug.where === where &&
      (bug.scope === undefined || bug.scope.test(scope)) &&
      bug.keyword === e.keyword &&
      bug.dataPath.test(e.dataPath) &&
      (bug.test === undefined || bug.test(e)),
  );
}

/**
 * Form bodies carry every value as a string, so "integer" means "digits". JSON bodies carry the
 * JSON-holding form fields (blocks, attachments, ...) as real arrays/objects, which Slack accepts.
 */
function valueFitsType(value: unknown, type: string | undefined, jsonBody: boolean): boolean {
  const text = typeof value === "string" ? value : typeof value === "number" ? String(value) : undefined;
  switch (type) {
    case "integer":
      return text !== undefined && /^-?\d+$/.test(text);
    case "number":
      return text !== undefined && /^-?\d+(\.\d+)?$/.test(text);
    case "boolean":
      return typeof value === "boolean" || (text !== undefined && /^(true|false|1|0)$/.test(text));
    case "string":
      return typeof value === "string" || (jsonBody && typeof value === "object" && value !== null);
    default:
      return true;
  }
}

const loaded = new Map<string, Promise<SpecChecker | undefined>>();
let warnedMissing = false;

/**
 * The checker for a spec directory, built once per process: dereferencing the 1 MB Web API spec
 * costs ~250 ms, compiling a response schema happens on its method's first use.
 */
export function loadSpecChecker(specDir: string): Promise<SpecChecker | undefined> {
  let promise = loaded.get(specDir);
  if (!promise) {
    promise = build(specDir);
    loaded.set(specDir, promise);
  }
  return promise;
}

async function build(specDir: string): Promise<SpecChecker | undefined> {
  const webPath = join(specDir, "web-api", "slack_web_openapi_v2_without_examples.json");
  const asyncPath = join(specDir, "events-api", "slack_events_api_async_v1.json");
  const wrapperPath = join(specDir, "events-api", "slack_common_event_wrapper_schema.json");
  if (![webPath, asyncPath, wrapperPath].every((p) => existsSync(p))) {
    if (!warnedMissing) {
      warnedMissing = true;
      console.warn(
        `Slack double: no Slack specs at ${specDir}; requests, responses and events are NOT validated`,
      );
    }
    return undefined;
  }
  const web = (await SwaggerParser.dereference(webPath)) as unknown as WebApiSpec;
  tupleItemsToAnyOf(web);
  const events = JSON.parse(await readFile(asyncPath, "utf8")) as AsyncApiSpec;
  // Topic payloads point at components with local $refs; inline them so each payload compiles alone.
  for (const topic of Object.values(events.topics)) {
    const payload = topic?.subscribe?.payload as { $ref?: string } | undefined;
    const name = payload?.$ref?.replace("#/components/schemas/", "");
    if (topic?.subscribe && name !== undefined && events.components.schemas[name]) {
      topic.subscribe.payload = events.components.schemas[name];
    }
  }
  const wrapper = JSON.parse(await readFile(wrapperPath, "utf8")) as object;
  return new SpecChecker(web, events, wrapper);
}
