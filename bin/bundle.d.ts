/** Types of bin/bundle.js, for the bench (TypeScript) that builds its bridge process with it. */
export function bundle(
  entryPoints: Record<string, string>,
  outdir: string,
): Promise<{ inputs: number; chunks: number }>;
