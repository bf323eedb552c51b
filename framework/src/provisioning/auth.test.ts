import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { describe, test } from "node:test";
import { Authenticator } from "./auth.js";
import { ApiError } from "./http.js";

const SECRET = "a-shared-secret-of-some-length";

/** A homeserver that knows one access token and one OpenID token, counting the questions. */
function homeserver(): { fetch: typeof fetch; asked: string[] } {
  const asked: string[] = [];
  const fake = (async (input: URL | string, init?: RequestInit) => {
    const url = new URL(String(input));
    asked.push(url.pathname);
    const auth = new Headers(init?.headers).get("authorization");
    if (url.pathname.endsWith("/account/whoami"))
      return auth === "Bearer good"
        ? Response.json({ user_id: "@alice:example.org" })
        : Response.json({ errcode: "M_UNKNOWN_TOKEN" }, { status: 401 });
    if (url.pathname.endsWith("/openid/userinfo"))
      return url.searchParams.get("access_token") === "oid"
        ? Response.json({ sub: "@bob:example.org" })
        : Response.json({ errcode: "M_UNKNOWN_TOKEN" }, { status: 401 });
    return new Response("", { status: 404 });
  }) as typeof fetch;
  return { fetch: fake, asked };
}

const request = (token?: string): IncomingMessage =>
  ({ headers: token === undefined ? {} : { authorization: `Bearer ${token}` } }) as IncomingMessage;

async function status(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 200;
  } catch (err) {
    assert.ok(err instanceof ApiError, String(err));
    return err.status;
  }
}

describe("provisioning authentication", () => {
  test("the shared secret names its user with user_id; a near miss is not the secret", async () => {
    const hs = homeserver();
    const auth = new Authenticator({
      homeserverUrl: "http://hs",
      sharedSecret: SECRET,
      cacheSeconds: 60,
      fetch: hs.fetch,
    });
    const url = new URL("http://x/?user_id=@carol:example.org");
    assert.deepEqual(await auth.authenticate(request(SECRET), url), {
      userId: "@carol:example.org",
      via: "shared_secret",
    });
    assert.equal(await status(auth.authenticate(request(SECRET), new URL("http://x/"))), 400);
    assert.equal(await status(auth.authenticate(request(`${SECRET}x`), url)), 403);
    assert.equal(await status(auth.authenticate(request(), url)), 401);
  });

  test("an access token is asked about once per cache period; a rejected one is asked about again", async () => {
    const hs = homeserver();
    const auth = new Authenticator({ homeserverUrl: "http://hs", cacheSeconds: 60, fetch: hs.fetch });
    const url = new URL("http://x/");
    for (let i = 0; i < 3; i++)
      assert.equal((await auth.authenticate(request("good"), url)).userId, "@alice:example.org");
    assert.equal(hs.asked.length, 1);
    assert.equal(await status(auth.authenticate(request("bad"), url)), 403);
    assert.equal(await status(auth.authenticate(request("bad"), url)), 403);
    assert.equal(hs.asked.length, 3);
    // Without a shared secret configured, the secret is just a wrong token.
    assert.equal(
      await status(auth.authenticate(request(SECRET), new URL("http://x/?user_id=@c:example.org"))),
      403,
    );
  });

  test("a token cannot speak for another user; OpenID tokens are checked with userinfo", async () => {
    const hs = homeserver();
    const auth = new Authenticator({ homeserverUrl: "http://hs", cacheSeconds: 0, fetch: hs.fetch });
    assert.equal(
      await status(auth.authenticate(request("good"), new URL("http://x/?user_id=@bob:example.org"))),
      403,
    );
    assert.deepEqual(await auth.authenticate(request("openid:oid"), new URL("http://x/")), {
      userId: "@bob:example.org",
      via: "openid",
    });
    assert.equal(await status(auth.authenticate(request("openid:nope"), new URL("http://x/"))), 403);
  });
});
