import assert from "node:assert/strict";
import { test } from "node:test";
import yaml from "js-yaml";
import { buildRegistration, homeserverSnippets, registrationToYaml } from "./index.js";

const PATH = "/etc/matrix/switchboard: registration.yaml";

test("Synapse snippet is YAML listing the file under app_service_config_files", () => {
  const { synapse } = homeserverSnippets(PATH);
  assert.deepEqual(yaml.load(synapse), { app_service_config_files: [PATH] });
  assert.match(synapse, /restart Synapse/);
});

test("Dendrite snippet is YAML listing the file under app_service_api.config_files", () => {
  const { dendrite } = homeserverSnippets(PATH);
  assert.deepEqual(yaml.load(dendrite), { app_service_api: { config_files: [PATH] } });
});

test("Conduit and continuwuity snippets are admin-room commands with the YAML in a code block", () => {
  const text = registrationToYaml(
    buildRegistration({
      id: "switchboard",
      url: "http://127.0.0.1:9000",
      senderLocalpart: "switchboard",
      domain: "example.org",
      namespaces: [{ userPrefix: "irc_", aliasPrefix: "irc_" }],
    }),
  );
  const { conduit, continuwuity } = homeserverSnippets(PATH, {
    serverName: "example.org",
    registrationYaml: text,
  });
  assert.ok(conduit.includes(`@conduit:example.org: register-appservice\n\`\`\`\n${text.trimEnd()}\n\`\`\``));
  assert.ok(continuwuity.includes(`!admin appservices register\n\`\`\`\n${text.trimEnd()}\n\`\`\``));

  const placeholder = homeserverSnippets(PATH).conduit;
  assert.match(placeholder, /@conduit:your\.server\.name: register-appservice/);
  assert.ok(placeholder.includes(`<the contents of ${PATH}>`));
});
