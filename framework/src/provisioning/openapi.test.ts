import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ProvisioningApi, type ProvisioningDeps } from "./api.js";
import type { Authenticator } from "./auth.js";
import { openApiDocument } from "./openapi.js";

describe("provisioning OpenAPI document", () => {
  test("describes every route the API serves, and nothing it does not", () => {
    // Listing routes touches no dependency.
    const api = new ProvisioningApi({} as ProvisioningDeps, {} as Authenticator);
    const served = api
      .routeList()
      .map(([m, p]) => `${m} ${p}`)
      .sort();
    const paths = openApiDocument().paths as Record<string, Record<string, unknown>>;
    const described = Object.entries(paths)
      .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`))
      .sort();
    assert.deepEqual(described, served);
  });

  test("every path parameter in a path is declared", () => {
    const paths = openApiDocument().paths as Record<
      string,
      Record<string, { parameters: Array<{ name: string }> }>
    >;
    for (const [path, ops] of Object.entries(paths)) {
      const inPath = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
      for (const [method, op] of Object.entries(ops))
        assert.deepEqual(op.parameters.map((p) => p.name).sort(), inPath, `${method} ${path}`);
    }
  });
});
