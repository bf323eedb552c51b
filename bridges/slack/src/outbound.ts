import { setTimeout as sleep } from "node:timers/promises";
import type { WebClient } from "@slack/web-api";
import type {
  BridgeContent,
  ChatRef,
  MatrixMessage,
  MatrixSender,
  MessageRef,
  SendResult,
} from "@switchboard/framework";
import { PermanentError } from "@switchboard/framework";
import type { EchoTable } from "./echoes.js";
import { SLACK_TOKEN_ERRORS, slackError } from "./errors.js";
import type { ThreadIndex } from "./threads.js";
import { matrixToSlack, unicodeToEmoji } from "./format/index.js";
import * as ids from "./ids.js";
import type { SlackWorkspace } from "./workspace.js";

/**
 * Matrix → Slack, whichever account speaks: a login's user token (they are the author on Slack)
 * or a workspace's bot. Both network clients (`SlackBot` in bot.ts, `SlackLogin` in logins.ts)
 * send through this one class, naming the account as a `Speaker`; a speaker that relays shows
 * who wrote the message (the bot: Slack's username and icon; a person's account: their name in
 * front). `asLogin` is how a login whose token Slack stops accepting mid-call still gets its
 * message out, relayed by the bot, so nothing is lost.
 */

export interface Speaker {
  web: WebClient;
  /** The account's Slack user id (the bot's: its bot user). */
  slackUserId: string;
  /** A person's account (a user token) rather than a workspace's app. */
  isUser: boolean;
  /** Writing for someone else (`MatrixSender.relayed`): the message shows who wrote it. */
  relays: boolean;
}

/** A workspace's app as the speaker. */
export function botSpeaker(ws: SlackWorkspace, relays: boolean): Speaker {
  return { web: ws.web, slackUserId: ws.botUserId, isUser: false, relays };
}

/**
 * Runs `call` as a login's own account. When Slack no longer accepts its token the login is
 * reported (`broke`) and, unless only the author can do it (`relayable` false: an edit), the call
 * runs again as `relay` (the workspace's bot, relaying).
 */
export async function asLogin<T>(
  own: Speaker,
  relay: Speaker,
  broke: (code: string) => Promise<void>,
  call: (speaker: Speaker) => Promise<T>,
  relayable = true,
): Promise<T> {
  try {
    return await call(own);
  } catch (err) {
    const code = slackError(err);
    if (!code || !SLACK_TOKEN_ERRORS.has(code)) throw err;
    await broke(code);
    if (!relayable) throw err;
    return call(relay);
  }
}

/** Where Slack shared an uploaded file in `channel` (a file object's `shares`): that message's ts. */
export function shareTs(file: unknown, channel: string): string | undefined {
  const shares = (file as { shares?: Record<string, unknown> } | null | undefined)?.shares;
  for (const scope of ["public", "private"]) {
    const list = (shares?.[scope] as Record<string, unknown> | undefined)?.[channel];
    if (!Array.isArray(list)) continue;
    const ts = (list.at(-1) as { ts?: unknown } | undefined)?.ts;
    if (typeof ts === "string" && ts !== "") return ts;
  }
  return undefined;
}

/** Slack's share may lag the upload's answer: files.info is asked after these pauses (ms). */
const SHARE_LOOKUPS = [0, 250, 750];

const tsToMs = (ts: string | undefined): number | undefined =>
  ts ? Math.round(Number(ts) * 1000) : undefined;

export class SlackOutbound {
  constructor(
    private readonly echoes: EchoTable,
    private readonly threads: ThreadIndex,
    private readonly workspaceOf: (team: string) => SlackWorkspace | undefined,
  ) {}

  target(chat: ChatRef): { ws: SlackWorkspace; channel: string; key: string } {
    const parsed = ids.parseChatId(chat.channelId);
    const ws = parsed && this.workspaceOf(parsed.team);
    if (!parsed || !ws) throw new Error(`no bridged Slack workspace for ${chat.channelId}`);
    return { ws, channel: parsed.channel, key: ids.chatId(parsed.team, parsed.channel) };
  }

  async message(speaker: Speaker, msg: MatrixMessage): Promise<SendResult> {
    const { channel, key } = this.target(msg.chat);
    const text = matrixToSlack(msg.content, msg.mentions);
    // Slack has threads, not replies: a reply joins the thread of the message it answers.
    const parent = msg.threadRoot ?? msg.replyTo;
    const parentTs = parent ? ids.messageTs(parent) : undefined;
    const threadTs = parentTs ? this.threads.rootFor(key, parentTs) : undefined;
    if (msg.content.media?.download) return this.upload(speaker, key, channel, msg.content, text, threadTs);
    if (msg.content.kind === "emote" && speaker.isUser && !speaker.relays && !threadTs) {
      const res = await this.echoes.track(
        key,
        () => speaker.web.chat.meMessage({ channel, text }),
        (r) => ({ ts: r.ts }),
      );
      return { remoteId: res.ts, timestamp: tsToMs(res.ts) };
    }
    const res = await this.echoes.track(
      key,
      () =>
        speaker.web.chat.postMessage({
          channel,
          text: body(speaker, msg.sender, msg.content.kind, text),
          ...(threadTs ? { thread_ts: threadTs } : {}),
          ...persona(speaker, msg.sender),
        }),
      (r) => ({ ts: r.ts }),
    );
    if (res.ts && threadTs) this.threads.remember(key, res.ts, threadTs);
    return { remoteId: res.ts, timestamp: tsToMs(res.ts) };
  }

  /**
   * files.uploadV2 (Slack's external upload flow). The file is keyed by its id; the ts of the
   * message sharing it (from the upload's answer, else files.info) goes into the mapping's meta,
   * so reactions, threads, edits and deletes can find that message later.
   */
  private async upload(
    speaker: Speaker,
    key: string,
    channel: string,
    content: BridgeContent,
    caption: string,
    threadTs: string | undefined,
  ): Promise<SendResult> {
    const media = content.media!;
    const data = await media.download!();
    const res = await this.echoes.track(
      key,
      () => {
        const file = { file: data, filename: media.name, title: media.name };
        // The file name is already the title; a caption only when the Matrix message had one.
        const comment = caption && caption !== media.name ? { initial_comment: caption } : {};
        return speaker.web.filesUploadV2(
          threadTs
            ? { ...file, ...comment, channel_id: channel, thread_ts: threadTs }
            : { ...file, ...comment, channel_id: channel },
        );
      },
      (r) => ({ fileIds: r.files.flatMap((f) => (f.files ?? []).map((file) => String(file.id))) }),
    );
    const file = res.files.flatMap((f) => f.files ?? [])[0];
    if (!file?.id) return {};
    const ts = shareTs(file, channel) ?? (await this.sharedAt(speaker.web, file.id, channel));
    if (ts && threadTs) this.threads.remember(key, ts, threadTs);
    return { remoteId: `file:${file.id}`, ...(ts ? { timestamp: tsToMs(ts), meta: { ts } } : {}) };
  }

  /** The share ts by files.info; undefined when Slack does not say (the file itself was sent). */
  private async sharedAt(web: WebClient, fileId: string, channel: string): Promise<string | undefined> {
    for (const pause of SHARE_LOOKUPS) {
      if (pause) await sleep(pause);
      try {
        const ts = shareTs((await web.files.info({ file: fileId })).file, channel);
        if (ts) return ts;
      } catch {
        return undefined;
      }
    }
    return undefined;
  }

  async edit(
    speaker: Speaker,
    e: { chat: ChatRef; target: MessageRef; sender: MatrixSender; content: BridgeContent },
  ): Promise<void> {
    const { channel, key } = this.target(e.chat);
    const ts = tsOf(e.target);
    // An edit keeps the text bare: an emote sent with chat.meMessage has no name around it.
    const text = body(speaker, e.sender, "text", matrixToSlack(e.content, []));
    this.echoes.expect(`edit ${key} ${ts} ${text}`);
    await speaker.web.chat.update({ channel, ts, text });
  }

  async delete(speaker: Speaker, d: { chat: ChatRef; target: MessageRef }): Promise<void> {
    const { channel, key } = this.target(d.chat);
    const ts = tsOf(d.target);
    this.echoes.expect(`delete ${key} ${ts}`);
    await speaker.web.chat.delete({ channel, ts });
  }

  async react(
    speaker: Speaker,
    r: { chat: ChatRef; target: MessageRef; key: string },
    add: boolean,
  ): Promise<void> {
    const { channel, key } = this.target(r.chat);
    const name = unicodeToEmoji(r.key) ?? /^:([a-z0-9_+-]+):$/.exec(r.key)?.[1];
    if (!name) return;
    const timestamp = tsOf(r.target);
    this.echoes.expect(`${add ? "react" : "unreact"} ${key} ${timestamp} ${speaker.slackUserId} ${name}`);
    try {
      if (add) await speaker.web.reactions.add({ channel, timestamp, name });
      else await speaker.web.reactions.remove({ channel, timestamp, name });
    } catch (err) {
      // Two relayed Matrix users reacting alike share the bot's one reaction.
      const code = slackError(err);
      if (code !== "already_reacted" && code !== "no_reaction") throw err;
    }
  }

  /** Moves the read marker of `web`'s user; a file whose message Slack did not name is skipped. */
  async markRead(web: WebClient, chat: ChatRef, target: MessageRef): Promise<void> {
    const { channel } = this.target(chat);
    const ts = ids.messageTs(target);
    if (ts) await web.conversations.mark({ channel, ts });
  }
}

function tsOf(target: MessageRef): string {
  const ts = ids.messageTs(target);
  if (!ts)
    throw new PermanentError("Slack did not say which message holds that file, so it cannot be found there");
  return ts;
}

/** The bot's relays carry the Matrix user's name and avatar (chat:write.customize). */
function persona(speaker: Speaker, sender: MatrixSender): Record<string, string> {
  if (!speaker.relays || speaker.isUser) return {};
  return { username: sender.displayname, ...(sender.avatarUrl ? { icon_url: sender.avatarUrl } : {}) };
}

/**
 * The Slack text of a message: an emote names its sender unless Slack shows it as theirs
 * (chat.meMessage); a person's account relaying for someone else (Slack ignores the username
 * there) puts the sender's name in front.
 */
export function body(
  speaker: Pick<Speaker, "isUser" | "relays">,
  sender: Pick<MatrixSender, "displayname">,
  kind: BridgeContent["kind"],
  text: string,
): string {
  const name = escapeName(sender.displayname);
  if (kind === "emote") return `_${name} ${text}_`;
  return speaker.relays && speaker.isUser ? `*${name}*: ${text}` : text;
}

/** A name in Slack text, where &, < and > are control characters. */
function escapeName(name: string): string {
  return name.replace(/[<>&]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;" })[c] ?? c);
}
