import { readFile } from "node:fs/promises";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";
import { isMap, isSeq, isScalar, LineCounter, parseDocument, type Document, type Node } from "yaml";
import type { TObject } from "@sinclair/typebox";
import { ConfigSchema, type Config } from "./schema.js";

/**
 * Config loading. The `yaml` package parses here (not js-yaml) because it keeps source
 * positions, so every error names the key path *and* the line the admin has to edit.
 */

export interface ConfigProblem {
  /** Dotted key path, e.g. "homeserver.url" or "bridges.irc.networks[0].port" */
  path: string;
  line: number | null;
  message: string;
}

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: ConfigProblem[],
  ) {
    const only = problems.length === 1 ? problems[0] : undefined;
    super(
      only && !only.path && only.line === null
        ? `${file}: ${only.message}`
        : `${file}: ${problems.length} problem${problems.length === 1 ? "" : "s"}:\n` +
            problems
              .map(
                (p) =>
                  `  ${p.line !== null ? `line ${p.line}: ` : ""}${p.path || "(top level)"}: ${p.message}`,
              )
              .join("\n"),
    );
    this.name = "ConfigError";
  }
}

// ajv-formats is CommonJS with a default export; under NodeNext the callable sits on .default.
type AddFormats = (ajv: Ajv) => Ajv;
const addFormats: AddFormats =
  (addFormatsModule as unknown as { default?: AddFormats }).default ??
  (addFormatsModule as unknown as AddFormats);

function makeAjv(): Ajv {
  const ajv = new Ajv({
    allErrors: true,
    verbose: true,
    useDefaults: true,
    strict: false,
    coerceTypes: false,
  });
  addFormats(ajv);
  return ajv;
}

let coreValidator: ValidateFunction | undefined;

/** Parses and validates a config file's text; fills defaults. Throws ConfigError. */
export function parseConfig(
  text: string,
  file = "config.yaml",
  bridgeSchemas: Record<string, TObject> = {},
): Config {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => ({
        path: "",
        line: e.linePos?.[0]?.line ?? null,
        message: `not valid YAML: ${e.message.split("\n")[0]}`,
      })),
    );
  }
  const data: unknown = doc.toJS() ?? {};
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw new ConfigError(file, [
      { path: "", line: 1, message: "the config must be a mapping of keys to values" },
    ]);
  }
  coreValidator ??= makeAjv().compile(ConfigSchema);
  const problems: ConfigProblem[] = [];
  if (!coreValidator(data)) problems.push(...toProblems(coreValidator.errors ?? [], "", doc, lineCounter));
  const config = data as Config;
  if (problems.length === 0) {
    for (const [name, section] of Object.entries(config.bridges)) {
      const schema = bridgeSchemas[name];
      if (!schema) {
        if (section.enabled) {
          problems.push({
            path: `bridges.${name}`,
            line: lineOf(doc, lineCounter, ["bridges", name]),
            message: `unknown bridge "${name}"; known: ${Object.keys(bridgeSchemas).join(", ") || "(none)"}`,
          });
        }
        continue;
      }
      if (!section.enabled) continue;
      const validate = makeAjv().compile(schema);
      if (!validate(section))
        problems.push(...toProblems(validate.errors ?? [], `/bridges/${name}`, doc, lineCounter));
    }
  }
  if (problems.length > 0) {
    problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
    throw new ConfigError(file, problems);
  }
  return config;
}

export async function loadConfig(file: string, bridgeSchemas: Record<string, TObject> = {}): Promise<Config> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(file, [
      {
        path: "",
        line: null,
        message: code === "ENOENT" ? "file not found" : `cannot read it (${code ?? String(err)})`,
      },
    ]);
  }
  return parseConfig(text, file, bridgeSchemas);
}

function toProblems(errors: ErrorObject[], prefix: string, doc: Document, lc: LineCounter): ConfigProblem[] {
  const seen = new Set<string>();
  const out: ConfigProblem[] = [];
  for (const e of errors) {
    // A union of literals reports one "const" error per branch; its "anyOf" summary says it better.
    // A failed conditional ("if") is told by the error of its "then" branch.
    if (e.keyword === "const" || e.keyword === "if") continue;
    const segments = pointerSegments(prefix + e.instancePath);
    let message = e.message ?? "is invalid";
    if (e.keyword === "additionalProperties") {
      const extra = String((e.params as { additionalProperty: string }).additionalProperty);
      segments.push(extra);
      message = "unknown key (check its spelling and indentation)";
    } else if (e.keyword === "required") {
      message = `missing required key "${String((e.params as { missingProperty: string }).missingProperty)}"`;
      // A key required only by a conditional says why, in its "then" schema's description.
      const why = (e.parentSchema as { description?: unknown } | undefined)?.description;
      if (e.schemaPath.includes("/then/") && typeof why === "string") message += ` (${why})`;
    } else if (e.keyword === "anyOf") {
      const allowed = Array.isArray(e.schema)
        ? (e.schema as Array<{ const?: unknown }>).map((b) => JSON.stringify(b.const)).join(", ")
        : "";
      message = allowed ? `must be one of ${allowed}` : "is not one of the allowed values";
    } else if (e.keyword === "pattern") {
      message = `has an invalid format (must match ${String((e.params as { pattern: string }).pattern)})`;
      // A described key says what it wants in words too.
      const what = (e.parentSchema as { description?: unknown } | undefined)?.description;
      if (typeof what === "string") message += `: ${what}`;
    }
    const path = dotted(segments);
    const key = `${path}|${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ path, line: lineOf(doc, lc, segments), message });
  }
  return out;
}

function pointerSegments(pointer: string): string[] {
  return pointer
    .split("/")
    .slice(1)
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}

function dotted(segments: string[]): string {
  return segments.reduce((acc, s) => (/^\d+$/.test(s) ? `${acc}[${s}]` : acc ? `${acc}.${s}` : s), "");
}

/** Line of the deepest node along `segments` that exists in the document (1-based). */
function lineOf(doc: Document, lc: LineCounter, segments: string[]): number | null {
  let node: unknown = doc.contents;
  let offset: number | undefined = (doc.contents as Node | null)?.range?.[0];
  for (const seg of segments) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === seg);
      if (!pair) break;
      offset = (pair.key as Node).range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node)) {
      const item = node.items[Number(seg)] as Node | undefined;
      if (!item) break;
      offset = item.range?.[0] ?? offset;
      node = item;
    } else {
      break;
    }
  }
  return offset === undefined ? null : lc.linePos(offset).line;
}
