/**
 * What backup, restore and `store copy` share, whatever the backend: the collections in dump order,
 * a checksum per collection, and the errors a load gives.
 *
 * The checksum of a collection is the sum, modulo 2^256, of the SHA-256 of each record's canonical
 * JSON (object keys sorted at every depth). A sum does not depend on the order records come in, so
 * NeDB (insertion order), PostgreSQL (heap order) and an archive can be compared without sorting
 * 200k records in memory first; with the count beside it, a record changed, lost, added or doubled
 * changes the pair.
 */
import { createHash } from "node:crypto";
import type { DumpRecord, Store, StoreCollection } from "./types.js";

export const STORE_COLLECTIONS = [
  "journal",
  "links",
  "ghosts",
  "users",
  "logins",
  "messages",
  "reactions",
  "members",
  "media",
  "kv",
] as const satisfies readonly StoreCollection[];

/**
 * The schema version a backend without transactions holds while a load is under way: a load that
 * died midway leaves it, and the framework refuses to start on it (`migrate.ts`).
 */
export const INCOMPLETE_LOAD_VERSION = -1;

export interface CollectionSummary {
  count: number;
  /** Hex of the sum described in the header. */
  sha256: string;
}
export type DumpSummary = Record<StoreCollection, CollectionSummary>;

/** JSON with object keys sorted at every depth; `undefined` members are left out, as JSON.stringify does. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) {
    let text = "[";
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      text += (i > 0 ? "," : "") + (item === undefined ? "null" : canonicalJson(item));
    }
    return `${text}]`;
  }
  const record = value as Record<string, unknown>;
  let text = "{";
  for (const key of Object.keys(record).sort()) {
    const member = record[key];
    if (member === undefined) continue;
    text += `${text.length > 1 ? "," : ""}${JSON.stringify(key)}:${canonicalJson(member)}`;
  }
  return `${text}}`;
}

/** Adds between carry normalizations: each 32-bit lane then stays below 2^52, exact in a double. */
const ADDS_PER_CARRY = 1 << 20;

/** A 256-bit sum modulo 2^256 as eight 32-bit lanes (most significant first), kept in doubles. */
class Sum256 {
  private readonly lanes = new Float64Array(8);
  private adds = 0;

  add(hash: Buffer): void {
    for (let i = 0; i < 8; i++) this.lanes[i] = (this.lanes[i] ?? 0) + hash.readUInt32BE(i * 4);
    if (++this.adds === ADDS_PER_CARRY) this.carry();
  }

  hex(): string {
    this.carry();
    return Array.from(this.lanes, (lane) => lane.toString(16).padStart(8, "0")).join("");
  }

  private carry(): void {
    let carry = 0;
    for (let i = 7; i >= 0; i--) {
      const total = (this.lanes[i] ?? 0) + carry;
      this.lanes[i] = total % 2 ** 32;
      carry = Math.floor(total / 2 ** 32);
    }
    // What carries out of the top lane is a multiple of 2^256: dropped (modulo).
    this.adds = 0;
  }
}

/** Counts and checksums of the records it is shown, per collection. */
export class DumpDigest {
  private readonly counts = new Map<StoreCollection, number>();
  private readonly sums = new Map<StoreCollection, Sum256>();

  add(item: DumpRecord): void {
    const hash = createHash("sha256").update(canonicalJson(item.record)).digest();
    this.counts.set(item.collection, (this.counts.get(item.collection) ?? 0) + 1);
    let sum = this.sums.get(item.collection);
    if (!sum) this.sums.set(item.collection, (sum = new Sum256()));
    sum.add(hash);
  }

  summary(): DumpSummary {
    return Object.fromEntries(
      STORE_COLLECTIONS.map((c) => [
        c,
        { count: this.counts.get(c) ?? 0, sha256: this.sums.get(c)?.hex() ?? "0".repeat(64) },
      ]),
    ) as DumpSummary;
  }
}

/** Passes records through, adding each to `digest`. */
export async function* digesting(
  records: AsyncIterable<DumpRecord>,
  digest: DumpDigest,
): AsyncIterable<DumpRecord> {
  for await (const item of records) {
    digest.add(item);
    yield item;
  }
}

/** Counts and checksums of a whole dump (reads it). */
export async function summarize(records: AsyncIterable<DumpRecord>): Promise<DumpSummary> {
  const digest = new DumpDigest();
  for await (const item of records) digest.add(item);
  return digest.summary();
}

/** One line per collection whose count or checksum differs; empty when they agree. */
export function compareSummaries(expected: DumpSummary, actual: DumpSummary): string[] {
  const problems: string[] = [];
  for (const c of STORE_COLLECTIONS) {
    const want = expected[c];
    const got = actual[c];
    if (want.count !== got.count) problems.push(`${c}: ${got.count} records, expected ${want.count}`);
    else if (want.sha256 !== got.sha256)
      problems.push(`${c}: ${got.count} records, but their checksum differs`);
  }
  return problems;
}

/** `links 3, messages 200000, …`: the collections that hold records. */
export function describeCounts(counts: Partial<Record<StoreCollection, number>>): string {
  const held = STORE_COLLECTIONS.filter((c) => (counts[c] ?? 0) > 0).map((c) => `${c} ${counts[c]}`);
  return held.length > 0 ? held.join(", ") : "nothing";
}

/** A load into a store that holds records, without `replace`. Nothing was changed. */
export class StoreNotEmptyError extends Error {
  constructor(
    readonly counts: Partial<Record<StoreCollection, number>>,
    /** It holds what a load that did not finish left. */
    readonly incomplete: boolean,
  ) {
    super(
      incomplete
        ? `the store holds what an interrupted restore or copy left (${describeCounts(counts)})`
        : `the store is not empty (${describeCounts(counts)})`,
    );
    this.name = "StoreNotEmptyError";
  }
}

export type DumpingStore = Store & Required<Pick<Store, "snapshot" | "load">>;

/** Whether a backend can be backed up, restored and copied (every backend should). */
export function canDump(store: Store): store is DumpingStore {
  return typeof store.snapshot === "function" && typeof store.load === "function";
}

/** Records of a collection in batches of up to `size`, for bulk inserts; flushes at each collection change. */
export async function* batches(
  records: AsyncIterable<DumpRecord>,
  size: number,
): AsyncIterable<{ collection: StoreCollection; records: DumpRecord["record"][] }> {
  let collection: StoreCollection | null = null;
  let batch: DumpRecord["record"][] = [];
  for await (const item of records) {
    if (collection !== item.collection || batch.length >= size) {
      if (collection !== null && batch.length > 0) yield { collection, records: batch };
      collection = item.collection;
      batch = [];
    }
    batch.push(item.record);
  }
  if (collection !== null && batch.length > 0) yield { collection, records: batch };
}
