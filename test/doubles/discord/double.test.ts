import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import {
  ActionRowBuilder,
  ButtonBuilder,
  ButtonStyle,
  ChannelType,
  Client,
  DiscordAPIError,
  Events,
  GatewayIntentBits,
  Partials,
  PermissionFlagsBits,
  REST,
  type ClientEvents,
  type ForumChannel,
  type Message,
  type TextChannel,
} from "discord.js";
import { WebSocket } from "ws";
import { until } from "../../harness/wait.js";
import { startDiscordDouble, type DiscordDouble, type DiscordDoubleOptions } from "./index.js";

/**
 * The double is only useful if discord.js cannot tell it from Discord, so every test drives it with
 * the real discord.js Client and REST (or, for the gateway's close codes, a bare WebSocket).
 */

/** Cleanups run last-in first-out, so a client is destroyed before the double it talks to closes. */
const cleanups = new WeakMap<TestContext, Array<() => unknown>>();
function defer(t: TestContext, cleanup: () => unknown): void {
  let stack = cleanups.get(t);
  if (!stack) {
    const fresh: Array<() => unknown> = [];
    cleanups.set(t, fresh);
    t.after(async () => {
      for (const fn of fresh.reverse()) await fn();
    });
    stack = fresh;
  }
  stack.push(cleanup);
}

async function double(t: TestContext, opts: DiscordDoubleOptions = {}): Promise<DiscordDouble> {
  const d = await startDiscordDouble({ privilegedIntents: ["MESSAGE_CONTENT", "GUILD_MEMBERS"], ...opts });
  defer(t, () => d.close());
  return d;
}

const BRIDGE_INTENTS = [
  GatewayIntentBits.Guilds,
  GatewayIntentBits.GuildMembers,
  GatewayIntentBits.GuildMessages,
  GatewayIntentBits.GuildMessageReactions,
  GatewayIntentBits.GuildMessageTyping,
  GatewayIntentBits.GuildWebhooks,
  GatewayIntentBits.DirectMessages,
  GatewayIntentBits.MessageContent,
];

function newClient(d: DiscordDouble, intents: GatewayIntentBits[] = BRIDGE_INTENTS): Client {
  return new Client({
    intents,
    rest: { api: d.restUrl, cdn: d.cdnUrl },
    partials: [Partials.Channel, Partials.Message, Partials.Reaction],
  });
}

/** A logged-in client that has seen clientReady (all its guilds arrived). */
async function login(t: TestContext, d: DiscordDouble, intents?: GatewayIntentBits[]): Promise<Client<true>> {
  const client = newClient(d, intents);
  defer(t, () => client.destroy());
  const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
  await client.login(d.botToken);
  await ready;
  return client as Client<true>;
}

/** A guild with the bot, a person (the owner) and one text channel. */
function world(d: DiscordDouble) {
  const alice = d.addUser({ username: "alice", globalName: "Alice" });
  const guild = d.addGuild({ name: "Switchboard Test", ownerId: alice.id });
  const general = d.addChannel(guild.id, { name: "general", topic: "chat" });
  return { alice: alice.id, guild: guild.id, general: general.id, botRole: guild.botRoleId };
}

/** Events of one type as they arrive. */
function collect<K extends keyof ClientEvents>(client: Client, event: K) {
  const seen: Array<ClientEvents[K]> = [];
  client.on(event, (...args) => void seen.push(args));
  return seen;
}

function apiError(code: number) {
  return (err: unknown) => err instanceof DiscordAPIError && err.code === code;
}

test("login: /gateway/bot, HELLO, IDENTIFY, READY and one GUILD_CREATE per guild fill discord.js's caches", async (t) => {
  const d = await double(t, { privilegedIntents: ["MESSAGE_CONTENT", "GUILD_MEMBERS", "GUILD_PRESENCES"] });
  const w = world(d);
  const bob = d.addUser({ username: "bob" });
  d.addMember(w.guild, bob.id, { nick: "Bobby" });
  const category = d.addChannel(w.guild, { name: "Bridged", type: "category" });
  const voice = d.addChannel(w.guild, { name: "Voice", type: "voice", parentId: category.id });
  const forum = d.addChannel(w.guild, { name: "help", type: "forum", tags: ["question"] });
  const role = d.addRole(w.guild, { name: "Mods", permissions: ["MANAGE_MESSAGES"] });
  const thread = d.createThreadAs(w.alice, w.general, { name: "side chat" });
  const other = d.addGuild({ name: "Second" });

  const client = await login(t, d, [...BRIDGE_INTENTS, GatewayIntentBits.GuildPresences]);
  assert.equal(client.user.id, d.botUserId);
  assert.equal(client.user.bot, true);
  assert.equal(client.application.id, d.applicationId);
  assert.deepEqual(new Set(client.guilds.cache.keys()), new Set([w.guild, other.id]));
  const guild = client.guilds.cache.get(w.guild)!;
  assert.equal(guild.name, "Switchboard Test");
  assert.equal(guild.ownerId, w.alice);
  assert.equal(guild.channels.cache.get(w.general)?.type, ChannelType.GuildText);
  assert.equal((guild.channels.cache.get(w.general) as TextChannel).topic, "chat");
  assert.equal(guild.channels.cache.get(voice.id)?.type, ChannelType.GuildVoice);
  assert.equal(guild.channels.cache.get(voice.id)?.parentId, category.id);
  assert.equal(guild.channels.cache.get(forum.id)?.type, ChannelType.GuildForum);
  assert.equal(
    guild.channels.cache.get(thread.id)?.isThread(),
    true,
    "active threads come with GUILD_CREATE",
  );
  assert.equal(guild.roles.cache.get(role.id)?.name, "Mods");
  assert.equal(guild.roles.cache.get(w.botRole)?.managed, true);
  // GUILD_PRESENCES asked for: the member list comes in GUILD_CREATE.
  assert.equal(guild.members.cache.get(bob.id)?.nickname, "Bobby");
  assert.ok(guild.members.me?.permissions.has("ManageWebhooks"));
  assert.ok(guild.channels.cache.get(w.general)?.permissionsFor(client.user)?.has("SendMessages"));

  const [ready] = d.dispatches("READY");
  assert.equal(ready?.s, 1);
  assert.deepEqual(ready?.d.guilds, [
    { id: w.guild, unavailable: true },
    { id: other.id, unavailable: true },
  ]);
  assert.match(String(ready?.d.resume_gateway_url), /^ws:\/\/127\.0\.0\.1:\d+\/resume-gateway$/);
  assert.deepEqual(
    d.dispatches("GUILD_CREATE").map((r) => r.d.id),
    [w.guild, other.id],
  );

  // Without GUILD_PRESENCES only the bot itself is listed; GUILD_MEMBERS alone does not change that.
  const lean = await login(t, d, [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMembers]);
  assert.deepEqual([...lean.guilds.cache.get(w.guild)!.members.cache.keys()], [d.botUserId]);
  // The member list over REST needs GUILD_MEMBERS granted; it pages by user id.
  const fetched = await lean.guilds.cache.get(w.guild)!.members.fetch({ user: [bob.id, w.alice] });
  assert.equal(fetched.size, 2);
  const rest = new REST({ api: d.restUrl }).setToken(d.botToken);
  const page = (await rest.get(`/guilds/${w.guild}/members`, {
    query: new URLSearchParams({ limit: "2" }),
  })) as Array<{
    user: { id: string };
  }>;
  assert.equal(page.length, 2);
  d.assertNoSpecViolations();
});

test("messages both ways: postAs reaches messageCreate, channel.send and replies reach the double", async (t) => {
  const d = await double(t);
  const w = world(d);
  const client = await login(t, d);
  const created = collect(client, Events.MessageCreate);

  const id = d.postAs(w.alice, w.general, `hi <@${d.botUserId}> and @everyone`, {
    embeds: [{ title: "card", description: "text" }],
  });
  const [msg] = await until("alice's message", () => created[0]);
  assert.equal(msg.id, id);
  assert.equal(msg.content, `hi <@${d.botUserId}> and @everyone`);
  assert.equal(msg.author.id, w.alice);
  assert.equal(msg.author.globalName, "Alice");
  assert.equal(msg.member?.id, w.alice, "guild messages carry the author's member");
  assert.equal(msg.embeds[0]?.title, "card");
  assert.ok(msg.mentions.has(d.botUserId));
  assert.equal(msg.mentions.everyone, true, "the owner may ping everyone");

  const channel = client.channels.cache.get(w.general) as TextChannel;
  const sent = await channel.send({ content: `hello <@${w.alice}>`, allowedMentions: { parse: [] } });
  assert.equal(d.message(w.general, sent.id)?.content, `hello <@${w.alice}>`);
  assert.deepEqual(d.message(w.general, sent.id)?.mentions, [], "allowed_mentions parse:[] pings nobody");
  const reply = await msg.reply("a reply");
  const stored = d.message(w.general, reply.id);
  assert.equal(stored?.type, 19);
  assert.deepEqual(stored?.message_reference, {
    type: 0,
    channel_id: w.general,
    message_id: id,
    guild_id: w.guild,
  });
  assert.equal(stored?.referenced_message?.id, id);
  assert.deepEqual(
    stored?.mentions.map((u) => u.id),
    [w.alice],
    "a reply pings the replied-to author by default",
  );
  // The bot's own posts come back over the gateway too (the echo a bridge must recognise).
  await until("echo of the reply", () => created.find(([m]) => m.id === reply.id));

  await assert.rejects(channel.send({ content: "" }), apiError(50006));
  await assert.rejects(channel.send("x".repeat(2001)), apiError(50035));
  await assert.rejects(
    channel.send({ content: "to nowhere", reply: { messageReference: "1234567890", failIfNotExists: true } }),
    apiError(50035),
  );
  const history = await channel.messages.fetch({ limit: 2 });
  assert.deepEqual([...history.keys()], [reply.id, sent.id], "newest first");
  const before = await channel.messages.fetch({ before: sent.id });
  assert.deepEqual([...before.keys()], [id]);

  // DMs: the double opens the channel; discord.js needs Partials.Channel to hear an uncached DM.
  const dm = d.openDm(w.alice);
  d.postAs(w.alice, dm.id, "psst");
  const [dmMsg] = await until("the DM", () => created.find(([m]) => m.channelId === dm.id));
  assert.equal(dmMsg.content, "psst");
  if (!dmMsg.channel.isSendable()) throw new Error("DM not sendable");
  await dmMsg.channel.send("psst back");
  assert.equal(d.messages(dm.id).at(-1)?.content, "psst back");
  const viaUser = await (await client.users.fetch(w.alice)).createDM();
  assert.equal(viaUser.id, dm.id);
  d.assertNoSpecViolations();
});

test("edits, deletes, reactions and typing, by a person and by the bot, with their events", async (t) => {
  const d = await double(t);
  const w = world(d);
  const client = await login(t, d);
  const updates = collect(client, Events.MessageUpdate);
  const deletes = collect(client, Events.MessageDelete);
  const reactions = collect(client, Events.MessageReactionAdd);
  const unreactions = collect(client, Events.MessageReactionRemove);
  const typing = collect(client, Events.TypingStart);
  const bulk = collect(client, Events.MessageBulkDelete);
  const channel = client.channels.cache.get(w.general) as TextChannel;

  const id = d.postAs(w.alice, w.general, "first draft");
  await until("cached", () => channel.messages.cache.get(id));
  d.editAs(w.alice, w.general, id, "final text");
  const [, after] = (await until("messageUpdate", () => updates[0])) as [unknown, Message];
  assert.equal(after.content, "final text");
  assert.ok(after.editedTimestamp);
  d.reactAs(w.alice, w.general, id, "👍");
  const [reaction, reactor] = await until("messageReactionAdd", () => reactions[0]);
  assert.equal(reaction.emoji.name, "👍");
  assert.equal(reactor.id, w.alice);
  d.unreactAs(w.alice, w.general, id, "👍");
  await until("messageReactionRemove", () => unreactions[0]);
  d.typingAs(w.alice, w.general);
  const [typed] = await until("typingStart", () => typing[0]);
  assert.equal(typed.user.id, w.alice);
  d.deleteAs(w.alice, w.general, id);
  const [gone] = await until("messageDelete", () => deletes[0]);
  assert.equal(gone.id, id);

  const mine = await channel.send("bot says");
  await mine.edit("bot says, edited");
  assert.equal(d.message(w.general, mine.id)?.content, "bot says, edited");
  const theirs = await channel.messages.fetch(d.postAs(w.alice, w.general, "react to me"));
  await theirs.react("🎉");
  await theirs.react("🎉"); // a second PUT is a no-op, like Discord
  assert.deepEqual(
    d.message(w.general, theirs.id)?.reactions?.map((r) => [r.emoji.name, r.count, r.me]),
    [["🎉", 1, true]],
  );
  const users = await theirs.reactions.cache.get("🎉")!.users.fetch();
  assert.deepEqual([...users.keys()], [d.botUserId]);
  await assert.rejects(theirs.react("not-an-emoji"), apiError(10014));
  await assert.rejects(theirs.edit("hijack"), apiError(50005));
  await theirs.reactions.cache.get("🎉")!.users.remove(d.botUserId);
  assert.equal(d.message(w.general, theirs.id)?.reactions, undefined);
  await channel.sendTyping();
  assert.equal(d.calls("trigger_typing_indicator").at(-1)?.status, 204);
  await theirs.delete(); // MANAGE_MESSAGES lets the bot delete others' messages
  assert.equal(d.message(w.general, theirs.id), undefined);
  const a = d.postAs(w.alice, w.general, "a");
  const b = d.postAs(w.alice, w.general, "b");
  await channel.bulkDelete([a, b]);
  const [deleted] = await until("messageDeleteBulk", () => bulk[0]);
  assert.deepEqual(new Set(deleted.keys()), new Set([a, b]));
  assert.deepEqual(
    d.dispatches("MESSAGE_UPDATE").map((r) => r.d.content),
    ["final text", "bot says, edited"],
  );
  d.assertNoSpecViolations();
});

test("webhooks: create or reuse the bridge's own, execute with username/avatar_url/thread_id, the 15-per-channel limit", async (t) => {
  const d = await double(t);
  const w = world(d);
  const client = await login(t, d);
  const channel = client.channels.cache.get(w.general) as TextChannel;

  const hook = await channel.createWebhook({ name: "Switchboard" });
  assert.equal(hook.applicationId, d.applicationId);
  assert.ok(hook.token);
  await assert.rejects(channel.createWebhook({ name: "My Discord bridge" }), apiError(50035));
  // Reuse: the listing shows every webhook, but only the application's own come with a token.
  d.addWebhookAs(w.alice, w.general, "Alice's hook");
  const listed = await channel.fetchWebhooks();
  assert.equal(listed.size, 2);
  const own = listed.filter((x) => x.applicationId === d.applicationId);
  assert.deepEqual([...own.keys()], [hook.id]);
  assert.equal(own.first()?.token, hook.token);
  assert.equal(listed.find((x) => x.applicationId === null)?.token, null);

  const sent = await hook.send({
    content: "from Matrix",
    username: "Bob (Matrix)",
    avatarURL: "https://example.org/bob.png",
  });
  assert.equal(sent.webhookId, hook.id);
  assert.equal(sent.author.username, "Bob (Matrix)");
  const avatar = await fetch(sent.author.displayAvatarURL({ extension: "png" }), { redirect: "manual" });
  assert.equal(avatar.status, 302);
  assert.equal(avatar.headers.get("location"), "https://example.org/bob.png");
  await assert.rejects(hook.send({ content: "x", username: "clyde" }), apiError(50035));
  const thread = await channel.threads.create({ name: "thread for hooks", type: ChannelType.PublicThread });
  const inThread = await hook.send({
    content: "in the thread",
    username: "Carol (Matrix)",
    threadId: thread.id,
  });
  assert.equal(inThread.channelId, thread.id);
  await hook.editMessage(sent, { content: "from Matrix (edited)" });
  await hook.deleteMessage(inThread, thread.id);
  assert.deepEqual(
    d.webhookMessages(w.general).map((m) => [m.content, m.username, m.avatarUrl, m.threadId]),
    [["from Matrix (edited)", "Bob (Matrix)", "https://example.org/bob.png", undefined]],
  );
  assert.deepEqual(
    d.calls("execute_webhook").map((c) => [c.auth, c.query.wait, c.status]),
    [
      ["webhook", "true", 200],
      ["webhook", "true", 400],
      ["webhook", "true", 200],
    ],
  );
  const bogus = new REST({ api: d.restUrl });
  await assert.rejects(
    bogus.post(`/webhooks/${hook.id}/not-the-token`, { body: { content: "x" }, auth: false }),
    apiError(50027),
  );

  // Discord allows 15 webhooks per channel; people's webhooks count too.
  for (let i = 0; i < 13; i++) d.addWebhookAs(w.alice, w.general, `hook ${i}`);
  await assert.rejects(channel.createWebhook({ name: "one too many" }), apiError(30007));
  // Without MANAGE_WEBHOOKS the bridge can neither list nor create.
  d.setBotPermissions(w.general, { deny: ["MANAGE_WEBHOOKS"] });
  await until(
    "CHANNEL_UPDATE reached discord.js",
    () => !channel.permissionsFor(client.user)?.has("ManageWebhooks"),
  );
  await assert.rejects(channel.fetchWebhooks(), apiError(50013));
  d.assertNoSpecViolations();
});

test("guild changes reach discord.js: members join/change/leave, channels come and go, renames, webhooks, thread sync", async (t) => {
  const d = await double(t);
  const alice = d.addUser({ username: "alice" });
  const g = d.addGuild({ name: "Old name", ownerId: alice.id, systemChannel: true });
  const hidden = d.addChannel(g.id, { name: "staff" });
  d.setBotPermissions(hidden.id, { deny: ["VIEW_CHANNEL"] });
  const staffThread = d.createThreadAs(alice.id, hidden.id, { name: "staff talk" });
  const client = await login(t, d);
  const events = {
    joined: collect(client, Events.GuildMemberAdd),
    changed: collect(client, Events.GuildMemberUpdate),
    left: collect(client, Events.GuildMemberRemove),
    created: collect(client, Events.ChannelCreate),
    updated: collect(client, Events.ChannelUpdate),
    deleted: collect(client, Events.ChannelDelete),
    guild: collect(client, Events.GuildUpdate),
    webhooks: collect(client, Events.WebhooksUpdate),
    sync: collect(client, Events.ThreadListSync),
    messages: collect(client, Events.MessageCreate),
  };
  const guild = client.guilds.cache.get(g.id)!;
  assert.equal(guild.channels.cache.has(staffThread.id), false, "threads of a hidden channel are not sent");

  const bob = d.addUser({ username: "bob" });
  d.addMember(g.id, bob.id);
  const [member] = await until("guildMemberAdd", () => events.joined[0]);
  assert.equal(member.id, bob.id);
  const wave = await until("the join message", () => events.messages.find(([m]) => m.author.id === bob.id));
  assert.equal(wave[0].type, 7, "USER_JOIN in the system channel");
  assert.equal(wave[0].channelId, g.systemChannelId);
  d.updateMember(g.id, bob.id, { nick: "Bobby" });
  const [, after] = await until("guildMemberUpdate", () => events.changed[0]);
  assert.equal(after.nickname, "Bobby");
  d.removeMember(g.id, bob.id);
  await until("guildMemberRemove", () => events.left[0]);

  const extra = d.addChannel(g.id, { name: "extra" });
  await until("channelCreate", () => events.created.find(([c]) => c.id === extra.id));
  d.renameChannel(extra.id, "renamed");
  const [, renamed] = await until("channelUpdate", () => events.updated.find(([, c]) => c.id === extra.id));
  assert.equal((renamed as TextChannel).name, "renamed");
  d.deleteChannel(extra.id);
  await until("channelDelete", () => events.deleted.find(([c]) => c.id === extra.id));
  d.renameGuild(g.id, "New name");
  await until("guildUpdate", () => events.guild[0]);
  assert.equal(guild.name, "New name");
  await (guild.channels.cache.get(g.systemChannelId!) as TextChannel).createWebhook({ name: "bridge" });
  await until("webhooksUpdate", () => events.webhooks[0]);

  // Gaining sight of a channel brings its active threads (THREAD_LIST_SYNC).
  d.setBotPermissions(hidden.id, {});
  const [synced] = await until("threadListSync", () => events.sync[0]);
  assert.deepEqual([...synced.keys()], [staffThread.id]);
  assert.ok(guild.channels.cache.has(staffThread.id));
  d.assertNoSpecViolations();
});

test("attachments: multipart uploads and postAs files download as the same bytes from signed CDN links", async (t) => {
  const d = await double(t);
  const w = world(d);
  const client = await login(t, d);
  const created = collect(client, Events.MessageCreate);
  const channel = client.channels.cache.get(w.general) as TextChannel;
  const bytes = Buffer.from([0, 1, 2, 3, 250, 251, 252, 253, 10, 13, 0x41]);
  const png = Buffer.from(
    "89504e470d0a1a0a0000000d4948445200000003000000020806000000000000000000000049454e44ae426082",
    "hex",
  );

  const sent = await channel.send({
    content: "two files",
    files: [
      { attachment: bytes, name: "data.bin" },
      { attachment: png, name: "pic.png", description: "a picture" },
    ],
  });
  const [bin, pic] = [...sent.attachments.values()];
  assert.equal(bin?.name, "data.bin");
  assert.equal(bin?.size, bytes.length);
  assert.equal(pic?.contentType, "image/png");
  assert.equal(pic?.description, "a picture");
  assert.deepEqual([pic?.width, pic?.height], [3, 2]);
  assert.deepEqual(Buffer.from(await (await fetch(bin!.url)).arrayBuffer()), bytes);
  assert.deepEqual(Buffer.from(await (await fetch(pic!.proxyURL)).arrayBuffer()), png);
  assert.deepEqual(d.attachmentContent(bin!.url), bytes);
  const call = d.calls("create_message").at(-1);
  assert.deepEqual(
    call?.files.map((f) => [f.field, f.filename, f.size]),
    [
      ["files[0]", "data.bin", bytes.length],
      ["files[1]", "pic.png", png.length],
    ],
  );
  // Links are signed like Discord's: without (or with a changed) signature the CDN refuses.
  const unsigned = bin!.url.split("?")[0]!;
  assert.equal((await fetch(unsigned)).status, 404);
  assert.equal((await fetch(bin!.url.replace(/hm=[0-9a-f]/, "hm=z"))).status, 404);
  // Editing with `attachments` keeps only the listed ones.
  const edited = await sent.edit({ content: "one file", attachments: [pic!] });
  assert.deepEqual([...edited.attachments.keys()], [pic!.id]);

  const theirs = d.postAs(w.alice, w.general, "a file for you", {
    attachments: [{ name: "notes.txt", data: Buffer.from("héllo\n") }],
  });
  const [got] = await until("alice's upload", () => created.find(([x]) => x.id === theirs));
  const att = got.attachments.first()!;
  assert.equal(att.contentType, "text/plain; charset=utf-8");
  assert.equal(await (await fetch(att.url)).text(), "héllo\n");
  d.assertNoSpecViolations();
});

test("threads and forum posts: from a message, without one, by people, archived and active lists", async (t) => {
  const d = await double(t);
  const w = world(d);
  const forumId = d.addChannel(w.guild, { name: "help", type: "forum", tags: ["question", "bug"] }).id;
  const client = await login(t, d);
  const threadCreates = collect(client, Events.ThreadCreate);
  const threadUpdates = collect(client, Events.ThreadUpdate);
  const created = collect(client, Events.MessageCreate);
  const channel = client.channels.cache.get(w.general) as TextChannel;

  const starterId = d.postAs(w.alice, w.general, "let's discuss");
  const starter = await channel.messages.fetch(starterId);
  const fromMessage = await starter.startThread({ name: "discussion" });
  assert.equal(fromMessage.id, starterId, "a thread from a message takes the message's id");
  assert.equal(fromMessage.type, ChannelType.PublicThread);
  assert.equal(fromMessage.parentId, w.general);
  await fromMessage.send("first reply in the thread");
  assert.deepEqual(
    d.messages(fromMessage.id).map((m) => m.content),
    ["first reply in the thread"],
  );
  assert.equal(d.message(w.general, starterId)?.thread?.id, fromMessage.id);
  await assert.rejects(starter.startThread({ name: "again" }), apiError(160004));

  const bare = await channel.threads.create({ name: "no starter" });
  assert.equal(bare.type, ChannelType.PublicThread);
  const announcement = d.messages(w.general).at(-1);
  assert.equal(announcement?.type, 18, "a public thread without a message announces itself in the parent");
  assert.equal(announcement?.message_reference?.channel_id, bare.id);
  const raw = new REST({ api: d.restUrl }).setToken(d.botToken);
  const defaulted = (await raw.post(`/channels/${w.general}/threads`, { body: { name: "raw" } })) as {
    type: number;
  };
  assert.equal(defaulted.type, 12, "API v10 still defaults to a private thread");

  const byAlice = d.createThreadAs(w.alice, w.general, { name: "alice's thread" });
  const [seen] = await until("threadCreate", () => threadCreates.find(([x]) => x.id === byAlice.id));
  assert.equal(seen.ownerId, w.alice);
  await seen.join();
  d.postAs(w.alice, w.general, "posting in it", { thread: byAlice.id });
  await until("thread message", () => created.find(([m]) => m.channelId === byAlice.id));

  d.archiveThread(byAlice.id);
  await until("threadUpdate", () => threadUpdates.find(([, n]) => n.id === byAlice.id && n.archived));
  const archived = await channel.threads.fetchArchived();
  assert.deepEqual([...archived.threads.keys()], [byAlice.id]);
  const active = await client.guilds.cache.get(w.guild)!.channels.fetchActiveThreads();
  assert.ok(!active.threads.has(byAlice.id));
  assert.ok(active.threads.has(fromMessage.id));
  // Writing in an archived, unlocked thread brings it back.
  d.postAs(w.alice, w.general, "bump", { thread: byAlice.id });
  await until("unarchived", () => threadUpdates.find(([, n]) => n.id === byAlice.id && !n.archived));
  await seen.leave();
  await fromMessage.setName("renamed discussion");
  assert.equal(d.channel(fromMessage.id)?.name, "renamed discussion");

  const forum = client.channels.cache.get(forumId) as ForumChannel;
  const tag = forum.availableTags.find((x) => x.name === "bug")!;
  const post = await forum.threads.create({
    name: "It crashes",
    message: { content: "steps..." },
    appliedTags: [tag.id],
  });
  assert.equal(post.parentId, forumId);
  assert.deepEqual(post.appliedTags, [tag.id]);
  assert.deepEqual(
    d.messages(post.id).map((m) => [m.id, m.content]),
    [[post.id, "steps..."]],
    "a forum post's first message has the thread's id",
  );
  await assert.rejects(
    raw.post(`/channels/${forumId}/messages`, { body: { content: "not in a forum" } }),
    apiError(40058),
  );
  const alicePost = d.createThreadAs(w.alice, forumId, {
    name: "Question",
    content: "how?",
    tags: ["question"],
  });
  await until("forum starter message", () => created.find(([m]) => m.id === alicePost.starterMessageId));
  d.assertNoSpecViolations();
});

test("without MESSAGE_CONTENT, guild messages arrive empty unless they ping the bot; DMs keep their content", async (t) => {
  const d = await double(t, { privilegedIntents: [] });
  const w = world(d);
  const intents = BRIDGE_INTENTS.filter(
    (i) => i !== GatewayIntentBits.MessageContent && i !== GatewayIntentBits.GuildMembers,
  );
  const client = await login(t, d, intents);
  const created = collect(client, Events.MessageCreate);
  const plain = d.postAs(w.alice, w.general, "secret words", {
    attachments: [{ name: "a.txt", data: Buffer.from("a") }],
    embeds: [{ title: "hidden" }],
  });
  const pinged = d.postAs(w.alice, w.general, `hey <@${d.botUserId}>`);
  const dm = d.openDm(w.alice);
  const direct = d.postAs(w.alice, dm.id, "just us");
  await until("three messages", () => created.length >= 3);
  const byId = new Map(created.map(([m]) => [m.id, m]));
  assert.equal(byId.get(plain)?.content, "");
  assert.equal(byId.get(plain)?.attachments.size, 0);
  assert.equal(byId.get(plain)?.embeds.length, 0);
  assert.equal(byId.get(pinged)?.content, `hey <@${d.botUserId}>`);
  assert.equal(byId.get(direct)?.content, "just us");
  // REST reads hide it the same way.
  const fetched = await (client.channels.cache.get(w.general) as TextChannel).messages.fetch({
    message: plain,
    force: true,
  });
  assert.equal(fetched.content, "");
  assert.equal(d.message(w.general, plain)?.content, "secret words", "the double itself keeps it");
  d.assertNoSpecViolations();
});

test("IDENTIFY with privileged intents the app was not granted closes 4014 and login rejects; a bad token is refused", async (t) => {
  const d = await double(t, { privilegedIntents: [] });
  world(d);
  const client = newClient(d);
  defer(t, () => client.destroy());
  const disconnects = collect(client, Events.ShardDisconnect);
  await assert.rejects(client.login(d.botToken), /disallowed intents/i);
  assert.equal(disconnects[0]?.[0].code, 4014);
  assert.equal(d.gatewaySessions().length, 0);

  const wrong = newClient(d);
  defer(t, () => wrong.destroy());
  await assert.rejects(
    wrong.login(`${d.botToken}x`),
    (e: Error & { code?: string }) => e.code === "TokenInvalid",
  );
  assert.deepEqual(
    d.calls("get_bot_gateway").map((c) => c.status),
    [200, 401],
  );
  const unauth = await fetch(`${d.restUrl}/v10/users/@me`, { headers: { Authorization: "Bot nope" } });
  assert.equal(unauth.status, 401);
  assert.deepEqual(await unauth.json(), { message: "401: Unauthorized", code: 0 });

  // The gateway's own checks, seen from a bare WebSocket.
  const closeCode = (frames: object[]) =>
    new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`${d.gatewayUrl}?v=10&encoding=json`);
      ws.on("message", (data) => {
        const hello = JSON.parse(data.toString()) as { op: number; d: { heartbeat_interval: number } };
        if (hello.op === 10) for (const f of frames) ws.send(JSON.stringify(f));
      });
      ws.on("close", (code) => resolve(code));
      ws.on("error", reject);
    });
  const identify = (token: string, intents: number) => ({
    op: 2,
    d: { token, intents, properties: { os: "linux", browser: "test", device: "test" } },
  });
  assert.equal(await closeCode([identify("wrong", 1)]), 4004);
  assert.equal(await closeCode([identify(d.botToken, 1 << 30)]), 4013);
  assert.equal(await closeCode([identify(d.botToken, 1 << 15)]), 4014);
  assert.equal(await closeCode([{ op: 8, d: { guild_id: "1", query: "", limit: 0 } }]), 4003);
  assert.equal(await closeCode([{ op: 42, d: null }]), 4001);
  assert.equal(await closeCode([identify(d.botToken, 1), identify(d.botToken, 1)]), 4005);
  d.assertNoSpecViolations();
});

test("a 429 with Retry-After is waited out and retried by discord.js; answers carry X-RateLimit headers", async (t) => {
  const d = await double(t);
  const w = world(d);
  const client = await login(t, d);
  const channel = client.channels.cache.get(w.general) as TextChannel;
  const limited: number[] = [];
  client.rest.on("rateLimited", (info) => void limited.push(info.retryAfter));

  d.rateLimit({ route: "POST /channels/{channel_id}/messages", count: 1, retryAfterSeconds: 1 });
  const started = Date.now();
  const sent = await channel.send("after the limit");
  const waited = Date.now() - started;
  assert.ok(waited >= 950, `discord.js waited only ${waited} ms`);
  assert.deepEqual(
    d.calls("create_message").map((c) => c.status),
    [429, 200],
  );
  assert.equal(limited.length, 1);
  assert.deepEqual(
    d.messages(w.general).map((m) => m.id),
    [sent.id],
  );

  const res = await fetch(`${d.restUrl}/v10/channels/${w.general}`, {
    headers: { Authorization: `Bot ${d.botToken}` },
  });
  for (const h of [
    "x-ratelimit-bucket",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset-after",
  ]) {
    assert.ok(res.headers.get(h), `${h} missing`);
  }
  d.rateLimit({ route: "get_channel", count: 1, retryAfterSeconds: 2.5 });
  const limitedRes = await fetch(`${d.restUrl}/v10/channels/${w.general}`, {
    headers: { Authorization: `Bot ${d.botToken}` },
  });
  assert.equal(limitedRes.status, 429);
  assert.equal(limitedRes.headers.get("retry-after"), "3");
  assert.deepEqual(await limitedRes.json(), {
    message: "You are being rate limited.",
    retry_after: 2.5,
    global: false,
  });
  d.assertNoSpecViolations();
});

test("RESUME after a dropped socket replays what was missed; RECONNECT and INVALID_SESSION are followed", async (t) => {
  const d = await double(t);
  const w = world(d);
  const client = await login(t, d);
  const created = collect(client, Events.MessageCreate);
  const resumed = collect(client, Events.ShardResume);

  d.dropGatewayConnections();
  // Posted while the bot has no socket: held in its session, replayed on RESUME.
  const missed = [d.postAs(w.alice, w.general, "missed 1"), d.postAs(w.alice, w.general, "missed 2")];
  await until("replayed messages", () => missed.every((id) => created.some(([m]) => m.id === id)));
  assert.equal(resumed.length, 1);
  const [session] = d.gatewaySessions();
  assert.deepEqual(session?.history, ["identify", "resume"]);
  assert.deepEqual(session?.paths, ["/gateway", "/resume-gateway"]);
  const held = d.dispatches("MESSAGE_CREATE").filter((r) => missed.includes(String(r.d.id)));
  assert.equal(held.length, 2);
  assert.ok(held.every((r) => r.delivered));
  assert.deepEqual(
    created.map(([m]) => m.content),
    ["missed 1", "missed 2"],
    "each event exactly once",
  );

  d.requestReconnect();
  await until("second resume", () => d.gatewaySessions()[0]?.history.length === 3 && resumed.length === 2);
  d.postAs(w.alice, w.general, "after reconnect");
  await until("live again", () => created.some(([m]) => m.content === "after reconnect"));

  d.invalidateSessions(false);
  await until("a new session", () =>
    d
      .gatewaySessions()
      .some((s) => s.connected && s.history[0] === "identify" && s.sessionId !== session?.sessionId),
  );
  d.postAs(w.alice, w.general, "after re-identify");
  await until("live on the new session", () => created.some(([m]) => m.content === "after re-identify"));
  d.assertNoSpecViolations();
});

test("slash commands and buttons: INTERACTION_CREATE, reply, defer + edit, followup, update, and the 3 s window", async (t) => {
  const d = await double(t, { interactionResponseTimeoutMs: 1500 });
  const w = world(d);
  const client = await login(t, d);
  const guild = client.guilds.cache.get(w.guild)!;
  const commands = await guild.commands.set([
    {
      name: "ping",
      description: "Replies",
      options: [{ name: "text", description: "what", type: 3, required: true }],
    },
    { name: "slow", description: "Thinks first", defaultMemberPermissions: PermissionFlagsBits.SendMessages },
  ]);
  assert.deepEqual(
    [...commands.values()].map((c) => c.name),
    ["ping", "slow"],
  );
  const again = await guild.commands.set([
    { name: "ping", description: "Replies again" },
    { name: "slow", description: "Thinks" },
  ]);
  assert.equal(
    again.find((c) => c.name === "ping")?.id,
    commands.find((c) => c.name === "ping")?.id,
    "bulk overwrite keeps ids",
  );
  await guild.commands.set([
    {
      name: "ping",
      description: "Replies",
      options: [{ name: "text", description: "what", type: 3, required: true }],
    },
    { name: "slow", description: "Thinks first" },
  ]);

  client.on(Events.InteractionCreate, async (i) => {
    if (i.isChatInputCommand() && i.commandName === "ping") {
      await i.reply({
        content: `pong: ${i.options.getString("text")}`,
        components: [
          new ActionRowBuilder<ButtonBuilder>().addComponents(
            new ButtonBuilder().setCustomId("again").setLabel("Again").setStyle(ButtonStyle.Primary),
          ),
        ],
      });
      await i.followUp({ content: "just for you", ephemeral: true });
    } else if (i.isChatInputCommand() && i.commandName === "slow") {
      await i.deferReply();
      await i.editReply("done thinking");
    } else if (i.isButton()) {
      await i.update({ content: `clicked by ${i.user.username}`, components: [] });
    }
  });

  const ping = d.invokeCommand(w.alice, w.general, "ping", { text: "hello" });
  const answered = await until("reply", () => d.interaction(ping).original);
  assert.equal(answered.content, "pong: hello");
  assert.equal(answered.type, 20);
  assert.equal(answered.author.id, d.botUserId);
  assert.equal(answered.interaction_metadata?.id, ping);
  assert.equal(d.interaction(ping).responseType, 4);
  const followups = await until("followup", () => d.interaction(ping).followups[0]);
  assert.equal(followups.content, "just for you");
  assert.ok(
    !d.messages(w.general).some((m) => m.id === followups.id),
    "ephemeral messages stay out of the channel",
  );

  const click = d.clickButton(w.alice, w.general, answered.id, "again");
  await until("updated message", () => d.message(w.general, answered.id)?.content === "clicked by alice");
  assert.equal(d.interaction(click).responseType, 7);
  assert.deepEqual(d.message(w.general, answered.id)?.components, []);

  const slow = d.invokeCommand(w.alice, w.general, "slow");
  await until("edited deferred reply", () => d.interaction(slow).original?.content === "done thinking");
  assert.equal(d.interaction(slow).responseType, 5);
  assert.equal((d.interaction(slow).original!.flags & 128) === 0, true, "no longer loading");
  assert.throws(() => d.invokeCommand(w.alice, w.general, "ping"), /needs option "text"/);

  // Answering twice, or too late, fails like Discord.
  const late = d.invokeCommand(w.alice, w.general, "ping", { text: "late" });
  await until("answered", () => d.interaction(late).original);
  const { token } = d.interaction(late);
  const twice = await fetch(`${d.restUrl}/v10/interactions/${late}/${token}/callback`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ type: 4, data: { content: "again" } }),
  });
  assert.equal(((await twice.json()) as { code: number }).code, 40060);
  client.removeAllListeners(Events.InteractionCreate);
  const ignored = d.invokeCommand(w.alice, w.general, "slow");
  await new Promise((r) => setTimeout(r, 1600));
  const expired = await fetch(
    `${d.restUrl}/v10/interactions/${ignored}/${d.interaction(ignored).token}/callback`,
    {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ type: 4, data: { content: "too late" } }),
    },
  );
  assert.equal(expired.status, 404);
  assert.equal(((await expired.json()) as { code: number }).code, 10062);
  d.assertNoSpecViolations();
});
