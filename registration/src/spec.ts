import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import AjvModule from "ajv";
import Ajv2020Module from "ajv/dist/2020.js";
import type { ErrorObject, ValidateFunction } from "ajv";
import yaml from "js-yaml";
import { RegistrationError } from "./types.js";

/** Where the registration schema lives inside a checkout of matrix-org/matrix-spec. */
export const SPEC_REGISTRATION_SCHEMA_PATH = path.join(
  "matrix",
  "data",
  "api",
  "application-service",
  "definitions",
  "registration.yaml",
);

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Keys whose values are example data, not schema; refs inside them are left alone. */
const NOT_SCHEMA = new Set(["example", "examples", "default", "const", "enum"]);
/** Keys whose values map names to schemas (so a property called "example" is still a schema). */
const SCHEMA_MAPS = new Set(["properties", "patternProperties", "$defs", "definitions", "dependentSchemas"]);

class RefResolver {
  private readonly files = new Map<string, Json>();

  load(file: string): Json {
    const cached = this.files.get(file);
    if (cached !== undefined) return cached;
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      throw new RegistrationError(`cannot read spec schema ${file}: ${(err as Error).message}`);
    }
    let doc: unknown;
    try {
      doc = yaml.load(text, { filename: file });
    } catch (err) {
      throw new RegistrationError(`spec schema ${file} is not valid YAML: ${(err as Error).message}`);
    }
    const json = JSON.parse(JSON.stringify(doc ?? null)) as Json;
    this.files.set(file, json);
    return json;
  }

  /** Returns `node` (found in `file`) with every `$ref` replaced by what it points to. */
  resolve(node: Json, file: string, stack: string[]): Json {
    if (Array.isArray(node)) return node.map((item) => this.resolve(item, file, stack));
    if (!isObject(node)) return node;

    const out: JsonObject = {};
    for (const [key, value] of Object.entries(node)) {
      if (key === "$ref") continue;
      if (NOT_SCHEMA.has(key)) out[key] = value;
      else if (SCHEMA_MAPS.has(key) && isObject(value)) {
        const named: JsonObject = {};
        for (const [name, schema] of Object.entries(value)) named[name] = this.resolve(schema, file, stack);
        out[key] = named;
      } else out[key] = this.resolve(value, file, stack);
    }
    const ref = node.$ref;
    if (typeof ref !== "string") return out;

    const [filePart = "", fragment = ""] = ref.split("#", 2);
    if (/^[a-z][a-z0-9+.-]*:/i.test(filePart)) {
      throw new RegistrationError(`spec schema ${file}: external $ref "${ref}" is not supported`);
    }
    const target = filePart === "" ? file : path.resolve(path.dirname(file), filePart);
    const key = `${target}#${fragment}`;
    if (stack.includes(key)) {
      throw new RegistrationError(`spec schema ${file}: recursive $ref "${ref}" cannot be inlined`);
    }
    let pointed = this.load(target);
    for (const raw of fragment.split("/").filter((p) => p !== "")) {
      const part = decodeURIComponent(raw).replace(/~1/g, "/").replace(/~0/g, "~");
      const next: Json | undefined = Array.isArray(pointed)
        ? pointed[Number(part)]
        : isObject(pointed)
          ? pointed[part]
          : undefined;
      if (next === undefined) {
        throw new RegistrationError(`spec schema ${file}: $ref "${ref}" points to nothing`);
      }
      pointed = next;
    }
    const inlined = this.resolve(pointed, target, [...stack, key]);
    if (isObject(inlined)) {
      // A schema resource's own header does not belong inside another schema.
      delete inlined.$schema;
      delete inlined.$id;
    }
    if (Object.keys(out).length === 0) return inlined;
    // Keywords next to $ref apply too (2020-12): keep both.
    const allOf = Array.isArray(out.allOf) ? out.allOf : [];
    return { ...out, allOf: [inlined, ...allOf] };
  }
}

/**
 * Reads the spec's registration JSON Schema from a matrix-spec checkout at
 * `<specsDir>/matrix/data/api/application-service/definitions/registration.yaml`,
 * with its local `$ref`s (namespace_list.yaml, ...) inlined so it compiles on its own.
 * Returns null when the file is absent; throws RegistrationError when it is unreadable.
 */
export function loadSpecRegistrationSchema(specsDir: string): object | null {
  const file = path.resolve(specsDir, SPEC_REGISTRATION_SCHEMA_PATH);
  if (!existsSync(file)) return null;
  const resolver = new RefResolver();
  const schema = resolver.resolve(resolver.load(file), file, [`${file}#`]);
  if (!isObject(schema)) {
    throw new RegistrationError(`spec schema ${file} is not a JSON Schema object`);
  }
  return schema;
}

const validators = new WeakMap<object, ValidateFunction>();

function validatorFor(specSchema: object): ValidateFunction {
  const cached = validators.get(specSchema);
  if (cached) return cached;
  const dialect = (specSchema as { $schema?: unknown }).$schema;
  // The spec's schemas carry x-* and `example` keywords, hence strict: false.
  const options = { allErrors: true, strict: false };
  const ajv =
    typeof dialect === "string" && dialect.includes("2020-12")
      ? new Ajv2020Module.default(options)
      : new AjvModule.default(options);
  let validate: ValidateFunction;
  try {
    validate = ajv.compile(specSchema);
  } catch (err) {
    throw new RegistrationError(`spec schema does not compile: ${(err as Error).message}`);
  }
  validators.set(specSchema, validate);
  return validate;
}

function formatError(e: ErrorObject): string {
  const at = e.instancePath === "" ? "(root)" : e.instancePath.slice(1).replace(/\//g, ".");
  const params = e.params as Record<string, unknown>;
  const extra = typeof params.additionalProperty === "string" ? ` ("${params.additionalProperty}")` : "";
  return `${at}: ${e.message ?? "is invalid"}${extra}`;
}

/**
 * Validates a registration (or any parsed YAML) against the spec's schema, e.g. the result of
 * loadSpecRegistrationSchema. Returns readable errors like
 * `namespaces.users.0: must have required property 'regex'`; empty when valid.
 */
export function validateAgainstSpec(r: unknown, specSchema: object): string[] {
  const validate = validatorFor(specSchema);
  if (validate(r)) return [];
  return [...new Set((validate.errors ?? []).map(formatError))];
}
