/**
 * IRC ban masks (`nick!ident@host` with `*` and `?`), matched the way servers do, so the bridge
 * can tell a Matrix user that a ban is why their message did not arrive. Extended bans
 * (`$a:account`, `~q:…`) depend on server state the bridge cannot see and never match here.
 */

/** Whether `mask` matches `hostmask` ("nick!ident@host"); `lower` is the server's case mapping. */
export function maskMatches(mask: string, hostmask: string, lower: (s: string) => string): boolean {
  if (/^[$~]/.test(mask)) return false;
  // A bare nick or host ban is completed the way servers complete it.
  let full = mask;
  if (!full.includes("!") && !full.includes("@")) full = `${full}!*@*`;
  else if (!full.includes("!")) full = `*!${full}`;
  else if (!full.includes("@")) full = `${full}@*`;
  const pattern = lower(full)
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${pattern}$`, "s").test(lower(hostmask));
}
