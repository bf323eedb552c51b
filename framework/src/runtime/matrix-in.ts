import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type {
  BridgeContent,
  ChatCapabilities,
  MatrixSender,
  MessageKind,
  MessageRef,
  Meta,
  NetworkClient,
} from "../connector.js";
import {
  supportsEdits,
  supportsMembership,
  supportsPowerLevels,
  supportsChatInfo,
  supportsReactions,
  supportsRedactions,
} from "../connector.js";
import {
  htmlToPlain,
  parsePills,
  readRelation,
  sanitizeMatrixHtml,
  stripReplyFallback,
} from "../format/index.js";
import type { MatrixEvent, Transaction } from "../matrix/appservice.js";
import { classifyFailure } from "../matrix/client.js";
import { PermanentError, RateLimitedError, UnsupportedError } from "../errors.js";
import type { MessageMapping, RoomLink } from "../store/types.js";
import type { EchoGuard } from "../guards/double-bridge.js";
import type { PolicyRooms } from "../guards/policy-rooms.js";
import type { MediaLinks } from "./media-links.js";
import type { Bot } from "./bot.js";
import type { Receipts } from "./receipts.js";
import type { Ghosts } from "./ghosts.js";
import { chatOf, type Choice, type Clients } from "./clients.js";
import type { NetworkSlot, Services } from "./services.js";

const PROFILE_TTL_MS = 10 * 60_000;
const PROFILE_CACHE_SIZE = 20_000;

/** Delays between attempts to deliver one Matrix event on a transient failure (ms). */
const RETRIES = [250, 1000, 4000, 10_000];
/** A network's "slow down" is obeyed for this long in all before the event is parked. */
const MAX_RATE_LIMIT_WAIT_MS = 10 * 60_000;
/** A parked event is given up on (loudly) after this long. */
const PARKED_LIFETIME_MS = 24 * 60 * 60_000;
/** Journal keys of events parked after a transient failure: retried later and at every start. */
const PARKED = "parked\0";

type Outcome = "done" | "parked";

/**
 * Matrix → remote. HTTP transaction → journal (durable before the 200) → per-room queue
 * → link → connector. Every event is checked against the message mappings first, so a
 * transaction replayed after a crash sends nothing twice.
 *
 * Transactions are deduplicated by what they carry, not by their id alone: Synapse on SQLite
 * numbers transactions from 1 again after a restart, so an id seen before with other events
 * is a new transaction. Events are deduplicated by event id, whatever transaction carries them.
 */
export class MatrixIn {
  /** Recently handled event ids: the homeserver may resend an event in a new transaction. */
  private readonly recent = new Set<string>();
  private readonly recentLimit = 50_000;
  private readonly noticeSent = new Set<string>();
  private readonly profiles = new Map<string, { displayname?: string; avatar_url?: string; at: number }>();
  /** Journal entries being processed, so a replay and a live delivery never run one twice. */
  private readonly inFlight = new Set<string>();
  private readonly running = new Set<Promise<void>>();
  /** Until the connectors have started, transactions are only journaled; `replay` runs them. */
  private ready = false;

  constructor(
    private readonly s: Services,
    private readonly ghosts: Ghosts,
    private readonly clients: Clients,
    private readonly bot: Bot,
    private readonly receipts: Receipts,
    private readonly echo: EchoGuard,
    private readonly mediaLinks: MediaLinks,
    private readonly policies: PolicyRooms,
  ) {}

  /** Called by the HTTP handler: returns once the transaction is durable. */
  async accept(txnId: string, txn: Transaction): Promise<void> {
    const key = journalKey(txnId, txn);
    // Sealed: transactions carry private messages and, in the bot DM, login tokens.
    const fresh = await this.s.store.journalAppend("matrix", key, this.s.box.seal(txn));
    this.s.metrics.transactions.inc({ outcome: fresh ? "new" : "duplicate" });
    if (fresh && this.ready) void this.process(key, txn);
  }

  /**
   * Opens the gate: remembers the events handled within the journal's retention (a homeserver
   * may resend them after the bridge restarted), then queues every unfinished entry in order.
   * Returns how many were pending; they are delivered in the background.
   */
  async replay(): Promise<number> {
    for (const entry of await this.s.store.journalRecent("matrix", Date.now() - JOURNAL_MEMORY_MS)) {
      if (!entry.done || entry.key.startsWith(PARKED)) continue;
      const txn = this.s.box.open(entry.payload as string) as Transaction;
      for (const event of txn.events) this.remember(event.event_id);
    }
    const pending = await this.s.store.journalPending("matrix");
    // Queue every journaled event, in order, before the gate opens, all in this one tick:
    // live transactions then queue behind them, and none falls between the query and the gate.
    for (const entry of pending) this.resume(entry.key, entry.payload, entry.createdAt);
    this.ready = true;
    return pending.length;
  }

  /** Retries parked events (a timer calls this every minute). */
  async retryParked(): Promise<void> {
    if (!this.ready) return;
    for (const entry of await this.s.store.journalPending("matrix")) {
      if (!this.inFlight.has(entry.key)) this.resume(entry.key, entry.payload, entry.createdAt);
    }
  }

  private resume(key: string, payload: unknown, createdAt: number): void {
    const txn = this.s.box.open(payload as string) as Transaction;
    void this.process(key, txn, createdAt);
  }

  /** Resolves when every transaction being processed has finished (or parked what it could not). */
  async drain(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }

  private process(key: string, txn: Transaction, createdAt = Date.now()): Promise<void> {
    if (this.inFlight.has(key)) return Promise.resolve();
    this.inFlight.add(key);
    const work = this.processOnce(key, txn, createdAt).finally(() => {
      this.inFlight.delete(key);
      this.running.delete(work);
    });
    this.running.add(work);
    return work;
  }

  private async processOnce(key: string, txn: Transaction, createdAt: number): Promise<void> {
    const parkedEntry = key.startsWith(PARKED);
    const outcomes = await Promise.all(
      txn.events.map((event) =>
        this.s.roomQueue.run(event.room_id, () => this.handleSafely(event, parkedEntry, createdAt)),
      ),
    );
    // The events' mappings are stored behind the room queues: the entry is done once they are.
    const stored = await this.s.mappings.settled();
    if (parkedEntry) {
      // Still failing: the entry stays pending for the next round.
      if (!outcomes.includes("parked") && stored) await this.s.store.journalMarkDone("matrix", key);
      return;
    }
    await Promise.all(
      txn.ephemeral.map((eph) =>
        this.receipts
          .onEphemeral(eph)
          .catch((err: unknown) => this.s.log.warn({ err }, "ephemeral event failed")),
      ),
    );
    // What is not finished lives on as its own entry, so this transaction can be done.
    for (const [i, outcome] of outcomes.entries()) {
      const event = txn.events[i];
      if (outcome === "parked" && event) await this.park(event);
    }
    if (stored) await this.s.store.journalMarkDone("matrix", key);
  }

  private async park(event: MatrixEvent): Promise<void> {
    await this.s.store.journalAppend(
      "matrix",
      `${PARKED}${event.event_id}`,
      this.s.box.seal({ events: [event], ephemeral: [] } satisfies Transaction),
    );
  }

  /**
   * Delivers one event, deciding on each failure from what the connector threw: unsupported
   * (tell the room once), permanent (tell the room), rate limited (wait exactly that long),
   * homeserver down (wait for it), anything else (retry, then tell the room and park it).
   */
  private async handleSafely(event: MatrixEvent, parked: boolean, createdAt: number): Promise<Outcome> {
    if (!parked) {
      if (this.recent.has(event.event_id)) return "done";
      this.remember(event.event_id);
    }
    const started = process.hrtime.bigint();
    const signal = this.s.stopping;
    let network = "none";
    let transient = 0;
    let rateLimitedFor = 0;
    for (let attempt = 1; ; attempt++) {
      if (attempt > 1 && signal.aborted) return "parked";
      try {
        network = (await this.handle(event)) ?? "none";
        if (network !== "none") {
          this.s.metrics.events.inc({ direction: "matrix_to_remote", network, type: event.type });
          this.s.metrics.latency.observe(
            { direction: "matrix_to_remote", network },
            Number(process.hrtime.bigint() - started) / 1e9,
          );
        }
        return "done";
      } catch (err) {
        network = (await this.s.link(event.room_id).catch(() => null))?.network ?? network;
        const log = { err, eventId: event.event_id, roomId: event.room_id, type: event.type, attempt };
        if (err instanceof UnsupportedError) {
          await this.noticeOnce(event.room_id, `unsupported ${err.message}`, err.message);
          return "done";
        }
        const failure = classifyFailure(err);
        if (err instanceof PermanentError || failure.kind === "permanent") {
          this.s.metrics.failures.inc({ direction: "matrix_to_remote", network });
          this.s.metrics.dropped.inc({
            direction: "matrix_to_remote",
            network,
            reason: err instanceof Error ? err.name : "unknown",
          });
          this.s.log.error(log, "a Matrix event cannot be bridged; dropped");
          await this.replyNotice(event, `This message could not be delivered: ${(err as Error).message}`);
          return "done";
        }
        let wait: number;
        if (err instanceof RateLimitedError && rateLimitedFor < MAX_RATE_LIMIT_WAIT_MS) {
          wait = err.retryAfterMs;
          rateLimitedFor += wait;
        } else if (failure.kind === "outage") {
          if (!(await this.s.client.reachability.whenUp(Infinity, signal))) return "parked";
          wait = 0;
        } else if (transient < RETRIES.length) {
          wait = RETRIES[transient++] ?? 1000;
        } else {
          return this.giveUpForNow(event, err, network, parked, createdAt);
        }
        this.s.metrics.retries.inc({
          direction: "matrix_to_remote",
          network,
          reason: err instanceof RateLimitedError ? "rate-limited" : failure.kind,
        });
        this.s.log.warn({ ...log, retryInMs: wait }, "could not bridge a Matrix event; retrying");
        if (wait > 0 && !(await sleep(wait, true, { signal }).catch(() => false))) return "parked";
      }
    }
  }

  /** Transient failures used up their tries: the room hears once, the event waits for the next round. */
  private async giveUpForNow(
    event: MatrixEvent,
    err: unknown,
    network: string,
    parked: boolean,
    createdAt: number,
  ): Promise<Outcome> {
    this.s.metrics.failures.inc({ direction: "matrix_to_remote", network });
    if (parked && Date.now() - createdAt > PARKED_LIFETIME_MS) {
      this.s.log.error({ err, eventId: event.event_id }, "a Matrix event failed for a day; giving up");
      await this.replyNotice(
        event,
        `This message could not be delivered: ${(err as Error).message}. The bridge has stopped trying.`,
      );
      return "done";
    }
    this.s.log.error(
      { err, eventId: event.event_id, roomId: event.room_id },
      "could not bridge a Matrix event; will retry later",
    );
    if (!this.noticeSent.has(`pending ${event.event_id}`)) {
      this.noticeSent.add(`pending ${event.event_id}`);
      await this.replyNotice(
        event,
        `This message could not be delivered yet: ${(err as Error).message}. The bridge will keep trying.`,
      );
    }
    return "parked";
  }

  private async replyNotice(event: MatrixEvent, body: string): Promise<void> {
    await this.s.bot
      .sendEvent(event.room_id, "m.room.message", {
        msgtype: "m.notice",
        body,
        "m.relates_to": { "m.in_reply_to": { event_id: event.event_id } },
      })
      .catch(() => undefined);
  }

  /** Says something in a room once per room and key. */
  private async noticeOnce(roomId: string, key: string, body: string): Promise<void> {
    if (this.noticeSent.has(`${roomId} ${key}`)) return;
    this.noticeSent.add(`${roomId} ${key}`);
    await this.s.bot
      .sendEvent(roomId, "m.room.message", { msgtype: "m.notice", body })
      .catch(() => undefined);
  }

  private remember(eventId: string): void {
    this.recent.add(eventId);
    if (this.recent.size > this.recentLimit) {
      const first = this.recent.values().next().value;
      if (first !== undefined) this.recent.delete(first);
    }
  }

  /** Returns the network the event went to, if any. */
  private async handle(event: MatrixEvent): Promise<string | undefined> {
    // Whoever redacts a message, its media links end (before any other check can return).
    if (event.type === "m.room.redaction") {
      const redacts = redactedId(event);
      if (redacts) await this.mediaLinks.revokeEvent(redacts);
    }
    // Policy rooms' rule changes, and who is in bridged rooms (ghosts included).
    await this.policies.observe(event);
    // Our own ghosts' and bot's events are echoes of what we bridged in.
    if (this.s.isOurs(event.sender)) return undefined;
    // A banned user's events (or a banned room's) are not bridged, nor do they reach the bot.
    if (await this.policies.blocksMatrixEvent(event)) {
      this.s.log.debug(
        { eventId: event.event_id, sender: event.sender },
        "not bridged: a policy list bans it",
      );
      return undefined;
    }
    if (event.type === "m.room.member") {
      // A member event carries the profile: remember it, so later messages need no lookup.
      if (event.state_key && event.content.membership === "join") {
        const { displayname, avatar_url } = event.content as { displayname?: string; avatar_url?: string };
        this.rememberProfile(event.state_key, { displayname, avatar_url });
      }
      await this.bot.onMembership(event);
      return this.membership(event);
    }
    const link = await this.s.link(event.room_id);
    if (event.type === "m.room.message" && (await this.bot.onMessage(event, link))) return undefined;
    if (!link) return undefined;
    if (link.state !== "active") {
      if (event.type === "m.room.message") await this.tellNotActive(link);
      return undefined;
    }
    const slot = this.s.networks.get(link.network);
    if (!slot) return undefined;
    if (!this.s.permissions.allows(event.sender, "relay")) return undefined;
    switch (event.type) {
      case "m.room.message":
        await this.message(slot, link, event);
        return link.network;
      case "m.reaction":
        await this.reaction(slot, link, event);
        return link.network;
      case "m.room.redaction":
        await this.redaction(slot, link, event);
        return link.network;
      case "m.room.power_levels":
        return (await this.powerLevels(slot, link, event)) ? link.network : undefined;
      case "m.room.name":
      case "m.room.topic":
        return (await this.chatInfo(slot, link, event)) ? link.network : undefined;
      default:
        return undefined;
    }
  }

  /** The sender as the chosen client shows them. */
  private async matrixUser(userId: string, relayed: boolean): Promise<MatrixSender> {
    const profile = await this.profile(userId);
    return {
      userId,
      displayname: profile.displayname ?? userId.slice(1, userId.indexOf(":")),
      // Only a relay shows the picture; its link opens without a Matrix account.
      avatarUrl:
        relayed && profile.avatar_url?.startsWith("mxc://")
          ? await this.mediaLinks.avatar(profile.avatar_url).catch(() => undefined)
          : undefined,
      relayed,
    };
  }

  /**
   * The client that acts for this event (see clients.ts), or null after telling the sender,
   * in reply, that nobody can carry it and how to fix that.
   */
  private async choose(slot: NetworkSlot, link: RoomLink, event: MatrixEvent): Promise<Choice | null> {
    const choice = await this.clients.forSender(slot, link, event.sender);
    if (choice) return choice;
    const network = slot.connector.id;
    await this.replyNotice(
      event,
      `This message was not bridged: you have no ${slot.connector.displayName} login in this chat and the room has no relay. ` +
        `Log in with \`login ${network}\` in a DM with me, or ask a room admin to choose a relay with \`!set-relay ${network}\`.`,
    );
    return null;
  }

  /** What this chat can take, as the chosen client says; a read-only chat is said once. */
  private async capabilities(link: RoomLink, client: NetworkClient): Promise<ChatCapabilities | null> {
    const caps = client.capabilities(chatOf(link));
    if (caps.readOnly) {
      await this.noticeOnce(link.roomId, "read-only", caps.readOnly);
      return null;
    }
    return caps;
  }

  /**
   * A Matrix user's profile, from member events we have seen or one lookup, kept for a few
   * minutes: asking the homeserver on every message would cost a round trip per event.
   */
  private async profile(userId: string): Promise<{ displayname?: string; avatar_url?: string }> {
    const cached = this.profiles.get(userId);
    if (cached && Date.now() - cached.at < PROFILE_TTL_MS) return cached;
    const fresh = await this.s.bot
      .getProfile(userId)
      .catch(() => ({}) as { displayname?: string; avatar_url?: string });
    this.rememberProfile(userId, fresh);
    return fresh;
  }

  private rememberProfile(userId: string, profile: { displayname?: string; avatar_url?: string }): void {
    this.profiles.delete(userId);
    this.profiles.set(userId, { ...profile, at: Date.now() });
    if (this.profiles.size > PROFILE_CACHE_SIZE) {
      const oldest = this.profiles.keys().next().value;
      if (oldest !== undefined) this.profiles.delete(oldest);
    }
  }

  private async content(
    slot: NetworkSlot,
    raw: Record<string, unknown>,
    eventId: string,
  ): Promise<{ content: BridgeContent; mentions: Array<{ remoteUserId: string; displayname: string }> }> {
    const msgtype = typeof raw.msgtype === "string" ? raw.msgtype : "m.text";
    const kinds: Record<string, MessageKind> = {
      "m.text": "text",
      "m.notice": "notice",
      "m.emote": "emote",
      "m.image": "image",
      "m.file": "file",
      "m.audio": "audio",
      "m.video": "video",
    };
    const kind = kinds[msgtype] ?? "text";
    const body = typeof raw.body === "string" ? raw.body : "";
    const html =
      raw.format === "org.matrix.custom.html" && typeof raw.formatted_body === "string"
        ? sanitizeMatrixHtml(raw.formatted_body, { stripReplyFallback: true })
        : undefined;
    const mentions: Array<{ remoteUserId: string; displayname: string }> = [];
    for (const pill of html ? parsePills(html) : []) {
      const ghost = this.ghosts.remoteIdOf(pill.userId);
      if (ghost && ghost.network === slot.connector.id)
        mentions.push({ remoteUserId: ghost.remoteId, displayname: pill.text });
    }
    const text = html ? htmlToPlain(html) : stripReplyFallback(body).body;
    const content: BridgeContent = { kind, text, html };
    if (["image", "file", "audio", "video"].includes(kind) && typeof raw.url === "string") {
      const mxc = raw.url;
      const info = (raw.info ?? {}) as { mimetype?: string; size?: number };
      const name = typeof raw.filename === "string" ? raw.filename : body;
      content.text = typeof raw.filename === "string" && raw.filename !== body ? body : "";
      content.html = undefined;
      content.media = {
        name,
        mimetype: info.mimetype ?? "application/octet-stream",
        size: info.size,
        mxc,
        download: async () => (await this.s.bot.download(mxc)).data,
        link: () =>
          this.mediaLinks.create(mxc, {
            name,
            mimetype: info.mimetype ?? "application/octet-stream",
            eventId,
          }),
      };
    }
    return { content, mentions };
  }

  private async message(slot: NetworkSlot, link: RoomLink, event: MatrixEvent): Promise<void> {
    if (await this.s.mappings.byEventId(event.event_id)) return;
    const relation = readRelation(event.content);
    if (relation?.kind === "edit") return this.edit(slot, link, event, relation.eventId, relation.newContent);
    const choice = await this.choose(slot, link, event);
    if (!choice) return;
    const { client, relayed } = choice;
    const caps = await this.capabilities(link, client);
    if (!caps) return;
    const { content, mentions } = await this.content(slot, event.content, event.event_id);
    if (content.media && !caps.media) return this.politely(link, slot, "files");
    const sender = await this.matrixUser(event.sender, relayed);
    let replyTo: (MessageRef & { senderName: string; text: string }) | undefined;
    let threadRoot: MessageRef | undefined;
    if (
      relation?.kind === "reply" ||
      (relation?.kind === "thread" && relation.replyToId && !relation.isFallingBack)
    ) {
      const target = await this.s.mappings.byEventId(
        relation.kind === "reply" ? relation.eventId : (relation.replyToId ?? ""),
      );
      if (target) {
        // Networks without replies quote the original, so fetch its text once here.
        const original = await this.s.bot.getEvent(link.roomId, target.eventId).catch(() => null);
        const body =
          typeof original?.content.body === "string" ? stripReplyFallback(original.content.body).body : "";
        replyTo = {
          ...refOf(target),
          senderName: await this.displayName(target.sender),
          text: body,
        };
      }
    }
    if (relation?.kind === "thread") {
      const root = await this.s.mappings.byEventId(relation.rootId);
      if (root) threadRoot = refOf(root);
    }
    const result = await client.sendMessage({
      eventId: event.event_id,
      roomId: event.room_id,
      chat: chatOf(link),
      sender,
      content,
      timestamp: event.origin_server_ts ?? Date.now(),
      replyTo,
      threadRoot,
      mentions,
    });
    const mapping: MessageMapping = {
      network: link.network,
      channelId: link.channelId,
      receiver: link.receiver,
      remoteId: result.remoteId ?? `mx:${event.event_id}`,
      part: 0,
      roomId: link.roomId,
      eventId: event.event_id,
      sender: event.sender,
      timestamp: result.timestamp ?? event.origin_server_ts ?? Date.now(),
      ...(result.meta ? { meta: result.meta } : {}),
    };
    // Stored behind the room queue while few rooms are busy; the transaction is done once it
    // is (see processOnce).
    await this.s.mappings.putFromQueue(mapping);
    this.echo.recordSent(link.roomId, content.text, choice.login?.loginId ?? "relay");
    if (choice.login) this.receipts.afterSend(choice.login, link, mapping);
  }

  private async edit(
    slot: NetworkSlot,
    link: RoomLink,
    event: MatrixEvent,
    originalId: string,
    newContent: unknown,
  ): Promise<void> {
    const original = await this.s.mappings.byEventId(originalId);
    if (!original) return;
    const choice = await this.choose(slot, link, event);
    if (!choice) return;
    const caps = await this.capabilities(link, choice.client);
    if (!caps) return;
    if (!caps.edits || !supportsEdits(choice.client)) return this.politely(link, slot, "edits");
    // Links in an edit belong to the original: redacting it ends them too.
    const { content } = await this.content(slot, newContent as Record<string, unknown>, originalId);
    await choice.client.editMessage({
      chat: chatOf(link),
      target: refOf(original),
      sender: await this.matrixUser(event.sender, choice.relayed),
      content,
      eventId: event.event_id,
    });
  }

  /** A Matrix user joined or left a linked room: networks with per-user presence follow. */
  private async membership(event: MatrixEvent): Promise<string | undefined> {
    const userId = event.state_key;
    if (!userId || userId !== event.sender || this.s.isOurs(userId)) return undefined;
    const link = await this.s.link(event.room_id);
    if (!link || link.state !== "active") return undefined;
    const slot = this.s.networks.get(link.network);
    if (!slot || !this.s.permissions.allows(userId, "relay")) return undefined;
    const membership = event.content.membership;
    const prev = (event.unsigned?.prev_content as { membership?: string } | undefined)?.membership;
    const joined = membership === "join" && prev !== "join";
    const left = (membership === "leave" || membership === "ban") && prev === "join";
    if (!joined && !left) return undefined;
    // Presence is the user's own: only their own account follows, never the relay.
    const client = await this.clients.own(slot, chatOf(link), userId);
    if (!client || !supportsMembership(client)) return undefined;
    const sender = await this.matrixUser(userId, false);
    if (joined) await client.joinChat(chatOf(link), sender);
    else await client.leaveChat(chatOf(link), sender);
    return link.network;
  }

  /**
   * Someone changed the room's power levels: each Matrix user whose level changed is handed to
   * networks with a matching role. Ghosts and the bot are left out, so a role the bridge
   * mirrored in (IRC +o → power level) never comes back out. The previous levels are the
   * event's `unsigned.prev_content`, which the homeserver includes for replaced state.
   */
  private async powerLevels(slot: NetworkSlot, link: RoomLink, event: MatrixEvent): Promise<boolean> {
    if (event.state_key !== "") return false;
    const now = readLevels(event.content);
    const before = readLevels(event.unsigned?.prev_content);
    let handled = false;
    const affected = new Set([...Object.keys(now.users), ...Object.keys(before.users)]);
    // A new users_default changes everyone without a level of their own: the room's members.
    if (now.usersDefault !== before.usersDefault) {
      for (const member of await this.s.bot.joinedMembers(link.roomId).catch(() => [] as string[]))
        affected.add(member);
    }
    for (const userId of affected) {
      const level = now.users[userId] ?? now.usersDefault;
      const previous = before.users[userId] ?? before.usersDefault;
      if (level === previous || this.s.isOurs(userId) || !this.s.permissions.allows(userId, "relay"))
        continue;
      // A role is the user's own: it follows only through their own account.
      const client = await this.clients.own(slot, chatOf(link), userId);
      if (!client || !supportsPowerLevels(client)) continue;
      await client.setPowerLevel(chatOf(link), await this.matrixUser(userId, false), level, previous);
      handled = true;
    }
    return handled;
  }

  /**
   * A Matrix user renamed the room or changed its topic: it follows to the chat through their
   * own account where the network has such a thing (a Signal group's title). Changes by the
   * bridge's own users (a name mirrored from the network) stay in Matrix.
   */
  private async chatInfo(slot: NetworkSlot, link: RoomLink, event: MatrixEvent): Promise<boolean> {
    if (event.state_key !== "" || this.s.isOurs(event.sender)) return false;
    const client = await this.clients.own(slot, chatOf(link), event.sender);
    if (!client || !supportsChatInfo(client)) return false;
    const value = event.content[event.type === "m.room.name" ? "name" : "topic"];
    const text = typeof value === "string" ? value : "";
    const change = event.type === "m.room.name" ? { name: text } : { topic: text };
    await client.setChatInfo(chatOf(link), change, await this.matrixUser(event.sender, false));
    return true;
  }

  /** Says once per room and state why messages are not crossing. */
  private async tellNotActive(link: RoomLink): Promise<void> {
    const key = `${link.roomId} state ${link.state}`;
    if (this.noticeSent.has(key)) return;
    this.noticeSent.add(key);
    const why: Record<string, string> = {
      pending: "This room is waiting for a bridge admin's approval; messages are not bridged yet.",
      paused: `Bridging is paused in this room${typeof link.meta.pausedReason === "string" ? ` (${link.meta.pausedReason})` : ""}; a room admin can say \`!resume\`.`,
      denied: "A bridge admin declined to bridge this room; messages are not bridged.",
    };
    await this.s.bot
      .sendEvent(link.roomId, "m.room.message", {
        msgtype: "m.notice",
        body: why[link.state] ?? "Messages are not bridged.",
      })
      .catch(() => undefined);
  }

  private async displayName(userId: string): Promise<string> {
    const ghost = await this.s.store.ghostGet(userId);
    if (ghost?.displayname) return ghost.displayname;
    const profile = await this.s.bot.getProfile(userId).catch(() => ({}) as { displayname?: string });
    return profile.displayname ?? userId;
  }

  private async reaction(slot: NetworkSlot, link: RoomLink, event: MatrixEvent): Promise<void> {
    const relation = readRelation(event.content);
    if (relation?.kind !== "annotation") return;
    if (await this.s.store.reactionByEvent(event.event_id)) return;
    const target = await this.s.mappings.byEventId(relation.eventId);
    if (!target) return;
    const choice = await this.choose(slot, link, event);
    if (!choice) return;
    const caps = await this.capabilities(link, choice.client);
    if (!caps) return;
    if (!caps.reactions || !supportsReactions(choice.client)) return this.politely(link, slot, "reactions");
    const result = await choice.client.react({
      chat: chatOf(link),
      target: refOf(target),
      // An image reaction (MSC4027) goes out by its name: the network knows its emoji by that.
      key: relation.shortcode ?? relation.key,
      sender: await this.matrixUser(event.sender, choice.relayed),
      eventId: event.event_id,
    });
    await this.s.store.reactionPut({
      network: link.network,
      channelId: link.channelId,
      receiver: link.receiver,
      messageId: target.remoteId,
      sender: event.sender,
      key: relation.shortcode ?? relation.key,
      roomId: link.roomId,
      eventId: event.event_id,
      ...(result.remoteId ? { remoteId: result.remoteId } : {}),
      ...(result.meta ? { meta: result.meta } : {}),
      timestamp: event.origin_server_ts ?? Date.now(),
    });
  }

  private async redaction(slot: NetworkSlot, link: RoomLink, event: MatrixEvent): Promise<void> {
    const redacts = redactedId(event);
    if (!redacts) return;
    const reaction = await this.s.store.reactionByEvent(redacts);
    const target = reaction ? null : await this.s.mappings.byEventId(redacts);
    if (!reaction && !target) return;
    const choice = await this.choose(slot, link, event);
    if (!choice) return;
    const caps = await this.capabilities(link, choice.client);
    if (!caps) return;
    const sender = await this.matrixUser(event.sender, choice.relayed);
    if (reaction) {
      if (!supportsReactions(choice.client)) return;
      const [message] = await this.s.mappings.byRemoteId(
        link.network,
        link.channelId,
        link.receiver,
        reaction.messageId,
      );
      await choice.client.unreact({
        chat: chatOf(link),
        target: message ? refOf(message) : { remoteId: reaction.messageId },
        key: reaction.key,
        sender,
        reaction: {
          ...(reaction.remoteId ? { remoteId: reaction.remoteId } : {}),
          ...(reaction.meta ? { meta: reaction.meta as Meta } : {}),
        },
      });
      await this.s.store.reactionDelete(redacts);
      return;
    }
    if (!target) return;
    if (!caps.redactions || !supportsRedactions(choice.client))
      return this.politely(link, slot, "deleting messages");
    await choice.client.deleteMessage({
      chat: chatOf(link),
      target: refOf(target),
      sender,
      eventId: event.event_id,
    });
  }

  /** Says once per room and feature that the network cannot carry it. */
  private async politely(link: RoomLink, slot: NetworkSlot, what: string): Promise<void> {
    await this.noticeOnce(
      link.roomId,
      what,
      `${slot.connector.displayName} does not support ${what}, so it was not bridged.`,
    );
  }
}

/** How long handled events are remembered across restarts: the journal keeps done entries an hour. */
export const JOURNAL_MEMORY_MS = 60 * 60_000;

/**
 * A transaction's journal key: its id plus a digest of its events' ids (and ephemeral content).
 * A true retry has the same key and is acknowledged as a duplicate; a reused id with different
 * events (Synapse on SQLite after a restart) gets a new key and is processed.
 */
export function journalKey(txnId: string, txn: Transaction): string {
  const hash = createHash("sha256");
  for (const event of txn.events) hash.update(event.event_id).update("\0");
  if (txn.ephemeral.length > 0) hash.update(JSON.stringify(txn.ephemeral));
  return `${txnId}\0${hash.digest("base64url").slice(0, 22)}`;
}

/** The `users` map and default of power levels content, ignoring anything malformed. */
function readLevels(content: unknown): { users: Record<string, number>; usersDefault: number } {
  const c = (content ?? {}) as { users?: unknown; users_default?: unknown };
  const users: Record<string, number> = {};
  if (c.users && typeof c.users === "object") {
    for (const [userId, level] of Object.entries(c.users))
      if (typeof level === "number") users[userId] = level;
  }
  return { users, usersDefault: typeof c.users_default === "number" ? c.users_default : 0 };
}

/** A mapping as the connector described the remote message. */
function refOf(mapping: MessageMapping): MessageRef {
  return mapping.meta
    ? { remoteId: mapping.remoteId, meta: mapping.meta as Meta }
    : { remoteId: mapping.remoteId };
}

/** The event a redaction redacts: top-level `redacts` before room v11, in the content since. */
function redactedId(event: MatrixEvent): string | undefined {
  return event.redacts ?? (typeof event.content.redacts === "string" ? event.content.redacts : undefined);
}
