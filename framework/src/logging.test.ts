import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { describe, test } from "node:test";
import { createLogger, logFormat } from "./logging.js";

function capture(isTTY: boolean): { stream: PassThrough & { isTTY?: boolean }; text(): string } {
  const stream = new PassThrough() as PassThrough & { isTTY?: boolean };
  stream.isTTY = isTTY;
  let text = "";
  stream.on("data", (c: Buffer) => (text += c.toString()));
  return { stream, text: () => text };
}

describe("logging", () => {
  test("auto is pretty on a terminal and JSON otherwise; json and pretty are what they say", () => {
    assert.equal(logFormat("auto", true), "pretty");
    assert.equal(logFormat("auto", false), "json");
    assert.equal(logFormat("json", true), "json");
    assert.equal(logFormat("pretty", false), "pretty");
  });

  test("pretty: one readable line with time, level, message and the fields", () => {
    const out = capture(false);
    createLogger({ level: "info", format: "pretty" }, out.stream).info({ network: "irc" }, "bridge started");
    const line = out.text();
    assert.match(line, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: bridge started \{"network":"irc"\}\n$/);
    assert.ok(!line.includes("\u001b["), "no colour codes when the output is not a terminal");
  });

  test("json when piped: one JSON object per line, level filtered", async () => {
    const out = capture(false);
    const log = createLogger({ level: "warn", format: "auto" }, out.stream);
    log.info("not shown");
    log.warn({ network: "irc" }, "shown");
    await new Promise((r) => setImmediate(r));
    const lines = out.text().trim().split("\n");
    assert.equal(lines.length, 1);
    assert.deepEqual(
      { ...JSON.parse(lines[0] as string), time: 0 },
      { level: 40, time: 0, network: "irc", msg: "shown" },
    );
  });
});
