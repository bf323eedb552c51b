/**
 * The IRC bridge end to end: the real Synapse, the real ircd chosen by SWITCHBOARD_TEST_IRCD,
 * real IRC clients. "A Matrix user joins #irc_test_#room and talks with an IRC user both
 * ways"; plumbing; the activation guard with real clients; membership; injection attempts;
 * and an ircd restart mid-conversation.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { ircdKindFromEnv, startIrcd, type Ircd } from "../harness/ircd.js";
import { IrcPerson, connectMany } from "../harness/irc-client.js";
import { startBridgeEnvironment, type BridgeEnvironment } from "../harness/switchboard.js";
import { ircBridge } from "../harness/bridge-config.js";
import { TestMatrixClient, botSays, joinOf } from "../harness/matrix-client.js";
import { until } from "../harness/wait.js";

const kind = ircdKindFromEnv();
let ircd: Ircd;
let env: BridgeEnvironment;
let alice: TestMatrixClient;
let carol: IrcPerson;
let room: string;
const people: IrcPerson[] = [];

const fromBot = (text: RegExp) => botSays(env.botUserId, text);

before(async () => {
  ircd = await startIrcd({ kind });
  env = await startBridgeEnvironment({
    bridges: {
      irc: ircBridge(ircd, {
        connect_concurrency: 8,
        max_lines: 6,
        // Slow first reconnect, so the test's IRC observer is back in the channel before the bridge.
        reconnect_initial_delay_ms: 8000,
      }),
    },
    extraConfig: { guards: { ghost_rate_per_second: 200 } },
  });
  const a = await env.hs.registerUser("alice");
  alice = new TestMatrixClient(env.hs.url, a.accessToken, a.userId);
  carol = await IrcPerson.connect(ircd, "carol");
  people.push(carol);
  await carol.join("#room");
});

after(async () => {
  for (const p of people) p.quit();
  await env?.cleanup();
  await ircd?.stop();
});

describe(`IRC bridge on ${kind}`, () => {
  test("joining the portal alias bridges the channel; the IRC user shows as a ghost", async () => {
    room = await alice.join("#irc_test_#room:localhost");
    carol.say("#room", "hello from irc, ünïcödé ✓");
    const msg = await alice.waitForEvent(room, (e) => e.content.body === "hello from irc, ünïcödé ✓");
    assert.equal(msg.sender, "@irc_test_carol:localhost");
  });

  test("a Matrix message reaches IRC from the user's own puppet", async () => {
    await alice.sendText(room, "hello from matrix, ünïcödé ✓");
    const line = await carol.waitFor(
      (l) => l.type === "privmsg" && l.text === "hello from matrix, ünïcödé ✓",
    );
    assert.equal(line.nick, "alice[m]");
    assert.equal(line.target.toLowerCase(), "#room");
  });

  test("emotes and notices keep their kind both ways", async () => {
    await alice.sendMessage(room, { msgtype: "m.emote", body: "waves" });
    await carol.waitFor((l) => l.type === "action" && l.nick === "alice[m]" && l.text === "waves");
    await alice.sendMessage(room, { msgtype: "m.notice", body: "a notice" });
    await carol.waitFor((l) => l.type === "notice" && l.nick === "alice[m]" && l.text === "a notice");
    carol.client.action("#room", "dances");
    const emote = await alice.waitForEvent(room, (e) => e.content.body === "dances");
    assert.equal(emote.content.msgtype, "m.emote");
    carol.client.notice("#room", "irc notice");
    const notice = await alice.waitForEvent(room, (e) => e.content.body === "irc notice");
    assert.equal(notice.content.msgtype, "m.notice");
  });

  test("colours and bold cross as HTML and back", async () => {
    carol.say("#room", "\x02bold\x02 and \x0304red\x03 text");
    const msg = await alice.waitForEvent(room, (e) => e.content.body === "bold and red text");
    assert.match(String(msg.content.formatted_body), /<(b|strong)>bold<\/(b|strong)>/);
    assert.match(String(msg.content.formatted_body), /data-mx-color="#[0-9a-fA-F]{6}"[^>]*>red</);
    await alice.sendMessage(room, {
      msgtype: "m.text",
      body: "**strong** words",
      format: "org.matrix.custom.html",
      formatted_body: "<strong>strong</strong> words",
    });
    await carol.waitFor((l) => l.type === "privmsg" && l.text === "\x02strong\x02 words");
  });

  test("a multi-line message and a >512-byte message arrive whole, in order, split on UTF-8 boundaries", async () => {
    await alice.sendText(room, "line one\nline two\nline three");
    await carol.waitFor((l) => l.text === "line three");
    const texts = carol.seen.filter((l) => l.type === "privmsg" && l.nick === "alice[m]").map((l) => l.text);
    const i = texts.indexOf("line one");
    assert.deepEqual(texts.slice(i, i + 3), ["line one", "line two", "line three"]);

    const long = Array.from({ length: 90 }, (_, n) => `wörd${n}✓`).join(" ");
    assert.ok(Buffer.byteLength(long) > 512);
    await alice.sendText(room, long);
    await carol.waitFor((l) => l.text.endsWith("wörd89✓"));
    const parts = carol.seen.filter((l) => l.type === "privmsg" && l.text.includes("wörd"));
    assert.ok(parts.length >= 2, "split into several lines");
    for (const p of parts) assert.ok(!p.text.includes("\uFFFD"), "no broken UTF-8");
    assert.equal(
      parts
        .map((p) => p.text)
        .join(" ")
        .replace(/\s+/g, " "),
      long,
    );
  });

  test("an edit goes out as a corrected line; a very long message as a link to a text file; a reply quotes", async () => {
    const original = await alice.sendText(room, "teh typo");
    await carol.waitFor((l) => l.text === "teh typo");
    await alice.sendMessage(room, {
      msgtype: "m.text",
      body: "* the typo",
      "m.new_content": { msgtype: "m.text", body: "the typo" },
      "m.relates_to": { rel_type: "m.replace", event_id: original },
    });
    await carol.waitFor((l) => l.type === "privmsg" && l.nick === "alice[m]" && l.text === "* the typo");

    await alice.sendText(room, Array.from({ length: 10 }, (_, i) => `row ${i}`).join("\n"));
    const link = await carol.waitFor((l) => l.type === "privmsg" && l.text.includes("full message:"));
    assert.match(
      link.text,
      /^row 0… \(full message: http:\/\/127\.0\.0\.1:\d+\/media\/[\w-]{22}\/message\.txt\)$/,
    );
    assert.ok(!carol.seen.some((l) => l.text === "row 9"), "not flooded line by line");

    carol.say("#room", "what time is it?");
    const question = await alice.waitForEvent(room, (e) => e.content.body === "what time is it?");
    await alice.sendMessage(room, {
      msgtype: "m.text",
      body: "> <@irc_test_carol:localhost> what time is it?\n\nnoon",
      "m.relates_to": { "m.in_reply_to": { event_id: question.event_id } },
    });
    await carol.waitFor((l) => l.type === "privmsg" && l.text === 'carol: "what time is it?" <- noon');
  });

  test("CR/LF in a message or a display name send nothing but the intended line", async () => {
    const spy = await IrcPerson.connect(ircd, "spy");
    people.push(spy);
    await spy.join("#other");
    await alice.sendText(room, "hi\r\nPRIVMSG #other :pwned\r\nQUIT :bye");
    await carol.waitFor((l) => l.text.includes("pwned"));
    const mallory = await env.hs.registerUser("mallory");
    const mal = new TestMatrixClient(env.hs.url, mallory.accessToken, mallory.userId);
    await mal.request("PUT", `/_matrix/client/v3/profile/${encodeURIComponent(mallory.userId)}/displayname`, {
      displayname: "evil\r\nPRIVMSG #other :pwned2\r\n",
    });
    await mal.join(room);
    await mal.sendText(room, "mallory speaks");
    const line = await carol.waitFor((l) => l.text === "mallory speaks");
    assert.match(line.nick, /^[A-Za-z[\]\\`_^{|}][A-Za-z0-9[\]\\`_^{|}-]*$/);
    await sleep(1000);
    assert.ok(
      !spy.seen.some((l) => l.type === "privmsg" && l.target.toLowerCase() === "#other"),
      "nothing reached #other",
    );
    assert.ok(
      carol.seen.some((l) => l.nick === "alice[m]"),
      "alice's puppet is still connected (no QUIT injected)",
    );
  });

  test("IRC joins, parts and nick changes show in Matrix; a Matrix join makes a puppet join", async () => {
    const dave = await IrcPerson.connect(ircd, "dave");
    people.push(dave);
    await dave.join("#room");
    await alice.waitForEvent(
      room,
      (e) =>
        e.type === "m.room.member" &&
        e.state_key === "@irc_test_dave:localhost" &&
        e.content.membership === "join",
    );
    dave.client.changeNick("dave2");
    await alice.waitForEvent(
      room,
      (e) =>
        e.type === "m.room.member" &&
        e.state_key === "@irc_test_dave2:localhost" &&
        e.content.membership === "join",
    );
    await alice.waitForEvent(
      room,
      (e) =>
        e.type === "m.room.member" &&
        e.state_key === "@irc_test_dave:localhost" &&
        e.content.membership === "leave",
    );
    dave.client.part("#room", "later");
    await alice.waitForEvent(
      room,
      (e) =>
        e.type === "m.room.member" &&
        e.state_key === "@irc_test_dave2:localhost" &&
        e.content.membership === "leave",
    );

    const erin = await env.hs.registerUser("erin");
    await new TestMatrixClient(env.hs.url, erin.accessToken, erin.userId).join(room);
    await carol.waitFor((l) => l.type === "join" && l.nick === "erin[m]");
  });

  test("an IRC channel operator's ghost gets the configured power level, and loses it with -o", async () => {
    const oper = await IrcPerson.connect(ircd, "oper");
    people.push(oper);
    await oper.join("#room");
    await alice.waitForEvent(
      room,
      (e) => e.type === "m.room.member" && e.state_key === "@irc_test_oper:localhost",
    );
    // carol created #room, so she is its operator.
    carol.client.raw("MODE", "#room", "+o", "oper");
    const levels = async () =>
      (
        await alice.request<{ users?: Record<string, number> }>(
          "GET",
          `/_matrix/client/v3/rooms/${encodeURIComponent(room)}/state/m.room.power_levels/`,
        )
      ).users ?? {};
    await until(
      "oper's ghost at power level 50",
      async () => (await levels())["@irc_test_oper:localhost"] === 50,
    );
    carol.client.raw("MODE", "#room", "-o", "oper");
    await until(
      "oper's ghost back to the default",
      async () => (await levels())["@irc_test_oper:localhost"] === undefined,
    );
  });

  test("plumbing: a room admin links a room, a non-admin cannot", async () => {
    await carol.join("#plumbed");
    const frank = await env.hs.registerUser("frank");
    const fr = new TestMatrixClient(env.hs.url, frank.accessToken, frank.userId);
    const plumbed = await alice.createRoom({ name: "Plumbed", invite: [env.botUserId, frank.userId] });
    await fr.join(plumbed);
    await alice.waitForEvent(plumbed, joinOf(env.botUserId));
    await fr.sendText(plumbed, "!link irc test #plumbed");
    await alice.waitForEvent(plumbed, fromBot(/Only a room admin/));
    await alice.sendText(plumbed, "!link irc test #plumbed");
    await alice.waitForEvent(plumbed, fromBot(/Linked this room to IRC #plumbed/));
    carol.say("#plumbed", "into the plumbed room");
    await alice.waitForEvent(plumbed, (e) => e.content.body === "into the plumbed room");
  });

  test("private messages: an IRC user's PM opens a DM portal; `irc msg` and inviting a ghost start one from Matrix", async () => {
    carol.say("alice[m]", "psst alice");
    const invite = await until("the DM invite", async () => {
      await alice.syncOnce(500);
      return [...alice.invites][0];
    });
    const dm = await alice.join(invite);
    const pm = await alice.waitForEvent(dm, (e) => e.content.body === "psst alice");
    assert.equal(pm.sender, "@irc_test_carol:localhost");
    await alice.sendText(dm, "hi carol, privately");
    await carol.waitFor(
      (l) => l.type === "privmsg" && l.target === "carol" && l.text === "hi carol, privately",
    );

    const mgmt = await alice.createRoom({
      is_direct: true,
      invite: [env.botUserId],
      preset: "trusted_private_chat",
    });
    await alice.waitForEvent(mgmt, fromBot(/Say `help`/));
    const dave = await IrcPerson.connect(ircd, "davepm");
    people.push(dave);
    await alice.sendText(mgmt, "irc msg test davepm hello dave");
    await alice.waitForEvent(mgmt, fromBot(/Your private chat with davepm/));
    await dave.waitFor((l) => l.type === "privmsg" && l.nick === "alice[m]" && l.text === "hello dave");

    // Inviting a ghost to a DM starts one too (a user without a DM yet: a second invite is declined).
    const ezra = await IrcPerson.connect(ircd, "ezra");
    people.push(ezra);
    const ghostDm = await alice.createRoom({
      is_direct: true,
      invite: ["@irc_test_ezra:localhost"],
      preset: "trusted_private_chat",
    });
    await alice.waitForEvent(
      ghostDm,
      (e) =>
        e.type === "m.room.member" &&
        e.state_key === "@irc_test_ezra:localhost" &&
        e.content.membership === "join",
    );
    await alice.sendText(ghostDm, "hello ezra");
    await ezra.waitFor((l) => l.type === "privmsg" && l.nick === "alice[m]" && l.text === "hello ezra");
    ezra.say("alice[m]", "reply to the invite");
    await alice.waitForEvent(ghostDm, (e) => e.content.body === "reply to the invite");
  });

  test("the activation guard holds a channel of 101 IRC users new to the bridge and lets 99 through", async () => {
    people.push(
      ...(await connectMany(
        ircd,
        Array.from({ length: 101 }, (_, i) => `big${i}`),
        "#big",
      )),
    );
    people.push(
      ...(await connectMany(
        ircd,
        Array.from({ length: 99 }, (_, i) => `small${i}`),
        "#small",
      )),
    );
    const big = await alice.join("#irc_test_#big:localhost");
    await alice.waitForEvent(big, fromBot(/has 101 members, 101 of them new/));
    const small = await alice.join("#irc_test_#small:localhost");
    people.find((p) => p.nick === "small5")?.say("#small", "small channel is live");
    await alice.waitForEvent(small, (e) => e.content.body === "small channel is live");
  });

  test("the ircd restarts mid-conversation: the bridge reconnects and delivers what was sent meanwhile", async () => {
    await ircd.restart(async () => {
      await alice.sendText(room, "sent while IRC was restarting");
      await sleep(1000);
    });
    const back = await IrcPerson.connect(ircd, "carolback");
    people.push(back);
    await back.join("#room");
    await back.waitFor((l) => l.type === "privmsg" && l.text === "sent while IRC was restarting", 60_000);
    // IRC keeps no history: speak once the bridge's listener has rejoined, or nobody hears it.
    await until(
      "the bridge bot back in #room",
      async () => (await back.names("#room")).some((n) => n.replace(/^[@+%]/, "") === "sbbot"),
      60_000,
    );
    back.say("#room", "irc is back");
    await alice.waitForEvent(room, (e) => e.content.body === "irc is back", 30_000);
  });
});
