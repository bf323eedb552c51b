import { mkdir, readdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { MESSAGES_LEVEL_DIR, MessageLevel } from "../framework/src/store/nedb-messages.js";
import type { MessageMapping } from "../framework/src/store/types.js";

/**
 * Pre-fills a NedbStore directory by writing NeDB's datafiles directly, in the exact line format
 * NedbStore produces (one JSON document per line, then the `$$indexCreated` lines that
 * syncIndexes writes; checked against files written through the API). Going through
 * ghostPut/linkPut would cost one fs.appendFile per record, serialized per collection.
 * Message mappings go into the store's LevelDB through its own MessageLevel, in batches, so the
 * layout is the store's by construction.
 * run.ts verifies the result through the store the bridge opens (counts and lookups).
 */

const INDEX_LINES: Record<string, Array<{ fieldName: string; unique: boolean; sparse: boolean }>> = {
  journal: [
    { fieldName: "_pending", unique: false, sparse: true },
    { fieldName: "createdAt", unique: false, sparse: true },
  ],
  links: [
    { fieldName: "_channelKey", unique: false, sparse: false },
    { fieldName: "network", unique: false, sparse: false },
    { fieldName: "createdBy", unique: false, sparse: false },
  ],
  ghosts: [{ fieldName: "_remoteKey", unique: true, sparse: false }],
  users: [{ fieldName: "managementRoom", unique: false, sparse: true }],
  logins: [
    { fieldName: "matrixUserId", unique: false, sparse: false },
    { fieldName: "network", unique: false, sparse: false },
  ],
  kv: [],
};

export const portalChannel = (i: number): string => `p${i}`;
export const portalRoom = (i: number, domain: string): string => `!portal${i}:${domain}`;
export const ghostRemoteId = (i: number): string => `r${i}`;

export async function fillStore(
  directory: string,
  options: {
    network: string;
    domain: string;
    userPrefix: string;
    portals: number;
    ghosts: number;
    /** Message mappings (what every bridged message leaves for message_retention_days), spread over the portals. */
    messages?: number;
  },
): Promise<{ bytes: number }> {
  await mkdir(directory, { recursive: true });
  const { network, domain, userPrefix } = options;
  const created = Date.now() - 86_400_000;
  const files: Record<string, string[]> = {};
  for (const name of Object.keys(INDEX_LINES)) files[name] = [];

  const links = files.links as string[];
  for (let i = 0; i < options.portals; i++) {
    const channelId = portalChannel(i);
    links.push(
      JSON.stringify({
        _id: portalRoom(i, domain),
        network,
        channelId,
        receiver: "",
        kind: "portal",
        state: "active",
        createdBy: "",
        createdAt: created + i,
        meta: "{}",
        _channelKey: JSON.stringify([network, channelId]),
      }),
    );
  }
  const ghosts = files.ghosts as string[];
  for (let i = 0; i < options.ghosts; i++) {
    // Remote ids of [a-z0-9] only, so the escaped localpart is the id itself.
    const remoteId = ghostRemoteId(i);
    ghosts.push(
      JSON.stringify({
        _id: `@${userPrefix}${remoteId}:${domain}`,
        network,
        remoteId,
        displayname: `Remote user ${i}`,
        avatarUrl: null,
        registered: true,
        _remoteKey: JSON.stringify([network, remoteId]),
      }),
    );
  }
  const level = await MessageLevel.open(directory);
  try {
    let batch: MessageMapping[] = [];
    for (let i = 0; i < (options.messages ?? 0); i++) {
      const portal = i % Math.max(1, options.portals);
      batch.push({
        network,
        channelId: portalChannel(portal),
        receiver: "",
        remoteId: `m${i}`,
        part: 0,
        roomId: portalRoom(portal, domain),
        eventId: `$event${i}`,
        sender: `@${userPrefix}${ghostRemoteId(i % Math.max(1, options.ghosts))}:${domain}`,
        timestamp: created + i,
      });
      if (batch.length === 5000 || i === (options.messages ?? 0) - 1) {
        const taken = await level.insertNew(batch);
        if (taken !== null) throw new Error(`fill-store: ${taken} is already in ${directory}`);
        batch = [];
      }
    }
  } finally {
    await level.close();
  }
  let bytes = await directoryBytes(join(directory, MESSAGES_LEVEL_DIR));
  for (const [name, lines] of Object.entries(files)) {
    for (const index of INDEX_LINES[name] ?? []) lines.push(JSON.stringify({ $$indexCreated: index }));
    const text = lines.length > 0 ? lines.join("\n") + "\n" : "";
    bytes += Buffer.byteLength(text);
    await writeFile(join(directory, `${name}.db`), text);
  }
  return { bytes };
}

async function directoryBytes(directory: string): Promise<number> {
  let bytes = 0;
  for (const name of await readdir(directory)) bytes += (await stat(join(directory, name))).size;
  return bytes;
}
