#!/usr/bin/env node
// Compiles the `switchboard` command once, at install (the root `prepare` script, which `npm ci`
// runs), so that no TypeScript loader runs in the bridge's process. esbuild bundles the CLI and
// the workspace packages (framework, registration, the four bridges) into ES modules; every
// other package stays an ordinary import from node_modules. A few files load with far fewer
// module resolutions than ~200 separately compiled ones, which is what start costs most. Code
// splitting keeps each `import()` (a bridge's connector, a store backend) in a chunk of its own,
// so a disabled bridge's network client library is never loaded. Type checking
// stays with `npm run typecheck` (tsc); esbuild only strips types. The source map lets stack
// traces name `.ts` lines (bin/switchboard.js turns source maps on).
import { build } from "esbuild";
import { isBuiltin } from "node:module";
import { rm } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const dist = join(root, "dist");

/**
 * Bundles our own packages; leaves every third-party import to node at run time. Each one is
 * written as the file esbuild resolves from the importing source, relative to dist/, because a
 * workspace may have its own version of a package (framework/node_modules/ajv) that a bare name
 * in one bundle at the root would miss.
 */
const externalDependencies = {
  name: "external-dependencies",
  setup(b) {
    const own = Symbol("resolving");
    b.onResolve({ filter: /^[^./]/ }, async (args) => {
      if (args.pluginData === own || args.path.startsWith("@switchboard/")) return undefined;
      if (isBuiltin(args.path)) return { path: args.path, external: true };
      const found = await b.resolve(args.path, {
        kind: args.kind,
        importer: args.importer,
        resolveDir: args.resolveDir,
        pluginData: own,
      });
      if (found.errors.length > 0) return { errors: found.errors };
      // esbuild drops `with { type: "json" }` from external imports, which node requires: data
      // files are bundled instead.
      if (found.path.endsWith(".json")) return { path: found.path };
      // Chunks sit beside the entry in dist/, so one relative path serves every chunk.
      return { path: relative(dist, found.path).split(sep).join("/"), external: true };
    });
  },
};

const started = Date.now();
// Chunk names carry content hashes: an old build's chunks would only pile up.
await rm(dist, { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: { switchboard: "cli/main.ts" },
  outdir: "dist",
  bundle: true,
  splitting: true,
  chunkNames: "[name]-[hash]",
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: true,
  // Stack traces need lines, not the sources' text: keeps the map small.
  sourcesContent: false,
  // Class and function names stay as written (logs and errors name them).
  keepNames: true,
  logLevel: "warning",
  metafile: true,
  plugins: [externalDependencies],
});
const inputs = Object.keys(result.metafile.inputs).length;
const chunks = Object.keys(result.metafile.outputs).filter((f) => f.endsWith(".js")).length;
console.log(
  `built dist/switchboard.js (${chunks} chunks) from ${inputs} modules in ${Date.now() - started} ms`,
);
