import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { BridgeMetrics } from "../metrics.js";
import { ConnectionStates, type LoginStateEntry } from "./connection-states.js";

function states() {
  const changes: Array<{ entry: LoginStateEntry; previous: string | undefined }> = [];
  const metrics = new BridgeMetrics(false);
  const s = new ConnectionStates(metrics, (entry, previous) =>
    changes.push({ entry: { ...entry }, previous }),
  );
  return { s, changes, metrics };
}

describe("ConnectionStates", () => {
  test("a network is as bad as its worst connection", () => {
    const { s } = states();
    assert.equal(s.network("slack").state, "CONNECTING", "nothing reported yet");
    s.report("slack", { connection: "acme", state: "CONNECTED" });
    s.report("slack", { connection: "globex", state: "TRANSIENT_DISCONNECT", message: "reconnecting" });
    assert.equal(s.network("slack").state, "TRANSIENT_DISCONNECT");
    s.report("slack", { connection: "globex", state: "BAD_CREDENTIALS" });
    assert.equal(s.network("slack").state, "BAD_CREDENTIALS");
    s.report("slack", { connection: "globex", state: "CONNECTED" });
    assert.equal(s.network("slack").state, "CONNECTED");
  });

  test("the framework's start state gives way to what the connector reported for the whole network", () => {
    const { s } = states();
    s.reportStart("irc", "CONNECTING");
    s.report("irc", { state: "UNKNOWN_ERROR", message: "config refused" });
    s.reportStart("irc", "CONNECTED");
    assert.equal(s.network("irc").state, "UNKNOWN_ERROR");
    const { s: other } = states();
    other.reportStart("irc", "CONNECTING");
    other.report("irc", { connection: "libera", state: "CONNECTED" });
    other.reportStart("irc", "CONNECTED");
    assert.equal(other.network("irc").state, "CONNECTED");
  });

  test("a login's change is announced once per transition; repeats only update the message", () => {
    const { s, changes } = states();
    s.report("slack", { loginId: "U1", state: "CONNECTED" });
    s.report("slack", { loginId: "U1", state: "BAD_CREDENTIALS", message: "token_revoked" });
    s.report("slack", { loginId: "U1", state: "BAD_CREDENTIALS", message: "still revoked" });
    assert.deepEqual(
      changes.map((c) => [c.entry.state, c.previous]),
      [
        ["CONNECTED", undefined],
        ["BAD_CREDENTIALS", "CONNECTED"],
      ],
    );
    assert.equal(s.login("slack", "U1")?.message, "still revoked");
    assert.deepEqual(
      s.loginsOf("slack").map((l) => l.loginId),
      ["U1"],
    );
    s.forgetLogin("slack", "U1");
    assert.equal(s.login("slack", "U1"), undefined);
  });

  test("gauges: 1 for the current state only; logins counted by state", async () => {
    const { s, metrics } = states();
    s.report("irc", { connection: "libera", state: "CONNECTED" });
    s.report("irc", { connection: "libera", state: "TRANSIENT_DISCONNECT" });
    s.report("irc", { loginId: "a", state: "CONNECTED" });
    s.report("irc", { loginId: "b", state: "CONNECTED" });
    const text = await metrics.registry.metrics();
    assert.match(
      text,
      /switchboard_connection_state\{network="irc",connection="libera",state="TRANSIENT_DISCONNECT"\} 1/,
    );
    assert.match(
      text,
      /switchboard_connection_state\{network="irc",connection="libera",state="CONNECTED"\} 0/,
    );
    assert.match(text, /switchboard_logins\{network="irc",state="CONNECTED"\} 2/);
  });
});
