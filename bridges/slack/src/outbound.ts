import type { WebClient } from "@slack/web-api";
import type { BridgeContent, ChatRef, MatrixMessage, MatrixSender, SendResult } from "@switchboard/framework";
import type { EchoTable } from "./echoes.js";
import type { ThreadIndex } from "./threads.js";
import { matrixToSlack, unicodeToEmoji } from "./format/index.js";
import * as ids from "./ids.js";
import { SLACK_TOKEN_ERRORS, slackError, type SlackLogin } from "./logins.js";
import type { SlackWorkspace } from "./workspace.js";

/**
 * Matrix → Slack. A logged-in user's messages go out with their token (they are the
 * author on Slack); anyone else's are relayed by the bot with their name and avatar. A
 * token Slack no longer accepts marks that login logged out and the message is relayed
 * instead, so nothing is lost and the workspace keeps working for everyone else.
 */

export interface Speaker {
  web: WebClient;
  login?: SlackLogin;
}

export class SlackOutbound {
  constructor(
    private readonly echoes: EchoTable,
    private readonly threads: ThreadIndex,
    private readonly workspaceOf: (team: string) => SlackWorkspace | undefined,
    private readonly loginBroke: (login: SlackLogin, reason: string) => Promise<void>,
  ) {}

  target(chat: ChatRef): { ws: SlackWorkspace; channel: string; key: string } {
    const parsed = ids.parseChatId(chat.channelId);
    const ws = parsed && this.workspaceOf(parsed.team);
    if (!parsed || !ws) throw new Error(`no bridged Slack workspace for ${chat.channelId}`);
    return { ws, channel: parsed.channel, key: ids.chatId(parsed.team, parsed.channel) };
  }

  /** Runs `call` as the sender's login; on a dead token, marks it logged out and retries as the bot. */
  private async as<T>(
    ws: SlackWorkspace,
    sender: MatrixSender,
    call: (speaker: Speaker) => Promise<T>,
    relayable = true,
  ): Promise<T> {
    const login = sender.login as SlackLogin | undefined;
    if (!login || login.workspace !== ws) return call({ web: ws.web });
    try {
      return await call({ web: login.web, login });
    } catch (err) {
      const code = slackError(err);
      if (!code || !SLACK_TOKEN_ERRORS.has(code)) throw err;
      await this.loginBroke(login, code);
      if (!relayable) throw err;
      return call({ web: ws.web });
    }
  }

  private relayFields(sender: MatrixSender, speaker: Speaker): Record<string, string> {
    if (speaker.login) return {};
    return { username: sender.displayname, ...(sender.avatarUrl ? { icon_url: sender.avatarUrl } : {}) };
  }

  async message(msg: MatrixMessage): Promise<SendResult> {
    const { ws, channel, key } = this.target(msg.chat);
    const text = matrixToSlack(msg.content, msg.mentions);
    // Slack has threads, not replies: a reply joins the thread of the message it answers.
    const parent = msg.threadRoot?.remoteId ?? msg.replyTo?.remoteId;
    // A file part's id is "<ts>:<file id>"; its thread is the message's.
    const threadTs = parent ? this.threads.rootFor(key, parent.split(":")[0]!) : undefined;
    return this.as(ws, msg.sender, async (speaker) => {
      if (msg.content.media?.download) return this.upload(speaker, key, channel, msg.content, text, threadTs);
      if (msg.content.kind === "emote" && speaker.login && !threadTs) {
        const res = await this.echoes.track(
          key,
          () => speaker.web.chat.meMessage({ channel, text }),
          (r) => ({ ts: r.ts }),
        );
        return { remoteId: res.ts, timestamp: res.ts ? Math.round(Number(res.ts) * 1000) : undefined };
      }
      const body = msg.content.kind === "emote" ? `_${escapeName(msg.sender.displayname)} ${text}_` : text;
      const res = await this.echoes.track(
        key,
        () =>
          speaker.web.chat.postMessage({
            channel,
            text: body,
            ...(threadTs ? { thread_ts: threadTs } : {}),
            ...this.relayFields(msg.sender, speaker),
          }),
        (r) => ({ ts: r.ts }),
      );
      if (res.ts && threadTs) this.threads.remember(key, res.ts, threadTs);
      return { remoteId: res.ts, timestamp: res.ts ? Math.round(Number(res.ts) * 1000) : undefined };
    });
  }

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
    const fileId = res.files.flatMap((f) => f.files ?? [])[0]?.id;
    return { remoteId: fileId ? `file:${fileId}` : undefined };
  }

  async edit(chat: ChatRef, remoteId: string, sender: MatrixSender, content: BridgeContent): Promise<void> {
    const { ws, channel, key } = this.target(chat);
    const text = matrixToSlack(content, []);
    await this.as(
      ws,
      sender,
      async (speaker) => {
        this.echoes.expect(`edit ${key} ${remoteId} ${text}`);
        await speaker.web.chat.update({ channel, ts: remoteId, text });
      },
      false,
    );
  }

  async delete(chat: ChatRef, remoteId: string, sender: MatrixSender): Promise<void> {
    const { ws, channel, key } = this.target(chat);
    await this.as(ws, sender, async (speaker) => {
      this.echoes.expect(`delete ${key} ${remoteId}`);
      await speaker.web.chat.delete({ channel, ts: remoteId });
    });
  }

  async react(
    chat: ChatRef,
    remoteId: string,
    emoji: string,
    sender: MatrixSender,
    add: boolean,
  ): Promise<void> {
    const { ws, channel, key } = this.target(chat);
    const name = unicodeToEmoji(emoji) ?? /^:([a-z0-9_+-]+):$/.exec(emoji)?.[1];
    if (!name) return;
    await this.as(ws, sender, async (speaker) => {
      const who = speaker.login?.slackUserId ?? ws.botUserId;
      this.echoes.expect(`${add ? "react" : "unreact"} ${key} ${remoteId} ${who} ${name}`);
      try {
        if (add) await speaker.web.reactions.add({ channel, timestamp: remoteId, name });
        else await speaker.web.reactions.remove({ channel, timestamp: remoteId, name });
      } catch (err) {
        // Two relayed Matrix users reacting alike share the bot's one reaction.
        const code = slackError(err);
        if (code !== "already_reacted" && code !== "no_reaction") throw err;
      }
    });
  }
}

/** A relayed emote names its sender in Slack text, where &, < and > are control characters. */
function escapeName(name: string): string {
  return name.replace(/[<>&]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;" })[c] ?? c);
}
