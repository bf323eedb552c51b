import { ErrorCode, LibSignalErrorBase, type Net } from "@signalapp/libsignal-client";
import type {
  MultiRecipientMessageRequest,
  UnauthMessagesService,
} from "@signalapp/libsignal-client/dist/net/chat/UnauthMessagesService.js";
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

  /**
   * A sealed-sender v2 message to many recipients at once (group sends with sender keys),
   * through libsignal's typed service. Its errors (mismatched devices, a refused endorsement,
   * rate limits) are libsignal's and left to the caller; only a dropped connection is retried.
   */
  async sendMultiRecipient(request: MultiRecipientMessageRequest): Promise<string[]> {
    for (let tries = 0; ; tries++) {
      const chat = await this.open();
      try {
        // libsignal adds the typed services to the connection's prototype; its module
        // augmentation does not resolve under NodeNext, hence the cast.
        const res = await (
          chat as Net.UnauthenticatedChatConnection & UnauthMessagesService
        ).sendMultiRecipientMessage(request);
        return res.unregisteredIds.map((id) => id.getServiceIdString());
      } catch (err) {
        if (!isConnectionLoss(err) || tries >= 1) throw err;
        this.chat = null;
      }
    }
  }

  async close(): Promise<void> {
    const chat = this.chat;
    this.chat = null;
    await chat?.then((c) => c.disconnect()).catch(() => undefined);
  }
}

/** libsignal's "the connection is gone" errors, as opposed to the server's answers. */
function isConnectionLoss(err: unknown): boolean {
  return (
    LibSignalErrorBase.is(err, ErrorCode.ChatServiceInactive) ||
    LibSignalErrorBase.is(err, ErrorCode.IoError) ||
    LibSignalErrorBase.is(err, ErrorCode.ConnectionInvalidated)
  );
}
