import type { ChatInfo, ChatRef, RemoteSpace } from "../connector.js";
import { supportsDms, supportsPlumbCheck } from "../connector.js";
import type { Clients } from "./clients.js";
import type { Logins } from "./logins.js";
import type { RoomLink } from "../store/types.js";
import type { ActivationGuard } from "../guards/activation.js";
import { otherBridgesIn } from "../guards/double-bridge.js";
import type { Ghosts } from "./ghosts.js";
import { fetchRemoteMedia } from "./remote-media.js";
import type { NetworkSlot, Services } from "./services.js";

/**
 * Rooms tied to remote chats: portals the bridge creates (by alias join or for DMs) and
 * plumbed rooms a room admin links. Both become a RoomLink; the rest of the pipeline
 * only asks "which link is this room / chat".
 */

/** Power level needed to link/unlink a room: whoever may send m.bridge state events. */
const BRIDGE_STATE_EVENTS = ["m.bridge", "uk.half-shot.bridge"];

export function chatKey(network: string, chat: ChatRef): string {
  return `${network}\0${chat.channelId}\0${chat.receiver ?? ""}`;
}

export class Portals {
  constructor(
    private readonly s: Services,
    private readonly ghosts: Ghosts,
    private readonly guard: ActivationGuard,
    private readonly clients: Clients,
    private readonly logins: Logins,
  ) {}

  aliasFor(slot: NetworkSlot, chat: ChatRef): string | null {
    const suffix = slot.connector.aliasFor(chat);
    return suffix === null ? null : `#${slot.aliasPrefix}${suffix}:${this.s.domain}`;
  }

  /** Which enabled bridge an alias localpart belongs to (the longest matching prefix wins). */
  slotForAlias(alias: string): { slot: NetworkSlot; suffix: string } | null {
    const m = /^#([^:]+):(.+)$/.exec(alias);
    if (!m || m[2] !== this.s.domain) return null;
    const localpart = m[1] ?? "";
    let best: NetworkSlot | null = null;
    for (const slot of this.s.networks.values()) {
      if (
        localpart.startsWith(slot.aliasPrefix) &&
        (!best || slot.aliasPrefix.length > best.aliasPrefix.length)
      )
        best = slot;
    }
    return best ? { slot: best, suffix: localpart.slice(best.aliasPrefix.length) } : null;
  }

  /** The active (or pending) link for a chat, preferring the one that is active. */
  async linkFor(network: string, chat: ChatRef): Promise<RoomLink | null> {
    const links = await this.s.linksForChat(network, chat.channelId, chat.receiver ?? "");
    return links.find((l) => l.state === "active") ?? links[0] ?? null;
  }

  /** Homeserver asked about an alias in our namespace: create the portal if the chat exists. */
  async onAliasQuery(alias: string): Promise<boolean> {
    const found = this.slotForAlias(alias);
    if (!found) return false;
    const { slot, suffix } = found;
    const chat = await slot.connector.chatFromAlias(suffix);
    if (!chat) return false;
    const existing = await this.linkFor(slot.connector.id, chat);
    if (existing) {
      // The chat is already bridged (e.g. plumbed): point the alias at that room instead.
      await this.s.bot.setAlias(alias, existing.roomId).catch(() => undefined);
      return true;
    }
    const info = await (await this.clients.forLookup(slot, chat))?.getChat(chat);
    if (!info) return false;
    // The homeserver does not say who asked, so the verdict is told in the room itself.
    const assessment = await this.guard.assess(slot, chat);
    const link = await this.createPortal(slot, chat, info, {
      createdBy: "",
      aliasLocalpart: alias.slice(1, alias.indexOf(":")),
      state: assessment.allowed ? "active" : "pending",
    });
    if (assessment.allowed) this.guard.startSync(link);
    else await this.guard.holdForApproval(link, assessment, info.name);
    return true;
  }

  bridgeInfo(slot: NetworkSlot, chat: ChatRef, info: ChatInfo): Record<string, unknown> {
    return {
      bridgebot: this.s.botUserId,
      protocol: { id: slot.connector.id, displayname: slot.connector.displayName },
      channel: { id: chat.channelId, displayname: info.name },
    };
  }

  powerLevels(extraUsers: Record<string, number> = {}): Record<string, unknown> {
    const events: Record<string, number> = {
      "m.room.power_levels": 100,
      "m.room.tombstone": 100,
      "m.room.server_acl": 100,
    };
    for (const t of BRIDGE_STATE_EVENTS) events[t] = 100;
    return { users: { [this.s.botUserId]: 100, ...extraUsers }, events, invite: 50, state_default: 50 };
  }

  /** Called with each new active portal (the bridge starts its history import here). */
  onCreated: ((slot: NetworkSlot, link: RoomLink) => Promise<void>) | null = null;

  /** Creates a portal room for a remote chat and records the link. */
  async createPortal(
    slot: NetworkSlot,
    chat: ChatRef,
    info: ChatInfo,
    options: { createdBy: string; aliasLocalpart?: string; invite?: string[]; state?: RoomLink["state"] },
  ): Promise<RoomLink> {
    const bridge = this.bridgeInfo(slot, chat, info);
    const stateKey = `${slot.connector.id}/${chat.channelId}`;
    const initial_state: Array<Record<string, unknown>> = BRIDGE_STATE_EVENTS.map((type) => ({
      type,
      state_key: stateKey,
      content: bridge,
    }));
    const isDirect = info.isDirect === true;
    let creator = this.s.bot;
    if (isDirect && info.otherUser) {
      // A DM should look like a DM with the remote person, so their ghost creates it.
      creator = await this.ghosts.ensure(slot.connector.id, info.otherUser);
    }
    const users: Record<string, number> = { [creator.userId]: 100 };
    const roomId = await creator.createRoom({
      name: isDirect ? undefined : info.name,
      topic: info.topic,
      room_alias_name: options.aliasLocalpart,
      // A private chat is unlisted, not invite-only: whoever may join it remotely can join by alias.
      preset: isDirect ? "private_chat" : "public_chat",
      visibility: !isDirect && !info.isPrivate && options.aliasLocalpart ? "public" : "private",
      is_direct: isDirect,
      invite: [...(creator.userId !== this.s.botUserId ? [this.s.botUserId] : []), ...(options.invite ?? [])],
      power_level_content_override: this.powerLevels(users),
      initial_state,
      creation_content: { "m.federate": true },
    });
    if (creator.userId !== this.s.botUserId) await this.s.bot.ensureJoined(roomId);
    if (info.avatar && !isDirect) {
      try {
        const { data, mimetype } = await fetchRemoteMedia(this.s, slot.connector.id, info.avatar.ref);
        const url = await this.s.bot.upload(data, mimetype ?? "application/octet-stream", "avatar");
        await this.s.bot.sendState(roomId, "m.room.avatar", "", { url });
      } catch (err) {
        this.s.log.warn({ err: String(err), roomId }, "could not set the portal's avatar");
      }
    }
    if (info.space && !isDirect) await this.fileInSpace(slot, info.space, roomId, options.createdBy);
    const link: RoomLink = {
      roomId,
      network: slot.connector.id,
      channelId: chat.channelId,
      receiver: chat.receiver ?? "",
      kind: isDirect ? "dm" : "portal",
      state: options.state ?? "active",
      createdBy: options.createdBy,
      createdAt: Date.now(),
      meta: {},
    };
    await this.s.saveLink(link);
    if (link.state === "active" && this.onCreated) {
      // A failure to start the history import must not undo the portal; it is said in the log.
      await this.onCreated(slot, link).catch((err: unknown) =>
        this.s.log.warn({ err: String(err), roomId }, "could not start the portal's history import"),
      );
    }
    this.s.metrics.portals.inc({ network: slot.connector.id, kind: link.kind });
    this.s.log.info(
      { roomId, network: link.network, channel: chat.channelId, kind: link.kind },
      "portal created",
    );
    return link;
  }

  /** Portals of one remote group share a space; concurrent creations share one space creation. */
  private readonly spaces = new Map<string, Promise<string>>();

  private spaceFor(slot: NetworkSlot, space: RemoteSpace): Promise<string> {
    const key = `${slot.connector.id}\0${space.id}`;
    let room = this.spaces.get(key);
    if (!room) {
      room = (async () => {
        const known = await this.s.store.kvGet<string>("spaces", key);
        if (known) return known;
        // Joinable by anyone who knows it (portals point to it), listed nowhere: the space holds
        // room ids only, and private portals stay invite-only themselves.
        const roomId = await this.s.bot.createRoom({
          name: space.name,
          preset: "public_chat",
          visibility: "private",
          creation_content: { type: "m.space", "m.federate": true },
          power_level_content_override: this.powerLevels({ [this.s.botUserId]: 100 }),
        });
        await this.s.store.kvSet("spaces", key, roomId);
        return roomId;
      })();
      room.catch(() => this.spaces.delete(key));
      this.spaces.set(key, room);
    }
    return room;
  }

  /** Adds a portal to its group's space, and invites the person who opened it (when known) there. */
  private async fileInSpace(
    slot: NetworkSlot,
    space: RemoteSpace,
    roomId: string,
    invitee: string,
  ): Promise<void> {
    try {
      const spaceId = await this.spaceFor(slot, space);
      const via = [this.s.domain];
      await this.s.bot.sendState(spaceId, "m.space.child", roomId, { via });
      await this.s.bot.sendState(roomId, "m.space.parent", spaceId, { via, canonical: true });
      if (this.s.isOurs(invitee)) return;
      await this.s.bot.invite(spaceId, invitee).catch(() => undefined);
    } catch (err) {
      // The portal works without its space; the space is a convenience.
      this.s.log.warn({ err: String(err), roomId }, "could not add the portal to its space");
    }
  }

  /**
   * A Matrix user invited a ghost: a DM invite becomes that user's DM portal with the remote
   * user (where the network can start DMs); any other invite is declined politely.
   */
  async onGhostInvite(roomId: string, ghostId: string, inviter: string, isDirect: boolean): Promise<void> {
    const target = this.ghosts.remoteIdOf(ghostId);
    if (!target) return;
    const slot = this.s.networks.get(target.network);
    const ghost = this.s.intent(ghostId);
    const chat =
      slot && supportsDms(slot.connector) ? await slot.connector.dmChat(target.remoteId, inviter) : null;
    const allowed = this.s.permissions.allows(inviter, "relay");
    if (!slot || !chat || !isDirect || !allowed || (await this.s.link(roomId))) {
      await ghost.ensureRegistered();
      await ghost.leave(roomId, "This bridge user only takes direct-message invites").catch(() => undefined);
      return;
    }
    const existing = await this.linkFor(slot.connector.id, chat);
    if (existing) {
      await ghost
        .leave(roomId, `You already have a DM with this user: ${existing.roomId}`)
        .catch(() => undefined);
      return;
    }
    await this.ghosts.ensure(slot.connector.id, { id: target.remoteId });
    await ghost.ensureJoined(roomId);
    await this.s.bot.ensureJoined(roomId).catch(async () => {
      await ghost.invite(roomId, this.s.botUserId);
      await this.s.bot.ensureJoined(roomId);
    });
    const link: RoomLink = {
      roomId,
      network: slot.connector.id,
      channelId: chat.channelId,
      receiver: chat.receiver ?? "",
      kind: "dm",
      state: "active",
      createdBy: inviter,
      createdAt: Date.now(),
      meta: {},
    };
    await this.s.saveLink(link);
    this.s.metrics.portals.inc({ network: slot.connector.id, kind: "dm" });
  }

  /** Finds or creates the DM portal between a login and a remote user; its owner is invited. */
  async openDm(network: string, loginId: string, remoteUserId: string): Promise<string> {
    const slot = this.s.networks.get(network);
    if (!slot || !supportsDms(slot.connector)) throw new Error(`${network} cannot start direct messages`);
    const matrixUserId = await this.logins.ownerOf(network, loginId);
    if (!matrixUserId) throw new Error(`no login ${loginId} on ${network}`);
    const found = await slot.connector.dmChat(remoteUserId, matrixUserId);
    if (!found) throw new Error(`no direct chat with ${remoteUserId} is possible`);
    // The DM belongs to the login that asked, whichever of the user's logins the network would pick.
    const chat: ChatRef = { channelId: found.channelId, receiver: loginId };
    const existing = await this.linkFor(network, chat);
    if (existing) {
      await this.s
        .intent(this.ghosts.userId(network, remoteUserId))
        .invite(existing.roomId, matrixUserId)
        .catch(() => undefined);
      return existing.roomId;
    }
    const user = (await slot.connector.getUser(remoteUserId)) ?? { id: remoteUserId };
    const link = await this.createPortal(
      slot,
      chat,
      { name: user.displayname ?? remoteUserId, isDirect: true, otherUser: user },
      { createdBy: matrixUserId, invite: [matrixUserId] },
    );
    return link.roomId;
  }

  /** Whether `userId` may change bridge state in the room, read from its power levels (never trusted from the command). */
  async canAdministerRoom(roomId: string, userId: string): Promise<boolean> {
    const pl = await this.s.bot.getState<{
      users?: Record<string, number>;
      users_default?: number;
      events?: Record<string, number>;
      state_default?: number;
    }>(roomId, "m.room.power_levels");
    if (!pl) {
      // No power levels: the spec says the creator has 100 and everyone else 0.
      const create = await this.s.bot.getState<{ creator?: string }>(roomId, "m.room.create");
      return create?.creator === userId;
    }
    const level = pl.users?.[userId] ?? pl.users_default ?? 0;
    const needed = Math.max(...BRIDGE_STATE_EVENTS.map((t) => pl.events?.[t] ?? pl.state_default ?? 50));
    return level >= needed;
  }

  /** Plumbs an existing room into a chat. Returns a message for the user (success or why not). */
  async plumb(
    slot: NetworkSlot,
    roomId: string,
    chatArg: string,
    userId: string,
    options: { migrate?: boolean } = {},
  ): Promise<string> {
    if (!(await this.canAdministerRoom(roomId, userId))) {
      return "Only a room admin (someone allowed to change the room's bridge settings) can link this room.";
    }
    if (await this.s.link(roomId)) return "This room is already linked. Use `!unlink` first.";
    const chat = (await slot.connector.chatFromAlias(chatArg)) ?? { channelId: chatArg };
    // Seen and judged as the admin's own account where they have one in the chat (a private
    // channel only its members may bridge), else as the bridge sees it.
    const client = (await this.clients.own(slot, chat, userId)) ?? (await this.clients.forLookup(slot, chat));
    const info = await client?.getChat(chat);
    if (!client || !info)
      return `${slot.connector.displayName} has no chat "${chatArg}" that this bridge can see.`;
    if (supportsPlumbCheck(client)) {
      const verdict = await client.canPlumb(chat, userId);
      if (verdict !== true) return `${slot.connector.displayName} refused: ${verdict}`;
    }
    const guards = this.s.config.guards;
    const warnings: string[] = [];
    const existing = await this.s.store.linksByChannel(slot.connector.id, chat.channelId, "");
    if (existing.length > 0 && guards.double_bridge_check) {
      const portal = existing.find((l) => l.kind === "portal");
      if (portal && options.migrate) {
        if (!this.s.permissions.allows(userId, "admin")) return "Only a bridge admin can migrate a portal.";
        await this.retirePortal(slot, portal, roomId, chat);
      } else if (portal) {
        const alias = this.aliasFor(slot, chat);
        return (
          `${info.name} already has a portal room: ${alias ?? portal.roomId} (https://matrix.to/#/${encodeURIComponent(alias ?? portal.roomId)}). ` +
          "Bridging it twice would duplicate every message. Join the portal instead; a bridge admin can make this room " +
          `the channel's only room with \`!link ${slot.connector.id} ${chatArg} migrate\`.`
        );
      } else {
        return `${info.name} is already bridged to ${existing[0]?.roomId}: a second link would duplicate every message.`;
      }
    }
    if (guards.double_bridge_check) {
      const others = await otherBridgesIn(this.s, roomId, slot);
      if (others.length > 0) {
        const why = `this room already looks bridged: ${others.join("; ")}.`;
        if (guards.other_bridges === "refuse")
          return `Not linking: ${why} Bridging it twice would echo every message.`;
        warnings.push(`Warning: ${why}`);
      }
    }
    const assessment = await this.guard.assess(slot, chat);
    const bridge = this.bridgeInfo(slot, chat, info);
    for (const type of BRIDGE_STATE_EVENTS) {
      await this.s.bot
        .sendState(roomId, type, `${slot.connector.id}/${chat.channelId}`, bridge)
        .catch((err: unknown) => {
          this.s.log.warn({ err: String(err), roomId }, "could not set bridge info state (bot lacks power?)");
        });
    }
    const link: RoomLink = {
      roomId,
      network: slot.connector.id,
      channelId: chat.channelId,
      receiver: "",
      kind: "plumbed",
      state: assessment.allowed ? "active" : "pending",
      createdBy: userId,
      createdAt: Date.now(),
      meta: {},
    };
    await this.s.saveLink(link);
    this.s.metrics.portals.inc({ network: slot.connector.id, kind: "plumbed" });
    if (!assessment.allowed) {
      await this.guard.holdForApproval(link, assessment, info.name);
      return [...warnings, "Linked, pending approval."].join("\n");
    }
    this.guard.startSync(link);
    return [...warnings, `Linked this room to ${slot.connector.displayName} ${info.name}.`].join("\n");
  }

  /** Migration: the plumbed room replaces the portal, which is tombstoned and loses its alias. */
  private async retirePortal(
    slot: NetworkSlot,
    portal: RoomLink,
    newRoomId: string,
    chat: ChatRef,
  ): Promise<void> {
    await this.s.deleteLink(portal.roomId);
    this.s.metrics.portals.dec({ network: portal.network, kind: "portal" });
    const alias = this.aliasFor(slot, chat);
    await this.s.bot
      .sendEvent(portal.roomId, "m.room.message", {
        msgtype: "m.notice",
        body: `This channel is now bridged in another room: ${newRoomId}. This room no longer receives messages.`,
      })
      .catch(() => undefined);
    await this.s.bot
      .sendState(portal.roomId, "m.room.tombstone", "", {
        body: "This channel moved to another room.",
        replacement_room: newRoomId,
      })
      .catch((err: unknown) => this.s.log.warn({ err: String(err) }, "could not tombstone the old portal"));
    if (alias) {
      await this.s.bot.deleteAlias(alias).catch(() => undefined);
      await this.s.bot.setAlias(alias, newRoomId).catch((err: unknown) => {
        this.s.log.warn({ err: String(err), alias }, "could not move the portal alias");
      });
    }
  }

  async unlink(roomId: string, userId: string): Promise<string> {
    const link = await this.s.link(roomId);
    if (!link) return "This room is not linked.";
    if (!(await this.canAdministerRoom(roomId, userId)) && !this.s.permissions.allows(userId, "admin")) {
      return "Only a room admin can unlink this room.";
    }
    await this.s.deleteLink(roomId);
    this.s.metrics.portals.dec({ network: link.network, kind: link.kind });
    for (const type of BRIDGE_STATE_EVENTS) {
      await this.s.bot
        .sendState(roomId, type, `${link.network}/${link.channelId}`, {})
        .catch(() => undefined);
    }
    return "Unlinked: messages no longer cross.";
  }
}
