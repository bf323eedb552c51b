import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import Ajv from "ajv";
import type { ErrorObject, ValidateFunction } from "ajv";

/**
 * Checks the double's REST traffic against Discord's official OpenAPI 3.1 spec
 * (../shared/specs/discord/specs/openapi.json, read at run time, never copied): the path and query
 * parameters and the JSON body (or multipart `payload_json`) of every request it receives, and the
 * status and body of every answer it sends. A mismatch means the double, or the client, drifted
 * from Discord, unless it is one of the spec's known inaccuracies in KNOWN_SPEC_BUGS.
 *
 * The spec's schemas only use draft-07 keywords (plus `contentEncoding`, which Ajv 6 ignores), so
 * the repository's Ajv 6 validates them; `$ref`s are resolved by Ajv against the components.
 */

interface Parameter {
  name: string;
  in: "path" | "query" | "header";
  required?: boolean;
  schema?: object;
}

interface Operation {
  operationId: string;
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content: Record<string, { schema?: object } | undefined> };
  responses: Record<
    string,
    { content?: Record<string, { schema?: object } | undefined>; $ref?: string } | undefined
  >;
}

type PathItem = Record<string, Operation | Parameter[] | undefined> & { parameters?: Parameter[] };

interface OpenApi {
  paths: Record<string, PathItem | undefined>;
  components: {
    schemas: Record<string, object>;
    responses: Record<string, { content?: Record<string, { schema?: object }> }>;
  };
}

/** One rule the spec gets wrong. Kept narrow: a keyword at a path of one operation, with the reason. */
export interface KnownSpecBug {
  where: "request" | "response";
  /** operationId; omitted = all. */
  scope?: RegExp;
  keyword: string;
  dataPath: RegExp;
  test?: (e: ErrorObject) => boolean;
  why: string;
}

const missing = (name: string) => (e: ErrorObject) =>
  (e.params as { missingProperty?: string }).missingProperty === `.${name}` ||
  (e.params as { missingProperty?: string }).missingProperty === name;

/**
 * Known inaccuracies of the spec (public preview, 2026-07), each checked against Discord's
 * documentation. Anything not matched here is reported.
 */
export const KNOWN_SPEC_BUGS: KnownSpecBug[] = [
  {
    where: "request",
    scope: /_application_command(s)?$/,
    keyword: "type",
    dataPath: /^(\/\d+)?\/default_member_permissions$/,
    test: (e) => typeof e.data === "string" && /^\d+$/.test(e.data),
    why:
      "ApplicationCommand*Request types default_member_permissions as an integer, but Discord documents " +
      "(and discord.js sends) permission bit sets as strings of digits, as everywhere else in the API",
  },
  {
    where: "response",
    keyword: "type",
    dataPath: /^\/errors(\/[^/]+)*\/_errors\/\d+\/code$/,
    test: (e) => typeof e.data === "string",
    why:
      "InnerErrors._errors items reuse Error, whose `code` is an integer, but the per-field errors of a " +
      '50035 Invalid Form Body carry string codes ("BASE_TYPE_REQUIRED", "USERNAME_INVALID_CONTAINS", ...)',
  },
  {
    where: "response",
    keyword: "required",
    dataPath: /^$/,
    test: missing("code"),
    why:
      "RatelimitedResponse inherits `code` as required from Error, but Discord's rate-limit body is " +
      "{ message, retry_after, global } and documents `code` as present only for some limits",
  },
];

function formatError(e: ErrorObject): string {
  const where = e.dataPath === "" ? "(root)" : e.dataPath;
  const extra =
    e.keyword === "additionalProperties"
      ? ` '${(e.params as { additionalProperty?: string }).additionalProperty}'`
      : e.keyword === "enum"
        ? ` (got ${JSON.stringify(e.data)})`
        : "";
  return `${where} ${e.message ?? e.keyword}${extra}`;
}

function within(inner: string, outer: string): boolean {
  return inner === outer || inner.startsWith(`${outer}/`);
}

/** `#/components/...` inside an operation's inline schema, pointed at the registered document. */
function rebase(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(rebase);
  if (node === null || typeof node !== "object") return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) {
    out[k] = k === "$ref" && typeof v === "string" && v.startsWith("#/") ? `discord${v}` : rebase(v);
  }
  return out;
}

/** Query strings are text: read a value the way its schema's type asks before validating it. */
function coerce(raw: string, schema: object | undefined, components: Record<string, object>): unknown {
  const ref = (schema as { $ref?: unknown } | undefined)?.$ref;
  const resolved = typeof ref === "string" ? components[ref.replace("#/components/schemas/", "")] : schema;
  const type = (resolved as { type?: unknown } | undefined)?.type;
  const types = Array.isArray(type) ? type : [type];
  if ((types.includes("integer") || types.includes("number")) && /^-?\d+(\.\d+)?$/.test(raw))
    return Number(raw);
  if (types.includes("boolean") && /^(true|false)$/i.test(raw)) return raw.toLowerCase() === "true";
  return raw;
}

export interface RequestFacts {
  method: string;
  route: string;
  pathParams: Record<string, string>;
  query: URLSearchParams;
  /** JSON body or parsed payload_json; undefined when the request had none. */
  body: unknown;
  contentType: string;
}

export class SpecChecker {
  private readonly ajv = new Ajv({ allErrors: true, jsonPointers: true, verbose: true, logger: false });
  private readonly validators = new Map<string, ValidateFunction>();
  private readonly branchValidators = new WeakMap<object, ValidateFunction>();

  constructor(private readonly spec: OpenApi) {
    const int = (bits: bigint) => (n: number) =>
      Number.isInteger(n) && BigInt(n) >= -(2n ** (bits - 1n)) && BigInt(n) < 2n ** (bits - 1n);
    this.ajv.addFormat("int32", { type: "number", validate: int(32n) });
    this.ajv.addFormat("int64", { type: "number", validate: (n: number) => Number.isInteger(n) });
    this.ajv.addFormat("double", { type: "number", validate: () => true });
    this.ajv.addFormat("snowflake", /^(0|[1-9][0-9]*)$/);
    this.ajv.addFormat("nonce", /^.{0,25}$/);
    this.ajv.addSchema({ $id: "discord", components: { schemas: spec.components.schemas } });
  }

  operation(method: string, route: string): Operation | undefined {
    const item = this.spec.paths[route];
    const op = item?.[method.toLowerCase()];
    return op && !Array.isArray(op) ? op : undefined;
  }

  private validator(key: string, schema: object): ValidateFunction {
    let v = this.validators.get(key);
    if (!v) {
      v = this.ajv.compile(rebase(schema) as object);
      this.validators.set(key, v);
    }
    return v;
  }

  /** A validator for a union branch met during explanation, compiled once per schema object. */
  private branchValidator(schema: object): ValidateFunction {
    let v = this.branchValidators.get(schema);
    if (!v) {
      v = this.ajv.compile(rebase(schema) as object);
      this.branchValidators.set(schema, v);
    }
    return v;
  }

  /**
   * Ajv's errors minus the known bugs, with dataPaths under `base`. A failed anyOf/oneOf reports
   * the errors of every branch; instead each branch is validated alone and the closest one (fewest
   * unexplained errors) speaks for the union, which counts as satisfied if that is none. Ajv 6
   * reports errors inside a `$ref` with the referenced schema's own paths, so branches cannot be
   * told apart from the union's errors themselves.
   */
  private explain(
    validate: ValidateFunction,
    data: unknown,
    base: string,
    isKnown: (e: ErrorObject) => boolean,
  ): ErrorObject[] {
    if (validate(data)) return [];
    const errors = (validate.errors ?? []).map((e) => ({ ...e, dataPath: `${base}${e.dataPath}` }));
    const isUnion = (e: ErrorObject) =>
      (e.keyword === "anyOf" || e.keyword === "oneOf") &&
      !(e.params as { passingSchemas?: unknown }).passingSchemas;
    let remaining = errors;
    const unions = errors.filter(isUnion).sort((a, b) => a.dataPath.length - b.dataPath.length);
    const handled: string[] = [];
    for (const u of unions) {
      if (handled.some((d) => within(u.dataPath, d))) continue;
      handled.push(u.dataPath);
      const branches = Array.isArray(u.schema) ? (u.schema as object[]) : [];
      const scored = branches
        .map((b) => this.explain(this.branchValidator(b), u.data, u.dataPath, isKnown))
        .sort((x, y) => x.length - y.length);
      const best = scored[0] ?? [];
      remaining = [...remaining.filter((e) => !within(e.dataPath, u.dataPath)), ...best];
    }
    return remaining.filter((e) => !isKnown(e));
  }

  private run(
    where: "request" | "response",
    op: Operation,
    key: string,
    schema: object,
    data: unknown,
    label: string,
  ): string[] {
    const validate = this.validator(key, schema);
    const errors = this.explain(validate, data, "", (e) => isKnownBug(where, op.operationId, e));
    return [...new Set(errors.map((e) => `${op.operationId} ${label}: ${formatError(e)}`))];
  }

  checkRequest(r: RequestFacts): string[] {
    const op = this.operation(r.method, r.route);
    if (!op) return [];
    const problems: string[] = [];
    const params = [...(this.spec.paths[r.route]?.parameters ?? []), ...(op.parameters ?? [])];
    for (const p of params.filter((x) => x.in === "path")) {
      const value = r.pathParams[p.name];
      if (value === undefined || !p.schema) continue;
      problems.push(
        ...this.run(
          "request",
          op,
          `${op.operationId}:path:${p.name}`,
          p.schema,
          value,
          `path parameter ${p.name}`,
        ),
      );
    }
    const queryParams = params.filter((x) => x.in === "query");
    for (const [name, raw] of r.query) {
      const p = queryParams.find((x) => x.name === name);
      if (!p) {
        problems.push(`${op.operationId} request: query parameter \`${name}\` is not in the spec`);
        continue;
      }
      if (p.schema) {
        problems.push(
          ...this.run(
            "request",
            op,
            `${op.operationId}:query:${name}`,
            p.schema,
            coerce(raw, p.schema, this.spec.components.schemas),
            `query ${name}`,
          ),
        );
      }
    }
    for (const p of queryParams) {
      if (p.required && !r.query.has(p.name))
        problems.push(`${op.operationId} request: query \`${p.name}\` is required`);
    }
    const rb = op.requestBody;
    if (r.body === undefined) {
      if (rb?.required) problems.push(`${op.operationId} request: a body is required`);
      return problems;
    }
    if (!rb) {
      problems.push(`${op.operationId} request: the spec declares no body, but one was sent`);
      return problems;
    }
    // Multipart bodies carry the JSON in payload_json; the JSON schema describes it.
    const type = r.contentType === "multipart/form-data" ? "application/json" : r.contentType;
    const schema = rb.content[type]?.schema ?? rb.content["application/json"]?.schema;
    if (!rb.content[r.contentType] && r.contentType !== "") {
      problems.push(`${op.operationId} request: content type ${r.contentType} is not accepted by the spec`);
    }
    if (schema)
      problems.push(
        ...this.run("request", op, `${op.operationId}:body:${type}`, schema, r.body, "request body"),
      );
    return problems;
  }

  checkResponse(method: string, route: string, status: number, body: unknown): string[] {
    const op = this.operation(method, route);
    if (!op) return [];
    const declared =
      op.responses[String(status)] ?? (status >= 400 && status < 500 ? op.responses["4XX"] : undefined);
    if (!declared) return [`${op.operationId} response: status ${status} is not declared by the spec`];
    const resolved = declared.$ref
      ? this.spec.components.responses[declared.$ref.replace("#/components/responses/", "")]
      : declared;
    const schema = resolved?.content?.["application/json"]?.schema;
    if (!schema) {
      return body === undefined
        ? []
        : [`${op.operationId} response: status ${status} has no body in the spec, but one was sent`];
    }
    if (body === undefined) return [`${op.operationId} response: status ${status} needs a JSON body`];
    return this.run(
      "response",
      op,
      `${op.operationId}:response:${status}`,
      schema,
      body,
      `response ${status}`,
    );
  }
}

function isKnownBug(where: "request" | "response", operationId: string, e: ErrorObject): boolean {
  return KNOWN_SPEC_BUGS.some(
    (bug) =>
      bug.where === where &&
      (bug.scope === undefined || bug.scope.test(operationId)) &&
      bug.keyword === e.keyword &&
      bug.dataPath.test(e.dataPath) &&
      (bug.test === undefined || bug.test(e)),
  );
}

const loaded = new Map<string, Promise<SpecChecker | undefined>>();
let warnedMissing = false;

/** The checker for a spec file, built once per process; each schema compiles on first use. */
export function loadSpecChecker(specPath: string): Promise<SpecChecker | undefined> {
  let promise = loaded.get(specPath);
  if (!promise) {
    promise = build(specPath);
    loaded.set(specPath, promise);
  }
  return promise;
}

async function build(specPath: string): Promise<SpecChecker | undefined> {
  if (!existsSync(specPath)) {
    if (!warnedMissing) {
      warnedMissing = true;
      console.warn(`Discord double: no Discord OpenAPI spec at ${specPath}; REST traffic is NOT validated`);
    }
    return undefined;
  }
  return new SpecChecker(JSON.parse(await readFile(specPath, "utf8")) as OpenApi);
}
