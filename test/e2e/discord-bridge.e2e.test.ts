/**
 * The Discord bridge end to end: the real Synapse, the bridge process, and the Discord double
 * that the real discord.js talks to. A channel's alias opens its portal in the guild's space;
 * messages, edits, deletes and reactions cross both ways; Matrix users speak through one
 * webhook per channel under their own name.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { startDiscordDouble, type DiscordDouble } from "../doubles/discord/index.js";
import { startBridgeEnvironment, type BridgeEnvironment } from "../harness/switchboard.js";
import { TestMatrixClient, botSays, type MatrixTestEvent } from "../harness/matrix-client.js";
import { until } from "../harness/wait.js";

let discord: DiscordDouble;
let env: BridgeEnvironment;
let alice: TestMatrixClient;
let bob: { id: string };
let carol: { id: string };
let guild: { id: string };
let general: string;
let room: string;

const ghost = (id: string) => `@discord_${id}:localhost`;
/** alice joins a channel's portal by its alias, which creates it. */
const joinPortal = (guildId: string, channelId: string) =>
  alice.join(`#discord_${guildId}_${channelId}:localhost`);
const relation = (e: MatrixTestEvent) => (e.content["m.relates_to"] ?? {}) as Record<string, unknown>;

before(async () => {
  discord = await startDiscordDouble({ privilegedIntents: ["MESSAGE_CONTENT", "GUILD_MEMBERS"] });
  bob = discord.addUser({ username: "bob", globalName: "Bob" });
  guild = discord.addGuild({ name: "Switchboard Test", ownerId: bob.id });
  general = discord.addChannel(guild.id, { name: "general" }).id;
  discord.updateMember(guild.id, bob.id, { nick: "Bobby" });
  carol = discord.addUser({ username: "carol", globalName: "Carol" });
  discord.addMember(guild.id, carol.id);
  env = await startBridgeEnvironment({
    bridges: {
      discord: {
        enabled: true,
        applications: [{ bot_token: discord.botToken, api_url: discord.restUrl, cdn_url: discord.cdnUrl }],
      },
    },
  });
  const a = await env.hs.registerUser("alice");
  alice = new TestMatrixClient(env.hs.url, a.accessToken, a.userId);
});

after(async () => {
  await env?.cleanup();
  discord?.assertNoSpecViolations();
  await discord?.close();
});

describe("Discord", () => {
  test("a channel's alias opens its portal in the guild's space; messages cross both ways", async () => {
    room = await joinPortal(guild.id, general);
    const state = await alice.request<MatrixTestEvent[]>(
      "GET",
      `/_matrix/client/v3/rooms/${encodeURIComponent(room)}/state`,
    );
    assert.equal(state.find((e) => e.type === "m.room.name")?.content.name, "#general");
    const parent = state.find((e) => e.type === "m.space.parent");
    assert.ok(parent, "the portal is filed in the guild's space");
    // The guild's space, named after it (its summary can be read without joining).
    const summary = await alice.request<{ rooms: Array<{ room_id: string; name?: string }> }>(
      "GET",
      `/_matrix/client/v1/rooms/${encodeURIComponent(String(parent.state_key))}/hierarchy`,
    );
    assert.equal(summary.rooms.find((r) => r.room_id === parent.state_key)?.name, "Switchboard Test");

    discord.postAs(bob.id, general, "hello **Matrix**");
    const hello = await alice.waitForEvent(
      room,
      (e) => e.type === "m.room.message" && e.content.body === "hello **Matrix**",
      20_000,
    );
    assert.equal(hello.sender, ghost(bob.id));
    assert.equal(hello.content.formatted_body, "hello <strong>Matrix</strong>");
    const profile = await alice.request<{ displayname?: string }>(
      "GET",
      `/_matrix/client/v3/profile/${encodeURIComponent(hello.sender)}`,
    );
    assert.equal(profile.displayname, "Bobby", "the guild nickname");

    await alice.sendText(room, "hi from Matrix");
    const relayed = await until("alice's message through the webhook", () =>
      discord.webhookMessages(general).find((m) => m.content === "hi from Matrix"),
    );
    assert.equal(relayed.username, "alice");
    await alice.sendText(room, "and again");
    await until("the second message", () =>
      discord.webhookMessages(general).find((m) => m.content === "and again"),
    );
    assert.equal(discord.webhooks(general).length, 1, "one webhook, reused");
    // Nothing the bridge posted came back to Matrix.
    const echoes = (await alice.timeline(room)).filter(
      (e) =>
        e.type === "m.room.message" &&
        e.sender !== alice.userId &&
        /hi from Matrix|and again/.test(String(e.content.body)),
    );
    assert.deepEqual(echoes, []);
  });

  test("edits, deletes and reactions cross both ways", async () => {
    const id = discord.postAs(bob.id, general, "first draft");
    const original = await alice.waitForEvent(room, (e) => e.content.body === "first draft", 20_000);
    discord.editAs(bob.id, general, id, "final text");
    const edit = await alice.waitForEvent(room, (e) => relation(e).rel_type === "m.replace", 20_000);
    assert.equal(relation(edit).event_id, original.event_id);
    assert.equal((edit.content["m.new_content"] as { body: string }).body, "final text");

    discord.reactAs(bob.id, general, id, "👍");
    const reaction = await alice.waitForEvent(room, (e) => e.type === "m.reaction", 20_000);
    assert.equal(relation(reaction).key, "👍");
    assert.equal(relation(reaction).event_id, original.event_id);

    // A server's own emoji arrives as its picture (MSC4027: an mxc key and its shortcode)...
    const partyPicture = Buffer.concat([Buffer.from("89504e470d0a1a0a", "hex"), randomBytes(300)]);
    const party = discord.addEmoji(guild.id, "partyblob", partyPicture);
    discord.reactAs(bob.id, general, id, `partyblob:${party.id}`);
    const custom = await alice.waitForEvent(
      room,
      (e) => e.type === "m.reaction" && e.content["com.beeper.reaction.shortcode"] === ":partyblob:",
      20_000,
    );
    assert.match(String(relation(custom).key), /^mxc:\/\//);
    assert.ok((await alice.download(String(relation(custom).key))).data.equals(partyPicture));
    // ...and alice reacting with that picture reacts with the emoji itself on Discord.
    await alice.sendMessage(
      room,
      {
        "m.relates_to": { rel_type: "m.annotation", event_id: original.event_id, key: relation(custom).key },
        "com.beeper.reaction.shortcode": ":partyblob:",
      },
      "m.reaction",
    );
    await until("the bot's custom reaction", () =>
      discord.message(general, id)?.reactions?.some((r) => r.emoji.id === party.id && r.me)
        ? true
        : undefined,
    );

    // alice reacts in Matrix: the bot reacts on Discord (webhooks cannot).
    await alice.sendMessage(
      room,
      { "m.relates_to": { rel_type: "m.annotation", event_id: original.event_id, key: "🎉" } },
      "m.reaction",
    );
    await until("the bot's reaction", () =>
      discord.message(general, id)?.reactions?.some((r) => r.emoji.name === "🎉") ? true : undefined,
    );

    // alice edits and deletes her own message: the webhook's copy follows.
    const mine = await alice.sendText(room, "typo here");
    const copy = await until("her message on Discord", () =>
      discord.webhookMessages(general).find((m) => m.content === "typo here"),
    );
    await alice.sendMessage(room, {
      msgtype: "m.text",
      body: "* no typo",
      "m.new_content": { msgtype: "m.text", body: "no typo" },
      "m.relates_to": { rel_type: "m.replace", event_id: mine },
    });
    await until("the edit on Discord", () =>
      discord.message(general, copy.id)?.content === "no typo" ? true : undefined,
    );
    await alice.request(
      "PUT",
      `/_matrix/client/v3/rooms/${encodeURIComponent(room)}/redact/${encodeURIComponent(mine)}/r${Date.now()}`,
      {},
    );
    await until("the delete on Discord", () => (discord.message(general, copy.id) ? undefined : true));

    // bob deletes his: the Matrix copy is redacted.
    discord.deleteAs(bob.id, general, id);
    const redaction = await alice.waitForEvent(
      room,
      (e) => e.type === "m.room.redaction" && (e.redacts ?? e.content.redacts) === original.event_id,
      20_000,
    );
    assert.equal(redaction.sender, ghost(bob.id));

    // A moderator purges two of carol's messages at once: both Matrix copies are redacted.
    const spam = [
      discord.postAs(carol.id, general, "spam one"),
      discord.postAs(carol.id, general, "spam two"),
    ];
    const copies = await Promise.all(
      ["spam one", "spam two"].map((body) =>
        alice.waitForEvent(room, (e) => e.content.body === body, 20_000),
      ),
    );
    discord.bulkDeleteAs(bob.id, general, spam);
    for (const c of copies)
      await alice.waitForEvent(
        room,
        (e) => e.type === "m.room.redaction" && (e.redacts ?? e.content.redacts) === c.event_id,
        20_000,
      );
  });

  test("a bot's card (a rich embed) arrives as a quote, from a ghost named as a bot; a pin is a notice", async () => {
    const ci = discord.addUser({ username: "ci", globalName: "CI", bot: true });
    discord.addMember(guild.id, ci.id);
    discord.postAs(ci.id, general, "", {
      embeds: [
        {
          title: "Build #42 passed",
          url: "https://ci.example.org/42",
          description: "all **green**",
          fields: [{ name: "Branch", value: "main" }],
          footer: { text: "took 3 min" },
        },
      ],
    });
    const card = await alice.waitForEvent(room, (e) => String(e.content.body).includes("Build #42"), 20_000);
    assert.equal(card.sender, ghost(ci.id));
    assert.match(String(card.content.body), /all \*\*green\*\*[\s\S]*Branch[\s\S]*main[\s\S]*took 3 min/);
    assert.match(
      String(card.content.formatted_body),
      /^<blockquote>.*<a href="https:\/\/ci\.example\.org\/42">Build #42 passed<\/a>.*<strong>green<\/strong>.*<\/blockquote>$/,
    );
    const profile = await alice.request(
      "GET",
      `/_matrix/client/v3/profile/${encodeURIComponent(ghost(ci.id))}/displayname`,
    );
    assert.equal((profile as { displayname?: string }).displayname, "CI (bot)");

    // bob pins the card: a notice from him in reply to it.
    const cardId = discord.messages(general).find((m) => m.author.id === ci.id)!.id;
    discord.pinAs(bob.id, general, cardId);
    const pin = await alice.waitForEvent(room, (e) => e.content.body === "Bobby pinned a message", 20_000);
    assert.equal(pin.sender, ghost(bob.id));
    assert.equal(pin.content.msgtype, "m.notice");
    assert.equal(
      (relation(pin)["m.in_reply_to"] as { event_id?: string } | undefined)?.event_id,
      card.event_id,
    );
  });

  test("replies, mentions, threads and files cross both ways", async () => {
    const question = discord.postAs(bob.id, general, "question?");
    const asked = await alice.waitForEvent(room, (e) => e.content.body === "question?", 20_000);

    // A Discord reply that mentions carol: a Matrix reply with a pill to her ghost.
    discord.postAs(bob.id, general, `ask <@${carol.id}>`, { replyTo: question });
    const reply = await alice.waitForEvent(room, (e) => String(e.content.body).includes("ask"), 20_000);
    assert.equal(
      (relation(reply)["m.in_reply_to"] as { event_id?: string } | undefined)?.event_id,
      asked.event_id,
    );
    assert.match(
      String(reply.content.formatted_body),
      new RegExp(`href="https://matrix.to/#/${ghost(carol.id)}"`),
    );

    // A Matrix reply with a pill to carol's ghost: quoted on Discord, and carol is pinged.
    await alice.sendMessage(room, {
      msgtype: "m.text",
      body: "Carol: over to you",
      format: "org.matrix.custom.html",
      formatted_body: `<a href="https://matrix.to/#/${ghost(carol.id)}">Carol</a>: over to you`,
      "m.relates_to": { "m.in_reply_to": { event_id: asked.event_id } },
    });
    const quoted = await until("the reply on Discord", () =>
      discord.webhookMessages(general).find((m) => m.content.includes("over to you")),
    );
    assert.equal(quoted.content, `> **Bobby**: question?\n<@${carol.id}>: over to you`);
    const pinged = discord
      .calls()
      .filter((c) => c.path.startsWith("/webhooks/"))
      .map(
        (c) =>
          c.body as { content?: string; allowed_mentions?: { users?: string[]; parse?: string[] } } | null,
      )
      .find((b) => b?.content?.includes("over to you"));
    assert.deepEqual(pinged?.allowed_mentions, { parse: [], users: [carol.id] });

    // A thread started on Discord from the question: its messages are a Matrix thread.
    const thread = discord.createThreadAs(bob.id, general, { name: "the question", messageId: question });
    discord.postAs(bob.id, general, "in the thread", { thread: thread.id });
    const inThread = await alice.waitForEvent(room, (e) => e.content.body === "in the thread", 20_000);
    assert.deepEqual(
      [relation(inThread).rel_type, relation(inThread).event_id],
      ["m.thread", asked.event_id],
    );
    await alice.sendMessage(room, {
      msgtype: "m.text",
      body: "thread reply from Matrix",
      "m.relates_to": {
        rel_type: "m.thread",
        event_id: asked.event_id,
        is_falling_back: true,
        "m.in_reply_to": { event_id: inThread.event_id },
      },
    });
    const threaded = await until("the Matrix thread reply on Discord", () =>
      discord.webhookMessages(general).find((m) => m.content === "thread reply from Matrix"),
    );
    assert.equal(threaded.threadId, thread.id);

    // Files: bob's image arrives with its bytes; alice's reaches Discord with hers.
    const png = Buffer.concat([Buffer.from("89504e470d0a1a0a", "hex"), randomBytes(4000)]);
    discord.postAs(bob.id, general, "", {
      attachments: [{ name: "cat.png", data: png, contentType: "image/png" }],
    });
    const image = await alice.waitForEvent(room, (e) => e.content.msgtype === "m.image", 20_000);
    assert.ok(
      (await alice.download(String(image.content.url))).data.equals(png),
      "the Matrix copy has bob's bytes",
    );

    // Stickers: a picture one is an image; an animation only Discord plays is its name.
    const wave = Buffer.concat([Buffer.from("89504e470d0a1a0a", "hex"), randomBytes(500)]);
    const waveId = discord.addSticker(guild.id, { name: "wave", image: wave }).id;
    const lottieId = discord.addSticker(guild.id, {
      name: "dance",
      image: Buffer.from("{}"),
      format: "lottie",
    }).id;
    discord.postAs(bob.id, general, "", { stickers: [waveId, lottieId] });
    const sticker = await alice.waitForEvent(room, (e) => e.content.body === "wave", 20_000);
    assert.equal(sticker.content.msgtype, "m.image");
    assert.ok((await alice.download(String(sticker.content.url))).data.equals(wave));
    await alice.waitForEvent(room, (e) => e.content.body === "[sticker: dance]", 20_000);

    const jpeg = Buffer.concat([Buffer.from("ffd8ffe0", "hex"), randomBytes(3000)]);
    const mxc = await alice.upload("photo.jpg", "image/jpeg", jpeg);
    await alice.sendMessage(room, {
      msgtype: "m.image",
      body: "photo.jpg",
      url: mxc,
      info: { mimetype: "image/jpeg" },
    });
    const posted = await until("alice's photo on Discord", () =>
      discord.messages(general).find((m) => m.attachments.some((a) => a.filename === "photo.jpg")),
    );
    const attachment = posted.attachments.find((a) => a.filename === "photo.jpg")!;
    assert.ok(discord.attachmentContent(attachment.url)?.equals(jpeg), "Discord has alice's bytes");

    // Over the server's 10 MiB upload limit: the message arrives with a link to the file.
    const big = randomBytes(10 * 1024 * 1024 + 1);
    const bigMxc = await alice.upload("dump.bin", "application/octet-stream", big);
    await alice.sendMessage(room, {
      msgtype: "m.file",
      body: "dump.bin",
      url: bigMxc,
      info: { mimetype: "application/octet-stream", size: big.length },
    });
    const linked = await until("the link to the big file on Discord", () =>
      discord.webhookMessages(general).find((m) => m.content.startsWith("dump.bin: http")),
    );
    assert.equal(discord.message(general, linked.id)?.attachments.length, 0);
    const fetched = await fetch(linked.content.slice("dump.bin: ".length));
    assert.equal(fetched.status, 200);
    assert.ok(Buffer.from(await fetched.arrayBuffer()).equals(big), "the link serves alice's bytes");
  });

  test("another Matrix bridge's webhook posting as alice is not bridged back to her room", async () => {
    const other = discord.addWebhookAs(bob.id, general, "some other bridge");
    const res = await fetch(`${discord.restUrl}/v10/webhooks/${other.id}/${other.token}?wait=true`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ content: "alice's words, bridged twice", username: `alice (${alice.userId})` }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    const notice = await alice.waitForEvent(
      room,
      (e) => e.sender === env.botUserId && /come from another Matrix bridge/.test(String(e.content.body)),
      20_000,
    );
    assert.match(String(notice.content.body), /alice \(@alice:localhost\) \(webhook\) on Discord/);
    discord.postAs(bob.id, general, "after the echo");
    await alice.waitForEvent(room, (e) => e.content.body === "after the echo", 20_000);
    const echoes = (await alice.timeline(room)).filter(
      (e) => e.content.body === "alice's words, bridged twice",
    );
    assert.deepEqual(echoes, []);
  });

  test("a thread started before its channel was bridged hangs from its root in Matrix", async () => {
    const old = discord.addChannel(guild.id, { name: "old-times" }).id;
    const root = discord.postAs(bob.id, old, "said before the bridge");
    const thread = discord.createThreadAs(bob.id, old, { name: "from way back", messageId: root });
    discord.postAs(carol.id, old, "in the thread, also before", { thread: thread.id });
    const portal = await joinPortal(guild.id, old);

    discord.postAs(carol.id, old, "a new word in the old thread", { thread: thread.id });
    const anchor = await alice.waitForEvent(
      portal,
      (e) => e.content.body === "said before the bridge",
      20_000,
    );
    const reply = await alice.waitForEvent(
      portal,
      (e) => e.content.body === "a new word in the old thread",
      20_000,
    );
    assert.deepEqual([relation(reply).rel_type, relation(reply).event_id], ["m.thread", anchor.event_id]);
    assert.equal(relation(anchor).rel_type, undefined);

    // The next one finds the root already there: it is not sent again.
    discord.postAs(bob.id, old, "and another", { thread: thread.id });
    const another = await alice.waitForEvent(portal, (e) => e.content.body === "and another", 20_000);
    assert.equal(relation(another).event_id, anchor.event_id);
    const roots = (await alice.timeline(portal)).filter((e) => e.content.body === "said before the bridge");
    assert.equal(roots.length, 1);
  });

  test("a forum is a room whose posts are Matrix threads, both ways", async () => {
    const ideas = discord.addChannel(guild.id, { name: "ideas", type: "forum" }).id;
    const joined = await joinPortal(guild.id, ideas);
    const forum = joined;
    const post = discord.createThreadAs(bob.id, ideas, {
      name: "Dark mode",
      content: "please add dark mode",
    });
    const first = await alice.waitForEvent(forum, (e) => e.content.body === "please add dark mode", 20_000);
    assert.equal(relation(first).rel_type, undefined, "a post's first message is a thread root");
    discord.postAs(bob.id, ideas, "+1 from me", { thread: post.id });
    const plusOne = await alice.waitForEvent(forum, (e) => e.content.body === "+1 from me", 20_000);
    assert.deepEqual([relation(plusOne).rel_type, relation(plusOne).event_id], ["m.thread", first.event_id]);

    // In the post's Matrix thread: into the post. Outside any thread: a new post.
    await alice.sendMessage(forum, {
      msgtype: "m.text",
      body: "on it",
      "m.relates_to": { rel_type: "m.thread", event_id: first.event_id, is_falling_back: true },
    });
    const answer = await until("the answer in the post", () =>
      discord.webhookMessages(ideas).find((m) => m.content === "on it"),
    );
    assert.equal(answer.threadId, post.id);
    await alice.sendText(forum, "offline mode too");
    const newPost = await until("a new post from Matrix", () =>
      discord.webhookMessages(ideas).find((m) => m.content === "offline mode too"),
    );
    assert.ok(newPost.threadId && newPost.threadId !== post.id);
    assert.equal(discord.channel(newPost.threadId)?.name, "offline mode too");
  });

  test("said on Discord while the bridge was killed -9: all of it arrives once, in order", async () => {
    discord.postAs(bob.id, general, "before the crash");
    await alice.waitForEvent(room, (e) => e.content.body === "before the crash", 20_000);
    await env.bridge.kill9();
    for (const n of [1, 2, 3]) discord.postAs(bob.id, general, `while away ${n}`);
    await env.bridge.restart();
    const away = async () =>
      (await alice.timeline(room))
        .filter(
          (e) =>
            e.type === "m.room.message" && /^(while away \d|before the crash)$/.test(String(e.content.body)),
        )
        .map((e) => String(e.content.body));
    await until(
      "the three missed messages",
      async () => ((await away()).length >= 4 ? true : undefined),
      30_000,
    );
    discord.postAs(bob.id, general, "live again");
    await alice.waitForEvent(room, (e) => e.content.body === "live again", 20_000);
    assert.deepEqual(await away(), ["before the crash", "while away 1", "while away 2", "while away 3"]);
  });

  test("a burst from Matrix into Discord's rate limit: every message once, in order", async () => {
    discord.rateLimit({ route: /^POST \/webhooks\//, count: 3, retryAfterSeconds: 1 });
    for (const n of [1, 2, 3, 4, 5]) await alice.sendText(room, `burst ${n}`);
    const burst = () =>
      discord
        .webhookMessages(general)
        .filter((m) => /^burst \d$/.test(m.content))
        .map((m) => m.content);
    await until("the whole burst on Discord", () => (burst().length >= 5 ? true : undefined), 30_000);
    assert.deepEqual(burst(), ["burst 1", "burst 2", "burst 3", "burst 4", "burst 5"]);
    assert.ok(discord.calls().filter((c) => c.status === 429).length >= 3, "Discord did say 429");
  });

  test("!link discord plumbs a room once someone with Manage Webhooks agrees on Discord", async () => {
    const random = discord.addChannel(guild.id, { name: "random" }).id;
    const plumbed = await alice.createRoom({ name: "Our room", invite: [env.botUserId] });
    await until("the bot joins", async () => {
      const { joined } = await alice.request<{ joined: Record<string, unknown> }>(
        "GET",
        `/_matrix/client/v3/rooms/${encodeURIComponent(plumbed)}/joined_members`,
      );
      return env.botUserId in joined;
    });
    const link = `!link discord https://discord.com/channels/${guild.id}/${random}`;
    await alice.sendText(plumbed, link);
    await alice.waitForEvent(plumbed, botSays(env.botUserId, /asked in #random on Discord/), 20_000);
    const ask = await until("the bot's question on Discord", () =>
      discord
        .messages(random)
        .find((m) => m.author.id === discord.botUserId && /wants to bridge/.test(m.content)),
    );
    // carol may not manage webhooks: her ✅ counts for nothing.
    discord.reactAs(carol.id, random, ask.id, "✅");
    await alice.sendText(plumbed, link);
    await alice.waitForEvent(plumbed, botSays(env.botUserId, /asked in #random/), 20_000);
    // bob owns the server.
    const ask2 = await until(
      "the second question",
      () =>
        discord
          .messages(random)
          .filter((m) => m.author.id === discord.botUserId && /wants to bridge/.test(m.content))[1],
    );
    discord.reactAs(bob.id, random, ask2.id, "✅");
    await until("the consent noted", () =>
      discord.messages(random).find((m) => /Allowed by Bobby/.test(m.content)),
    );
    await alice.sendText(plumbed, link);
    await alice.waitForEvent(plumbed, botSays(env.botUserId, /[Ll]inked/), 20_000);

    discord.postAs(bob.id, random, "hello plumbed room");
    await alice.waitForEvent(plumbed, (e) => e.content.body === "hello plumbed room", 20_000);
    await alice.sendText(plumbed, "hello random");
    await until("the Matrix message in #random", () =>
      discord.webhookMessages(random).find((m) => m.content === "hello random"),
    );
  });

  test("the gateway drops mid-conversation: after RESUME every message arrives once, in order", async () => {
    discord.dropGatewayConnections();
    for (const n of [1, 2, 3]) discord.postAs(bob.id, general, `during the drop ${n}`);
    const dropped = async () =>
      (await alice.timeline(room))
        .filter((e) => e.type === "m.room.message" && /^during the drop \d$/.test(String(e.content.body)))
        .map((e) => String(e.content.body));
    await until(
      "the messages after RESUME",
      async () => ((await dropped()).length >= 3 ? true : undefined),
      30_000,
    );
    discord.postAs(bob.id, general, "after the drop");
    await alice.waitForEvent(room, (e) => e.content.body === "after the drop", 20_000);
    assert.deepEqual(await dropped(), ["during the drop 1", "during the drop 2", "during the drop 3"]);
    assert.ok(
      discord.dispatches("RESUMED").length > 0 || discord.gatewaySessions().length > 0,
      "the bot came back on the gateway",
    );
  });

  test("the bot loses Manage Webhooks: the room is told why, and sending works again once it is back", async () => {
    discord.setBotPermissions(general, { deny: ["MANAGE_WEBHOOKS"] });
    const quiet = discord.addChannel(guild.id, { name: "quiet" }).id;
    discord.setBotPermissions(quiet, { deny: ["MANAGE_WEBHOOKS"] });
    const joined = await joinPortal(guild.id, quiet);
    await alice.sendText(joined, "anyone?");
    await alice.waitForEvent(
      joined,
      (e) => e.sender === env.botUserId && /Manage Webhooks/.test(String(e.content.body)),
      20_000,
    );
    // Said once, not once per message.
    await alice.sendText(joined, "still nobody?");
    await alice.sendText(joined, "hello?");
    await until("all three messages tried", () =>
      discord.calls().filter((c) => c.path === `/channels/${quiet}/webhooks` && c.status === 403).length >= 3
        ? true
        : undefined,
    );
    const told = (await alice.timeline(joined)).filter(
      (e) => e.sender === env.botUserId && /Manage Webhooks/.test(String(e.content.body)),
    );
    assert.equal(told.length, 1);
    discord.setBotPermissions(general, {});
  });

  test("a guild of 5,000 members: bridging a channel makes no Matrix users until they speak", async () => {
    const big = discord.addGuild({ name: "Big Guild", ownerId: bob.id });
    const lobby = discord.addChannel(big.id, { name: "lobby" }).id;
    const crowd: string[] = [];
    for (let i = 0; i < 5000; i++) {
      const u = discord.addUser({ username: `member${i}` });
      discord.addMember(big.id, u.id);
      crowd.push(u.id);
    }
    const joined = await joinPortal(big.id, lobby);
    discord.postAs(crowd[42]!, lobby, "first!");
    await alice.waitForEvent(joined, (e) => e.content.body === "first!", 20_000);
    const { joined: members } = await alice.request<{ joined: Record<string, unknown> }>(
      "GET",
      `/_matrix/client/v3/rooms/${encodeURIComponent(joined)}/joined_members`,
    );
    assert.deepEqual(
      Object.keys(members).filter((m) => m.startsWith("@discord_")),
      [ghost(crowd[42]!)],
      "only the member who spoke has a ghost in the room",
    );
    const looked = await fetch(
      `${env.hs.url}/_matrix/client/v3/profile/${encodeURIComponent(ghost(crowd[7]!))}`,
      { headers: { authorization: `Bearer ${alice.accessToken}` } },
    );
    assert.equal(looked.status, 404, "a silent member has no Matrix user");
  });
});

describe("Discord without the privileged intents", () => {
  test("the bot is refused (gateway close 4014): a clear log line and /health say what to enable; nothing else stops", async () => {
    const bare = await startDiscordDouble({ privilegedIntents: [] });
    const owner = bare.addUser({ username: "owner" });
    bare.addGuild({ name: "No Intents", ownerId: owner.id, systemChannel: true });
    const second = await startBridgeEnvironment({
      bridges: {
        discord: {
          enabled: true,
          applications: [{ bot_token: bare.botToken, api_url: bare.restUrl, cdn_url: bare.cdnUrl }],
        },
      },
    });
    try {
      await until("the refusal in the log", () => /MESSAGE CONTENT INTENT/.test(second.bridge.output()));
      const health = await fetch(`http://127.0.0.1:${second.bridge.metricsPort}/health`);
      const body = (await health.json()) as {
        networks: { discord: { connections: Record<string, { state: string; message?: string }> } };
      };
      const app = body.networks.discord.connections["application 1"];
      assert.equal(app?.state, "UNKNOWN_ERROR");
      assert.match(app?.message ?? "", /4014[\s\S]*enable MESSAGE CONTENT INTENT and SERVER MEMBERS INTENT/);
      // The bridge itself keeps serving Matrix.
      const a = await second.hs.registerUser("carol");
      const carolM = new TestMatrixClient(second.hs.url, a.accessToken, a.userId);
      const dm = await carolM.createRoom({ invite: [second.botUserId], is_direct: true });
      await carolM.sendText(dm, "help");
      await carolM.waitForEvent(dm, (e) => e.sender === second.botUserId, 20_000);
    } finally {
      await second.cleanup();
      await bare.close();
    }
  });
});
