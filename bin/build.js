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
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { bundle } from "./bundle.js";

const started = Date.now();
const dist = join(fileURLToPath(new URL("..", import.meta.url)), "dist");
const { inputs, chunks } = await bundle({ switchboard: "cli/main.ts" }, dist);
console.log(
  `built dist/switchboard.js (${chunks} chunks) from ${inputs} modules in ${Date.now() - started} ms`,
);
