import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { TSchema } from "@sinclair/typebox";
import { ReferenceConfigSchema } from "../reference/connector.js";
import { parseConfig } from "./load.js";
import { ConfigSchema } from "./schema.js";

const example = readFileSync(
  resolve(dirname(fileURLToPath(import.meta.url)), "../../../config.example.yaml"),
  "utf8",
);

/** Every property name anywhere in a schema (nested objects included). */
function keys(schema: TSchema, out = new Set<string>()): Set<string> {
  const props = (schema as { properties?: Record<string, TSchema> }).properties ?? {};
  for (const [name, sub] of Object.entries(props)) {
    out.add(name);
    keys(sub, out);
  }
  const additional = (schema as { additionalProperties?: unknown }).additionalProperties;
  if (additional && typeof additional === "object") keys(additional as TSchema, out);
  const patterns = (schema as { patternProperties?: Record<string, TSchema> }).patternProperties ?? {};
  for (const sub of Object.values(patterns)) keys(sub, out);
  return out;
}

test("config.example.yaml is a valid config", () => {
  const config = parseConfig(example, "config.example.yaml", { reference: ReferenceConfigSchema });
  assert.equal(config.guards.activation_limit, 100);
});

test("config.example.yaml documents every key of the schema", () => {
  const missing = [...keys(ConfigSchema), ...keys(ReferenceConfigSchema)].filter(
    (k) => !new RegExp(`^\\s*#?\\s*${k}:`, "m").test(example),
  );
  assert.deepEqual(missing, [], "keys missing from config.example.yaml");
});
