import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pino } from "pino";
import { Value } from "@sinclair/typebox/value";
import { IrcNetworkSchema, type IrcNetworkConfig } from "./config.js";
import { ConnectLimiter, ServerReachability } from "./pacing.js";
import { PuppetPool } from "./puppets.js";

function pool(overrides: Partial<IrcNetworkConfig>): PuppetPool {
  const defaults = Value.Default(IrcNetworkSchema, { host: "irc.invalid" }) as IrcNetworkConfig;
  const config: IrcNetworkConfig = { ...defaults, ...overrides };
  return new PuppetPool({
    network: "libera",
    config,
    ctx: { kvGet: async () => null, kvSet: async () => {} },
    log: pino({ level: "silent" }),
    limiter: new ConnectLimiter(1),
    server: new ServerReachability(),
    lower: (s) => s.toLowerCase(),
    keyFor: () => undefined,
    passwordFor: async () => null,
    nickFor: async () => null,
    onConnection: () => {},
  });
}

describe("PuppetPool.mayHave (whether the framework gets an implicit login for a user)", () => {
  it("says no to excluded users and past max_clients, without connecting anything", () => {
    const p = pool({ excluded_users: ["^@bot-.*:example\\.org$"], max_clients: 5 });
    assert.equal(p.mayHave("@alice:example.org"), true);
    assert.equal(p.mayHave("@bot-x:example.org"), false);
    assert.equal(pool({ max_clients: 0 }).mayHave("@alice:example.org"), false);
    assert.equal(p.size, 0);
  });

  it("names the config key of an excluded_users entry that is not a regular expression", () => {
    assert.throws(
      () => pool({ excluded_users: ["(unclosed"] }),
      /networks\.libera\.excluded_users: "\(unclosed"/,
    );
  });
});
