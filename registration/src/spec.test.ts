import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  buildRegistration,
  loadSpecRegistrationSchema,
  parseRegistration,
  RegistrationError,
  registrationToYaml,
  SPEC_REGISTRATION_SCHEMA_PATH,
  validateAgainstSpec,
} from "./index.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const specsDir = path.resolve(repoRoot, "../shared/specs");
const specSchema = loadSpecRegistrationSchema(specsDir);
const NO_SPEC =
  specSchema === null
    ? `Matrix spec not found at ${path.join(specsDir, SPEC_REGISTRATION_SCHEMA_PATH)}; skipping the check against the official schema`
    : false;

const built = () =>
  buildRegistration({
    id: "switchboard",
    url: "http://127.0.0.1:9000",
    senderLocalpart: "switchboard",
    domain: "example.org",
    namespaces: [
      { userPrefix: "irc_", aliasPrefix: "irc_" },
      { userPrefix: "slack_", aliasPrefix: "slack_" },
    ],
    protocols: ["irc"],
  });

test("a built registration validates against the official Matrix spec schema", { skip: NO_SPEC }, () => {
  assert.ok(specSchema);
  assert.doesNotMatch(JSON.stringify(specSchema), /"\$ref"/, "every $ref is inlined");
  assert.deepEqual(validateAgainstSpec(built(), specSchema), []);
  assert.deepEqual(validateAgainstSpec(parseRegistration(registrationToYaml(built())), specSchema), []);
  // Not vacuous: the same schema rejects a broken registration, namespace_list.yaml included.
  const broken = { ...built(), as_token: 5, namespaces: { users: [{ regex: "@x_.*" }] } };
  assert.deepEqual(validateAgainstSpec(broken, specSchema), [
    "as_token: must be string",
    "namespaces.users.0: must have required property 'exclusive'",
  ]);
});

// The loader and validator on a small fixture, so they are tested without the spec checkout too.
const fixture = mkdtempSync(path.join(tmpdir(), "switchboard-registration-spec-"));
after(() => rmSync(fixture, { recursive: true, force: true }));
const defs = path.join(fixture, path.dirname(SPEC_REGISTRATION_SCHEMA_PATH));
mkdirSync(defs, { recursive: true });
writeFileSync(
  path.join(defs, "registration.yaml"),
  [
    "$schema: https://json-schema.org/draft/2020-12/schema",
    "type: object",
    "properties:",
    "  id: { $ref: '#/$defs/name' }",
    "  example: { $ref: 'common.yaml#/definitions/flag' }",
    "  namespaces:",
    "    type: object",
    "    properties:",
    "      users:",
    "        allOf:",
    "          - $ref: list.yaml",
    "          - description: users",
    "required: [id, namespaces]",
    "$defs:",
    "  name: { type: string, minLength: 1 }",
  ].join("\n"),
);
writeFileSync(
  path.join(defs, "list.yaml"),
  "$schema: https://json-schema.org/draft/2020-12/schema\ntype: array\nitems:\n  type: object\n  properties:\n    regex: { type: string }\n    exclusive: { $ref: 'common.yaml#/definitions/flag' }\n  required: [regex, exclusive]\n",
);
writeFileSync(path.join(defs, "common.yaml"), "definitions:\n  flag: { type: boolean }\n");

test("loadSpecRegistrationSchema inlines local $refs (neighbour files, fragments, own $defs)", () => {
  const schema = loadSpecRegistrationSchema(fixture);
  assert.ok(schema);
  const text = JSON.stringify(schema);
  assert.doesNotMatch(text, /"\$ref"/);
  assert.equal((text.match(/\$schema/g) ?? []).length, 1, "nested $schema headers are dropped");
  assert.deepEqual(
    validateAgainstSpec({ id: "a", namespaces: { users: [{ regex: "x", exclusive: true }] } }, schema),
    [],
  );
  assert.deepEqual(
    validateAgainstSpec(
      { id: "", example: "no", namespaces: { users: [{ regex: "x", exclusive: "yes" }] } },
      schema,
    ),
    [
      "id: must NOT have fewer than 1 characters",
      "example: must be boolean",
      "namespaces.users.0.exclusive: must be boolean",
    ],
  );
});

test("loadSpecRegistrationSchema returns null when the spec folder is absent", () => {
  assert.equal(loadSpecRegistrationSchema(path.join(fixture, "does-not-exist")), null);
});

test("a broken $ref in the spec folder is a RegistrationError, not a crash later in ajv", () => {
  const dir = mkdtempSync(path.join(fixture, "broken-"));
  const file = path.join(dir, SPEC_REGISTRATION_SCHEMA_PATH);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, "type: object\nproperties:\n  id: { $ref: missing.yaml }\n");
  assert.throws(
    () => loadSpecRegistrationSchema(dir),
    (err: unknown) => {
      assert.ok(err instanceof RegistrationError);
      assert.match(err.message, /cannot read spec schema .*missing\.yaml/);
      return true;
    },
  );
});
