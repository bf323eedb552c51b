import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type {
  BridgeContent,
  ChatRef,
  EmitOptions,
  RemoteEvent,
  RemoteMedia,
  RemoteSender,
} from "../connector.js";
import { supportsFetchMessage } from "../connector.js";
import { backoffMs, BridgeStoppingError, PermanentError } from "../errors.js";
import {
  editContent,
  reactionContent,
  replyContent,
  sanitizeMatrixHtml,
  threadContent,
  type MatrixMessageContent,
  type MatrixMsgtype,
  type MatrixRelatesTo,
} from "../format/index.js";
import type { Intent } from "../matrix/intent.js";
import { stableTxnId } from "../matrix/intent.js";
import { classifyFailure, MatrixError } from "../matrix/client.js";
import type { MessageMapping, RoomLink } from "../store/types.js";
import { isForeignEcho, isSurelyForeign, type EchoGuard } from "../guards/double-bridge.js";
import type { ActivationGuard } from "../guards/activation.js";
import type { PolicyRooms } from "../guards/policy-rooms.js";
import type { Clients } from "./clients.js";
import type { Ghosts } from "./ghosts.js";
import type { Logins } from "./logins.js";
import { chatKey, type Portals } from "./portals.js";
import { fetchRemoteMedia } from "./remote-media.js";
import type { NetworkSlot, Services } from "./services.js";

/**
 * Remote → Matrix. connector event → journal (durable, so the connector may ack its
 * network) → per-chat queue → ghost intent → homeserver. Sends use transaction ids made
 * from the remote event's key and are skipped when the mapping already exists, so a
 * replay after a crash duplicates nothing.
 *
 * At-least-once until delivered: an event stays pending in the journal until the homeserver
 * takes it or refuses it for good. While the homeserver is down every queue waits on one
 * probe (`client.reachability`); a 5xx or 429 for one room holds only that chat's queue,
 * with capped backoff; a permanent refusal (403 for a banned ghost, 413) ends the event
 * loudly: logged, counted, and told in the room.
 */

interface JournaledRemote {
  network: string;
  event: RemoteEvent;
  receivedAt: number;
  /** Brought in by a history import: passes the hold on its chat's live events. */
  imported?: true;
}

/** Longest wait between two tries of one event (a chat's 5xx, a 429 without retry_after). */
const MAX_RETRY_DELAY_MS = 30_000;
/** Failures that are neither the homeserver's nor the connector's verdict (a remote file fetch): tries. */
const OTHER_FAILURE_ATTEMPTS = 5;
/**
 * Portals made as logins join chats, per network and minute: a login that joins hundreds of
 * chats at once (a first sync) must not create hundreds of rooms; past this its chats get
 * their portal on their first message instead.
 */
const EAGER_PORTALS_PER_MINUTE = 10;

type Outcome = "delivered" | "dropped" | "stopping" | "held";

/** Thrown when a live event made its chat's portal and that portal's history import began. */
class HeldForImport extends Error {}

export class RemoteIn {
  /** Until `replay` has queued what a crash left behind, new events are only journaled. */
  private ready = false;
  private readonly inFlight = new Set<string>();
  /** Chats whose events are left pending because the bridge is stopping: later ones wait too (order). */
  private readonly held = new Set<string>();
  /**
   * Chats whose new portal is importing its history: their live events, journaled, wait here in
   * arrival order until the import is done (`release`), so the room shows the past first.
   */
  private readonly importHolds = new Map<string, Array<{ key: string; entry: JournaledRemote }>>();

  /** Newest remote read already shown per "reader room": receipts never move backwards. */
  private readonly readUpTo = new Map<string, number>();
  private readonly noticeSent = new Set<string>();
  /** Eager portal creations per network in the current minute. */
  private readonly eagerBudget = new Map<string, { minute: number; used: number }>();

  constructor(
    private readonly s: Services,
    private readonly ghosts: Ghosts,
    private readonly portals: Portals,
    private readonly logins: Logins,
    private readonly clients: Clients,
    private readonly guard: ActivationGuard,
    private readonly echo: EchoGuard,
    private readonly notifyAdmins: (text: string) => Promise<void>,
    private readonly policies: PolicyRooms,
  ) {}

  private closed = false;

  /** After this, emits are refused (so a connector never acknowledges what was not stored). */
  close(): void {
    this.closed = true;
  }

  /** Events accepted and not yet delivered or dropped (the backlog an outage builds). */
  get pending(): number {
    return this.inFlight.size;
  }

  async emit(network: string, event: RemoteEvent, options: EmitOptions = {}): Promise<void> {
    if (this.closed) throw new BridgeStoppingError();
    const key = options.key ?? `${network}:${randomUUID()}`;
    const entry: JournaledRemote = { network, event, receivedAt: Date.now() };
    // Sealed like the Matrix journal: remote events carry private messages.
    const fresh = await this.s.store.journalAppend("remote", key, this.s.box.seal(entry));
    if (!fresh) return;
    if (this.ready) void this.process(key, entry);
  }

  /**
   * A history import's event: journaled like a live one, under `import:` and the key live
   * delivery uses, and queued in its chat's order, past the hold on the chat. A message that
   * also arrived live is bridged once, by its message mapping. Resolves once it is delivered,
   * dropped, or left for the next start.
   */
  async emitImported(network: string, event: RemoteEvent, key: string): Promise<void> {
    if (this.closed) throw new BridgeStoppingError();
    const entry: JournaledRemote = { network, event, receivedAt: Date.now(), imported: true };
    // A key of its own: the same message may have arrived live before its chat had a portal
    // (journaled, and done without a room); the message mapping is what keeps it from twice.
    const journalKey = `import:${key}`;
    const fresh = await this.s.store.journalAppend("remote", journalKey, this.s.box.seal(entry));
    if (fresh) await this.process(journalKey, entry);
  }

  holdFor(queue: string): void {
    if (!this.importHolds.has(queue)) this.importHolds.set(queue, []);
  }

  /** The import is done: the chat's held live events go on, in the order they arrived. */
  release(queue: string): void {
    const held = this.importHolds.get(queue);
    this.importHolds.delete(queue);
    for (const { key, entry } of held ?? []) void this.process(key, entry);
  }

  /**
   * Queues what a crash or an outage left pending, in arrival order, then opens the gate for
   * new events. Returns how many were pending; their delivery goes on in the background (a
   * homeserver still down must not hold the bridge's start).
   */
  async replay(): Promise<number> {
    const pending = await this.s.store.journalPending("remote");
    // As on the Matrix side: journaled events queue first, in this tick, then the gate opens.
    for (const entry of pending)
      void this.process(entry.key, this.s.box.open(entry.payload as string) as JournaledRemote);
    this.ready = true;
    return pending.length;
  }

  private queueKey(network: string, event: RemoteEvent): string {
    return "chat" in event ? chatKey(network, event.chat) : `profile\0${network}`;
  }

  private process(key: string, entry: JournaledRemote): Promise<void> {
    if (this.inFlight.has(key)) return Promise.resolve();
    this.inFlight.add(key);
    const queue = this.queueKey(entry.network, entry.event);
    return this.s.roomQueue.run(queue, async () => {
      let outcome: Outcome;
      try {
        outcome = this.held.has(queue)
          ? "stopping"
          : !entry.imported && this.importHolds.has(queue)
            ? "held"
            : await this.deliver(entry.network, entry.event, key, entry.imported === true);
      } catch (err) {
        this.inFlight.delete(key);
        throw err;
      }
      if (outcome === "held") {
        // Behind the chat's history import; `release` queues it again.
        const waiting = this.importHolds.get(queue);
        this.inFlight.delete(key);
        if (waiting) waiting.push({ key, entry });
        else void this.process(key, entry);
        return;
      }
      if (outcome === "stopping") {
        // Left pending for the next start; the chat's later events stay behind it.
        this.held.add(queue);
        this.inFlight.delete(key);
        return;
      }
      // Done once its mapping is stored, which goes on behind the queue.
      this.s.mappings.whenDurable(() => this.markDone(key));
    });
  }

  private async markDone(key: string): Promise<void> {
    try {
      await this.s.store.journalMarkDone("remote", key);
    } catch (err) {
      this.s.log.error(
        { err },
        "could not mark a remote event done; it will be retried (and deduplicated) at restart",
      );
    } finally {
      this.inFlight.delete(key);
    }
  }

  /** Tries until the event is in Matrix, refused for good, or the bridge stops. */
  private async deliver(
    network: string,
    event: RemoteEvent,
    key: string,
    imported: boolean,
  ): Promise<Outcome> {
    const started = process.hrtime.bigint();
    const signal = this.s.stopping;
    let otherFailures = 0;
    for (let attempt = 1; ; attempt++) {
      // The first try always runs, so a clean stop still drains; retries end with the stop.
      if (attempt > 1 && signal.aborted) return "stopping";
      try {
        await this.handle(network, event, key, imported);
        this.s.metrics.events.inc({ direction: "remote_to_matrix", network, type: event.type });
        this.s.metrics.latency.observe(
          { direction: "remote_to_matrix", network },
          Number(process.hrtime.bigint() - started) / 1e9,
        );
        return "delivered";
      } catch (err) {
        if (err instanceof HeldForImport) return "held";
        const failure = classifyFailure(err);
        let wait: number;
        if (failure.kind === "outage") {
          const reachability = this.s.client.reachability;
          // The request that failed closed the gate; one probe decides when to go on.
          if (!(await reachability.whenUp(Infinity, signal))) return "stopping";
          wait = reachability.isUp && attempt > 1 ? backoffMs(attempt, 250, MAX_RETRY_DELAY_MS) : 0;
        } else if (failure.kind === "rate-limited") {
          wait = failure.retryAfterMs ?? backoffMs(attempt, 1000, MAX_RETRY_DELAY_MS);
        } else if (failure.kind === "transient") {
          wait = backoffMs(attempt, 500, MAX_RETRY_DELAY_MS);
        } else if (failure.kind === "permanent" || err instanceof PermanentError) {
          await this.drop(network, event, key, err);
          return "dropped";
        } else {
          if (++otherFailures >= OTHER_FAILURE_ATTEMPTS) {
            await this.drop(network, event, key, err);
            return "dropped";
          }
          wait = backoffMs(otherFailures, 500, MAX_RETRY_DELAY_MS);
        }
        this.s.metrics.retries.inc({ direction: "remote_to_matrix", network, reason: failure.kind });
        // The outage itself is logged once by the reachability gate; per-chat trouble here, sparsely.
        if (failure.kind !== "outage" && (attempt === 1 || attempt % 10 === 0)) {
          this.s.log.warn(
            { err: String(err), network, type: event.type, key, attempt, retryInMs: wait },
            "could not bridge a remote event to Matrix yet; retrying",
          );
        }
        if (wait > 0) {
          const slept = await sleep(wait, true, { signal }).catch(() => false);
          if (!slept) return "stopping";
        }
      }
    }
  }

  /** A permanent refusal: logged once with the event key, counted, and told where a person should know. */
  private async drop(network: string, event: RemoteEvent, key: string, err: unknown): Promise<void> {
    const reason =
      err instanceof MatrixError
        ? `${err.errcode}: ${err.error}`
        : err instanceof Error
          ? err.message
          : String(err);
    this.s.metrics.failures.inc({ direction: "remote_to_matrix", network });
    this.s.metrics.dropped.inc({
      direction: "remote_to_matrix",
      network,
      reason: err instanceof MatrixError ? err.errcode : err instanceof Error ? err.name : "unknown",
    });
    this.s.log.error(
      { err, network, type: event.type, key, reason },
      "a remote event cannot be bridged to Matrix; dropped",
    );
    if (event.type !== "message" && event.type !== "edit") return;
    const link = await this.portals.linkFor(network, event.chat).catch(() => null);
    if (!link) return;
    const who = event.sender.displayname ?? event.sender.userId;
    const what = event.type === "edit" ? "An edit" : "A message";
    await this.s.bot
      .sendEvent(link.roomId, "m.room.message", {
        msgtype: "m.notice",
        body: `${what} from ${who} could not be bridged: ${reason}`,
      })
      .catch(() => undefined);
  }

  /**
   * The room a remote event goes to. A message (`create`) to a chat without one makes it: a
   * DM gets its login's portal, a chat logins reported being in gets a portal they are
   * invited to (unless the network's `portals_from_logins` is off).
   */
  private async roomFor(network: string, chat: ChatRef, create: boolean): Promise<RoomLink | null> {
    const link = await this.portals.linkFor(network, chat);
    // A room a policy list bans is not bridged (nor is a new portal made for its chat).
    if (link) return link.state === "active" && !this.policies.linkBan(link) ? link : null;
    const slot = this.s.networks.get(network);
    if (!create || !slot) return null;
    if (chat.receiver) {
      const owner = await this.logins.ownerOf(network, chat.receiver);
      if (!owner) return null;
      const info = await (await this.clients.forLookup(slot, chat))?.getChat(chat);
      if (!info) return null;
      return this.portals.createPortal(
        slot,
        chat,
        { ...info, isDirect: true },
        { createdBy: owner, invite: [owner] },
      );
    }
    if (slot.section.portals_from_logins === "off") return null;
    const members = await this.s.store.chatMembers(network, chat.channelId, "");
    if (members.length === 0) return null;
    return this.portalForLogins(slot, chat, members[0]?.loginId);
  }

  /**
   * A portal for a chat logins are in, inviting their Matrix users. It gets the chat's public
   * alias where it has one and passes the activation guard like a portal joined by alias.
   */
  private async portalForLogins(
    slot: NetworkSlot,
    chat: ChatRef,
    lookupAs: string | undefined,
  ): Promise<RoomLink | null> {
    const network = slot.connector.id;
    const info = await (await this.clients.forLookup(slot, chat, lookupAs))?.getChat(chat);
    if (!info) return null;
    const members = await this.s.store.chatMembers(network, chat.channelId, "");
    const invite = [...new Set(members.map((m) => m.matrixUserId))];
    const suffix = slot.connector.aliasFor(chat);
    const assessment = await this.guard.assess(slot, chat);
    const link = await this.portals.createPortal(slot, chat, info, {
      createdBy: invite[0] ?? "",
      invite,
      aliasLocalpart: suffix ? `${slot.aliasPrefix}${suffix}` : undefined,
      state: assessment.allowed ? "active" : "pending",
    });
    if (assessment.allowed) this.guard.startSync(link);
    else await this.guard.holdForApproval(link, assessment, info.name);
    return link.state === "active" ? link : null;
  }

  /** Whether an eager portal may be made now (see EAGER_PORTALS_PER_MINUTE). */
  private takeEagerBudget(network: string): boolean {
    const minute = Math.floor(Date.now() / 60_000);
    const budget = this.eagerBudget.get(network);
    if (!budget || budget.minute !== minute) {
      this.eagerBudget.set(network, { minute, used: 1 });
      return true;
    }
    if (budget.used >= EAGER_PORTALS_PER_MINUTE) return false;
    budget.used++;
    return true;
  }

  /**
   * A login joined or left a chat on the network: recorded (whom to invite, whom to send as),
   * then its Matrix user is invited to the portal (made now when eager) or removed from it.
   */
  private async loginMembership(
    network: string,
    chat: ChatRef,
    loginId: string,
    membership: "join" | "leave",
  ): Promise<void> {
    const slot = this.s.networks.get(network);
    const owner = await this.logins.ownerOf(network, loginId);
    if (!slot || !owner) return;
    const receiver = chat.receiver ?? "";
    const store = this.s.store;
    if (membership === "leave") {
      await store.chatMemberDelete(network, chat.channelId, receiver, loginId);
      const link = await this.portals.linkFor(network, chat);
      if (!link || link.kind === "plumbed") return;
      // The user may still be in the chat through another of their logins.
      const still = await store.chatMembers(network, chat.channelId, receiver);
      if (still.some((m) => m.matrixUserId === owner)) return;
      await this.s.bot
        .kick(link.roomId, owner, `You left ${link.channelId} on ${slot.connector.displayName}`)
        .catch((err: unknown) => {
          this.s.log.warn({ err: String(err), roomId: link.roomId }, "could not remove a user who left");
        });
      return;
    }
    await store.chatMemberPut({
      network,
      channelId: chat.channelId,
      receiver,
      loginId,
      matrixUserId: owner,
      since: Date.now(),
    });
    const link = await this.portals.linkFor(network, chat);
    if (link) {
      if (link.state === "active") await this.s.bot.invite(link.roomId, owner).catch(() => undefined);
      return;
    }
    const mode = slot.section.portals_from_logins;
    if (mode !== "eager" || chat.receiver || !this.takeEagerBudget(network)) return;
    await this.portalForLogins(slot, chat, loginId);
  }

  /**
   * A custom emoji's picture as an mxc URI, uploaded once per picture (kept by its remote key):
   * a popular emoji is reacted with thousands of times. Undefined when it cannot be fetched: the
   * reaction then shows as its name, which beats losing it.
   */
  private async reactionImage(network: string, image: RemoteMedia): Promise<string | undefined> {
    const cacheKey = `${network}:${image.key}`;
    const known = await this.s.store.kvGet<string>("reaction-images", cacheKey);
    if (known) return known;
    try {
      const { data, mimetype } = await fetchRemoteMedia(this.s, network, image.ref);
      const mxc = await this.s.bot.upload(data, mimetype ?? "image/png", "emoji");
      await this.s.store.kvSet("reaction-images", cacheKey, mxc);
      return mxc;
    } catch (err) {
      this.s.log.warn(
        { err: String(err), network, image: image.key },
        "could not fetch a custom emoji; reacting with its name",
      );
      return undefined;
    }
  }

  /** The intent a remote sender speaks through: their ghost, or their real account via double puppeting. */
  private async senderIntent(network: string, sender: RemoteSender, roomId: string): Promise<Intent> {
    if (sender.fromLogin) {
      const login = await this.s.store.loginGet(network, sender.fromLogin);
      const real = login ? this.s.doublePuppet(login.matrixUserId) : null;
      if (real) return real;
    }
    const intent = await this.ghosts.ensure(network, {
      id: sender.userId,
      displayname: sender.displayname,
      avatar: sender.avatar ?? null,
    });
    await intent.ensureJoined(roomId);
    return intent;
  }

  private async handle(network: string, event: RemoteEvent, key: string, imported: boolean): Promise<void> {
    const remoteUser = remoteUserOf(event);
    if (remoteUser !== undefined && this.policies.userBan(this.ghosts.userId(network, remoteUser))) {
      this.s.log.debug(
        { network, type: event.type, remoteUser },
        "not bridged: a policy list bans its sender",
      );
      return;
    }
    switch (event.type) {
      case "message": {
        const link = await this.roomFor(network, event.chat, true);
        if (!link) return;
        // This message made the portal, whose history import just began: the past goes first.
        if (!imported && this.importHolds.has(chatKey(network, event.chat))) throw new HeldForImport();
        const remoteId = event.id ?? key;
        const known = await this.mapped(network, link, remoteId);
        if (known.length > 0) return;
        if (!(await this.passesDoubleBridgeGuards(network, link, event.sender, event.content.text))) return;
        const intent = await this.senderIntent(network, event.sender, link.roomId);
        const content = await this.toMatrixContent(network, event.content, intent);
        if (event.threadRoot) await this.rootFirst(network, link, event.chat, event.threadRoot);
        const relates = await this.relation(network, link, event.replyTo, event.threadRoot);
        if (relates) content["m.relates_to"] = relates;
        const eventId = await intent.sendEvent(link.roomId, "m.room.message", content, {
          ts: event.timestamp,
          txnId: stableTxnId(network, link.roomId, remoteId),
        });
        // Stored behind the queue while few chats are busy (the next message need not wait);
        // `process` marks the journal entry done once it is.
        await this.s.mappings.putFromQueue({
          network,
          channelId: link.channelId,
          receiver: link.receiver,
          remoteId,
          part: 0,
          roomId: link.roomId,
          eventId,
          sender: intent.userId,
          timestamp: event.timestamp ?? Date.now(),
        });
        return;
      }
      case "edit": {
        const link = await this.roomFor(network, event.chat, false);
        if (!link) return;
        const [original] = await this.mapped(network, link, event.id);
        if (!original) return;
        const intent = await this.senderIntent(network, event.sender, link.roomId);
        const newContent = await this.toMatrixContent(network, event.content, intent);
        await intent.sendEvent(link.roomId, "m.room.message", editContent(original.eventId, newContent), {
          ts: event.timestamp,
          txnId: stableTxnId(network, "edit", key),
        });
        return;
      }
      case "delete": {
        const link = await this.roomFor(network, event.chat, false);
        if (!link) return;
        const parts = await this.mapped(network, link, event.id);
        for (const part of parts) {
          // Redact as the original sender when it is one of ours; the bot has the power to do it otherwise.
          const intent = this.s.isOurs(part.sender) ? this.s.intent(part.sender) : this.s.bot;
          await intent.redact(link.roomId, part.eventId, undefined, stableTxnId("redact", part.eventId));
        }
        return;
      }
      case "reaction": {
        const link = await this.roomFor(network, event.chat, false);
        if (!link) return;
        const [target] = await this.mapped(network, link, event.id);
        if (!target) return;
        const store = this.s.store;
        const who = event.sender.userId;
        if (await store.reactionGet(network, link.channelId, link.receiver, event.id, who, event.key)) return;
        const intent = await this.senderIntent(network, event.sender, link.roomId);
        const image = event.image ? await this.reactionImage(network, event.image) : undefined;
        const eventId = await intent.sendEvent(
          link.roomId,
          "m.reaction",
          reactionContent(target.eventId, event.key, image),
          // The transaction id stays what earlier releases used, so a replay across an upgrade is deduplicated.
          { ts: event.timestamp, txnId: stableTxnId(network, `reaction:${event.id}:${who}:${event.key}`) },
        );
        await store.reactionPut({
          network,
          channelId: link.channelId,
          receiver: link.receiver,
          messageId: event.id,
          sender: who,
          key: event.key,
          roomId: link.roomId,
          eventId,
          timestamp: event.timestamp ?? Date.now(),
        });
        return;
      }
      case "reaction-remove": {
        const link = await this.roomFor(network, event.chat, false);
        if (!link) return;
        const reaction = await this.s.store.reactionGet(
          network,
          link.channelId,
          link.receiver,
          event.id,
          event.sender.userId,
          event.key,
        );
        if (!reaction) return;
        // Redacted by whoever reacted: their ghost, or their own account through double puppeting.
        const intent = await this.senderIntent(network, event.sender, link.roomId);
        await intent.redact(
          link.roomId,
          reaction.eventId,
          undefined,
          stableTxnId("redact", reaction.eventId),
        );
        await this.s.store.reactionDelete(reaction.eventId);
        return;
      }
      case "login-membership":
        return this.loginMembership(network, event.chat, event.loginId, event.membership);
      case "member": {
        const link = await this.roomFor(network, event.chat, false);
        if (!link) return;
        const userId = this.ghosts.userId(network, event.user.id);
        // Another bridge's puppet of a Matrix user gets no ghost: the room has (or may get) the real one.
        const slot = this.s.networks.get(network);
        if (slot && isSurelyForeign(this.s, slot, { userId: event.user.id, ...event.user })) return;
        if (event.membership === "join") {
          // Lazy links (activation guard) give a ghost only to members who speak.
          if (link.meta.mode === "lazy") return;
          const intent = await this.ghosts.ensure(network, event.user);
          await intent.ensureJoined(link.roomId);
        } else if (event.membership === "leave") {
          await this.s
            .intent(userId)
            .leave(link.roomId, event.reason)
            .catch(() => undefined);
        } else {
          await this.s.bot.kick(link.roomId, userId, event.reason).catch(() => undefined);
        }
        return;
      }
      case "profile": {
        const existing = await this.s.store.ghostGet(this.ghosts.userId(network, event.user.id));
        if (existing) await this.ghosts.ensure(network, event.user);
        return;
      }
      case "chat-update": {
        const link = await this.roomFor(network, event.chat, false);
        if (!link) return;
        if (event.name !== undefined && link.kind !== "plumbed")
          await this.s.bot.sendState(link.roomId, "m.room.name", "", { name: event.name });
        if (event.topic !== undefined && link.kind !== "plumbed")
          await this.s.bot.sendState(link.roomId, "m.room.topic", "", { topic: event.topic });
        if (event.avatar && link.kind !== "plumbed") {
          const { data, mimetype } = await fetchRemoteMedia(this.s, network, event.avatar.ref);
          const url = await this.s.bot.upload(data, mimetype ?? "application/octet-stream", "avatar");
          await this.s.bot.sendState(link.roomId, "m.room.avatar", "", { url });
        } else if (event.avatar === null && link.kind !== "plumbed") {
          // The remote chat's picture was removed.
          await this.s.bot.sendState(link.roomId, "m.room.avatar", "", {});
        }
        return;
      }
      case "typing": {
        const link = await this.roomFor(network, event.chat, false);
        if (!link) return;
        const intent = await this.ghosts.ensure(network, { id: event.userId });
        await intent.setTyping(link.roomId, event.typing);
        return;
      }
      case "power": {
        const link = await this.roomFor(network, event.chat, false);
        if (!link) return;
        const owner = event.fromLogin ? await this.s.store.loginGet(network, event.fromLogin) : null;
        const target = owner?.matrixUserId ?? this.ghosts.userId(network, event.userId);
        await this.s.bot
          .updatePowerLevels(link.roomId, (users) => {
            if ((users[target] ?? 0) === event.level) return false;
            if (event.level > 0) users[target] = event.level;
            else delete users[target];
            return true;
          })
          .catch((err: unknown) => {
            this.s.log.warn(
              { err: String(err), roomId: link.roomId },
              "could not mirror a remote role into power levels",
            );
          });
        return;
      }
      case "read": {
        const link = await this.roomFor(network, event.chat, false);
        if (!link) return;
        const [mapping] = await this.mapped(network, link, event.upTo);
        if (!mapping) return;
        const readerKey = `${event.fromLogin ?? event.userId} ${link.roomId}`;
        if (mapping.timestamp <= (this.readUpTo.get(readerKey) ?? -Infinity)) return;
        this.readUpTo.set(readerKey, mapping.timestamp);
        const intent = await this.senderIntent(
          network,
          { userId: event.userId, fromLogin: event.fromLogin },
          link.roomId,
        );
        await intent.sendReceipt(link.roomId, mapping.eventId);
        return;
      }
    }
  }

  /** The Matrix events a remote message became in this link's room. */
  private mapped(network: string, link: RoomLink, remoteId: string): Promise<MessageMapping[]> {
    return this.s.mappings.byRemoteId(network, link.channelId, link.receiver, remoteId);
  }

  /**
   * Drops messages from another Matrix bridge's puppets that this room already has from
   * Matrix, and pauses the link when messages it sent come back from someone else (a loop).
   */
  private async passesDoubleBridgeGuards(
    network: string,
    link: RoomLink,
    sender: RemoteSender,
    text: string,
  ): Promise<boolean> {
    const slot = this.s.networks.get(network);
    if (!slot) return false;
    if (await isForeignEcho(this.s, slot, sender, link.roomId)) {
      await this.noticeOnce(
        link.roomId,
        `foreign ${sender.userId}`,
        `Messages from ${sender.displayname ?? sender.userId} on ${slot.connector.displayName} come from another Matrix bridge, ` +
          "and this room already has them from Matrix, so they are not bridged again.",
      );
      return false;
    }
    const verdict = this.echo.check(link.roomId, text, sender.userId);
    if (verdict !== "loop") return true;
    link.state = "paused";
    link.meta = {
      ...link.meta,
      pausedReason: "messages sent from here came back from another identity: a bridging loop",
    };
    await this.s.saveLink(link);
    const text2 =
      `Bridging between ${link.roomId} and ${slot.connector.displayName} ${link.channelId} is paused: messages sent from Matrix ` +
      "came back from another identity several times, so something else bridges the same channel. Remove the other bridge, " +
      "then say `!resume` in the room.";
    await this.s.bot
      .sendEvent(link.roomId, "m.room.message", { msgtype: "m.notice", body: text2 })
      .catch(() => undefined);
    await this.notifyAdmins(text2);
    return false;
  }

  private async noticeOnce(roomId: string, key: string, text: string): Promise<void> {
    if (this.noticeSent.has(`${roomId} ${key}`)) return;
    this.noticeSent.add(`${roomId} ${key}`);
    await this.s.bot
      .sendEvent(roomId, "m.room.message", { msgtype: "m.notice", body: text })
      .catch(() => undefined);
  }

  /**
   * A thread whose root was never bridged (started before the chat was): the root is fetched
   * and bridged first, so the thread hangs from it in Matrix (mautrix-discord #73). Once there
   * it is mapped, so this costs a lookup from then on; its transaction id is the root's own.
   */
  private async rootFirst(network: string, link: RoomLink, chat: ChatRef, rootId: string): Promise<void> {
    if ((await this.mapped(network, link, rootId)).length > 0) return;
    const slot = this.s.networks.get(network);
    const client = slot ? await this.clients.forLookup(slot, chat) : null;
    if (!client || !supportsFetchMessage(client)) return;
    const parts = await client.fetchMessage(chat, rootId).catch((err: unknown) => {
      this.s.log.warn(
        { err: String(err), network, rootId },
        "could not fetch a thread's root; the thread starts without it",
      );
      return [];
    });
    for (const part of parts) {
      if (part.type === "message" && !part.threadRoot)
        // Part of the reply's own delivery, which is past any hold on the chat already.
        await this.handle(network, part, `root:${part.id ?? rootId}`, true);
    }
  }

  private async relation(
    network: string,
    link: RoomLink,
    replyTo: string | undefined,
    threadRoot: string | undefined,
  ): Promise<MatrixRelatesTo | null> {
    const find = async (id: string | undefined) =>
      id === undefined ? undefined : (await this.mapped(network, link, id))[0];
    const root = await find(threadRoot);
    const reply = await find(replyTo);
    if (root)
      return threadContent(root.eventId, root.eventId, reply ? { replyToId: reply.eventId } : {})[
        "m.relates_to"
      ];
    if (reply) return replyContent(reply.eventId)["m.relates_to"];
    return null;
  }

  private async toMatrixContent(
    network: string,
    content: BridgeContent,
    intent: Intent,
  ): Promise<MatrixMessageContent> {
    const msgtype: MatrixMsgtype = `m.${content.kind}`;
    const out: MatrixMessageContent = { msgtype, body: content.text };
    if (content.html) {
      out.format = "org.matrix.custom.html";
      out.formatted_body = sanitizeMatrixHtml(content.html);
    }
    if (content.media) {
      const media = content.media;
      if (!media.remote) throw new PermanentError(`the ${network} file ${media.name} has no address`);
      const { data, mimetype } = await fetchRemoteMedia(this.s, network, media.remote);
      const type = media.mimetype || mimetype || "application/octet-stream";
      out.url = await intent.upload(data, type, media.name);
      out.info = { mimetype: type, size: data.length };
      out.body = media.name;
      if (content.text && content.text !== media.name) {
        out.filename = media.name;
        out.body = content.text;
      }
    }
    return out;
  }
}

/** The remote user an event comes from (or is about), when it has one. */
function remoteUserOf(event: RemoteEvent): string | undefined {
  switch (event.type) {
    case "message":
    case "edit":
    case "reaction":
    case "reaction-remove":
      return event.sender.userId;
    case "member":
      return event.membership === "join" ? event.user.id : undefined;
    case "typing":
    case "read":
      return event.userId;
    case "profile":
      return event.user.id;
    default:
      return undefined;
  }
}
