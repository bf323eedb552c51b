import { test } from "node:test";
import assert from "node:assert/strict";
import { splitCommand } from "./commands.js";
import { Permissions } from "./permissions.js";

test("command lines split on spaces but keep quoted words whole", () => {
  assert.deepEqual(splitCommand('  link irc "#my chan"  x '), ["link", "irc", "#my chan", "x"]);
  assert.deepEqual(splitCommand("login slack 'a b' \"\""), ["login", "slack", "a b", ""]);
  assert.deepEqual(splitCommand(""), []);
});

test("the most specific permission wins and admins are admins", () => {
  const p = new Permissions({ "*": "relay", "example.org": "user", "@bad:example.org": "block" }, [
    "@boss:other.org",
  ]);
  assert.equal(p.of("@alice:example.org"), "user");
  assert.equal(p.of("@bad:example.org"), "block");
  assert.equal(p.of("@eve:elsewhere.net"), "relay");
  assert.equal(p.of("@boss:other.org"), "admin");
  assert.ok(p.allows("@alice:example.org", "relay"));
  assert.ok(!p.allows("@eve:elsewhere.net", "user"));
  assert.equal(new Permissions({}, []).of("@x:y"), "block");
});
