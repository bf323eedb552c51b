/**
 * The command-line contract admins and scripts rely on: `registration` writes a
 * spec-valid file and keeps its tokens on re-runs, `--check` explains mismatches, and
 * `check-config` names the key path and line of every error without a stack trace.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  loadSpecRegistrationSchema,
  parseRegistration,
  validateAgainstSpec,
} from "@switchboard/registration";
import { spawn } from "node:child_process";
import { runSwitchboard } from "../harness/switchboard.js";
import { freePort } from "../harness/net.js";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const specsDir = resolve(repoRoot, "../shared/specs");
let dir: string;

const goodConfig = `homeserver:
  url: http://127.0.0.1:8008
  domain: example.org
appservice:
  port: 9123
bridges:
  reference:
    enabled: true
    url: http://127.0.0.1:9100
    token: relay
`;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "switchboard-cli-"));
  await writeFile(join(dir, "config.yaml"), goodConfig);
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test("registration writes a spec-valid file and keeps its tokens when re-run", async (t) => {
  const out = join(dir, "registration.yaml");
  const first = await runSwitchboard(["registration", "-c", "config.yaml", "-o", "registration.yaml"], dir);
  assert.equal(first.code, 0, first.output);
  const reg = parseRegistration(await readFile(out, "utf8"));
  assert.equal(reg.url, "http://127.0.0.1:9123");
  assert.equal(reg.sender_localpart, "switchboard");
  assert.equal(reg.rate_limited, false);
  assert.equal(reg.receive_ephemeral, true);
  assert.equal(reg["de.sorunome.msc2409.push_ephemeral"], true);
  assert.ok(reg.namespaces.users.some((n) => n.exclusive && n.regex === "@reference_.*:example\\.org"));
  assert.ok(reg.namespaces.aliases.some((n) => n.exclusive && n.regex === "#reference_.*:example\\.org"));

  const again = await runSwitchboard(
    ["registration", "--config", "config.yaml", "--output", "registration.yaml"],
    dir,
  );
  assert.equal(again.code, 0, again.output);
  const reg2 = parseRegistration(await readFile(out, "utf8"));
  assert.equal(reg2.as_token, reg.as_token);
  assert.equal(reg2.hs_token, reg.hs_token);

  const schema = existsSync(specsDir) ? loadSpecRegistrationSchema(specsDir) : null;
  if (!schema) {
    t.skip(`no Matrix spec at ${specsDir}`);
    return;
  }
  assert.deepEqual(validateAgainstSpec(reg, schema), []);
});

test("registration --check passes a matching file and explains a mismatch", async () => {
  const ok = await runSwitchboard(
    ["registration", "-c", "config.yaml", "-o", "registration.yaml", "--check"],
    dir,
  );
  assert.equal(ok.code, 0, ok.output);
  const text = await readFile(join(dir, "registration.yaml"), "utf8");
  await writeFile(join(dir, "stale.yaml"), text.replace("http://127.0.0.1:9123", "http://127.0.0.1:1"));
  const bad = await runSwitchboard(["registration", "-c", "config.yaml", "-o", "stale.yaml", "--check"], dir);
  assert.equal(bad.code, 1);
  assert.match(bad.output, /url/);
  assert.match(bad.output, /fix: /);
});

test("check-config names the key path and line of each error, exits 1, no stack trace", async () => {
  await writeFile(
    join(dir, "bad.yaml"),
    `homeserver:
  url: not a url
  domain: example.org
appservice:
  port: "nine thousand"
  colour: blue
bridges:
  reference:
    enabled: true
    url: http://127.0.0.1:9100
`,
  );
  const res = await runSwitchboard(["check-config", "-c", "bad.yaml"], dir);
  assert.equal(res.code, 1);
  assert.match(res.output, /line 2: homeserver\.url/);
  assert.match(res.output, /line 5: appservice\.port: must be integer/);
  assert.match(res.output, /line 6: appservice\.colour: unknown key/);
  assert.doesNotMatch(res.output, /\n\s+at /, "no stack trace");
  const good = await runSwitchboard(["check-config", "-c", "config.yaml"], dir);
  assert.equal(good.code, 0, good.output);
});

test("check-config reports bridge-specific errors with their path", async () => {
  await writeFile(join(dir, "bridge.yaml"), goodConfig.replace("    token: relay\n", ""));
  const res = await runSwitchboard(["check-config", "-c", "bridge.yaml"], dir);
  assert.equal(res.code, 1);
  assert.match(res.output, /bridges\.reference: missing required key "token"/);
  const missing = await runSwitchboard(["check-config", "-c", "nope.yaml"], dir);
  assert.equal(missing.code, 1);
  assert.match(missing.output, /nope\.yaml: file not found/);
});

test("start on a fresh install: creates config.yaml, writes the registration, keeps retrying the homeserver, stops cleanly; loads only the enabled bridge's libraries", async () => {
  const fresh = await mkdtemp(join(tmpdir(), "switchboard-fresh-"));
  try {
    await writeFile(
      join(fresh, "config.example.yaml"),
      await readFile(join(repoRoot, "config.example.yaml"), "utf8"),
    );
    // The example points at 127.0.0.1:8008 and port 9000; move them to ports nothing listens on.
    const port = await freePort();
    const example = await readFile(join(fresh, "config.example.yaml"), "utf8");
    await writeFile(
      join(fresh, "config.example.yaml"),
      example
        .replace("url: http://127.0.0.1:8008", `url: http://127.0.0.1:${await freePort()}`)
        .replace("port: 9000", `port: ${port}`)
        .replace("retry_interval_ms: 5000", "retry_interval_ms: 200")
        // IRC on; the other bridges stay as the example has them (off).
        .replace(/^( {2}irc:\n {4}enabled: )false$/m, "$1true"),
    );
    const importLog = join(fresh, "imports.log");
    const child = spawn(
      process.execPath,
      [
        "--import",
        join(repoRoot, "test", "harness", "import-log.mjs"),
        join(repoRoot, "bin", "switchboard.js"),
        "start",
        "-c",
        "config.yaml",
        "--create-config",
      ],
      {
        cwd: fresh,
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, SWITCHBOARD_IMPORT_LOG: importLog },
      },
    );
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    const deadline = Date.now() + 30_000;
    while (!/is not answering .*retrying in 200 ms \(attempt 2\)/.test(out)) {
      assert.ok(Date.now() < deadline, `no retry line within 30 s:\n${out}`);
      assert.equal(child.exitCode, null, `exited early:\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(existsSync(join(fresh, "config.yaml")), "config.yaml created from the example");
    const reg = parseRegistration(await readFile(join(fresh, "registration.yaml"), "utf8"));
    assert.equal(reg.sender_localpart, "switchboard");
    child.kill("SIGTERM");
    assert.equal(await exited, 0, out);
    // The enabled bridge's connector is loaded before the homeserver answers; a disabled bridge's
    // network client and an unused store's driver never are (each costs start-up CPU and memory).
    const imported = await readFile(importLog, "utf8");
    assert.match(imported, /\/node_modules\/irc-framework\//, "the IRC connector was loaded");
    for (const library of [
      "discord.js",
      "@slack/bolt",
      "@slack/web-api",
      "@signalapp/libsignal-client",
      "pg",
      "mongodb",
    ]) {
      assert.ok(!imported.includes(`/node_modules/${library}/`), `${library} was loaded`);
    }
  } finally {
    await rm(fresh, { recursive: true, force: true });
  }
});

test("discord invite-url prints each bot's invite link from its token, and names a bad token", async () => {
  const appId = "1234567890123456789";
  const token = `${Buffer.from(appId).toString("base64")}.GhIjKl.${"x".repeat(38)}`;
  const config = (t: string) => `homeserver:
  url: http://127.0.0.1:8008
  domain: example.org
bridges:
  discord:
    enabled: true
    applications:
      - bot_token: "${t}"
`;
  await writeFile(join(dir, "discord.yaml"), config(token));
  const ok = await runSwitchboard(["discord", "invite-url", "-c", "discord.yaml"], dir);
  assert.equal(ok.code, 0, ok.output);
  const url = new URL(ok.output.trim());
  assert.equal(url.origin + url.pathname, "https://discord.com/oauth2/authorize");
  assert.equal(url.searchParams.get("client_id"), appId);
  assert.equal(url.searchParams.get("scope"), "bot");
  // View Channel, Send Messages (+ in threads), Create Public Threads, Manage Webhooks, Add
  // Reactions, Read Message History, Attach Files, Embed Links.
  assert.equal(url.searchParams.get("permissions"), "309774634048");

  await writeFile(join(dir, "discord.yaml"), config("not-a-bot-token-at-all-really"));
  const bad = await runSwitchboard(["discord", "invite-url", "-c", "discord.yaml"], dir);
  assert.equal(bad.code, 1);
  assert.match(bad.output, /applications\[0\]\.bot_token is not a bot token/);
  assert.doesNotMatch(bad.output, /\n\s+at /, "no stack trace");
});
