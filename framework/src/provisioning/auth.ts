/**
 * Who is calling the provisioning API. Three ways in, as mautrix's provisioning API has them:
 * - the shared secret (integration managers), which names the user in `?user_id=`;
 * - a Matrix access token, which the homeserver vouches for (`/account/whoami`);
 * - an OpenID token (`Bearer openid:<token>`), for widgets that have no access token to give.
 * Tokens the homeserver vouched for are remembered briefly (by their hash, never the token) so a
 * page of calls is one whoami, not twenty; a rejected token is not remembered, so a fixed one works.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { ApiError } from "./http.js";

export interface Caller {
  userId: string;
  via: "shared_secret" | "access_token" | "openid" | "session";
}

const USER_ID = /^@[^:\s]+:[^\s]+$/;
/** Remembered tokens; a bound so a flood of distinct tokens cannot grow the map without end. */
const MAX_REMEMBERED = 1000;

const digest = (text: string): Buffer => createHash("sha256").update(text).digest();

export class Authenticator {
  private readonly secretHash: Buffer | null;
  private readonly remembered = new Map<string, { userId: string; until: number }>();

  constructor(
    private readonly opts: {
      homeserverUrl: string;
      sharedSecret?: string;
      cacheSeconds: number;
      /** The homeserver lookups (tests can count them); default: fetch. */
      fetch?: typeof fetch;
    },
  ) {
    this.secretHash = opts.sharedSecret ? digest(opts.sharedSecret) : null;
  }

  /** The caller of `req`, or an ApiError: 401 without a token, 403 for one that is not good. */
  async authenticate(req: IncomingMessage, url: URL): Promise<Caller> {
    const header = req.headers.authorization;
    const token = header?.startsWith("Bearer ") ? header.slice(7).trim() : "";
    if (token === "") throw new ApiError(401, "M_MISSING_TOKEN", "an Authorization: Bearer token is needed");
    const asUser = url.searchParams.get("user_id");
    // Both sides hashed to one length first: timingSafeEqual reveals nothing, not even the length.
    if (this.secretHash && timingSafeEqual(digest(token), this.secretHash)) {
      if (!asUser || !USER_ID.test(asUser))
        throw new ApiError(
          400,
          "M_INVALID_PARAM",
          "with the shared secret, ?user_id=@user:server names the user",
        );
      return { userId: asUser, via: "shared_secret" };
    }
    const caller = await this.vouched(token);
    if (asUser && asUser !== caller.userId)
      throw new ApiError(
        403,
        "M_FORBIDDEN",
        "user_id is only for the shared secret; this token is someone else's",
      );
    return caller;
  }

  /** A token the homeserver says belongs to someone (an access token, or openid:<token>). */
  async vouched(token: string): Promise<Caller> {
    const key = digest(token).toString("base64");
    const via = token.startsWith("openid:") ? "openid" : "access_token";
    const known = this.remembered.get(key);
    if (known && known.until > Date.now()) return { userId: known.userId, via };
    const userId = via === "openid" ? await this.openIdUser(token.slice(7)) : await this.whoami(token);
    if (this.remembered.size >= MAX_REMEMBERED) this.remembered.clear();
    this.remembered.set(key, { userId, until: Date.now() + this.opts.cacheSeconds * 1000 });
    return { userId, via };
  }

  private async whoami(token: string): Promise<string> {
    const body = await this.ask("/_matrix/client/v3/account/whoami", { authorization: `Bearer ${token}` });
    return this.userIdIn(body, "user_id");
  }

  private async openIdUser(token: string): Promise<string> {
    const body = await this.ask(
      `/_matrix/federation/v1/openid/userinfo?access_token=${encodeURIComponent(token)}`,
      {},
    );
    return this.userIdIn(body, "sub");
  }

  private async ask(path: string, headers: Record<string, string>): Promise<unknown> {
    let res: Response;
    try {
      res = await (this.opts.fetch ?? fetch)(new URL(path, this.opts.homeserverUrl), {
        headers,
        signal: AbortSignal.timeout(10_000),
      });
    } catch (err) {
      throw new ApiError(502, "M_UNKNOWN", `the homeserver could not check the token: ${String(err)}`);
    }
    if (res.status === 401 || res.status === 403 || res.status === 404) {
      await res.body?.cancel();
      throw new ApiError(403, "M_UNKNOWN_TOKEN", "the homeserver does not know this token");
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new ApiError(502, "M_UNKNOWN", `the homeserver answered ${res.status} when checking the token`);
    }
    return res.json().catch(() => null);
  }

  private userIdIn(body: unknown, field: string): string {
    const value = (body as Record<string, unknown> | null)?.[field];
    if (typeof value !== "string" || !USER_ID.test(value))
      throw new ApiError(502, "M_UNKNOWN", "the homeserver's answer named no user");
    return value;
  }
}
