import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Type } from "@sinclair/typebox";
import { parseConfig as parse } from "../config/load.js";
import { applyReload, describeReload, planReload } from "./reload.js";

const BASE = `homeserver:
  url: http://127.0.0.1:8008
  domain: example.org
permissions:
  "*": relay
guards:
  activation_limit: 100
bridges:
  irc:
    enabled: true
  slack:
    enabled: true
`;

const schemas = { irc: Type.Object({}), slack: Type.Object({}) };
const parseConfig = (text: string) => parse(text, "config.yaml", schemas);
const config = (extra = "", base = BASE) => parseConfig(base + extra);

describe("config reload", () => {
  test("an unchanged config reloads nothing and needs no restart", () => {
    const plan = planReload(config(), config());
    assert.deepEqual(plan, { applied: [], needsRestart: [] });
    assert.equal(describeReload(plan), "Config nothing reloadable changed.");
  });

  test("permissions, admins and guards are applied in place; the running object is the one changed", () => {
    const current = config();
    const guards = current.guards;
    const next = parseConfig(
      BASE.replace('"*": relay', '"*": relay\n  example.org: user').replace(
        "activation_limit: 100",
        "activation_limit: 5",
      ) + "admins: ['@boss:example.org']\n",
    );
    const plan = planReload(current, next);
    assert.deepEqual(plan.applied, ["admins", "guards", "permissions"]);
    assert.deepEqual(plan.needsRestart, []);
    applyReload(current, next, plan);
    assert.equal(current.guards.activation_limit, 5);
    assert.notEqual(current.guards, guards, "the section is swapped, so readers see the new one");
    assert.deepEqual(current.admins, ["@boss:example.org"]);
    assert.equal(current.permissions["example.org"], "user");
  });

  test("what only a restart applies is named, per bridge, and not applied", () => {
    const current = config();
    const next = parseConfig(
      BASE.replace("url: http://127.0.0.1:8008", "url: http://127.0.0.1:9999").replace(
        "  slack:\n    enabled: true",
        "  slack:\n    enabled: false",
      ) + "metrics:\n  port: 9100\n",
    );
    const plan = planReload(current, next);
    assert.deepEqual(plan.applied, []);
    assert.deepEqual(plan.needsRestart, ["bridges.slack", "homeserver", "metrics"]);
    applyReload(current, next, plan);
    assert.equal(current.homeserver.url, "http://127.0.0.1:8008");
    assert.equal(current.bridges.slack?.enabled, true);
    assert.match(
      describeReload(plan),
      /only applied at the next restart: bridges\.slack, homeserver, metrics/,
    );
  });
});
