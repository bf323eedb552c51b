/**
 * Brings a data directory written by an older Switchboard up to the layout this code expects, once,
 * at start-up, before anything else reads the store. Every step can be interrupted and run again:
 * the version is raised only after a step has finished, and each step writes the new form of a
 * record before it removes the old one.
 */
import type { Logger } from "pino";
import { supportsDmUpgrade } from "../connector.js";
import type { Connector } from "../connector.js";
import { INCOMPLETE_LOAD_VERSION } from "./dump.js";
import type { MessageMapping, ReactionRecord, RoomLink, Store } from "./types.js";

export const STORE_SCHEMA_VERSION = 1;

export interface MigrateOptions {
  log: Logger;
  /** The configured connectors by network id; networks without one get the generic upgrade only. */
  connectors: Map<string, Connector>;
  /**
   * Loads the connector of a network that is not enabled but has data to upgrade (connectors
   * are loaded only for enabled networks); undefined: the generic upgrade only.
   */
  loadConnector?: (network: string) => Promise<Connector | undefined>;
}

/** One version step: does its work and says what it changed, for the start-up log. */
type Step = (store: Store, opts: MigrateOptions) => Promise<string>;

const STEPS: Record<number, Step> = {
  0: toVersion1,
};

export async function migrateStore(
  store: Store,
  opts: MigrateOptions,
): Promise<{ from: number; to: number }> {
  const from = await store.schemaVersion();
  if (from === INCOMPLETE_LOAD_VERSION) {
    throw new Error(
      "The store holds a restore or `store copy` that did not finish, so some of its records may be " +
        "missing. Run the same `switchboard restore FILE --force` (or `store copy --force`) again, then start.",
    );
  }
  if (from > STORE_SCHEMA_VERSION) {
    throw new Error(
      `The data directory was written by a newer Switchboard (store schema version ${from}; this ` +
        `version understands up to ${STORE_SCHEMA_VERSION}). Run that newer Switchboard, or restore ` +
        `a backup taken before it ran.`,
    );
  }
  const changes: string[] = [];
  for (let version = from; version < STORE_SCHEMA_VERSION; version++) {
    const step = STEPS[version];
    if (!step) throw new Error(`no store migration from schema version ${version}`);
    changes.push(await step(store, opts));
    await store.setSchemaVersion(version + 1);
  }
  if (changes.length > 0) {
    opts.log.info(`store migrated from schema v${from} to v${STORE_SCHEMA_VERSION}: ${changes.join("; ")}`);
  }
  return { from, to: STORE_SCHEMA_VERSION };
}

/** v1: DM chats are scoped by the owning login's id (was: its Matrix user); reactions have records of their own. */
async function toVersion1(store: Store, opts: MigrateOptions): Promise<string> {
  const dms = await upgradeDmLinks(store, opts);
  const reactions = await upgradeReactionMappings(store, opts);
  return (
    `${dms.moved} DM link(s) moved to login receivers (${dms.mappings} message mapping(s)), ` +
    `${dms.left} left as they were; ${reactions.converted} reaction mapping(s) converted, ` +
    `${reactions.dropped} dropped`
  );
}

// ---- DM links ----

async function upgradeDmLinks(
  store: Store,
  opts: MigrateOptions,
): Promise<{ moved: number; mappings: number; left: number }> {
  const counts = { moved: 0, mappings: 0, left: 0 };
  for (const link of await store.linkList()) {
    if (!(await hasMatrixReceiver(store, link))) continue;
    const connector = opts.connectors.get(link.network) ?? (await opts.loadConnector?.(link.network));
    const receiver = await upgradedReceiver(store, connector, link);
    if (receiver === null) {
      counts.left++;
      opts.log.warn(
        {
          roomId: link.roomId,
          network: link.network,
          channelId: link.channelId,
          matrixUserId: link.receiver,
        },
        "cannot tell which login owns this DM; its room stays linked the old way and will not bridge",
      );
      continue;
    }
    // Mappings before the link: interrupted in between, the link still looks old and the next run
    // finishes the move (the mappings already moved are simply not found under the old receiver).
    counts.mappings += await store.messageMoveReceiver(link.network, link.channelId, link.receiver, receiver);
    await store.linkPut({ ...link, receiver });
    counts.moved++;
  }
  return counts;
}

/** Old receivers are Matrix user ids; a stored login id that happens to start with "@" is already new. */
async function hasMatrixReceiver(store: Store, link: RoomLink): Promise<boolean> {
  if (!link.receiver.startsWith("@")) return false;
  return (await store.loginGet(link.network, link.receiver)) === null;
}

async function upgradedReceiver(
  store: Store,
  connector: Connector | undefined,
  link: RoomLink,
): Promise<string | null> {
  const loginIds = (await store.loginsOf(link.receiver, link.network)).map((l) => l.loginId);
  if (connector && supportsDmUpgrade(connector)) {
    return connector.upgradeDmReceiver(link.channelId, link.receiver, loginIds) || null;
  }
  // Without the connector's knowledge only an unambiguous owner is safe to pick.
  return loginIds.length === 1 ? (loginIds[0] ?? null) : null;
}

// ---- reactions ----

const OLD_REACTION_PREFIX = "reaction:";

async function upgradeReactionMappings(
  store: Store,
  opts: MigrateOptions,
): Promise<{ converted: number; dropped: number }> {
  const counts = { converted: 0, dropped: 0 };
  // Mappings of a network nobody configures any more are still worth converting while linked.
  const networks = new Set([...opts.connectors.keys(), ...(await store.linkList()).map((l) => l.network)]);
  for (const network of networks) {
    for (const mapping of await store.messagesWithRemotePrefix(network, OLD_REACTION_PREFIX)) {
      const reaction = await oldReactionRecord(store, mapping);
      // The record first, so an interruption here leaves the old mapping to convert again.
      if (reaction) await store.reactionPut(reaction);
      await store.messageDeleteByEvent(mapping.eventId);
      if (reaction) counts.converted++;
      else counts.dropped++;
    }
  }
  if (counts.dropped > 0) {
    opts.log.warn(
      { count: counts.dropped },
      "dropped old reaction mappings whose reacting user could not be told apart; removing those reactions later will not be bridged",
    );
  }
  return counts;
}

/**
 * `reaction:<messageId>:<sender>:<key>` cannot be split on ":" (ids contain it), so it is split
 * around each id the sender could have had, in the order the old code was likeliest to write them.
 */
async function oldReactionRecord(store: Store, mapping: MessageMapping): Promise<ReactionRecord | null> {
  for (const sender of await senderCandidates(store, mapping)) {
    const parts = splitAround(mapping.remoteId.slice(OLD_REACTION_PREFIX.length), sender);
    if (!parts) continue;
    return {
      network: mapping.network,
      channelId: mapping.channelId,
      receiver: mapping.receiver,
      messageId: parts.messageId,
      sender,
      key: parts.key,
      roomId: mapping.roomId,
      eventId: mapping.eventId,
      timestamp: mapping.timestamp,
    };
  }
  return null;
}

/**
 * Remote reactions were keyed by the remote user (the mapping's sender is their ghost, or a
 * double-puppeted Matrix user whose login reacted); Matrix reactions by the Matrix sender.
 */
async function senderCandidates(store: Store, mapping: MessageMapping): Promise<string[]> {
  const ghost = await store.ghostGet(mapping.sender);
  const logins = await store.loginsOf(mapping.sender, mapping.network);
  return [
    ...(ghost && ghost.network === mapping.network ? [ghost.remoteId] : []),
    mapping.sender,
    ...logins.map((l) => l.loginId),
  ].filter((id) => id !== "");
}

/**
 * Splits `<messageId>:<sender>:<key>` at an occurrence of `:<sender>:` that leaves both sides
 * non-empty, trying the last one first: message ids may embed their author (a Signal message is
 * author + timestamp), while keys are emoji or ":shortcodes:".
 */
function splitAround(rest: string, sender: string): { messageId: string; key: string } | null {
  const needle = `:${sender}:`;
  for (let at = rest.lastIndexOf(needle); at > 0; at = rest.lastIndexOf(needle, at - 1)) {
    const key = rest.slice(at + needle.length);
    if (key !== "") return { messageId: rest.slice(0, at), key };
  }
  return null;
}
