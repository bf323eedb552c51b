/**
 * Smoke test of the real-ircd harness: two ordinary IRC clients talk through the server chosen by
 * SWITCHBOARD_TEST_IRCD. If this fails, every bridge e2e suite built on the harness will too.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Client, type ClientEvents, type MessageEvent } from "irc-framework";
import { ircdKindFromEnv, startIrcd, type Ircd } from "../harness/ircd.js";

const kind = ircdKindFromEnv();
const TIMEOUT_MS = 10_000;
// Lower case, so it compares equal to what every server echoes back whatever its casemapping.
const CHANNEL = `#sb-smoke-${process.pid}`;

describe(`IRC smoke test against ${kind}`, () => {
  let ircd: Ircd | undefined;
  let startupMs = 0;
  const clients: Client[] = [];
  let alice: Client;
  let bob: Client;

  before(async () => {
    const started = performance.now();
    ircd = await startIrcd({ kind });
    startupMs = Math.round(performance.now() - started);
    const suffix = Math.floor(Math.random() * 1e4);
    [alice, bob] = await Promise.all([
      connectClient(ircd, `sbAlice${suffix}`, clients),
      connectClient(ircd, `sbBob${suffix}`, clients),
    ]);
    await Promise.all([joinChannel(alice, CHANNEL), joinChannel(bob, CHANNEL)]);
  });

  after(async () => {
    await Promise.allSettled(clients.map((client) => disconnect(client)));
    await ircd?.stop();
  });

  it("starts the server on loopback and registers clients under their own nicks", (t) => {
    t.diagnostic(`${kind} accepted registrations ${startupMs} ms after startIrcd() was called`);
    assert.equal(ircd?.host, "127.0.0.1");
    assert.ok(ircd.port > 0);
    assert.match(alice.user.nick, /^sbAlice\d+$/);
    assert.match(bob.user.nick, /^sbBob\d+$/);
  });

  it("advertises the limits the harness reports", () => {
    const advertised = alice.network.options;
    assert.equal(advertised.NICKLEN, String(ircd?.limits.nickLength));
    assert.equal(advertised.CHANNELLEN, String(ircd?.limits.channelLength));
    assert.equal(advertised.NETWORK, ircd?.networkName);
  });

  it("delivers a channel message from alice to bob", async () => {
    await assertDelivered(alice, bob, CHANNEL, "hello from alice");
  });

  it("delivers a channel message from bob to alice", async () => {
    await assertDelivered(bob, alice, CHANNEL, "hello back from bob");
  });

  it("delivers non-ASCII text unchanged", async () => {
    await assertDelivered(alice, bob, CHANNEL, "Grüße aus Köln — 你好, мир! 👋🏽 ça va?");
  });

  it("delivers a private message to the recipient's nick", async () => {
    await assertDelivered(bob, alice, alice.user.nick, "just between us");
  });
});

/** Sends `text` to `target` and checks the next PRIVMSG `receiver` sees there is exactly it. */
async function assertDelivered(
  sender: Client,
  receiver: Client,
  target: string,
  text: string,
): Promise<void> {
  const received = nextEvent(
    receiver,
    "privmsg",
    `a PRIVMSG to ${target}`,
    (event) => event.target.toLowerCase() === target.toLowerCase(),
  );
  sender.say(target, text);
  const [event]: [MessageEvent] = await received;
  assert.equal(event.message, text);
  assert.equal(event.nick, sender.user.nick);
  assert.equal(event.from_server, false);
}

async function connectClient(ircd: Ircd, nick: string, clients: Client[]): Promise<Client> {
  const client = new Client();
  clients.push(client);
  const registered = nextEvent(client, "registered", `${nick} to register`);
  const closed = nextEvent(client, "close", `${nick} to stay connected`);
  client.connect({
    host: ircd.host,
    port: ircd.port,
    nick,
    username: "smoke",
    gecos: "smoke test",
    auto_reconnect: false,
  });
  await Promise.race([
    registered,
    closed.then(() => Promise.reject(new Error(`${nick} was disconnected before registering`))),
  ]);
  // Keep the pending close promise from becoming an unhandled rejection if it times out later.
  closed.catch(() => undefined);
  return client;
}

async function joinChannel(client: Client, channel: string): Promise<void> {
  const joined = nextEvent(
    client,
    "join",
    `${client.user.nick} to join ${channel}`,
    (event) => event.nick === client.user.nick && event.channel.toLowerCase() === channel,
  );
  client.join(channel);
  await joined;
}

async function disconnect(client: Client): Promise<void> {
  const closed = nextEvent(client, "close", "the connection to close");
  client.quit("smoke test done");
  await closed;
}

/** The next `event` from `client` that passes `accept`; rejects after TIMEOUT_MS instead of hanging. */
function nextEvent<E extends keyof ClientEvents>(
  client: Client,
  event: E,
  description: string,
  accept: (...args: ClientEvents[E]) => boolean = () => true,
): Promise<ClientEvents[E]> {
  return new Promise((resolve, reject) => {
    const listener = (...args: ClientEvents[E]) => {
      if (!accept(...args)) return;
      clearTimeout(timer);
      client.off(event, listener);
      resolve(args);
    };
    const timer = setTimeout(() => {
      client.off(event, listener);
      reject(new Error(`timed out after ${TIMEOUT_MS} ms waiting for ${description}`));
    }, TIMEOUT_MS);
    client.on(event, listener);
  });
}
