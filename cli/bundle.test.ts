/**
 * The compiled `switchboard` command (dist/, built by bin/build.js at install): its source maps
 * name our TypeScript lines and leave the bundled libraries' code unmapped, so a stack trace
 * never names a line of the wrong file.
 */
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { SourceMap } from "node:module";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const dist = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "dist");

/** The generated position of `needle` in the chunk that holds it, and that chunk's map. */
async function locate(needle: string): Promise<{ map: SourceMap; line: number; column: number }> {
  for (const file of await readdir(dist)) {
    if (!file.endsWith(".js")) continue;
    const source = await readFile(path.join(dist, file), "utf8");
    const at = source.indexOf(needle);
    if (at < 0) continue;
    const before = source.slice(0, at);
    const payload = JSON.parse(await readFile(path.join(dist, `${file}.map`), "utf8")) as object;
    return {
      map: new SourceMap(payload as ConstructorParameters<typeof SourceMap>[0]),
      line: before.split("\n").length - 1,
      column: at - before.lastIndexOf("\n") - 1,
    };
  }
  throw new Error(`no chunk in dist/ holds ${needle} (run npm run build)`);
}

test("the bundle maps our code to its .ts lines and bundled libraries to nothing", async () => {
  const ours = await locate("Switchboard is running");
  const entry = ours.map.findEntry(ours.line, ours.column) as { originalSource?: string };
  assert.match(entry.originalSource ?? "(unmapped)", /framework\/src\/runtime\/bridge\.ts$/);

  // undici's, bundled into the framework's chunk.
  const library = await locate("scheduleIdleSocketValidation");
  const libraryEntry = library.map.findEntry(library.line, library.column) as { originalSource?: string };
  assert.equal(libraryEntry.originalSource, undefined, "library code is unmapped");
});
