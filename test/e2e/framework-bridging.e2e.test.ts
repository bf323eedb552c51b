/**
 * The framework end to end, on the real Synapse with the reference connector:
 * "a Matrix user joins #reference_general and talks with people on the toy network both
 * ways", with formatting, replies, edits, redactions, reactions, media and emotes.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { ToyNetwork } from "../reference/toy-network.js";
import { startBridgeEnvironment, type BridgeEnvironment } from "../harness/switchboard.js";
import { until } from "../harness/wait.js";
import { TestMatrixClient, type MatrixTestEvent } from "../harness/matrix-client.js";

let env: BridgeEnvironment;
let toy: ToyNetwork;
let alice: TestMatrixClient;
let roomId: string;

before(async () => {
  toy = new ToyNetwork();
  await toy.listen();
  toy.addUser("bob", "Bob Remote");
  toy.addChannel("general", "General", "All things general", ["bob"]);
  env = await startBridgeEnvironment({
    bridges: { reference: { enabled: true, url: toy.url, token: toy.bridgeToken } },
  });
  const user = await env.hs.registerUser("alice");
  alice = new TestMatrixClient(env.hs.url, user.accessToken, user.userId);
});

after(async () => {
  await env?.cleanup();
  await toy?.close();
});

describe("portal rooms", () => {
  test("joining the alias creates the portal with the channel's name, topic and bridge info", async () => {
    roomId = await alice.join("#reference_general:localhost");
    const name = await alice.request<{ name: string }>(
      "GET",
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.name/`,
    );
    assert.equal(name.name, "General");
    const topic = await alice.request<{ topic: string }>(
      "GET",
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.topic/`,
    );
    assert.equal(topic.topic, "All things general");
    const bridge = await alice.request<{ protocol: { id: string }; bridgebot: string }>(
      "GET",
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.bridge/${encodeURIComponent("reference/general")}`,
    );
    assert.equal(bridge.protocol.id, "reference");
    assert.equal(bridge.bridgebot, env.botUserId);
  });

  test("a remote message arrives from the sender's ghost with the remote timestamp", async () => {
    const ts = Date.now() - 60_000;
    toy.post("bob", "general", "hello from the toy network", {
      ts,
      html: "hello from the <b>toy</b> network",
    });
    const event = await alice.waitForEvent(
      roomId,
      (e) => e.type === "m.room.message" && e.content.body === "hello from the toy network",
    );
    assert.equal(event.sender, "@reference_bob:localhost");
    assert.equal(event.origin_server_ts, ts);
    assert.equal(event.content.formatted_body, "hello from the <b>toy</b> network");
  });

  test("a Matrix message is relayed to the channel with the sender's name and formatting", async () => {
    await alice.sendMessage(roomId, {
      msgtype: "m.text",
      body: "hi **bob**",
      format: "org.matrix.custom.html",
      formatted_body: 'hi <strong>bob</strong><img src="x" onerror="alert(1)">',
    });
    const sent = await until("the relayed message", () =>
      toy.channelMessages("general").find((m) => m.text.startsWith("hi ")),
    );
    assert.equal(sent.sender, "bridge");
    assert.equal(sent.relayName, "alice");
    assert.equal(sent.text, "hi bob");
    assert.ok(sent.html?.includes("<strong>bob</strong>"));
    assert.ok(!sent.html?.includes("onerror"), "HTML from Matrix is sanitized before it leaves");
  });

  test("replies, edits, reactions and redactions cross both ways", async () => {
    // Remote → Matrix
    const original = toy.post("bob", "general", "original remote text");
    const origEvent = await alice.waitForEvent(roomId, (e) => e.content.body === "original remote text");
    toy.post("bob", "general", "a remote reply", { replyTo: original.id });
    const reply = await alice.waitForEvent(roomId, (e) => e.content.body === "a remote reply");
    assert.deepEqual((reply.content["m.relates_to"] as Record<string, unknown>)["m.in_reply_to"], {
      event_id: origEvent.event_id,
    });
    toy.edit("bob", original.id, "edited remote text");
    const edit = await alice.waitForEvent(
      roomId,
      (e) => (e.content["m.new_content"] as { body?: string } | undefined)?.body === "edited remote text",
    );
    assert.deepEqual(edit.content["m.relates_to"], { rel_type: "m.replace", event_id: origEvent.event_id });
    toy.react("bob", original.id, "👍");
    const reaction = await alice.waitForEvent(roomId, (e) => e.type === "m.reaction");
    assert.deepEqual(reaction.content["m.relates_to"], {
      rel_type: "m.annotation",
      event_id: origEvent.event_id,
      key: "👍",
    });
    toy.remove("bob", original.id);
    await alice.waitForEvent(
      roomId,
      (e) =>
        e.type === "m.room.redaction" &&
        (e as MatrixTestEvent & { redacts?: string }).redacts === origEvent.event_id,
    );

    // Matrix → remote
    const mine = await alice.sendText(roomId, "matrix original");
    const remote = await until("the Matrix original on the toy network", () =>
      toy.channelMessages("general").find((m) => m.text === "matrix original"),
    );
    await alice.sendMessage(roomId, {
      msgtype: "m.text",
      body: "matrix reply",
      "m.relates_to": { "m.in_reply_to": { event_id: mine } },
    });
    const remoteReply = await until("the reply", () =>
      toy.channelMessages("general").find((m) => m.text === "matrix reply"),
    );
    assert.equal(remoteReply.replyTo, remote.id);
    await alice.sendMessage(roomId, {
      msgtype: "m.text",
      body: "* matrix edited",
      "m.new_content": { msgtype: "m.text", body: "matrix edited" },
      "m.relates_to": { rel_type: "m.replace", event_id: mine },
    });
    await until("the edit", () => toy.messages.get(remote.id)?.text === "matrix edited");
    await alice.sendMessage(
      roomId,
      { "m.relates_to": { rel_type: "m.annotation", event_id: mine, key: "🎉" } },
      "m.reaction",
    );
    await until("the reaction", () => toy.reactions.get(remote.id)?.has("bridge\0🎉"));
    await alice.request(
      "PUT",
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/redact/${encodeURIComponent(mine)}/r1`,
      {},
    );
    await until("the delete", () => toy.messages.get(remote.id)?.deleted === true);
  });

  test("an edit, a reaction and a reply right behind their message find it", async () => {
    // Posted in one go, they reach the bridge in one poll and run back to back in the chat's
    // queue: each looks the original up while its mapping is still being written.
    const original = toy.post("bob", "general", "burst original");
    toy.edit("bob", original.id, "burst edited");
    toy.react("bob", original.id, "🚀");
    toy.post("bob", "general", "burst reply", { replyTo: original.id });
    // The chat's order is kept, so the reply comes last.
    const seen: MatrixTestEvent[] = [];
    await alice.waitForEvent(roomId, (e) => seen.push(e) > 0 && e.content.body === "burst reply");
    const origEvent = seen.find((e) => e.content.body === "burst original");
    assert.ok(origEvent, "the original arrived");
    const edit = seen.find(
      (e) => (e.content["m.new_content"] as { body?: string } | undefined)?.body === "burst edited",
    );
    assert.deepEqual(edit?.content["m.relates_to"], { rel_type: "m.replace", event_id: origEvent.event_id });
    const reaction = seen.find(
      (e) => e.type === "m.reaction" && (e.content["m.relates_to"] as { key?: string }).key === "🚀",
    );
    assert.deepEqual(reaction?.content["m.relates_to"], {
      rel_type: "m.annotation",
      event_id: origEvent.event_id,
      key: "🚀",
    });
    const reply = seen.find((e) => e.content.body === "burst reply");
    assert.deepEqual((reply?.content["m.relates_to"] as Record<string, unknown>)["m.in_reply_to"], {
      event_id: origEvent.event_id,
    });
  });

  test("emotes and notices keep their kind; media crosses both ways", async () => {
    await alice.sendMessage(roomId, { msgtype: "m.emote", body: "waves" });
    const emote = await until("the emote", () =>
      toy.channelMessages("general").find((m) => m.kind === "emote"),
    );
    assert.equal(emote.text, "* alice waves");
    toy.post("bob", "general", "is thinking", { kind: "emote" });
    const remoteEmote = await alice.waitForEvent(roomId, (e) => e.content.body === "is thinking");
    assert.equal(remoteEmote.content.msgtype, "m.emote");

    const bytes = Buffer.from("file contents from matrix");
    const res = await fetch(`${env.hs.url}/_matrix/media/v3/upload?filename=notes.txt`, {
      method: "POST",
      headers: { authorization: `Bearer ${alice.accessToken}`, "content-type": "text/plain" },
      body: bytes,
    });
    const { content_uri } = (await res.json()) as { content_uri: string };
    await alice.sendMessage(roomId, {
      msgtype: "m.file",
      body: "notes.txt",
      url: content_uri,
      info: { mimetype: "text/plain", size: bytes.length },
    });
    const fileMsg = await until("the file", () =>
      toy.channelMessages("general").find((m) => m.file?.name === "notes.txt"),
    );
    assert.equal(toy.files.get(fileMsg.file?.id ?? "")?.data.toString(), "file contents from matrix");

    toy.files.set("fimg", { name: "pic.png", mimetype: "image/png", data: Buffer.from("not really a png") });
    toy.post("bob", "general", "pic.png", {
      file: { id: "fimg", name: "pic.png", mimetype: "image/png" },
      kind: "file",
    });
    const image = await alice.waitForEvent(roomId, (e) => e.content.msgtype === "m.image");
    assert.match(String(image.content.url), /^mxc:\/\//);
    const mxc = String(image.content.url).slice(6);
    const dl = await fetch(`${env.hs.url}/_matrix/client/v1/media/download/${mxc}`, {
      headers: { authorization: `Bearer ${alice.accessToken}` },
    });
    assert.equal(Buffer.from(await dl.arrayBuffer()).toString(), "not really a png");
  });
});
