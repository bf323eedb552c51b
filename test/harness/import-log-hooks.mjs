// Module hooks for import-log.mjs. They run on node's loader thread, which has its own copy of
// the environment; each resolved URL is appended at once so a killed process leaves its list.
import { appendFileSync } from "node:fs";

const log = process.env.SWITCHBOARD_IMPORT_LOG;

export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context);
  if (log) appendFileSync(log, resolved.url + "\n");
  return resolved;
}
