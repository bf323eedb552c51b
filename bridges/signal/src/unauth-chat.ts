import type { Net } from "@signalapp/libsignal-client";
import type { ChatFetch } from "./transport.js";
import { requestOver } from "./chat-connection.js";

/**
 * One unauthenticated chat connection shared by every login: sealed-sender sends go through it
 * so Signal's server never learns who sent them (the access key in the request is the
 * recipient's, proving only that the sender knows their profile key). Opened on first use and
 * again after it drops.
 */
export class UnauthChat {
  private chat: Promise<Net.UnauthenticatedChatConnection> | null = null;

  constructor(private readonly net: Net.Net) {}

  private open(): Promise<Net.UnauthenticatedChatConnection> {
    if (!this.chat) {
      const opening = this.net.connectUnauthenticatedChat({
        onConnectionInterrupted: () => {
          if (this.chat === opening) this.chat = null;
        },
      });
      opening.catch(() => {
        if (this.chat === opening) this.chat = null;
      });
      this.chat = opening;
    }
    return this.chat;
  }

  readonly fetch: ChatFetch = async (request) => {
    for (let tries = 0; ; tries++) {
      const chat = await this.open();
      try {
        return await requestOver(chat, request);
      } catch (err) {
        // A dropped connection: once more on a fresh one.
        this.chat = null;
        if (tries >= 1) throw err;
      }
    }
  };

  async close(): Promise<void> {
    const chat = this.chat;
    this.chat = null;
    await chat?.then((c) => c.disconnect()).catch(() => undefined);
  }
}
