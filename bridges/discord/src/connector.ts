import {
  Client,
  DiscordAPIError,
  Events,
  GatewayIntentBits,
  Partials,
  ChannelType,
  type ForumChannel,
  type NewsChannel,
  type Message,
  type PartialMessage,
  type TextChannel,
} from "discord.js";
import { Agent } from "undici";
import type {
  BridgeContent,
  BridgeContext,
  ChecksPlumbing,
  ChatCapabilities,
  ChatInfo,
  ChatRef,
  Connector,
  DeletesMessages,
  FetchesMessages,
  EditsMessages,
  MatrixMessage,
  MatrixSender,
  MessageRef,
  NetworkClient,
  Reacts,
  RemoteEvent,
  RemoteUser,
  SendResult,
  SendsTyping,
} from "@switchboard/framework";
import { PermanentError, RateLimitedError, UnsupportedError } from "@switchboard/framework";
import {
  DISCORD_CDN,
  DiscordConfigSchema,
  type DiscordApplicationConfig,
  type DiscordConfig,
} from "./config.js";
import { CatchUp } from "./catch-up.js";
import { Plumbing } from "./plumbing.js";
import { contentToDiscord, escapeDiscord } from "./format.js";
import { aliasSuffix, chatFromAliasSuffix } from "./ids.js";
import {
  deleteEvent,
  editEvent,
  messageEvents,
  reactionEvent,
  shownName,
  type Emission,
  type Reading,
} from "./inbound.js";
import { webhookUsername, Webhooks } from "./webhooks.js";
import { inviteUrl } from "./invite.js";

/**
 * The Discord bridge's connector: Discord applications' bots (bot tokens only) behind the
 * framework's contract. A guild's text channels are portals (`#discord_<guild>_<channel>`),
 * filed in the guild's space; Matrix users speak through one webhook per channel with their
 * name and avatar. See README.md for setting up the application.
 */

/** What the bridge reads: messages with their content, reactions, typing, members' names. */
const INTENTS = [
  GatewayIntentBits.Guilds,
  GatewayIntentBits.GuildMessages,
  GatewayIntentBits.MessageContent,
  GatewayIntentBits.GuildMembers,
  GatewayIntentBits.GuildMessageReactions,
  // Keeps the server's custom emoji current: a Matrix `:name:` reaction is one of them.
  GatewayIntentBits.GuildExpressions,
  GatewayIntentBits.GuildMessageTyping,
];

/** Channels that become portals. Voice channels' text chats are left alone (matrix-appservice-discord #906). */
type BridgedChannel = TextChannel | NewsChannel | ForumChannel;
const BRIDGED_TYPES = new Set<ChannelType>([
  ChannelType.GuildText,
  ChannelType.GuildAnnouncement,
  ChannelType.GuildForum,
]);

const CAPABILITIES: ChatCapabilities = {
  edits: true,
  replies: true,
  threads: true,
  reactions: true,
  redactions: true,
  typing: true,
  readReceipts: false,
  media: true,
};

/** Discord's JSON error codes the bridge acts on. */
const MISSING_PERMISSIONS = 50013;
const MISSING_ACCESS = 50001;
const UNKNOWN_WEBHOOK = 10015;
const UNKNOWN_MESSAGE = 10008;
const INVALID_FORM_BODY = 50035;

/** Discord's refusals as the framework's decisions: missing rights are told, not retried. */
function decided(err: unknown): Error {
  if (err instanceof DiscordAPIError) {
    if (err.code === MISSING_PERMISSIONS || err.code === MISSING_ACCESS) {
      // Said once per room (every message after it would fail the same way), not once per message.
      return new UnsupportedError(
        "the bridge's Discord bot lacks a permission in this channel (it needs View Channel, Send Messages, Manage Webhooks, Add Reactions, Read Message History)",
      );
    }
    if (err.code === UNKNOWN_MESSAGE) return new PermanentError("that message is gone from Discord");
    if (err.status === 429) return new RateLimitedError(5000, "Discord is rate limiting the bridge");
    if (err.status >= 400 && err.status < 500)
      return new PermanentError(`Discord refused it: ${err.message}`);
  }
  return err instanceof Error ? err : new Error(String(err));
}

/** One application's bot: a discord.js client and the webhooks it posts through. */
class Application {
  readonly client: Client;
  readonly webhooks: Webhooks;

  constructor(
    readonly config: DiscordApplicationConfig,
    webhookName: string,
  ) {
    this.client = new Client({
      intents: INTENTS,
      partials: [Partials.Message, Partials.Channel, Partials.Reaction, Partials.User],
      // discord.js's REST client is built on undici 6. Without an agent of its own it uses the
      // process-wide dispatcher, which the rest of the bridge's undici 7 installs first, and
      // undici 7 cannot read the form data of a file upload ("action is not a function").
      rest: {
        api: config.api_url,
        cdn: config.cdn_url,
        // Animated stickers come from the media proxy: a CDN other than Discord's serves those too.
        ...(config.cdn_url === DISCORD_CDN ? {} : { mediaProxy: config.cdn_url }),
        agent: new Agent(),
      },
    });
    this.webhooks = new Webhooks(() => this.client.application?.id, webhookName);
  }

  /** Whether a message is one the bridge itself made (its webhook or its bot): never bridged back. */
  ownMessage(m: Message | PartialMessage): boolean {
    if (m.author && m.author.id === this.client.user?.id) return true;
    if (!m.webhookId) return false;
    return (
      this.webhooks.ours.has(m.webhookId) ||
      (!!m.applicationId && m.applicationId === this.client.application?.id)
    );
  }
}

export class DiscordConnector implements Connector {
  readonly id = "discord";
  readonly displayName = "Discord";
  readonly configSchema = DiscordConfigSchema;

  private ctx!: BridgeContext;
  private config!: DiscordConfig;
  /** Pills (the framework knows each Discord user's ghost) and other bridges' webhooks. */
  reading!: Reading;
  private apps: Application[] = [];
  private catchUp!: CatchUp;
  plumbing!: Plumbing;
  bot!: DiscordBot;

  async start(ctx: BridgeContext): Promise<void> {
    this.ctx = ctx;
    this.config = ctx.config as unknown as DiscordConfig;
    this.reading = {
      pill: (id, name) => ctx.mentionHtml(id, name),
      foreignWebhooks: this.config.foreign_bridge_webhooks,
    };
    if (this.config.applications.length === 0) {
      throw new Error("bridges.discord.applications is empty: add your Discord application's bot_token");
    }
    this.catchUp = new CatchUp(ctx);
    this.plumbing = new Plumbing(ctx);
    this.apps = this.config.applications.map((a) => new Application(a, this.config.webhook_name));
    this.bot = new DiscordBot(this, this.prefix);
    await Promise.all(this.apps.map((app, i) => this.connect(app, i)));
  }

  get prefix(): string {
    return this.config.user_prefix ?? "discord_";
  }

  private async connect(app: Application, index: number): Promise<void> {
    const connection = `application ${index + 1}`;
    const c = app.client;
    const emit = (e: Emission | null) => {
      if (!e) return;
      this.ctx
        .emit(e.event, e.options)
        .catch((err: unknown) =>
          this.ctx.log.warn({ err, type: e.event.type }, "a Discord event could not be queued"),
        );
    };
    const reading = this.reading;
    // A gateway event that does not read as expected (a partial message whose channel the
    // client never saw) is logged and skipped; it must not stop the client's event loop.
    const safely =
      <A extends unknown[]>(what: string, handle: (...args: A) => void) =>
      (...args: A): void => {
        try {
          handle(...args);
        } catch (err) {
          this.ctx.log.warn({ err, connection, event: what }, "a Discord event could not be read; skipped");
        }
      };
    c.on(
      Events.MessageCreate,
      safely("MessageCreate", (m) => {
        if (!m.guildId || app.ownMessage(m)) return;
        const queued = messageEvents(m, reading).map((e) => this.ctx.emit(e.event, e.options));
        void Promise.all(queued)
          .then(() => this.catchUp.bridged(m))
          .catch((err: unknown) => this.ctx.log.warn({ err }, "a Discord message could not be queued"));
      }),
    );
    c.on(
      Events.MessageUpdate,
      safely("MessageUpdate", (_old, m) => {
        if (!m.guildId || app.ownMessage(m)) return;
        void (m.partial ? m.fetch() : Promise.resolve(m))
          .then((full) => emit(editEvent(full, reading)))
          .catch((err: unknown) => this.ctx.log.warn({ err }, "an edited Discord message could not be read"));
      }),
    );
    c.on(
      Events.MessageDelete,
      safely("MessageDelete", (m) => {
        if (!m.guildId || app.ownMessage(m)) return;
        emit(deleteEvent(m));
      }),
    );
    c.on(
      Events.MessageBulkDelete,
      // A moderator's purge: each message is redacted as if deleted alone (the same keys, so
      // a single MESSAGE_DELETE for one of them as well changes nothing).
      safely("MessageBulkDelete", (messages) => {
        for (const m of messages.values()) if (m.guildId && !app.ownMessage(m)) emit(deleteEvent(m));
      }),
    );
    c.on(
      Events.MessageReactionAdd,
      safely("MessageReactionAdd", (r, user) => {
        if (user.id === c.user?.id) return;
        void this.plumbing
          .reacted(r, user)
          .then((consent) => {
            if (!consent) emit(reactionEvent(r, user, true));
          })
          .catch((err: unknown) => this.ctx.log.warn({ err }, "a Discord reaction could not be read"));
      }),
    );
    c.on(
      Events.MessageReactionRemove,
      safely("MessageReactionRemove", (r, user) => {
        if (user.id === c.user?.id) return;
        emit(reactionEvent(r, user, false));
      }),
    );
    c.on(
      Events.TypingStart,
      safely("TypingStart", (t) => {
        if (!t.guild || t.user.id === c.user?.id) return;
        emit({
          event: { type: "typing", chat: { channelId: t.channel.id }, userId: t.user.id, typing: true },
          options: {},
        });
      }),
    );
    c.on(Events.ShardDisconnect, (event) => {
      this.ctx.reportState({
        connection,
        state: "TRANSIENT_DISCONNECT",
        message: `gateway closed (${event.code})`,
      });
    });
    c.on(Events.ShardReady, () => {
      this.ctx.reportState({ connection, state: "CONNECTED" });
      // A new session (not a resumed one): Discord will not replay what was missed.
      void this.catchUp
        .run(
          c,
          (m) => app.ownMessage(m),
          reading,
          (e) => this.ctx.emit(e.event, e.options),
        )
        .then((n) => {
          if (n > 0)
            this.ctx.log.info({ connection, messages: n }, "bridged what was said on Discord meanwhile");
        });
    });
    this.ctx.reportState({ connection, state: "CONNECTING" });
    try {
      // Ready once every guild arrived: aliases and portals need the channels.
      const ready = new Promise<void>((resolve) => c.once(Events.ClientReady, () => resolve()));
      await c.login(app.config.bot_token);
      await ready;
      this.ctx.log.info(
        {
          connection,
          bot: c.user?.tag,
          guilds: c.guilds.cache.size,
          ...(c.application ? { invite: inviteUrl(c.application.id) } : {}),
        },
        "Discord bot connected; a server admin adds it with the invite URL",
      );
    } catch (err) {
      const text = String((err as Error).message ?? err);
      // 4014: the application lacks a privileged intent. Without MESSAGE_CONTENT every message
      // would arrive empty (matrix-appservice-discord #922): say so instead of bridging blanks.
      const message = /disallowed intent/i.test(text)
        ? "Discord refused the bot's privileged intents (gateway close 4014): in the Developer Portal → your application → Bot, enable MESSAGE CONTENT INTENT and SERVER MEMBERS INTENT"
        : /token/i.test(text)
          ? "Discord refused the bot token: copy it again from the Developer Portal → your application → Bot"
          : `Discord could not be reached: ${text}`;
      this.ctx.log.error({ connection, err }, message);
      this.ctx.reportState({
        connection,
        state: /token/i.test(text) ? "BAD_CREDENTIALS" : "UNKNOWN_ERROR",
        message,
      });
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.apps.map((a) => a.client.destroy()));
  }

  /** The application whose bot sees this channel. */
  appFor(channelId: string): Application | null {
    return this.apps.find((a) => a.client.channels.cache.has(channelId)) ?? null;
  }

  /** A bridgeable channel: text, announcement, or forum (whose posts are Matrix threads). */
  async textChannel(chat: ChatRef): Promise<{ app: Application; channel: BridgedChannel } | null> {
    const app = this.appFor(chat.channelId);
    if (!app) return null;
    const channel = await app.client.channels.fetch(chat.channelId).catch(() => null);
    if (!channel || !BRIDGED_TYPES.has(channel.type)) return null;
    return { app, channel: channel as BridgedChannel };
  }

  async getUser(userId: string): Promise<RemoteUser | null> {
    for (const app of this.apps) {
      const user = await app.client.users.fetch(userId).catch(() => null);
      if (user) {
        return {
          id: user.id,
          displayname: shownName(user.globalName ?? user.username, user),
          isBot: user.bot,
          avatar: { key: user.displayAvatarURL(), ref: { url: user.displayAvatarURL({ size: 256 }) } },
        };
      }
    }
    return null;
  }

  chatFromAlias(suffix: string): ChatRef | null {
    const parsed = chatFromAliasSuffix(suffix);
    if (!parsed) return null;
    const app = this.appFor(parsed.chat.channelId);
    const channel = app?.client.channels.cache.get(parsed.chat.channelId);
    if (!channel || channel.isDMBased() || channel.guildId !== parsed.guildId) return null;
    return parsed.chat;
  }

  aliasFor(chat: ChatRef): string | null {
    const channel = this.appFor(chat.channelId)?.client.channels.cache.get(chat.channelId);
    if (!channel || channel.isDMBased()) return null;
    return aliasSuffix(channel.guildId, channel.id);
  }
}

/**
 * The bots as one network client (`DiscordConnector.bot`): Matrix users without a Discord
 * account of their own speak through the channel's webhook, under their Matrix name and avatar.
 */
export class DiscordBot
  implements
    NetworkClient,
    EditsMessages,
    DeletesMessages,
    Reacts,
    SendsTyping,
    ChecksPlumbing,
    FetchesMessages
{
  constructor(
    private readonly connector: DiscordConnector,
    private readonly prefix: string,
  ) {}

  capabilities(_chat: ChatRef): ChatCapabilities {
    return CAPABILITIES;
  }

  async getChat(chat: ChatRef): Promise<ChatInfo | null> {
    const found = await this.connector.textChannel(chat);
    if (!found) return null;
    const { channel } = found;
    return {
      name: `#${channel.name}`,
      ...(channel.topic ? { topic: channel.topic } : {}),
      space: { id: channel.guild.id, name: channel.guild.name },
    };
  }

  /** `!link discord …`: the bot's permissions there, and consent from the Discord side. */
  async canPlumb(chat: ChatRef, matrixUserId: string): Promise<true | string> {
    const found = await this.connector.textChannel(chat);
    if (!found) return "this Discord channel is gone or the bridge's bot cannot see it";
    return this.connector.plumbing.canPlumb(found.app.client, found.channel, matrixUserId);
  }

  private async channel(chat: ChatRef): Promise<{ app: Application; channel: BridgedChannel }> {
    const found = await this.connector.textChannel(chat);
    if (!found) throw new PermanentError("this Discord channel is gone or the bridge's bot cannot see it");
    return found;
  }

  async sendMessage(msg: MatrixMessage): Promise<SendResult> {
    const { app, channel } = await this.channel(msg.chat);
    const { text, userMentions } = contentToDiscord(msg.content, this.prefix);
    const quoted = msg.replyTo ? replyQuote(msg.replyTo.senderName, msg.replyTo.text) : "";
    const media = msg.content.media;
    const { files, linkLine } = await attachmentFor(media, uploadLimit(channel.guild.premiumTier));
    const caption = media && msg.content.text === media.name ? "" : text;
    const content = (quoted + [caption, linkLine].filter(Boolean).join("\n")).slice(0, 2000);
    const allowedMentions = { parse: [] as never[], users: userMentions };
    try {
      const threadId = msg.threadRoot
        ? await this.threadFor(channel, msg.threadRoot.remoteId, caption)
        : undefined;
      // In a forum every message is in a post: a Matrix message outside a thread starts one.
      const threadName =
        !threadId && channel.type === ChannelType.GuildForum
          ? (caption || media?.name || "Post").replace(/\s+/g, " ").trim().slice(0, 100)
          : undefined;
      const hook = await app.webhooks.forChannel(channel);
      const send = (avatarURL?: string) =>
        hook.send({
          content: content || undefined,
          username: webhookUsername(msg.sender.displayname),
          ...(avatarURL ? { avatarURL } : {}),
          allowedMentions,
          files,
          ...(threadId ? { threadId } : {}),
          ...(threadName ? { threadName } : {}),
        });
      let sent: Message;
      try {
        sent = await send(msg.sender.avatarUrl);
      } catch (err) {
        // A bad avatar URL never costs the message (mautrix-discord #95).
        if (!(err instanceof DiscordAPIError && err.code === INVALID_FORM_BODY && msg.sender.avatarUrl))
          throw err;
        sent = await send();
      }
      return {
        remoteId: sent.id,
        timestamp: sent.createdTimestamp,
        // Webhook messages in a thread are edited and deleted through the thread.
        meta: {
          webhook: hook.id,
          ...(threadId || threadName ? { thread: threadId ?? sent.channelId } : {}),
        },
      };
    } catch (err) {
      if (err instanceof DiscordAPIError && err.code === UNKNOWN_WEBHOOK) app.webhooks.forget(channel.id);
      throw decided(err);
    }
  }

  /**
   * The Discord thread a Matrix thread stands for: the one started from its root message, made
   * there (named after the first reply) when the Matrix side starts it.
   */
  private async threadFor(channel: BridgedChannel, rootId: string, text: string): Promise<string> {
    const existing = await channel.threads.fetch(rootId).catch(() => null);
    if (existing) return existing.id;
    // A forum's threads are its posts, made by posting (see sendMessage), never from a message.
    if (channel.type === ChannelType.GuildForum)
      throw new PermanentError("that forum post is gone from Discord");
    const name = text.replace(/\s+/g, " ").trim().slice(0, 100) || "Thread";
    const thread = await channel.threads.create({ startMessage: rootId, name });
    return thread.id;
  }

  /**
   * A message to react to: in the channel, or, in a forum, a post's first message (which has
   * the post's id). Replies inside threads are not looked up (their thread is not recorded).
   */
  /** An old message (a thread's root from before the bridge) as the events a live one gives. */
  async fetchMessage(chat: ChatRef, remoteId: string): Promise<RemoteEvent[]> {
    const { app, channel } = await this.channel(chat);
    const m = await this.messageIn(channel, remoteId).catch(() => null);
    if (!m || app.ownMessage(m)) return [];
    return messageEvents(m, this.connector.reading).map((e) => e.event);
  }

  private async messageIn(channel: BridgedChannel, id: string): Promise<Message> {
    try {
      if (channel.type !== ChannelType.GuildForum) return await channel.messages.fetch(id);
      const post = await channel.threads.fetch(id);
      if (!post) throw new PermanentError("that forum post is gone from Discord");
      return await post.messages.fetch(id);
    } catch (err) {
      throw decided(err);
    }
  }

  private async webhookOf(app: Application, channel: BridgedChannel, target: MessageRef) {
    if (!target.meta?.webhook)
      throw new UnsupportedError("only messages the bridge sent from Matrix can be changed");
    return app.webhooks.forChannel(channel);
  }

  async editMessage(e: {
    chat: ChatRef;
    target: MessageRef;
    sender: MatrixSender;
    content: BridgeContent;
  }): Promise<void> {
    const { app, channel } = await this.channel(e.chat);
    const hook = await this.webhookOf(app, channel, e.target);
    const { text, userMentions } = contentToDiscord(e.content, this.prefix);
    await hook
      .editMessage(e.target.remoteId, {
        content: text.slice(0, 2000),
        allowedMentions: { parse: [], users: userMentions },
        ...(typeof e.target.meta?.thread === "string" ? { threadId: e.target.meta.thread } : {}),
      })
      .catch((err: unknown) => {
        throw decided(err);
      });
  }

  async deleteMessage(d: { chat: ChatRef; target: MessageRef; sender: MatrixSender }): Promise<void> {
    const { app, channel } = await this.channel(d.chat);
    const hook = await this.webhookOf(app, channel, d.target);
    const thread = typeof d.target.meta?.thread === "string" ? d.target.meta.thread : undefined;
    await hook.deleteMessage(d.target.remoteId, thread).catch((err: unknown) => {
      if (err instanceof DiscordAPIError && err.code === UNKNOWN_MESSAGE) return;
      throw decided(err);
    });
  }

  /** Webhooks cannot react: the bot reacts (a Matrix user's reaction shows as the bot's). */
  async react(r: { chat: ChatRef; target: MessageRef; key: string }): Promise<SendResult> {
    const { channel } = await this.channel(r.chat);
    const emoji = customEmojiName(r.key);
    // A `:name:` reaction (a custom emoji bridged from Discord, or typed) is the server's emoji of that name.
    const custom = emoji === null ? null : channel.guild.emojis.cache.find((e) => e.name === emoji);
    if (emoji !== null && !custom)
      throw new UnsupportedError(`reactions with :${emoji}:, which this server has no emoji for`);
    const message = await this.messageIn(channel, r.target.remoteId);
    await message.react(custom ?? r.key).catch((err: unknown) => {
      throw decided(err);
    });
    return {};
  }

  async unreact(r: { chat: ChatRef; target: MessageRef; key: string }): Promise<void> {
    const { app, channel } = await this.channel(r.chat);
    const message = await this.messageIn(channel, r.target.remoteId).catch(() => null);
    const me = app.client.user?.id;
    if (!message || !me) return;
    const custom = customEmojiName(r.key);
    await message.reactions.cache
      .find((x) => (custom === null ? !x.emoji.id && x.emoji.name === r.key : x.emoji.name === custom))
      ?.users.remove(me)
      .catch((err: unknown) => {
        throw decided(err);
      });
  }

  async setTyping(chat: ChatRef, typing: boolean): Promise<void> {
    if (!typing) return;
    const { channel } = await this.channel(chat);
    // A forum has no typing of its own (its posts do).
    if (channel.type !== ChannelType.GuildForum) await channel.sendTyping().catch(() => undefined);
  }
}

/** `smile` for a `:smile:` key; null for a plain emoji. */
function customEmojiName(key: string): string | null {
  return /^:([\w~-]{2,32}):$/.exec(key)?.[1] ?? null;
}

/**
 * The most a file may weigh in a server: 10 MiB, 50 MiB from boost level 2, 100 MiB at level 3
 * (webhooks get the server's limit). Beyond it Discord answers 40005, and no retry helps.
 */
export function uploadLimit(premiumTier: number): number {
  const mib = premiumTier >= 3 ? 100 : premiumTier === 2 ? 50 : 10;
  return mib * 1024 * 1024;
}

/**
 * A Matrix file as Discord takes it: attached when it fits the server's limit, else a line with
 * the framework's link to it (so the message still arrives, and the file with one click).
 */
async function attachmentFor(
  media: MatrixMessage["content"]["media"],
  limit: number,
): Promise<{ files: Array<{ attachment: Buffer; name: string }>; linkLine: string }> {
  if (!media?.download || !media.name) return { files: [], linkLine: "" };
  const data = media.size !== undefined && media.size > limit ? null : await media.download();
  if (data && data.length <= limit) return { files: [{ attachment: data, name: media.name }], linkLine: "" };
  if (!media.link)
    throw new PermanentError(`${media.name} is over this server's ${limit / 1024 / 1024} MiB upload limit`);
  return { files: [], linkLine: `${escapeDiscord(media.name)}: ${await media.link()}` };
}

/** A Matrix reply as Discord shows it from a webhook (which cannot reply): a quote line. */
function replyQuote(name: string, text: string): string {
  const line = text.replace(/\s+/g, " ").trim().slice(0, 100);
  return `> **${webhookUsername(name)}**: ${line}\n`;
}
