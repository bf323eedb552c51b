// The esbuild bundle of our TypeScript that the `switchboard` command runs (bin/build.js makes
// dist/ with it at install). The bench builds its bridge process with it too, so that what it
// measures is the code that ships, not the sources through tsx (whose keepNames wraps every
// closure in a defineProperty call).
import { build } from "esbuild";
import { isBuiltin } from "node:module";
import { readFile, readdir, rm, writeFile } from "node:fs/promises";
import { decode, encode } from "@jridgewell/sourcemap-codec";
import { join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

/**
 * Packages that stay ordinary imports from node_modules, loaded by node at run time:
 * - each bridge's network client library (a bridge's chunk imports it; the cli e2e checks that a
 *   disabled bridge's library is never loaded, by the module URLs node resolves);
 * - the database drivers, whose optional native add-ons (pg-native, kerberos, snappy) are
 *   `require`d inside try blocks that a bundler would turn into build errors;
 * - native modules, which find their binaries through their own package directory: libsignal,
 *   and classic-level (LevelDB, where the embedded store keeps message mappings);
 * - memory-level, its in-memory twin: the store imports it with `import()`, and esbuild gives a
 *   split-off CommonJS chunk only a default export, where node gives its named ones too.
 * Everything else (undici, pino, typebox, ajv, sanitize-html, prom-client, nedb, ...) is bundled:
 * node then resolves, reads and compiles a few files instead of several hundred, which is most
 * of what importing them costs (undici 90 -> 41 ms of CPU, typebox 75 -> 7 ms, measured here).
 */
const RUNTIME_PACKAGES = [
  "irc-framework",
  "discord.js",
  /^@discordjs\//,
  /^@slack\//,
  /^@signalapp\//,
  "pg",
  /^pg-/,
  "mongodb",
  "classic-level",
  "memory-level",
];
const packageName = (spec) =>
  spec
    .split("/")
    .slice(0, spec.startsWith("@") ? 2 : 1)
    .join("/");
const isRuntimePackage = (spec) =>
  RUNTIME_PACKAGES.some((p) => (typeof p === "string" ? p === packageName(spec) : p.test(spec)));

/**
 * Resolves third-party imports: the runtime packages above become external imports, each written
 * as the file esbuild resolves from the importing source, relative to the output directory, because a workspace
 * may have its own version of a package that a bare name in one bundle at the root would miss.
 * Every `ajv` import resolves from the framework: the framework and the registration package each
 * install the same ajv 8 in their own node_modules (the root's is eslint's ajv 6), and bundling
 * both would load it twice.
 */
const dependencies = (outdir) => ({
  name: "dependencies",
  setup(b) {
    const own = Symbol("resolving");
    b.onResolve({ filter: /^[^./]/ }, async (args) => {
      if (args.pluginData === own || args.path.startsWith("@switchboard/")) return undefined;
      // `node:` covers built-ins newer than this node (undici probes for node:sqlite).
      if (isBuiltin(args.path) || args.path.startsWith("node:")) return { path: args.path, external: true };
      const resolveDir = packageName(args.path) === "ajv" ? join(root, "framework") : args.resolveDir;
      const found = await b.resolve(args.path, {
        kind: args.kind,
        importer: args.importer,
        resolveDir,
        pluginData: own,
      });
      if (found.errors.length > 0) return { errors: found.errors };
      if (!isRuntimePackage(args.path)) return { path: found.path };
      // Chunks sit beside the entry in outdir, so one relative path serves every chunk.
      return { path: relative(outdir, found.path).split(sep).join("/"), external: true };
    });
  },
});

/**
 * Bundles `entryPoints` ({ name: source relative to the repository }) into `outdir` (absolute),
 * emptied first: chunk names carry content hashes, so an old build's chunks would only pile up.
 * Returns the number of input modules and of chunks written.
 */
export async function bundle(entryPoints, outdir) {
  await rm(outdir, { recursive: true, force: true });
  const result = await build({
    absWorkingDir: root,
    entryPoints,
    outdir,
    bundle: true,
    splitting: true,
    chunkNames: "[name]-[hash]",
    platform: "node",
    format: "esm",
    target: "node20",
    sourcemap: true,
    // Stack traces need lines, not the sources' text: keeps the map small.
    sourcesContent: false,
    // No keepNames: it wraps every function and class definition, closures made per request
    // included, in a defineProperty call, which cost undici's round trip 15% here (47 vs 41 µs).
    // Identifiers are not minified, so names stay as written unless two bundled modules declare the
    // same top-level name (esbuild then suffixes one); errors that logs name set `name` themselves.
    // Whitespace and syntax only: identifiers keep their names, so a frame in a bundled library
    // still names its function. A smaller source is less to parse at start and to hold in memory.
    minifyWhitespace: true,
    minifySyntax: true,
    // One file of licence comments beside the bundle: a comment with a non-ASCII name would make
    // V8 hold the whole chunk's source as a two-byte string, twice its size.
    legalComments: "external",
    logLevel: "warning",
    metafile: true,
    plugins: [dependencies(outdir)],
    // Bundled CommonJS packages `require` node's built-ins; an ES module has no `require` of its own.
    banner: {
      js: 'import { createRequire as __sbCreateRequire } from "node:module"; const require = __sbCreateRequire(import.meta.url);',
    },
  });
  for (const f of await readdir(outdir)) if (f.endsWith(".js.map")) await ownMappingsOnly(join(outdir, f));
  return {
    inputs: Object.keys(result.metafile.inputs).length,
    chunks: Object.keys(result.metafile.outputs).filter((f) => f.endsWith(".js")).length,
  };
}

/**
 * Keeps only the mappings of our own sources. Node holds every loaded chunk's source map in
 * memory once source maps are on; nine in ten of its sources are bundled libraries (some with
 * maps of their own, naming URLs), whose frames keep their function names (identifiers are not
 * minified) and show their place in the chunk instead. A library's run of code becomes one
 * unmapped segment rather than no segment: a lookup finds the nearest segment before it, which
 * would otherwise name some other file's line. Measured here: the maps cost an IRC-only start
 * ~9 MB of RSS before this, ~4 MB after.
 */
async function ownMappingsOnly(file) {
  const map = JSON.parse(await readFile(file, "utf8"));
  const ours = map.sources.map((s) => !s.includes("node_modules/") && !/^[a-z]+:/i.test(s));
  const lines = decode(map.mappings).map((line) => {
    const kept = [];
    for (const seg of line) {
      const mapped = seg.length > 1 && ours[seg[1]];
      if (mapped) kept.push(seg);
      else if (kept.length === 0 || kept[kept.length - 1].length > 1) kept.push([seg[0]]);
    }
    return kept;
  });
  map.mappings = encode(lines);
  await writeFile(file, JSON.stringify(map));
}
