import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

/**
 * Summarizes V8 .cpuprofile files (from `npm run bench -- --profile`): self time by function and
 * by package/file, so the bottleneck is readable without DevTools.
 * Usage: node --import tsx bench/profile-summary.ts <file-or-dir> [topN]
 */

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: Node[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

const target = process.argv[2];
const top = Number(process.argv[3] ?? 25);
if (!target) {
  console.error("usage: profile-summary.ts <file.cpuprofile | directory> [topN]");
  process.exit(2);
}
const files = statSync(target).isDirectory()
  ? readdirSync(target)
      .filter((f) => f.endsWith(".cpuprofile"))
      .map((f) => join(target, f))
  : [target];

const where = (url: string): string => {
  if (!url) return "(native)";
  const nm = url.lastIndexOf("node_modules/");
  if (nm >= 0) {
    const rest = url.slice(nm + 13).split("/");
    return rest[0]?.startsWith("@") ? `${rest[0]}/${rest[1]}` : (rest[0] ?? url);
  }
  if (url.startsWith("node:")) return url;
  const src = url.indexOf("/src/");
  return src >= 0 ? url.slice(url.lastIndexOf("/", src - 1) + 1) : url;
};

for (const file of files) {
  const p = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  const samples = p.samples ?? [];
  const deltas = p.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    const id = samples[i] ?? 0;
    self.set(id, (self.get(id) ?? 0) + (deltas[i] ?? 0));
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const byFn = new Map<string, number>();
  const byFile = new Map<string, number>();
  for (const [id, us] of self) {
    const n = byId.get(id);
    if (!n) continue;
    const cf = n.callFrame;
    const fn = `${cf.functionName || "(anonymous)"} ${where(cf.url)}:${cf.lineNumber + 1}`;
    byFn.set(fn, (byFn.get(fn) ?? 0) + us);
    const f = cf.url ? where(cf.url) + (cf.url.includes("node_modules") ? "" : "") : cf.functionName;
    byFile.set(f, (byFile.get(f) ?? 0) + us);
  }
  const pct = (us: number) => `${((us / total) * 100).toFixed(1).padStart(5)}%`;
  console.log(`\n${file}: ${(total / 1e6).toFixed(2)} s sampled`);
  console.log("  self time by package / file:");
  for (const [k, v] of [...byFile].sort((a, b) => b[1] - a[1]).slice(0, top))
    console.log(`  ${pct(v)}  ${k}`);
  console.log("  self time by function:");
  for (const [k, v] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${pct(v)}  ${k}`);
}
