/**
 * The backup archive: one gzip'd JSON-lines file.
 *
 *   {"format":"switchboard-backup","formatVersion":1,…header}      what, when, from which store
 *   {"file":"config","name":"config.yaml","text":"…"}              config, registration, key file
 *   {"c":"links","r":{…}}                                         one line per record
 *   {"end":true,"summary":{…},"sha256":"…"}                       counts + checksums, then the
 *                                                                  SHA-256 of every line before it
 *
 * Why JSON lines and not tar: a tar entry's header states its size before its bytes, so a store
 * dump of unknown size (read from a live database) would have to be spooled to a temporary file, or
 * read twice, before it could be written; a line per record streams in both directions with
 * constant memory, needs no dependency, and `zcat backup.sbk | head` shows what it holds. gzip's
 * CRC catches a damaged file; the trailer catches a truncated or edited one (and says which
 * collection), and the per-collection checksums are the ones `store copy` and restore verify with.
 */
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { open, rename, rm } from "node:fs/promises";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { StringDecoder } from "node:string_decoder";
import { createGunzip, createGzip } from "node:zlib";
import { DumpDigest, STORE_COLLECTIONS, compareSummaries } from "./dump.js";
import type { DumpSummary } from "./dump.js";
import type { DumpRecord, StoreCollection, StoreDump } from "./types.js";

export const ARCHIVE_FORMAT = "switchboard-backup";
/** Raise when a reader of the old version would misread the new one. */
export const ARCHIVE_FORMAT_VERSION = 1;

export interface ArchiveHeader {
  format: typeof ARCHIVE_FORMAT;
  formatVersion: number;
  /** ISO 8601. */
  createdAt: string;
  /** The store's data layout version (`STORE_SCHEMA_VERSION` of the Switchboard that wrote it, or older). */
  storeSchemaVersion: number;
  journalSeq: number;
  /** Where the records came from; `location` never holds a password. */
  source: { type: string; location: string };
  /** `keyFingerprint()` of the key the store's sealed values are sealed with; null when there was none. */
  keyFingerprint: string | null;
  /** Whether the key itself is in the archive (a key file, or `encryption.key` in the config). */
  withKey: boolean;
}

export type ArchiveFileRole = "config" | "registration" | "key";

export interface ArchiveFile {
  role: ArchiveFileRole;
  /** The file's name where it was (for messages and restore's default place). */
  name: string;
  text: string;
}

interface Trailer {
  end: true;
  summary: DumpSummary;
  sha256: string;
}

/** A damaged, truncated, edited, foreign or too new archive; the message names the file and what to do. */
export class ArchiveError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ArchiveError";
  }
}

/** Lines go to gzip in chunks of about this many characters. */
const CHUNK = 64 * 1024;

export interface WriteArchiveInput {
  header: Omit<ArchiveHeader, "format" | "formatVersion" | "storeSchemaVersion" | "journalSeq">;
  files: ArchiveFile[];
  dump: StoreDump;
}

/**
 * Writes the archive to `path` (mode 0600: it holds tokens, and maybe the key) through a temporary
 * file renamed into place once complete and synced: an interrupted backup never leaves a file that
 * looks whole.
 */
export async function writeArchive(
  path: string,
  input: WriteArchiveInput,
): Promise<{ summary: DumpSummary; header: ArchiveHeader }> {
  const header: ArchiveHeader = {
    format: ARCHIVE_FORMAT,
    formatVersion: ARCHIVE_FORMAT_VERSION,
    ...input.header,
    storeSchemaVersion: input.dump.schemaVersion,
    journalSeq: input.dump.journalSeq,
  };
  const digest = new DumpDigest();
  const content = createHash("sha256");
  async function* chunks(): AsyncIterable<string> {
    let chunk = "";
    const line = (text: string): string | null => {
      const withEnd = `${text}\n`;
      content.update(withEnd, "utf8");
      chunk += withEnd;
      if (chunk.length < CHUNK) return null;
      const full = chunk;
      chunk = "";
      return full;
    };
    const lines = async function* (): AsyncIterable<string> {
      yield JSON.stringify(header);
      for (const file of input.files)
        yield JSON.stringify({ file: file.role, name: file.name, text: file.text });
      for await (const item of input.dump.records) {
        digest.add(item);
        yield JSON.stringify({ c: item.collection, r: item.record });
      }
    };
    for await (const text of lines()) {
      const full = line(text);
      if (full !== null) yield full;
    }
    const trailer: Trailer = { end: true, summary: digest.summary(), sha256: content.digest("hex") };
    yield chunk + `${JSON.stringify(trailer)}\n`;
  }
  const partial = `${path}.partial`;
  try {
    await pipeline(Readable.from(chunks()), createGzip(), createWriteStream(partial, { mode: 0o600 }));
    const handle = await open(partial, "r+");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(partial, path);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
  return { summary: digest.summary(), header };
}

export interface ArchiveReader {
  header: ArchiveHeader;
  files: ArchiveFile[];
  /**
   * The records, read once, as a dump for `Store.load`: at its end the trailer is checked, and a
   * mismatch (or damage anywhere) throws ArchiveError, so a load in one transaction never commits it.
   */
  dump: StoreDump;
  /** The trailer's counts and checksums; known once `dump.records` has been read to its end. */
  summary(): DumpSummary;
  close(): Promise<void>;
}

/** Opens an archive and reads its header and files; the records follow through `dump`. */
export async function openArchive(path: string): Promise<ArchiveReader> {
  const input = createReadStream(path);
  const lines = readLines(path, input);
  const content = createHash("sha256");
  const next = async (): Promise<{ text: string; value: Record<string, unknown> } | null> => {
    const result = await lines.next();
    if (result.done) return null;
    const text = result.value;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw damaged(path, "a line is not JSON");
    }
    if (typeof value !== "object" || value === null || Array.isArray(value))
      throw damaged(path, "a line is not an object");
    return { text, value: value as Record<string, unknown> };
  };
  try {
    const first = await next();
    if (!first || first.value.format !== ARCHIVE_FORMAT) {
      throw new ArchiveError(`${path} is not a Switchboard backup (made by \`switchboard backup -o FILE\`)`);
    }
    const header = first.value as unknown as ArchiveHeader;
    if (typeof header.formatVersion !== "number" || header.formatVersion > ARCHIVE_FORMAT_VERSION) {
      throw new ArchiveError(
        `${path} was written by a newer Switchboard (backup format ${String(header.formatVersion)}; this one reads ` +
          `up to ${ARCHIVE_FORMAT_VERSION}): restore or verify it with that Switchboard or a newer one`,
      );
    }
    content.update(`${first.text}\n`, "utf8");
    const files: ArchiveFile[] = [];
    let pending = await next();
    while (pending && typeof pending.value.file === "string") {
      const { file, name, text } = pending.value;
      if (typeof name !== "string" || typeof text !== "string")
        throw damaged(path, "a file entry is malformed");
      files.push({ role: file as ArchiveFileRole, name, text });
      content.update(`${pending.text}\n`, "utf8");
      pending = await next();
    }
    let trailer: Trailer | null = null;
    const digest = new DumpDigest();
    const known = new Set<string>(STORE_COLLECTIONS);
    async function* records(): AsyncIterable<DumpRecord> {
      let line = pending;
      while (line) {
        if (line.value.end === true) {
          trailer = line.value as unknown as Trailer;
          if ((await lines.next()).done !== true) throw damaged(path, "there is more after its end");
          break;
        }
        const { c, r } = line.value;
        if (typeof c !== "string" || !known.has(c) || typeof r !== "object" || r === null) {
          throw damaged(path, "a record line is malformed");
        }
        content.update(`${line.text}\n`, "utf8");
        const item = { collection: c as StoreCollection, record: r } as DumpRecord;
        digest.add(item);
        yield item;
        line = await next();
      }
      const end = trailer as Trailer | null;
      if (!end) throw damaged(path, "it ends before its last line: the backup is truncated");
      const problems = compareSummaries(end.summary, digest.summary());
      if (problems.length > 0) {
        throw new ArchiveError(
          `${path} does not match its own checksums (${problems.join("; ")}): it was changed after it was ` +
            `written; use another backup`,
        );
      }
      if (content.digest("hex") !== end.sha256) {
        throw new ArchiveError(
          `${path} does not match its checksum (its header or files were changed after it was written): use another backup`,
        );
      }
    }
    return {
      header,
      files,
      dump: { schemaVersion: header.storeSchemaVersion, journalSeq: header.journalSeq, records: records() },
      summary: () => {
        if (!trailer) throw new Error("the archive's records have not been read to their end");
        return trailer.summary;
      },
      close: async () => {
        input.destroy();
        await lines.return(undefined);
      },
    };
  } catch (error) {
    input.destroy();
    throw error;
  }
}

function damaged(path: string, what: string): ArchiveError {
  return new ArchiveError(`${path} is damaged (${what}): use another backup`);
}

/** The decompressed lines of the file; gzip and read errors become ArchiveErrors naming the file. */
async function* readLines(path: string, input: Readable): AsyncGenerator<string, void, undefined> {
  const gunzip = createGunzip();
  input.on("error", (error) => gunzip.destroy(error));
  try {
    yield* splitLines(input.pipe(gunzip));
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === "ENOENT") throw new ArchiveError(`${path} does not exist`);
    if (typeof code === "string" && code.startsWith("Z_")) {
      throw new ArchiveError(
        `${path} is corrupt (gzip: ${(error as Error).message}): it was damaged after it was written; use another backup`,
      );
    }
    throw error;
  } finally {
    input.destroy();
  }
}

/** UTF-8 text split at "\n" (a last line without one included), whatever the chunk boundaries. */
export async function* splitLines(
  chunks: AsyncIterable<Uint8Array>,
): AsyncGenerator<string, void, undefined> {
  const decoder = new StringDecoder("utf8");
  let rest = "";
  for await (const chunk of chunks) {
    const parts = (rest + decoder.write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength))).split(
      "\n",
    );
    rest = parts.pop() ?? "";
    yield* parts;
  }
  rest += decoder.end();
  if (rest !== "") yield rest;
}
