/**
 * A snapshot of a running bridge's store, over HTTP: how `switchboard backup` reads a NeDB store,
 * whose datafiles belong to the bridge's process (a second process reading them could see a write
 * half-appended, and one opening them would compact them under the bridge's feet).
 *
 * The bridge answers `GET SNAPSHOT_PATH` (authorized with its hs_token, as detailed `/health` is)
 * with `serveSnapshot(store, res)`; the CLI reads it with `fetchSnapshot`. The body is JSON lines:
 *
 *   {"snapshot":1,"schemaVersion":1,"journalSeq":42}
 *   {"c":"links","r":{…}}                              one per record, as in the archive
 *   {"end":true,"summary":{…}}                         counts and checksums, checked by the reader
 */
import type { ServerResponse } from "node:http";
import { splitLines } from "./archive.js";
import { DumpDigest, STORE_COLLECTIONS, canDump, compareSummaries } from "./dump.js";
import type { DumpSummary } from "./dump.js";
import type { DumpRecord, Store, StoreCollection, StoreSnapshot } from "./types.js";

export const SNAPSHOT_PATH = "/_switchboard/admin/v1/store-snapshot";

/** Writes a snapshot of `store` as the response; the bridge keeps serving meanwhile. */
export async function serveSnapshot(store: Store, res: ServerResponse): Promise<void> {
  if (!canDump(store)) {
    res.writeHead(501, { "content-type": "application/json" });
    res.end(JSON.stringify({ error: "this store cannot take snapshots" }));
    return;
  }
  const snapshot = await store.snapshot();
  try {
    res.writeHead(200, { "content-type": "application/x-ndjson", "cache-control": "no-store" });
    const digest = new DumpDigest();
    const write = async (line: unknown): Promise<void> => {
      if (res.write(`${JSON.stringify(line)}\n`)) return;
      await new Promise<void>((resolve) => {
        const done = () => {
          res.off("drain", done);
          res.off("close", done);
          resolve();
        };
        res.on("drain", done);
        res.on("close", done);
      });
    };
    await write({ snapshot: 1, schemaVersion: snapshot.schemaVersion, journalSeq: snapshot.journalSeq });
    for await (const item of snapshot.records) {
      if (res.destroyed) return;
      digest.add(item);
      await write({ c: item.collection, r: item.record });
    }
    await write({ end: true, summary: digest.summary() });
    res.end();
  } finally {
    await snapshot.close();
  }
}

/** The server has no snapshot endpoint (a Switchboard without it, or something else on that port). */
export class NoSnapshotEndpointError extends Error {}

/** Reads a running bridge's snapshot; `base` is its appservice address, e.g. http://127.0.0.1:9000. */
export async function fetchSnapshot(base: string, hsToken: string): Promise<StoreSnapshot> {
  const abort = new AbortController();
  const res = await fetch(new URL(SNAPSHOT_PATH, base), {
    headers: { authorization: `Bearer ${hsToken}` },
    signal: abort.signal,
  });
  if (res.status === 404 || res.status === 405 || res.status === 501) {
    abort.abort();
    throw new NoSnapshotEndpointError(`${base} answered ${res.status} to ${SNAPSHOT_PATH}`);
  }
  if (res.status === 401 || res.status === 403) {
    abort.abort();
    throw new Error(
      `the bridge at ${base} refused the hs_token of the registration file (${res.status}): is it the registration this bridge runs with?`,
    );
  }
  if (res.status !== 200 || !res.body) {
    abort.abort();
    throw new Error(`the bridge at ${base} answered ${res.status} to ${SNAPSHOT_PATH}`);
  }
  const lines = splitLines(res.body as unknown as AsyncIterable<Uint8Array>);
  const parse = async (): Promise<Record<string, unknown> | null> => {
    const next = await lines.next();
    return next.done ? null : (JSON.parse(next.value) as Record<string, unknown>);
  };
  const first = await parse();
  if (first?.snapshot !== 1) {
    abort.abort();
    throw new Error(`the bridge at ${base} did not answer with a store snapshot`);
  }
  const known = new Set<string>(STORE_COLLECTIONS);
  async function* records(): AsyncIterable<DumpRecord> {
    const digest = new DumpDigest();
    for (let line = await parse(); line; line = await parse()) {
      if (line.end === true) {
        const problems = compareSummaries(line.summary as DumpSummary, digest.summary());
        if (problems.length > 0)
          throw new Error(`the bridge's snapshot arrived damaged: ${problems.join("; ")}`);
        return;
      }
      if (typeof line.c !== "string" || !known.has(line.c))
        throw new Error("the bridge's snapshot is malformed");
      const item = { collection: line.c as StoreCollection, record: line.r } as DumpRecord;
      digest.add(item);
      yield item;
    }
    throw new Error("the bridge's snapshot ended early (did the bridge stop?)");
  }
  return {
    schemaVersion: Number(first.schemaVersion),
    journalSeq: Number(first.journalSeq),
    records: records(),
    close: async () => {
      abort.abort();
      await lines.return(undefined).catch(() => undefined);
    },
  };
}
