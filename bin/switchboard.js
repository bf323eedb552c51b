#!/usr/bin/env node
// The `switchboard` command. It runs the bundle bin/build.js made at install (`npm ci` runs it
// as `prepare`): plain JavaScript, no TypeScript loader in the process.
import { existsSync } from "node:fs";

// Stack traces name the .ts lines through the bundle's source map.
process.setSourceMapsEnabled(true);
const bundle = new URL("../dist/switchboard.js", import.meta.url);
if (!existsSync(bundle)) {
  console.error("switchboard: dist/switchboard.js is missing. Run `npm run build` (npm ci runs it).");
  process.exit(1);
}
const { main } = await import(bundle.href);
process.exitCode = await main(process.argv.slice(2));
