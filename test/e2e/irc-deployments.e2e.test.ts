/**
 * IRC as real deployments meet it, end to end on the real Synapse (its default authenticated
 * media) and the ircd chosen by SWITCHBOARD_TEST_IRCD: files and long messages reach IRC as
 * links that open without a Matrix token and stop when the event is redacted; another Matrix
 * bridge's puppet of someone in the room is not bridged a second time; a flood from one IRC
 * user is cut off with one notice while the channel keeps flowing; a room admin mutes an IRC
 * user with `!irc ignore`.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { ircdKindFromEnv, startIrcd, type Ircd } from "../harness/ircd.js";
import { IrcPerson, type SeenLine } from "../harness/irc-client.js";
import { startBridgeEnvironment, type BridgeEnvironment } from "../harness/switchboard.js";
import { ircBridge } from "../harness/bridge-config.js";
import { TestMatrixClient, botSays, joinOf, type MatrixTestEvent } from "../harness/matrix-client.js";
import { until } from "../harness/wait.js";

const kind = ircdKindFromEnv();
let ircd: Ircd;
let env: BridgeEnvironment;
let alice: TestMatrixClient;
let bob: TestMatrixClient;
let carol: IrcPerson;
let room: string;
const people: IrcPerson[] = [];

const fromBot = (text: RegExp) => botSays(env.botUserId, text);
const said = (text: string) => (l: SeenLine) => l.type === "privmsg" && l.text.includes(text);
/** 1×1 PNG. */
const PNG = Buffer.from(
  "89504e470d0a1a0a0000000d4948445200000001000000010806000000" +
    "1f15c4890000000d49444154789c6360f8cf00000301010018dd8db00000000049454e44ae426082",
  "hex",
);

before(async () => {
  ircd = await startIrcd({ kind });
  env = await startBridgeEnvironment({
    bridges: { irc: ircBridge(ircd, { connect_concurrency: 8, max_lines: 6 }) },
    extraConfig: { guards: { ghost_rate_per_second: 200 } },
  });
  const a = await env.hs.registerUser("alice");
  alice = new TestMatrixClient(env.hs.url, a.accessToken, a.userId);
  const b = await env.hs.registerUser("bob");
  bob = new TestMatrixClient(env.hs.url, b.accessToken, b.userId);
  carol = await IrcPerson.connect(ircd, "carol");
  people.push(carol);
  await carol.join("#deploy");
  // A room alice administers, plumbed to #deploy; bob is in it too.
  room = await alice.createRoom({ name: "deploy", invite: [env.botUserId, bob.userId] });
  await alice.waitForEvent(room, joinOf(env.botUserId));
  await alice.sendText(room, "!link irc test #deploy");
  await alice.waitForEvent(room, fromBot(/Linked this room to IRC #deploy/));
  await bob.join(room);
});

after(async () => {
  for (const p of people) p.quit();
  await env?.cleanup();
  await ircd?.stop();
});

function linkIn(text: string): string {
  const url = /(http:\/\/\S+?)(?:>|\)|$)/.exec(text)?.[1];
  assert.ok(url, `a link in ${JSON.stringify(text)}`);
  return url;
}

/** Everything in the room so far (newest 300 events). */
async function history(): Promise<MatrixTestEvent[]> {
  const res = await alice.request<{ chunk: MatrixTestEvent[] }>(
    "GET",
    `/_matrix/client/v3/rooms/${encodeURIComponent(room)}/messages?dir=b&limit=300`,
  );
  return res.chunk;
}

describe(`IRC on real deployments (${kind})`, () => {
  test("an image and a long message reach IRC as links that open without a token, and end with a redaction", async () => {
    const mxc = await alice.upload("cat picture.png", "image/png", PNG);
    // The homeserver itself wants a token for new media: the old kind of link is a 404.
    const [server, id] = mxc.slice("mxc://".length).split("/");
    const direct = await fetch(`${env.hs.url}/_matrix/media/v3/download/${server}/${id}`);
    assert.equal(direct.status, 404, "Synapse's authenticated media is on");
    await direct.body?.cancel();

    const image = await alice.sendMessage(room, {
      msgtype: "m.image",
      body: "cat picture.png",
      url: mxc,
      info: { mimetype: "image/png", size: PNG.length },
    });
    const line = await carol.waitFor(said("cat picture.png <http"));
    const url = linkIn(line.text);
    const token = /\/media\/([A-Za-z0-9_-]+)/.exec(url)?.[1] ?? "";
    assert.ok(token.length <= 24 && token.length >= 22, `a short token (${token})`);

    const res = await fetch(url);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "image/png");
    assert.equal(res.headers.get("content-length"), String(PNG.length));
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    assert.match(res.headers.get("content-disposition") ?? "", /^inline; filename="cat picture\.png"/);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), PNG);

    const part = await fetch(url, { headers: { range: "bytes=1-3" } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get("content-range"), `bytes 1-3/${PNG.length}`);
    assert.deepEqual(Buffer.from(await part.arrayBuffer()), PNG.subarray(1, 4));

    const madeUp = url.replace(token, "A".repeat(22));
    assert.equal((await fetch(madeUp)).status, 404, "a made-up token opens nothing");
    const base = url.slice(0, url.indexOf("/media/"));
    assert.equal((await fetch(`${base}/media/${encodeURIComponent(mxc)}`)).status, 404, "no mxc by name");

    const text = Array.from({ length: 12 }, (_, i) => `line ${i} of the long one`).join("\n");
    await alice.sendText(room, text);
    const longLine = await carol.waitFor(said("(full message: http"));
    assert.match(longLine.text, /^line 0 of the long one… \(full message: /);
    const longRes = await fetch(linkIn(longLine.text));
    assert.equal(longRes.status, 200);
    assert.match(longRes.headers.get("content-disposition") ?? "", /^inline; filename="?message\.txt"?/);
    assert.equal(await longRes.text(), text);

    await alice.request(
      "PUT",
      `/_matrix/client/v3/rooms/${encodeURIComponent(room)}/redact/${encodeURIComponent(image)}/r1`,
      { reason: "wrong picture" },
    );
    await until("the redacted image's link stops working", async () => (await fetch(url)).status === 404);
  });

  test("another bridge's puppet of a member is not bridged again (told once); an ordinary [m] nick is", async () => {
    // The other bridge's puppet of bob, who is in the room: its realname is his Matrix id.
    const twin = await IrcPerson.connect(ircd, "bob_m", { realname: bob.userId });
    people.push(twin);
    await twin.join("#deploy");
    // An ordinary IRC user whose nick ends in [m]: nobody in the room is called dave.
    const dave = await IrcPerson.connect(ircd, "dave[m]", { realname: "Dave Smith" });
    people.push(dave);
    await dave.join("#deploy");

    twin.say("#deploy", "twin line one");
    twin.say("#deploy", "twin line two");
    dave.say("#deploy", "dave is real");
    const daves = await alice.waitForEvent(room, (e) => e.content.body === "dave is real");
    assert.match(daves.sender, /^@irc_test_dave/);
    carol.say("#deploy", "carol after the twin");
    await alice.waitForEvent(room, (e) => e.content.body === "carol after the twin");
    await sleep(500);

    const events = await history();
    assert.ok(
      !events.some((e) => String(e.content.body ?? "").startsWith("twin line")),
      "nothing of the twin",
    );
    const told = events.filter((e) => fromBot(/come from another Matrix bridge/)(e));
    assert.equal(told.length, 1, "the room is told once");
    assert.ok(
      !events.some((e) => e.type === "m.room.member" && e.state_key?.startsWith("@irc_test_bob_m")),
      "the twin got no ghost",
    );
  });

  test("a flood from one IRC user is cut off with one notice; the rest of the channel keeps flowing", async () => {
    const flooder = await IrcPerson.connect(ircd, "flooder");
    people.push(flooder);
    await flooder.join("#deploy");
    const started = Date.now();
    for (let i = 0; i < 200; i++) {
      flooder.say("#deploy", `flood ${i}`);
      if (i % 20 === 19) {
        carol.say("#deploy", `steady ${i}`);
        await sleep(200);
      }
    }
    const seconds = (Date.now() - started) / 1000;
    await alice.waitForEvent(room, (e) => e.content.body === "steady 199", 30_000);
    await sleep(1000);
    const events = await history();
    const floods = events.filter((e) => /^flood \d+$/.test(String(e.content.body ?? "")));
    const steady = events.filter((e) => /^steady \d+$/.test(String(e.content.body ?? "")));
    assert.equal(steady.length, 10, "every line of the others arrived");
    // Default limits: a burst of 20, then 2 a second.
    assert.ok(floods.length >= 20, `the burst passes (${floods.length})`);
    assert.ok(
      floods.length <= 20 + Math.ceil(seconds * 2) + 2,
      `the limit holds (${floods.length} in ${seconds} s)`,
    );
    const notices = events.filter((e) => fromBot(/flooder is flooding #deploy/)(e));
    assert.equal(notices.length, 1, "the room's admins are told once");
  });

  test("a room admin mutes an IRC user with !irc ignore; others may not", async () => {
    const mallory = await IrcPerson.connect(ircd, "mallory");
    people.push(mallory);
    await mallory.join("#deploy");
    await bob.sendText(room, "!irc ignore mallory");
    await alice.waitForEvent(room, fromBot(/Only a room admin can mute/));
    await alice.sendText(room, "!irc ignore mallory");
    await alice.waitForEvent(room, fromBot(/mallory's lines in #deploy are not bridged here any more/));
    mallory.say("#deploy", "muted words");
    carol.say("#deploy", "carol after the mute");
    await alice.waitForEvent(room, (e) => e.content.body === "carol after the mute");
    await sleep(500);
    assert.ok(!(await history()).some((e) => e.content.body === "muted words"), "the muted line stayed out");

    await alice.sendText(room, "!irc unignore mallory");
    await alice.waitForEvent(room, fromBot(/mallory's lines in #deploy are bridged again/));
    mallory.say("#deploy", "heard again");
    await alice.waitForEvent(room, (e) => e.content.body === "heard again");
  });
});
