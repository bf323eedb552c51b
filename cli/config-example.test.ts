import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { TSchema } from "@sinclair/typebox";
import { ConfigSchema, parseConfig } from "@switchboard/framework";
import { bridges } from "./main.js";

const example = readFileSync(
  resolve(dirname(fileURLToPath(import.meta.url)), "../config.example.yaml"),
  "utf8",
);
const bridgeSchemas = Object.fromEntries(
  Object.entries(bridges).map(([id, bridge]) => [id, bridge.configSchema]),
);

/** Every property name anywhere in a schema (nested objects and records included). */
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

test("config.example.yaml is a valid config for every shipped bridge", () => {
  const config = parseConfig(example, "config.example.yaml", bridgeSchemas);
  assert.equal(config.guards.activation_limit, 100);
  const withAll = example.replace(/enabled: false/g, "enabled: true");
  parseConfig(withAll, "config.example.yaml (all bridges enabled)", bridgeSchemas);
});

test("config.example.yaml documents every key of every schema", () => {
  const all = [ConfigSchema, ...Object.values(bridgeSchemas)].flatMap((s) => [...keys(s)]);
  const missing = [...new Set(all)].filter((k) => !new RegExp(`^\\s*#?\\s*${k}:`, "m").test(example));
  assert.deepEqual(missing, [], "keys missing from config.example.yaml");
});
