import type { ChatRef, LoginClient, NetworkClient } from "../connector.js";
import { supportsImplicitLogins } from "../connector.js";
import type { RoomLink } from "../store/types.js";
import type { Logins } from "./logins.js";
import type { NetworkSlot, Services } from "./services.js";

/**
 * Who acts on the network for a Matrix event. One rule for every bridge, so none re-implements
 * it: the sender's own login that is in the chat (an explicit login, else the implicit one a
 * network like IRC gives everyone); otherwise the room's relay (a login a room admin chose with
 * `!set-relay`, else the network's bot); otherwise nobody, and the sender is told how to fix it.
 */

export interface Choice {
  client: NetworkClient;
  /** The client is not the sender's own account: it shows who wrote the message. */
  relayed: boolean;
  /** The sender's own login, when that is the client. */
  login?: LoginClient;
}

/** Where a link keeps the relay a room admin chose (a login id of the link's network). */
export const RELAY_META = "relayLogin";

export function chatOf(link: Pick<RoomLink, "channelId" | "receiver">): ChatRef {
  return link.receiver
    ? { channelId: link.channelId, receiver: link.receiver }
    : { channelId: link.channelId };
}

export class Clients {
  constructor(
    private readonly s: Services,
    private readonly logins: Logins,
  ) {}

  /** Whether a login can act in a chat: its own DM, what its client says, or the membership it reported. */
  async inChat(network: string, login: LoginClient, chat: ChatRef): Promise<boolean> {
    if (chat.receiver) return chat.receiver === login.loginId;
    if (login.inChat) return login.inChat(chat);
    const members = await this.s.store.chatMembers(network, chat.channelId, "");
    return members.some((m) => m.loginId === login.loginId);
  }

  /** The sender's own account in the chat (explicit login first, then an implicit one), or null. */
  async own(slot: NetworkSlot, chat: ChatRef, userId: string): Promise<LoginClient | null> {
    const network = slot.connector.id;
    for (const login of this.logins.ofUser(userId, network))
      if (await this.inChat(network, login, chat)) return login;
    if (supportsImplicitLogins(slot.connector)) return this.logins.implicitFor(slot, userId, chat);
    return null;
  }

  /** The client for a Matrix user's event in a linked room, or null when nobody can send it. */
  async forSender(slot: NetworkSlot, link: RoomLink, userId: string): Promise<Choice | null> {
    const chat = chatOf(link);
    const login = await this.own(slot, chat, userId);
    if (login) return { client: login, relayed: false, login };
    const relay = await this.relay(slot, link);
    return relay ? { client: relay, relayed: true } : null;
  }

  /** The room's relay: the login a room admin chose (while it is connected and in the chat), else the bot. */
  async relay(slot: NetworkSlot, link: RoomLink): Promise<NetworkClient | null> {
    const chosen = link.meta[RELAY_META];
    if (typeof chosen === "string") {
      const login = this.logins.get(slot.connector.id, chosen);
      if (login && (await this.inChat(slot.connector.id, login, chatOf(link)))) return login;
    }
    return slot.connector.bot ?? null;
  }

  /**
   * A client to look a chat up with (its info, its members): the login that owns the chat (a
   * DM), else the bot where the network has one, else a connected login that is in it.
   */
  async forLookup(slot: NetworkSlot, chat: ChatRef, prefer?: string): Promise<NetworkClient | null> {
    const network = slot.connector.id;
    if (prefer) {
      const login = this.logins.get(network, prefer);
      if (login) return login;
    }
    if (chat.receiver) {
      const owner = this.logins.get(network, chat.receiver);
      if (owner) return owner;
    }
    if (slot.connector.bot) return slot.connector.bot;
    for (const member of await this.s.store.chatMembers(network, chat.channelId, "")) {
      const login = this.logins.get(network, member.loginId);
      if (login) return login;
    }
    return null;
  }
}
