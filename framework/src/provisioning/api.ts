/**
 * The provisioning API: what a user does with the bot in a DM (log in, log out, link a room) and
 * what an admin does with `pending`/`approve`, over HTTP for integration managers, widgets and the
 * admin console. Each network has its own mautrix-bridgev2-shaped v3 API under
 * `/_matrix/provision/<network>/v3/…` (a tool made for one mautrix bridge is pointed at
 * `/_matrix/provision/irc`); what spans networks is under `/_matrix/provision/v3/…`.
 *
 * Every route authenticates first and checks the caller against the bridge's permissions; the
 * actions themselves are the bot's (Logins, Portals, ActivationGuard), so the API cannot drift
 * from what the bot allows.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { supportsLogins } from "../connector.js";
import type { ActivationGuard } from "../guards/activation.js";
import type { Logins } from "../runtime/logins.js";
import type { Portals } from "../runtime/portals.js";
import type { NetworkSlot, Services } from "../runtime/services.js";
import type { RoomLink } from "../store/types.js";
import type { Permission } from "../config/schema.js";
import type { Authenticator, Caller } from "./auth.js";
import { ApiError, badRequest, forbidden, notFound, readJsonObject, sendJson, stringField } from "./http.js";
import { LoginSessions } from "./login-sessions.js";
import { openApiDocument } from "./openapi.js";

export const PROVISION_PREFIX = "/_matrix/provision";

export interface ProvisioningDeps {
  services: Services;
  logins: Logins;
  portals: Portals;
  guard: ActivationGuard;
  health(): Promise<{ status: number; body: unknown }>;
}

interface Call {
  req: IncomingMessage;
  url: URL;
  caller: Caller;
  params: string[];
  slot: NetworkSlot | null;
}

type Handler = (call: Call) => Promise<unknown>;

interface Route {
  method: "GET" | "POST" | "DELETE";
  /** As the OpenAPI document writes it: `/v3/login/start/{flowID}`. */
  template: string;
  /** Matched against the path after the prefix (and after `/<network>` for network routes). */
  path: RegExp;
  /** What the caller needs at least. */
  needs: Permission;
  network: boolean;
  run: Handler;
}

const SEGMENT = "([^/]+)";

export class ProvisioningApi {
  private readonly sessions: LoginSessions;
  private readonly routes: Route[];

  constructor(
    private readonly deps: ProvisioningDeps,
    private readonly auth: Authenticator,
  ) {
    this.sessions = new LoginSessions(deps.logins);
    const r = (
      method: Route["method"],
      path: string,
      needs: Permission,
      network: boolean,
      run: Handler,
    ): Route => ({
      method,
      template: path,
      path: new RegExp(`^${path.replace(/\{[A-Za-z]+\}/g, SEGMENT)}$`),
      needs,
      network,
      run,
    });
    this.routes = [
      // Per network, as mautrix bridgev2 has them.
      r("GET", "/v3/whoami", "relay", true, (c) => this.whoami(c.caller.userId, [c.slot as NetworkSlot])),
      r("GET", "/v3/login/flows", "user", true, async (c) => ({ flows: this.flows(c) })),
      r("POST", "/v3/login/start/{flowID}", "user", true, (c) =>
        this.sessions.start(c.slot as NetworkSlot, c.caller.userId, c.params[0] as string),
      ),
      r("POST", "/v3/login/step/{loginProcessID}/{stepID}/{stepType}", "user", true, async (c) =>
        this.sessions.step(
          c.caller.userId,
          c.params[0] as string,
          c.params[1] as string,
          c.params[2] as string,
          await readJsonObject(c.req),
        ),
      ),
      r("POST", "/v3/login/cancel/{loginProcessID}", "user", true, async (c) => {
        this.sessions.cancel(c.caller.userId, c.params[0] as string);
        return {};
      }),
      r("GET", "/v3/logins", "relay", true, async (c) => ({
        login_ids: (await this.loginsOf(c.caller.userId, c.slot as NetworkSlot)).map((l) => l.id),
        logins: await this.loginsOf(c.caller.userId, c.slot as NetworkSlot),
      })),
      r("POST", "/v3/logout/{loginID}", "relay", true, (c) => this.logout(c)),
      // Across networks.
      r("GET", "/v3/whoami", "relay", false, (c) =>
        this.whoami(c.caller.userId, [...this.deps.services.networks.values()]),
      ),
      r("GET", "/v3/links", "relay", false, (c) => this.links(c.caller.userId)),
      r("POST", "/v3/links", "relay", false, (c) => this.link(c)),
      r("DELETE", "/v3/links/{roomID}", "relay", false, (c) => this.unlink(c)),
      r("GET", "/v3/activations", "admin", false, () => this.pending()),
      r("POST", "/v3/activations/{roomID}/{action}", "admin", false, (c) => this.decide(c)),
      r("GET", "/v3/health", "admin", false, async () => (await this.deps.health()).body),
      r("GET", "/v3/openapi.json", "relay", false, async () => openApiDocument()),
    ];
  }

  /** Serves `req` when its path is under the prefix; false when it is not ours. */
  async serve(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (!url.pathname.startsWith(`${PROVISION_PREFIX}/`)) return false;
    const match = this.match(req.method ?? "GET", url.pathname.slice(PROVISION_PREFIX.length));
    if (!match) {
      sendJson(res, 404, {
        errcode: "M_UNRECOGNIZED",
        error: `no such provisioning endpoint ${url.pathname}`,
      });
      return true;
    }
    if (match === "method") {
      sendJson(res, 405, { errcode: "M_UNRECOGNIZED", error: `${req.method} is not allowed here` });
      return true;
    }
    const caller = await this.auth.authenticate(req, url);
    const { permissions } = this.deps.services;
    if (!permissions.allows(caller.userId, match.route.needs))
      throw forbidden(
        `${caller.userId} may not do this (needs the bridge's "${match.route.needs}" permission)`,
      );
    const result = await match.route.run({ req, url, caller, params: match.params, slot: match.slot });
    sendJson(res, 200, result);
    return true;
  }

  stop(): void {
    this.sessions.stop();
  }

  /** Every route as `[method, path]` the way openapi.ts describes them (its test compares the two). */
  routeList(): Array<[string, string]> {
    return this.routes.map((r) => [r.method.toLowerCase(), `${r.network ? "/{network}" : ""}${r.template}`]);
  }

  private match(
    method: string,
    path: string,
  ): { route: Route; params: string[]; slot: NetworkSlot | null } | "method" | null {
    const first = /^\/([a-z][a-z0-9]*)(\/.*)$/.exec(path);
    const slot = first && first[1] !== "v3" ? this.deps.services.networks.get(first[1] as string) : undefined;
    if (first && first[1] !== "v3" && !slot) return null;
    const rest = slot ? (first?.[2] as string) : path;
    let wrongMethod = false;
    for (const route of this.routes) {
      if (route.network !== Boolean(slot)) continue;
      const m = route.path.exec(rest);
      if (!m) continue;
      if (route.method !== method) {
        wrongMethod = true;
        continue;
      }
      return { route, params: m.slice(1).map((p) => decodeURIComponent(p)), slot: slot ?? null };
    }
    return wrongMethod ? "method" : null;
  }

  private flows(c: Call): Array<{ id: string; name: string; description: string }> {
    const connector = (c.slot as NetworkSlot).connector;
    return supportsLogins(connector) ? connector.loginFlows.map((f) => ({ ...f })) : [];
  }

  private async loginsOf(
    userId: string,
    slot: NetworkSlot,
  ): Promise<Array<{ id: string; name: string; state: string; connection: string | null }>> {
    const network = slot.connector.id;
    const records = await this.deps.services.store.loginsOf(userId, network);
    return records.map((r) => ({
      id: r.loginId,
      name: r.remoteName,
      state: r.state,
      connection: this.deps.services.states.login(network, r.loginId)?.state ?? null,
    }));
  }

  private async whoami(userId: string, slots: NetworkSlot[]): Promise<Record<string, unknown>> {
    const s = this.deps.services;
    const user = await s.store.userGet(userId);
    const networks: Record<string, unknown> = {};
    for (const slot of slots) {
      networks[slot.connector.id] = {
        displayname: slot.connector.displayName,
        login_flows: supportsLogins(slot.connector) ? slot.connector.loginFlows.map((f) => ({ ...f })) : [],
        logins: await this.loginsOf(userId, slot),
      };
    }
    return {
      user_id: userId,
      permission: s.permissions.of(userId),
      homeserver: s.domain,
      bridge_bot: s.botUserId,
      management_room: user?.managementRoom ?? null,
      ...(slots.length === 1 ? (networks[slots[0]?.connector.id as string] as object) : { networks }),
    };
  }

  private async logout(c: Call): Promise<unknown> {
    const slot = c.slot as NetworkSlot;
    const which = c.params[0] as string;
    const records = await this.deps.services.store.loginsOf(c.caller.userId, slot.connector.id);
    const targets = which === "all" ? records : records.filter((r) => r.loginId === which);
    if (targets.length === 0) throw notFound(`you have no ${slot.connector.displayName} login ${which}`);
    for (const record of targets) await this.deps.logins.logout(slot, c.caller.userId, record.loginId);
    return { logged_out: targets.map((r) => r.loginId) };
  }

  private linkJson(link: RoomLink): Record<string, unknown> {
    return {
      room_id: link.roomId,
      network: link.network,
      chat_id: link.channelId,
      receiver: link.receiver,
      kind: link.kind,
      state: link.state,
      created_by: link.createdBy,
      created_at: link.createdAt,
    };
  }

  /** An admin sees every link; anyone else the links they made. */
  private async links(userId: string): Promise<unknown> {
    const s = this.deps.services;
    const admin = s.permissions.allows(userId, "admin");
    const links = await s.store.linkList(admin ? undefined : { createdBy: userId });
    return { links: links.map((l) => this.linkJson(l)) };
  }

  /** Links a room the bot is in to a chat, as `!link <network> <chat>` said in that room would. */
  private async link(c: Call): Promise<unknown> {
    const body = await readJsonObject(c.req);
    const roomId = stringField(body, "room_id");
    const network = stringField(body, "network");
    const chat = stringField(body, "chat");
    if (!roomId.startsWith("!")) throw badRequest(`"room_id" must be a room id (!…:server)`);
    const slot = this.deps.services.networks.get(network);
    if (!slot) throw notFound(`no network "${network}"`);
    let message: string;
    try {
      message = await this.deps.portals.plumb(slot, roomId, chat, c.caller.userId, {
        migrate: body.migrate === true,
      });
    } catch (err) {
      throw new ApiError(
        400,
        "M_UNKNOWN",
        `could not link ${roomId}: is the bridge bot in the room? (${String(err)})`,
      );
    }
    const link = await this.deps.services.link(roomId);
    if (!link || link.createdBy !== c.caller.userId || link.network !== network)
      throw new ApiError(400, "M_UNKNOWN", message);
    return { ...this.linkJson(link), message };
  }

  private async unlink(c: Call): Promise<unknown> {
    const roomId = c.params[0] as string;
    const s = this.deps.services;
    if (!(await s.link(roomId))) throw notFound(`${roomId} is not linked`);
    const message = await this.deps.portals.unlink(roomId, c.caller.userId).catch((err: unknown) => {
      throw new ApiError(400, "M_UNKNOWN", String(err));
    });
    if (await s.link(roomId)) throw forbidden(message);
    return { message };
  }

  private async pending(): Promise<unknown> {
    const links = await this.deps.services.store.linkList({ state: "pending" });
    return {
      activations: links.map((l) => ({
        ...this.linkJson(l),
        members: typeof l.meta.members === "number" ? l.meta.members : null,
      })),
    };
  }

  /** approve (`{"mode": "lazy"}` for lazy) or deny a link the activation guard holds. */
  private async decide(c: Call): Promise<unknown> {
    const [roomId, verdict] = c.params as [string, string];
    const link = await this.deps.services.link(roomId);
    if (!link || link.state !== "pending") throw notFound(`${roomId} is not waiting for approval`);
    if (verdict === "deny") return { message: await this.deps.guard.deny(link, c.caller.userId) };
    if (verdict !== "approve") throw notFound(`no activation action "${verdict}" (approve or deny)`);
    const body = await readJsonObject(c.req);
    const mode = body.mode ?? "full";
    if (mode !== "full" && mode !== "lazy") throw badRequest(`"mode" must be "full" or "lazy"`);
    return { message: await this.deps.guard.approve(link, mode, c.caller.userId) };
  }
}
