import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { connect } from "node:net";
import { fileURLToPath } from "node:url";
import { describe, test } from "node:test";
import pg from "pg";
import { startPostgres } from "./pg-cluster.js";

/** These cases are about the cluster this helper starts, so an external server is ignored. */
const LOCAL_ONLY: NodeJS.ProcessEnv = { ...process.env, SWITCHBOARD_TEST_PG_URL: "" };

function listening(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** Starts a cluster in a child process that then dies as `ending` says; returns what it started. */
async function clusterOfDyingProcess(ending: "throw" | "SIGTERM"): Promise<{ url: string; dir: string }> {
  const helper = fileURLToPath(new URL("./pg-cluster.ts", import.meta.url));
  const script =
    `import { startPostgres } from ${JSON.stringify(helper)};\n` +
    `const c = await startPostgres();\n` +
    `console.log(JSON.stringify({ url: c.adminUrl, dir: c.directory }));\n` +
    (ending === "throw" ? `throw new Error("a failing test");\n` : `setInterval(() => undefined, 1000);\n`);
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    env: LOCAL_ONLY,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const started = new Promise<{ url: string; dir: string }>((resolve, reject) => {
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      const line = stdout.split("\n").find((l) => l.startsWith("{"));
      if (line) resolve(JSON.parse(line) as { url: string; dir: string });
    });
    child.once("exit", () => reject(new Error(`the child exited before starting a cluster: ${stderr}`)));
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const cluster = await started;
  if (ending === "SIGTERM") child.kill("SIGTERM");
  await exited;
  return cluster;
}

describe("startPostgres", () => {
  test("hands out empty databases, and stop() leaves no server and no files", async () => {
    const cluster = await startPostgres(LOCAL_ONLY);
    const dir = cluster.directory;
    assert.ok(dir && existsSync(dir));
    try {
      const url = await cluster.createDatabase();
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      const tables = await client.query("SELECT 1 FROM pg_tables WHERE schemaname = 'public'");
      await client.end();
      assert.equal(tables.rowCount, 0);
      await cluster.createDatabase();
    } finally {
      await cluster.stop();
    }
    assert.equal(await listening(cluster.adminUrl), false, "the server is stopped");
    assert.equal(existsSync(dir), false, "its directory is removed");
  });

  for (const ending of ["throw", "SIGTERM"] as const) {
    test(`a test process that ends by ${ending} without stop() still stops its cluster`, async () => {
      const { url, dir } = await clusterOfDyingProcess(ending);
      assert.equal(await listening(url), false, "the server is stopped");
      assert.equal(existsSync(dir), false, "its directory is removed");
    });
  }
});
