import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { gunzipSync, gzipSync } from "node:zlib";
import { ARCHIVE_FORMAT_VERSION, ArchiveError, openArchive, writeArchive } from "./archive.js";
import type { ArchiveReader } from "./archive.js";
import { summarize } from "./dump.js";
import type { DumpRecord, StoreDump } from "./types.js";

let dir = "";
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "switchboard-archive-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function items(messages: number): DumpRecord[] {
  const list: DumpRecord[] = [
    {
      collection: "journal",
      record: { stream: "matrix", key: "t1", seq: 1, payload: "v1:sealed", done: false, createdAt: 5 },
    },
    {
      collection: "logins",
      record: {
        network: "slack",
        matrixUserId: "@bob:example.org",
        loginId: "U1",
        credentials: "v1:c2VhbGVk",
        state: "active",
        remoteName: "bob",
        createdAt: 1,
        meta: { "m.x": "é\u0000\n" },
      },
    },
  ];
  for (let i = 0; i < messages; i++) {
    list.push({
      collection: "messages",
      record: {
        network: "irc",
        channelId: "#c",
        receiver: "",
        remoteId: `m${i}`,
        part: 0,
        roomId: "!r:example.org",
        eventId: `$e${i}`,
        sender: "@irc_a:example.org",
        timestamp: i,
      },
    });
  }
  list.push({ collection: "kv", record: { namespace: "state", key: "k", value: { nested: [1, "two"] } } });
  return list;
}

function dumpOf(list: DumpRecord[]): StoreDump {
  return {
    schemaVersion: 1,
    journalSeq: 7,
    records: (async function* () {
      yield* list;
    })(),
  };
}

async function write(name: string, list = items(50)): Promise<string> {
  const file = path.join(dir, name);
  await writeArchive(file, {
    header: {
      createdAt: "2026-01-01T00:00:00.000Z",
      source: { type: "nedb", location: "/data" },
      keyFingerprint: "ab",
      withKey: true,
    },
    files: [
      { role: "config", name: "config.yaml", text: "homeserver: {}\n" },
      { role: "key", name: "credentials.key", text: "k\n" },
    ],
    dump: dumpOf(list),
  });
  return file;
}

async function readAll(reader: ArchiveReader): Promise<DumpRecord[]> {
  const out: DumpRecord[] = [];
  try {
    for await (const item of reader.dump.records) out.push(item);
  } finally {
    await reader.close();
  }
  return out;
}

/** Decompresses, edits the text, compresses again: an edit gzip's CRC cannot see. */
async function editText(file: string, edit: (text: string) => string): Promise<string> {
  const edited = `${file}.edited`;
  await writeFile(edited, gzipSync(edit(gunzipSync(await readFile(file)).toString("utf8"))));
  return edited;
}

describe("backup archive", () => {
  test("round trip: header, files and every record come back, with the trailer's summary", async () => {
    const list = items(12_345);
    const file = await write("round.sbk", list);
    assert.equal((await stat(file)).mode & 0o777, 0o600, "it holds tokens and keys: owner only");
    const reader = await openArchive(file);
    assert.equal(reader.header.formatVersion, ARCHIVE_FORMAT_VERSION);
    assert.equal(reader.header.storeSchemaVersion, 1);
    assert.equal(reader.header.journalSeq, 7);
    assert.equal(reader.header.source.type, "nedb");
    assert.deepEqual(
      reader.files.map((f) => [f.role, f.text]),
      [
        ["config", "homeserver: {}\n"],
        ["key", "k\n"],
      ],
    );
    const back = await readAll(reader);
    assert.deepEqual(back, list);
    assert.deepEqual(reader.summary(), await summarize(dumpOf(list).records));
  });

  test("a changed byte of the file is reported as corrupt", async () => {
    const file = await write("flip.sbk", items(2000));
    const bytes = await readFile(file);
    const at = Math.floor(bytes.length / 2);
    bytes[at] = (bytes[at] ?? 0) ^ 0x40;
    await writeFile(file, bytes);
    await assert.rejects(
      async () => readAll(await openArchive(file)),
      (e: unknown) => e instanceof ArchiveError && /flip\.sbk is (corrupt|damaged)/.test(e.message),
    );
  });

  test("an edited record fails its collection's checksum", async () => {
    const file = await write("edit.sbk");
    const edited = await editText(file, (t) =>
      t.replace('"roomId":"!r:example.org","eventId":"$e7"', '"roomId":"!evil:example.org","eventId":"$e7"'),
    );
    await assert.rejects(
      async () => readAll(await openArchive(edited)),
      (e: unknown) =>
        e instanceof ArchiveError && /messages: 50 records, but their checksum differs/.test(e.message),
    );
  });

  test("a dropped record, or a changed file entry, fails the checks", async () => {
    const file = await write("drop.sbk");
    const dropped = await editText(file, (t) => t.replace(/\{"c":"messages","r":\{[^\n]*"\$e3"[^\n]*\n/, ""));
    await assert.rejects(
      async () => readAll(await openArchive(dropped)),
      /messages: 49 records, expected 50/,
    );
    const key = await editText(file, (t) => t.replace('"text":"k\\n"', '"text":"x\\n"'));
    await assert.rejects(async () => readAll(await openArchive(key)), /header or files were changed/);
  });

  test("a truncated archive says so", async () => {
    const file = await write("cut.sbk", items(5000));
    const bytes = await readFile(file);
    await writeFile(file, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    await assert.rejects(
      async () => readAll(await openArchive(file)),
      /corrupt \(gzip: unexpected end of file\)/,
    );
    const whole = await write("cut2.sbk");
    const noEnd = await editText(whole, (t) => t.slice(0, t.lastIndexOf('{"end"')));
    await assert.rejects(async () => readAll(await openArchive(noEnd)), /truncated/);
  });

  test("a newer format version, a foreign file and a missing file are refused by name", async () => {
    const file = await write("new.sbk");
    const newer = await editText(file, (t) => t.replace('"formatVersion":1', '"formatVersion":2'));
    await assert.rejects(
      openArchive(newer),
      /written by a newer Switchboard \(backup format 2; this one reads up to 1\)/,
    );
    const foreign = path.join(dir, "foreign.gz");
    await writeFile(foreign, gzipSync('{"hello":1}\n'));
    await assert.rejects(openArchive(foreign), /is not a Switchboard backup/);
    const plain = path.join(dir, "plain.txt");
    await writeFile(plain, "not gzip at all");
    await assert.rejects(openArchive(plain), /plain\.txt is corrupt \(gzip: incorrect header check\)/);
    await assert.rejects(openArchive(path.join(dir, "nope.sbk")), /nope\.sbk does not exist/);
  });

  test("a failed write leaves no file that looks whole", async () => {
    const file = path.join(dir, "failed.sbk");
    const failing: StoreDump = {
      schemaVersion: 1,
      journalSeq: 0,
      records: (async function* () {
        yield* items(10);
        throw new Error("the store went away");
      })(),
    };
    await assert.rejects(
      writeArchive(file, {
        header: {
          createdAt: "x",
          source: { type: "nedb", location: "" },
          keyFingerprint: null,
          withKey: false,
        },
        files: [],
        dump: failing,
      }),
      /went away/,
    );
    await assert.rejects(stat(file), /ENOENT/);
    await assert.rejects(stat(`${file}.partial`), /ENOENT/);
  });
});
