import { IdMint, nowSeconds } from "./ids.js";
import {
  botProfile,
  conversationObject,
  fileObject,
  userObject,
  type ChannelRecord,
  type FileRecord,
  type Team,
  type Urls,
  type UserRecord,
} from "./slack-objects.js";
import type { SlackMessage } from "./types.js";

/**
 * The fake workspace: users, conversations, messages, files and tokens, and every state change
 * Slack can make to them. Each change emits the Events API event Slack would send, so the Web API
 * (the bridge acting) and the test's `postAs`/`editAs`/... (a human acting in Slack's own client)
 * produce exactly the same events.
 */

/** A Slack error code, answered as `{ok:false,error:code}` by the Web API and thrown to tests otherwise. */
export class SlackApiError extends Error {
  constructor(
    readonly code: string,
    detail?: string,
  ) {
    super(detail === undefined ? code : `${code}: ${detail}`);
  }
}

export type TokenKind = "bot" | "user" | "app";

export interface TokenRecord {
  token: string;
  kind: TokenKind;
  /** The user the token acts as (the bot user for bot tokens, none for the app-level token). */
  userId: string | undefined;
  revoked: boolean;
}

/** An Events API inner event (`event` of the event_callback wrapper). */
export interface SlackEvent {
  type: string;
  event_ts: string;
  [key: string]: unknown;
}

/** A bot's chat.postMessage customisation (chat:write.customize): turns the post into a bot_message. */
export interface Persona {
  username?: string;
  iconUrl?: string;
  iconEmoji?: string;
}

export interface PostInput {
  text: string;
  blocks?: unknown[];
  attachments?: unknown[];
  threadTs?: string;
  broadcast?: boolean;
  subtype?: string;
  clientMsgId?: string;
  metadata?: unknown;
  persona?: Persona;
  files?: FileRecord[];
  /** Extra fields of system messages (channel_name's old_name/name, channel_topic's topic). */
  extra?: Record<string, unknown>;
}

const REACTION_NAME = /^[a-z0-9_+'-]+(::skin-tone-[2-6])?$/;
const MAX_TEXT = 40_000;

export class Workspace {
  readonly mint = new IdMint();
  readonly team: Team;
  readonly users = new Map<string, UserRecord>();
  readonly channels = new Map<string, ChannelRecord>();
  /** Per channel, every message including thread replies, in ts order. */
  readonly history = new Map<string, SlackMessage[]>();
  readonly files = new Map<string, FileRecord>();
  readonly uploads = new Map<string, string>(); // upload id -> file id
  readonly tokens = new Map<string, TokenRecord>();
  readonly emoji = new Map<string, string>([
    ["bowtie", "https://emoji.slack-edge.com/T00000000/bowtie/f3ec6f2bb0.png"],
    ["squirrel", "https://emoji.slack-edge.com/T00000000/squirrel/465f40c0e0.png"],
    ["shipit", "alias:squirrel"],
  ]);
  readonly readMarkers = new Map<string, string>();
  readonly bot: { userId: string; botId: string; appId: string; token: string; appToken: string };
  readonly verificationToken: string;
  /** Where emitted events go; the Web API swaps it to hold events back until its response is ready. */
  sink: (event: SlackEvent) => void = () => {};

  constructor(
    opts: { teamName: string; teamDomain: string },
    readonly urls: Urls,
  ) {
    this.team = { id: this.mint.id("T"), name: opts.teamName, domain: opts.teamDomain };
    this.verificationToken = this.mint.secret().slice(0, 24);
    const appId = this.mint.id("A");
    const botUser = this.createUser({ name: "switchboard", realName: "Switchboard", isBot: true, appId });
    const botToken = this.mint.token("xoxb");
    this.tokens.set(botToken, { token: botToken, kind: "bot", userId: botUser.id, revoked: false });
    const appToken = this.mint.appToken(appId);
    this.tokens.set(appToken, { token: appToken, kind: "app", userId: undefined, revoked: false });
    this.bot = { userId: botUser.id, botId: botUser.botId ?? "", appId, token: botToken, appToken };
    // Slackbot exists in every workspace and shows up in users.list; bridges must cope with it.
    this.users.set("USLACKBOT", {
      id: "USLACKBOT",
      name: "slackbot",
      realName: "Slackbot",
      displayName: "Slackbot",
      avatarUrl: undefined,
      isBot: false,
      botId: undefined,
      appId: undefined,
      updated: 0,
    });
  }

  // ---- users -------------------------------------------------------------------------------

  private createUser(u: {
    name: string;
    realName?: string;
    displayName?: string;
    avatarUrl?: string;
    isBot?: boolean;
    appId?: string;
  }): UserRecord {
    const isBot = u.isBot ?? false;
    const user: UserRecord = {
      id: this.mint.id("U"),
      name: u.name,
      realName: u.realName ?? u.name,
      displayName: u.displayName ?? "",
      avatarUrl: u.avatarUrl,
      isBot,
      botId: isBot ? this.mint.id("B") : undefined,
      appId: isBot ? (u.appId ?? this.mint.id("A")) : undefined,
      updated: nowSeconds(),
    };
    this.users.set(user.id, user);
    return user;
  }

  addUser(u: {
    name: string;
    realName?: string;
    displayName?: string;
    avatarUrl?: string;
    isBot?: boolean;
  }): {
    id: string;
    token: string;
  } {
    const user = this.createUser(u);
    const token = this.mint.token(user.isBot ? "xoxb" : "xoxp");
    this.tokens.set(token, { token, kind: user.isBot ? "bot" : "user", userId: user.id, revoked: false });
    return { id: user.id, token };
  }

  user(id: string): UserRecord {
    const user = this.users.get(id);
    if (!user) throw new SlackApiError("user_not_found", id);
    return user;
  }

  setProfile(userId: string, p: { displayName?: string; realName?: string; avatarUrl?: string }): void {
    const user = this.user(userId);
    if (p.displayName !== undefined) user.displayName = p.displayName;
    if (p.realName !== undefined) user.realName = p.realName;
    if (p.avatarUrl !== undefined) user.avatarUrl = p.avatarUrl;
    user.updated = Math.max(user.updated + 1, nowSeconds());
    const ts = this.mint.ts();
    this.emit({
      type: "user_change",
      user: userObject(user, this.team, this.urls),
      cache_ts: nowSeconds(),
      event_ts: ts,
    });
  }

  // ---- tokens ------------------------------------------------------------------------------

  /** The token's record, or the error Slack answers for it. */
  authenticate(token: string): TokenRecord {
    if (token === "") throw new SlackApiError("not_authed");
    const record = this.tokens.get(token);
    if (!record) throw new SlackApiError("invalid_auth");
    if (record.revoked) throw new SlackApiError("token_revoked");
    return record;
  }

  /**
   * The user token a person gets when they authorize the app: Slack hands the same one back on every
   * authorization until it is revoked, then a new one.
   */
  userToken(userId: string): string {
    const user = this.user(userId);
    for (const t of this.tokens.values())
      if (t.kind === "user" && t.userId === user.id && !t.revoked) return t.token;
    const token = this.mint.token("xoxp");
    this.tokens.set(token, { token, kind: "user", userId: user.id, revoked: false });
    return token;
  }

  revokeToken(token: string): void {
    const record = this.tokens.get(token);
    if (!record) throw new Error(`revokeToken: ${token.slice(0, 10)}… is not a token of this workspace`);
    record.revoked = true;
    if (record.userId === undefined) return; // app-level tokens have no tokens_revoked event
    const key = record.kind === "bot" ? "bot" : "oauth";
    this.emit({ type: "tokens_revoked", tokens: { [key]: [record.userId] }, event_ts: this.mint.ts() });
  }

  // ---- conversations -----------------------------------------------------------------------

  /** By ID, or by name with or without '#', like Slack's `channel` arguments accept. */
  findChannel(ref: string): ChannelRecord | undefined {
    const byId = this.channels.get(ref);
    if (byId) return byId;
    const name = ref.replace(/^#/, "");
    for (const ch of this.channels.values()) if (ch.kind !== "im" && ch.name === name) return ch;
    return undefined;
  }

  channel(ref: string): ChannelRecord {
    const ch = this.findChannel(ref);
    if (!ch) throw new SlackApiError("channel_not_found", ref);
    return ch;
  }

  /** Private conversations are invisible (channel_not_found) to non-members, like in Slack. */
  visibleChannel(ref: string, viewer: string | undefined): ChannelRecord {
    const ch = this.channel(ref);
    if (ch.kind !== "public" && (viewer === undefined || !ch.members.includes(viewer))) {
      throw new SlackApiError("channel_not_found", ref);
    }
    return ch;
  }

  addChannel(c: { name: string; isPrivate?: boolean; members: string[]; topic?: string; purpose?: string }): {
    id: string;
  } {
    if (!/^[a-z0-9_-]{1,80}$/.test(c.name)) {
      throw new Error(
        `addChannel: "${c.name}" is not a valid Slack channel name (lowercase, digits, - and _)`,
      );
    }
    if (this.findChannel(c.name)) throw new SlackApiError("name_taken", c.name);
    for (const m of c.members) this.user(m);
    const created = nowSeconds();
    const creator = c.members[0] ?? this.bot.userId;
    const ch: ChannelRecord = {
      id: this.mint.id("C"),
      name: c.name,
      kind: c.isPrivate ? "private" : "public",
      members: [...new Set(c.members)],
      created,
      creator,
      topic: { value: c.topic ?? "", creator: c.topic ? creator : "", last_set: c.topic ? created : 0 },
      purpose: {
        value: c.purpose ?? "",
        creator: c.purpose ? creator : "",
        last_set: c.purpose ? created : 0,
      },
      previousNames: [],
    };
    this.channels.set(ch.id, ch);
    this.history.set(ch.id, []);
    if (ch.kind === "public") {
      const {
        id,
        name,
        is_channel,
        created: when,
        creator: who,
        is_private,
      } = conversationObject(ch, this.team, creator);
      this.emit({
        type: "channel_created",
        channel: { id, name, is_channel, created: when, creator: who, is_private },
        event_ts: this.mint.ts(),
      });
    }
    return { id: ch.id };
  }

  openDm(userIds: string[]): ChannelRecord {
    const members = [...new Set(userIds)];
    if (members.length < 2) throw new Error("openDm: a DM needs at least two distinct users");
    for (const m of members) this.user(m);
    const kind = members.length === 2 ? "im" : "mpim";
    const key = [...members].sort().join(",");
    for (const ch of this.channels.values()) {
      if (ch.kind === kind && [...ch.members].sort().join(",") === key) return ch;
    }
    const names = members.map((m) => this.user(m).name);
    const ch: ChannelRecord = {
      id: this.mint.id(kind === "im" ? "D" : "C"),
      name: kind === "im" ? members.join("-") : `mpdm-${names.join("--")}-1`,
      kind,
      members,
      created: nowSeconds(),
      creator: members[0] ?? "",
      topic: { value: "", creator: "", last_set: 0 },
      purpose: {
        value: kind === "mpim" ? `Group messaging with: ${names.map((n) => `@${n}`).join(" ")}` : "",
        creator: "",
        last_set: 0,
      },
      previousNames: [],
    };
    this.channels.set(ch.id, ch);
    this.history.set(ch.id, []);
    return ch;
  }

  /** Slack posts a channel_join message and sends member_joined_channel. No-op for members. */
  join(userId: string, ref: string, inviter?: string): boolean {
    const ch = this.channel(ref);
    this.user(userId);
    if (ch.kind === "im" || ch.kind === "mpim")
      throw new SlackApiError("method_not_supported_for_channel_type");
    if (ch.members.includes(userId)) return false;
    ch.members.push(userId);
    this.emit(
      {
        type: "member_joined_channel",
        user: userId,
        channel: ch.id,
        channel_type: ch.kind === "public" ? "C" : "G",
        team: this.team.id,
        ...(inviter !== undefined ? { inviter } : {}),
        event_ts: this.mint.ts(),
      },
      ch,
    );
    this.post({ userId }, ch, {
      subtype: "channel_join",
      text: `<@${userId}> has joined the channel`,
      ...(inviter !== undefined ? { extra: { inviter } } : {}),
    });
    return true;
  }

  leave(userId: string, ref: string): boolean {
    const ch = this.channel(ref);
    if (ch.kind === "im") throw new SlackApiError("method_not_supported_for_channel_type");
    if (!ch.members.includes(userId)) return false;
    // The leave message and event are still seen by the app when its own bot leaves.
    this.post({ userId }, ch, { subtype: "channel_leave", text: `<@${userId}> has left the channel` });
    this.emit(
      {
        type: "member_left_channel",
        user: userId,
        channel: ch.id,
        channel_type: ch.kind === "public" ? "C" : "G",
        team: this.team.id,
        event_ts: this.mint.ts(),
      },
      ch,
    );
    ch.members = ch.members.filter((m) => m !== userId);
    return true;
  }

  rename(ref: string, name: string, by?: string): void {
    const ch = this.channel(ref);
    if (ch.kind === "im" || ch.kind === "mpim")
      throw new SlackApiError("method_not_supported_for_channel_type");
    if (!/^[a-z0-9_-]{1,80}$/.test(name)) throw new SlackApiError("invalid_name_specials", name);
    const oldName = ch.name;
    ch.previousNames.unshift(oldName);
    ch.name = name;
    const ts = this.mint.ts();
    this.emit(
      {
        type: ch.kind === "public" ? "channel_rename" : "group_rename",
        channel: {
          id: ch.id,
          name,
          name_normalized: name,
          created: ch.created,
          is_channel: ch.kind === "public",
        },
        event_ts: ts,
      },
      ch.kind === "public" ? undefined : ch,
    );
    const who = by ?? ch.creator;
    this.post({ userId: who }, ch, {
      subtype: "channel_name",
      text: `<@${who}> renamed the channel from "${oldName}" to "${name}"`,
      extra: { old_name: oldName, name },
    });
  }

  setTopic(ref: string, topic: string, by?: string): void {
    const ch = this.channel(ref);
    const who = by ?? ch.members[0] ?? ch.creator;
    ch.topic = { value: topic, creator: who, last_set: nowSeconds() };
    this.post({ userId: who }, ch, {
      subtype: "channel_topic",
      text: `<@${who}> set the channel topic: ${topic}`,
      extra: { topic },
    });
  }

  // ---- messages ----------------------------------------------------------------------------

  messagesOf(ch: ChannelRecord): SlackMessage[] {
    return this.history.get(ch.id) ?? [];
  }

  findMessage(ch: ChannelRecord, ts: string): SlackMessage | undefined {
    return this.messagesOf(ch).find((m) => m.ts === ts);
  }

  message(ch: ChannelRecord, ts: string): SlackMessage {
    const msg = this.findMessage(ch, ts);
    if (!msg) throw new SlackApiError("message_not_found", `${ch.id}/${ts}`);
    return msg;
  }

  /** Thread replies are hidden from the channel view unless broadcast. */
  isTopLevel(m: SlackMessage): boolean {
    return m.thread_ts === undefined || m.thread_ts === m.ts || m.subtype === "thread_broadcast";
  }

  channelType(ch: ChannelRecord): string {
    return ch.kind === "public" ? "channel" : ch.kind === "private" ? "group" : ch.kind;
  }

  /** The author fields of a message: a human, a bot user, or our bot with a persona (bot_message). */
  private authorFields(author: { userId: string; persona?: Persona }): Partial<SlackMessage> {
    const user = this.user(author.userId);
    if (!user.isBot) return { user: user.id, team: this.team.id };
    const profile = botProfile(user, this.team, this.urls);
    if (author.persona) {
      const icons: SlackMessage["icons"] = {};
      // Slack answers a custom icon_url as icons.image_48 only.
      if (author.persona.iconUrl) icons.image_48 = author.persona.iconUrl;
      else if (author.persona.iconEmoji) {
        icons.emoji = author.persona.iconEmoji;
      }
      return {
        subtype: "bot_message",
        bot_id: user.botId,
        app_id: user.appId,
        username: author.persona.username ?? user.name,
        ...(Object.keys(icons).length > 0 ? { icons } : {}),
      };
    }
    return {
      user: user.id,
      bot_id: user.botId,
      app_id: user.appId,
      team: this.team.id,
      bot_profile: profile,
    };
  }

  post(author: { userId: string; persona?: Persona }, ch: ChannelRecord, input: PostInput): SlackMessage {
    if (input.text.length > MAX_TEXT) throw new SlackApiError("msg_too_long");
    let root: SlackMessage | undefined;
    if (input.threadTs !== undefined) {
      root = this.findMessage(ch, input.threadTs);
      if (!root) throw new SlackApiError("thread_not_found", input.threadTs);
      // Replying to a reply lands in the same thread.
      if (root.thread_ts !== undefined && root.thread_ts !== root.ts) root = this.message(ch, root.thread_ts);
    }
    const ts = this.mint.ts();
    const msg: SlackMessage = {
      ...(input.clientMsgId !== undefined ? { client_msg_id: input.clientMsgId } : {}),
      type: "message",
      ...this.authorFields(author),
      text: input.text,
      ts,
    };
    if (input.subtype !== undefined) msg.subtype = input.subtype;
    if (input.blocks !== undefined) msg.blocks = input.blocks;
    // Slack numbers attachments from 1.
    if (input.attachments !== undefined) {
      msg.attachments = input.attachments.map((a, i) => ({ id: i + 1, ...(a as Record<string, unknown>) }));
    }
    if (input.metadata !== undefined) msg.metadata = input.metadata;
    if (input.files !== undefined) {
      msg.files = input.files.map((f) => fileObject(f, this.team, this.urls));
      msg.upload = true;
      msg.display_as_bot = false;
    }
    Object.assign(msg, input.extra);
    if (root) {
      msg.thread_ts = root.ts;
      msg.parent_user_id = root.user ?? root.bot_id;
      if (input.broadcast) msg.subtype = "thread_broadcast";
      root.thread_ts = root.ts;
      root.reply_count = (root.reply_count ?? 0) + 1;
      root.reply_users = [...new Set([...(root.reply_users ?? []), msg.user ?? msg.bot_id ?? ""])];
      root.reply_users_count = root.reply_users.length;
      root.latest_reply = ts;
    }
    this.messagesOf(ch).push(msg);
    this.emit(
      {
        ...structuredClone(msg),
        type: "message",
        channel: ch.id,
        event_ts: ts,
        channel_type: this.channelType(ch),
      },
      ch,
    );
    return msg;
  }

  edit(
    editor: string,
    ch: ChannelRecord,
    ts: string,
    change: { text: string; blocks?: unknown[] },
  ): SlackMessage {
    const msg = this.message(ch, ts);
    if (change.text.length > MAX_TEXT) throw new SlackApiError("msg_too_long");
    const previous = structuredClone(msg);
    const editTs = this.mint.ts();
    msg.text = change.text;
    if (change.blocks !== undefined) msg.blocks = change.blocks;
    msg.edited = { user: editor, ts: editTs };
    this.emit(
      {
        type: "message",
        subtype: "message_changed",
        hidden: true,
        message: structuredClone(msg),
        previous_message: previous,
        channel: ch.id,
        ts: editTs,
        event_ts: editTs,
        channel_type: this.channelType(ch),
      },
      ch,
    );
    return msg;
  }

  /**
   * Deleting a thread root that has replies leaves a tombstone ("This message was deleted.") so the
   * thread survives, as Slack does; anything else disappears with message_deleted.
   */
  delete(ch: ChannelRecord, ts: string): void {
    const msg = this.message(ch, ts);
    const previous = structuredClone(msg);
    const eventTs = this.mint.ts();
    const common = { channel: ch.id, ts: eventTs, event_ts: eventTs, channel_type: this.channelType(ch) };
    if ((msg.reply_count ?? 0) > 0 && msg.thread_ts === msg.ts) {
      const tombstone: SlackMessage = {
        type: "message",
        subtype: "tombstone",
        hidden: true,
        user: "USLACKBOT",
        text: "This message was deleted.",
        ts: msg.ts,
        thread_ts: msg.thread_ts,
        reply_count: msg.reply_count,
        reply_users: msg.reply_users,
        reply_users_count: msg.reply_users_count,
        latest_reply: msg.latest_reply,
      };
      const list = this.messagesOf(ch);
      list[list.indexOf(msg)] = tombstone;
      this.emit(
        {
          type: "message",
          subtype: "message_changed",
          hidden: true,
          message: structuredClone(tombstone),
          previous_message: previous,
          ...common,
        },
        ch,
      );
      return;
    }
    this.history.set(
      ch.id,
      this.messagesOf(ch).filter((m) => m !== msg),
    );
    if (msg.thread_ts !== undefined && msg.thread_ts !== msg.ts) {
      const root = this.findMessage(ch, msg.thread_ts);
      if (root) this.recountReplies(ch, root);
    }
    this.emit(
      {
        type: "message",
        subtype: "message_deleted",
        hidden: true,
        deleted_ts: ts,
        previous_message: previous,
        ...common,
      },
      ch,
    );
  }

  private recountReplies(ch: ChannelRecord, root: SlackMessage): void {
    const replies = this.messagesOf(ch).filter((m) => m.thread_ts === root.ts && m.ts !== root.ts);
    if (replies.length === 0) {
      delete root.reply_count;
      delete root.reply_users;
      delete root.reply_users_count;
      delete root.latest_reply;
      delete root.thread_ts;
      return;
    }
    root.reply_count = replies.length;
    root.reply_users = [...new Set(replies.map((r) => r.user ?? r.bot_id ?? ""))];
    root.reply_users_count = root.reply_users.length;
    root.latest_reply = replies[replies.length - 1]?.ts;
  }

  thread(ch: ChannelRecord, ts: string): SlackMessage[] {
    const msg = this.findMessage(ch, ts);
    if (!msg) throw new SlackApiError("thread_not_found", ts);
    const rootTs = msg.thread_ts ?? msg.ts;
    return this.messagesOf(ch).filter((m) => m.ts === rootTs || m.thread_ts === rootTs);
  }

  react(userId: string, ch: ChannelRecord, ts: string, name: string): void {
    if (!REACTION_NAME.test(name)) throw new SlackApiError("invalid_name", name);
    const msg = this.message(ch, ts);
    msg.reactions ??= [];
    let reaction = msg.reactions.find((r) => r.name === name);
    if (reaction?.users.includes(userId)) throw new SlackApiError("already_reacted");
    if (!reaction) {
      reaction = { name, users: [], count: 0 };
      msg.reactions.push(reaction);
    }
    reaction.users.push(userId);
    reaction.count = reaction.users.length;
    this.emitReaction("reaction_added", userId, ch, msg, name);
  }

  unreact(userId: string, ch: ChannelRecord, ts: string, name: string): void {
    const msg = this.message(ch, ts);
    const reaction = msg.reactions?.find((r) => r.name === name);
    if (!reaction?.users.includes(userId)) throw new SlackApiError("no_reaction");
    reaction.users = reaction.users.filter((u) => u !== userId);
    reaction.count = reaction.users.length;
    if (reaction.count === 0) msg.reactions = msg.reactions?.filter((r) => r !== reaction);
    if (msg.reactions?.length === 0) delete msg.reactions;
    this.emitReaction("reaction_removed", userId, ch, msg, name);
  }

  private emitReaction(
    type: string,
    userId: string,
    ch: ChannelRecord,
    msg: SlackMessage,
    name: string,
  ): void {
    this.emit(
      {
        type,
        user: userId,
        reaction: name,
        item: { type: "message", channel: ch.id, ts: msg.ts },
        ...(msg.user !== undefined ? { item_user: msg.user } : {}),
        event_ts: this.mint.ts(),
      },
      ch,
    );
  }

  markRead(userId: string, ch: ChannelRecord, ts: string): void {
    this.readMarkers.set(`${userId}\n${ch.id}`, ts);
  }

  readMarker(userId: string, ch: ChannelRecord): string | undefined {
    return this.readMarkers.get(`${userId}\n${ch.id}`);
  }

  // ---- files -------------------------------------------------------------------------------

  /** files.getUploadURLExternal: a file id and a one-time upload id for the upload URL. */
  reserveUpload(userId: string, filename: string, length: number): { file: FileRecord; uploadId: string } {
    const file: FileRecord = {
      id: this.mint.id("F"),
      name: filename,
      title: undefined,
      mimetype: "",
      data: undefined,
      declaredLength: length,
      user: userId,
      created: nowSeconds(),
      shares: [],
    };
    this.files.set(file.id, file);
    const uploadId = this.mint.uuid();
    this.uploads.set(uploadId, file.id);
    return { file, uploadId };
  }

  /** The upload URL received the bytes; false when the URL is unknown or already used. */
  receiveUpload(uploadId: string, data: Buffer, mimetype: string): boolean {
    const fileId = this.uploads.get(uploadId);
    const file = fileId === undefined ? undefined : this.files.get(fileId);
    if (!file) return false;
    this.uploads.delete(uploadId);
    file.data = data;
    file.mimetype = mimetype;
    return true;
  }

  /** Posts the file_share message carrying the files, as the uploader. */
  shareFiles(
    author: { userId: string },
    ch: ChannelRecord,
    files: FileRecord[],
    opts: { text: string; threadTs?: string; blocks?: unknown[] },
  ): SlackMessage {
    const msg = this.post(author, ch, {
      text: opts.text,
      subtype: "file_share",
      files,
      ...(opts.threadTs !== undefined ? { threadTs: opts.threadTs } : {}),
      ...(opts.blocks !== undefined ? { blocks: opts.blocks } : {}),
    });
    for (const f of files) f.shares.push({ channel: ch.id, ts: msg.ts });
    return msg;
  }

  // ---- events ------------------------------------------------------------------------------

  /**
   * With bot event subscriptions an app only hears about conversations its bot user is in
   * (so a bridge that forgot to join a channel hears nothing, as in Slack). Workspace-wide events
   * (user_change, channel_created, tokens_revoked, public renames) pass `undefined`.
   */
  private emit(event: SlackEvent, scope?: ChannelRecord): void {
    if (scope && !scope.members.includes(this.bot.userId) && !this.authorizedMemberIn(scope)) return;
    this.sink(event);
  }

  /**
   * With user event subscriptions (message.im, message.mpim) Slack also delivers events of
   * DMs a user who authorized the app is in. Here every user token counts as authorized.
   */
  private authorizedMemberIn(ch: ChannelRecord): boolean {
    if (ch.kind !== "im" && ch.kind !== "mpim") return false;
    for (const t of this.tokens.values())
      if (t.kind === "user" && !t.revoked && t.userId !== undefined && ch.members.includes(t.userId))
        return true;
    return false;
  }
}
