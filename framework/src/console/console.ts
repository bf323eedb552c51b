/**
 * The admin console at `/admin` on the provisioning listener. Sign-in is with a Matrix account
 * (password login against the homeserver, or a pasted access token); only the bridge's admins get
 * past it. There is no user database: the homeserver says who someone is, the config says whether
 * they are an admin. Every action goes through the same code as the bot's commands.
 */
import { readdir, stat } from "node:fs/promises";
import { createReadStream } from "node:fs";
import { join } from "node:path";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { ProvisioningDeps } from "../provisioning/api.js";
import type { Authenticator } from "../provisioning/auth.js";
import { ApiError, readBody } from "../provisioning/http.js";
import type { RoomLink } from "../store/types.js";
import type { Activity } from "./activity.js";
import { html, type Html } from "./html.js";
import { csrfField, layout, loginPage, refusedPage, state, type PageContext } from "./pages.js";
import { Sessions, clearedCookie, sessionCookie, type Session } from "./sessions.js";

export interface PolicyView {
  rooms: Array<{ room: string; rules: number; error?: string }>;
  rules: Array<{
    id: string;
    kind: string;
    entity: string;
    reason: string;
    matched: string[];
    held: boolean;
  }>;
}

export interface ConsoleDeps extends ProvisioningDeps {
  activity: Activity;
  homeserverUrl: string;
  /** Backups taken from the console go here (the admin's own `switchboard backup` anywhere). */
  backups?: { dir: string; take(): Promise<string> };
  policy?: () => PolicyView;
  reload?: () => Promise<string>;
}

const BACKUP_NAME = /^[A-Za-z0-9._-]+\.sbk$/;

export class AdminConsole {
  private readonly sessions = new Sessions();

  constructor(
    private readonly deps: ConsoleDeps,
    private readonly auth: Authenticator,
  ) {}

  async serve(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const url = new URL(req.url ?? "/", "http://localhost");
    const path = url.pathname;
    if (path !== "/admin" && !path.startsWith("/admin/")) return false;
    const method = req.method ?? "GET";
    if (path === "/admin/login") {
      if (method === "POST") await this.signIn(req, res);
      else this.page(res, 200, loginPage(null, this.deps.services.domain));
      return true;
    }
    const session = this.sessions.of(req);
    if (!session) {
      if (method === "GET") this.redirect(res, "/admin/login");
      else this.page(res, 401, loginPage("Your session ended: sign in again.", this.deps.services.domain));
      return true;
    }
    const ctx = (title: string, active: string): PageContext => ({
      title,
      active,
      userId: session.userId,
      csrf: session.csrf,
      flash: url.searchParams.get("done"),
    });
    if (!this.deps.services.permissions.allows(session.userId, "admin")) {
      if (method === "POST" && path === "/admin/logout") {
        this.signOut(req, res);
        return true;
      }
      this.page(res, 403, refusedPage(session.userId, session.csrf));
      return true;
    }
    if (method === "POST") {
      const form = new URLSearchParams(await readBody(req));
      if (!this.sessions.csrfOk(session, form.get("csrf") ?? undefined)) {
        this.page(
          res,
          403,
          layout(
            ctx("Refused", ""),
            html`<div class="card">That form is stale: reload the page and try again.</div>`,
          ),
        );
        return true;
      }
      if (path === "/admin/logout") {
        this.signOut(req, res);
        return true;
      }
      const back = await this.act(path, form, session);
      this.redirect(res, `${back.page}?done=${encodeURIComponent(back.message)}`);
      return true;
    }
    if (method !== "GET") throw new ApiError(405, "M_UNRECOGNIZED", `${method} is not allowed here`);
    const file = /^\/admin\/backups\/file\/([^/]+)$/.exec(path)?.[1];
    if (file) {
      await this.download(res, decodeURIComponent(file));
      return true;
    }
    switch (path) {
      case "/admin":
      case "/admin/":
        this.redirect(res, "/admin/overview");
        return true;
      case "/admin/overview":
        this.page(res, 200, layout(ctx("Overview", "overview"), await this.overview(session)));
        return true;
      case "/admin/links":
        this.page(res, 200, layout(ctx("Links", "links"), await this.links(session)));
        return true;
      case "/admin/logins":
        this.page(res, 200, layout(ctx("Logins", "logins"), await this.logins(session)));
        return true;
      case "/admin/activations":
        this.page(res, 200, layout(ctx("Activations", "activations"), await this.activations(session)));
        return true;
      case "/admin/moderation":
        this.page(res, 200, layout(ctx("Moderation", "moderation"), this.moderation(session)));
        return true;
      case "/admin/backups":
        this.page(res, 200, layout(ctx("Backups", "backups"), await this.backups(session)));
        return true;
    }
    this.page(res, 404, layout(ctx("Not found", ""), html`<div class="card">No such page.</div>`));
    return true;
  }

  // ---- sign-in ----

  private async signIn(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const form = new URLSearchParams(await readBody(req));
    const domain = this.deps.services.domain;
    let userId: string;
    try {
      const token = form.get("token")?.trim();
      if (token) userId = (await this.auth.vouched(token)).userId;
      else userId = await this.passwordLogin(form.get("user")?.trim() ?? "", form.get("password") ?? "");
    } catch (err) {
      const message = err instanceof ApiError ? err.message : String(err);
      this.page(res, 401, loginPage(`Could not sign in: ${message}`, domain));
      return;
    }
    const { id } = this.sessions.create(userId);
    res.setHeader("set-cookie", sessionCookie(id, req.headers["x-forwarded-proto"] === "https"));
    this.redirect(res, "/admin/overview");
  }

  /**
   * A password login against the homeserver proves who this is; the access token it makes is
   * logged out at once (the console keeps its own session, not a device on the admin's account).
   */
  private async passwordLogin(user: string, password: string): Promise<string> {
    if (!user || !password)
      throw new ApiError(400, "M_BAD_JSON", "give a user and a password, or an access token");
    const base = this.deps.homeserverUrl;
    const res = await fetch(new URL("/_matrix/client/v3/login", base), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        type: "m.login.password",
        identifier: { type: "m.id.user", user },
        password,
        initial_device_display_name: "Switchboard admin console",
      }),
      signal: AbortSignal.timeout(15_000),
    }).catch((err: unknown) => {
      throw new ApiError(502, "M_UNKNOWN", `the homeserver is unreachable (${String(err)})`);
    });
    const body = (await res.json().catch(() => ({}))) as {
      user_id?: string;
      access_token?: string;
      error?: string;
    };
    if (!res.ok || !body.user_id || !body.access_token)
      throw new ApiError(403, "M_FORBIDDEN", body.error ?? `the homeserver answered ${res.status}`);
    await fetch(new URL("/_matrix/client/v3/logout", base), {
      method: "POST",
      headers: { authorization: `Bearer ${body.access_token}`, "content-type": "application/json" },
      body: "{}",
    }).catch(() => undefined);
    return body.user_id;
  }

  private signOut(req: IncomingMessage, res: ServerResponse): void {
    this.sessions.end(req);
    res.setHeader("set-cookie", clearedCookie);
    this.redirect(res, "/admin/login");
  }

  // ---- actions ----

  private async act(
    path: string,
    form: URLSearchParams,
    session: Session,
  ): Promise<{ page: string; message: string }> {
    const d = this.deps;
    const field = (name: string): string => {
      const value = form.get(name)?.trim();
      if (!value) throw new ApiError(400, "M_BAD_JSON", `the form has no ${name}`);
      return value;
    };
    try {
      switch (path) {
        case "/admin/links/unlink":
          return { page: "/admin/links", message: await d.portals.unlink(field("room_id"), session.userId) };
        case "/admin/links/link": {
          const slot = d.services.networks.get(field("network"));
          if (!slot) return { page: "/admin/links", message: `No network ${form.get("network")}.` };
          return {
            page: "/admin/links",
            message: await d.portals.plumb(slot, field("room_id"), field("chat"), session.userId),
          };
        }
        case "/admin/logins/logout": {
          const network = field("network");
          const slot = d.services.networks.get(network);
          const record = await d.services.store.loginGet(network, field("login_id"));
          if (!slot || !record) return { page: "/admin/logins", message: "That login is gone already." };
          const message = await d.logins.logout(slot, record.matrixUserId, record.loginId);
          return { page: "/admin/logins", message: `${record.matrixUserId}: ${message}` };
        }
        case "/admin/activations/decide": {
          const link = await d.services.link(field("room_id"));
          if (!link || link.state !== "pending")
            return { page: "/admin/activations", message: "That room is not waiting for approval." };
          const action = field("action");
          const message =
            action === "deny"
              ? await d.guard.deny(link, session.userId)
              : await d.guard.approve(link, action === "lazy" ? "lazy" : "full", session.userId);
          return { page: "/admin/activations", message };
        }
        case "/admin/backups/take": {
          if (!d.backups) return { page: "/admin/backups", message: "Backups are not set up here." };
          return { page: "/admin/backups", message: `Wrote ${await d.backups.take()}.` };
        }
        case "/admin/reload": {
          if (!d.reload) return { page: "/admin/overview", message: "Reloading is not available." };
          return { page: "/admin/overview", message: await d.reload() };
        }
      }
    } catch (err) {
      return {
        page: "/admin/overview",
        message: `Failed: ${err instanceof Error ? err.message : String(err)}`,
      };
    }
    return { page: "/admin/overview", message: "Unknown action." };
  }

  // ---- pages ----

  private async overview(session: Session): Promise<Html> {
    const { body } = await this.deps.health();
    const report = body as {
      homeserver: { reachable: boolean; latency_ms?: number; error?: string };
      networks: Record<
        string,
        {
          name: string;
          state: string;
          connections: Record<string, { state: string; message?: string }>;
          logins: Record<string, number>;
        }
      >;
      queued: number;
      pending_remote: number;
    };
    const activity = await this.deps.activity.rows();
    const pending = (await this.deps.services.store.linkList({ state: "pending" })).length;
    const failures = activity.reduce((n, r) => n + r.failuresLastHour, 0);
    const hs = report.homeserver;
    return html`<h1>Overview</h1>
      <div class="grid">
        <div class="card">
          <div class="muted">Homeserver</div>
          <div class="big">${state(hs.reachable ? "reachable" : "unreachable")}</div>
          <div class="muted">${hs.reachable ? `${hs.latency_ms ?? "?"} ms` : (hs.error ?? "")}</div>
        </div>
        <div class="card">
          <div class="muted">Waiting for approval</div>
          <div class="big"><a href="/admin/activations">${pending}</a></div>
        </div>
        <div class="card">
          <div class="muted">Errors in the last hour</div>
          <div class="big">${failures}</div>
        </div>
        <div class="card">
          <div class="muted">Queued</div>
          <div class="big">${report.queued}</div>
          <div class="muted">${report.pending_remote} remote events not yet in Matrix</div>
        </div>
      </div>
      <h2>Networks</h2>
      <table>
        <thead>
          <tr>
            <th>Network</th>
            <th>State</th>
            <th>Connections</th>
            <th>Logins</th>
          </tr>
        </thead>
        <tbody>
          ${Object.entries(report.networks).map(
            ([id, n]) =>
              html`<tr>
                <td><strong>${n.name}</strong> <span class="muted">${id}</span></td>
                <td>${state(n.state)}</td>
                <td>
                  ${Object.entries(n.connections).map(([name, c]) => html`<div>${name}: ${state(c.state)} <span class="muted">${c.message ?? ""}</span></div>`)}
                </td>
                <td>
                  ${Object.entries(n.logins).map(([s, count]) => html`<div>${count} ${state(s)}</div>`)}
                </td>
              </tr>`,
          )}
        </tbody>
      </table>
      <h2>Traffic</h2>
      ${
        activity.length === 0
          ? html`<p class="muted">Nothing bridged since the bridge started.</p>`
          : html`<table>
              <thead>
                <tr>
                  <th>Network</th>
                  <th>Direction</th>
                  <th>Events per minute</th>
                  <th>Failures (last hour)</th>
                </tr>
              </thead>
              <tbody>
                ${activity.map(
                  (r) =>
                    html`<tr>
                      <td>${r.network}</td>
                      <td>${r.direction.replace(/_/g, " ")}</td>
                      <td>${r.perMinute}</td>
                      <td>${r.failuresLastHour}</td>
                    </tr>`,
                )}
              </tbody>
            </table>`
      }
      ${
        this.deps.reload
          ? html`<h2>Configuration</h2>
              <form method="post" action="/admin/reload">
                ${csrfField(session.csrf)}<button>
                  Reload permissions, guards and moderation from the config file
                </button>
              </form>`
          : ""
      }`;
  }

  private async links(session: Session): Promise<Html> {
    const links = await this.deps.services.store.linkList();
    const rows = await Promise.all(
      links.slice(0, 500).map(async (l) => ({ l, last: await this.lastActivity(l) })),
    );
    const networks = [...this.deps.services.networks.values()];
    return html`<h1>Links</h1>
      <table>
        <thead>
          <tr>
            <th>Room</th>
            <th>Chat</th>
            <th>Kind</th>
            <th>State</th>
            <th>Created by</th>
            <th>Last activity</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          ${rows.map(
            ({ l, last }) =>
              html`<tr>
                <td><code>${l.roomId}</code></td>
                <td>${l.network} <code>${l.channelId}</code></td>
                <td>${l.kind}</td>
                <td>${state(l.state)}</td>
                <td>${l.createdBy || html`<span class="muted">alias</span>`}</td>
                <td>${last}</td>
                <td>
                  <form
                    class="inline"
                    method="post"
                    action="/admin/links/unlink"
                    data-confirm="Unlink ${l.roomId}? Messages stop crossing."
                  >
                    ${csrfField(session.csrf)}<input
                      type="hidden"
                      name="room_id"
                      value="${l.roomId}"
                    /><button class="danger">Unlink</button>
                  </form>
                </td>
              </tr>`,
          )}
          ${
            rows.length === 0
              ? html`<tr>
                  <td colspan="7" class="muted">No links yet.</td>
                </tr>`
              : ""
          }
        </tbody>
      </table>
      ${links.length > 500 ? html`<p class="muted">The first 500 of ${links.length}.</p>` : ""}
      <h2>Link a room</h2>
      <div class="card">
        <p class="muted">
          Invite the bridge bot (<code>${this.deps.services.botUserId}</code>) to the room first; you need to
          administer the room.
        </p>
        <form method="post" action="/admin/links/link" class="row">
          ${csrfField(session.csrf)}
          <div>
            <label for="room_id">Room id</label
            ><input id="room_id" name="room_id" placeholder="!room:server" required />
          </div>
          <div>
            <label for="network">Network</label
            ><select id="network" name="network">
              ${networks.map((s) => html`<option value="${s.connector.id}">${s.connector.displayName}</option>`)}
            </select>
          </div>
          <div>
            <label for="chat">Chat</label
            ><input id="chat" name="chat" placeholder="what !link takes" required />
          </div>
          <div><button class="primary">Link</button></div>
        </form>
      </div>`;
  }

  private async lastActivity(link: RoomLink): Promise<string> {
    const last = await this.deps.services.store
      .messageLatestBefore(link.roomId, Date.now() + 1)
      .catch(() => null);
    return last ? new Date(last.timestamp).toISOString().replace("T", " ").slice(0, 16) : "—";
  }

  private async logins(session: Session): Promise<Html> {
    const rows: Html[] = [];
    for (const slot of this.deps.services.networks.values()) {
      const network = slot.connector.id;
      for (const r of await this.deps.services.store.loginsOfNetwork(network)) {
        const live = this.deps.services.states.login(network, r.loginId);
        rows.push(
          html`<tr>
            <td>${r.matrixUserId}</td>
            <td>${slot.connector.displayName}</td>
            <td>${r.remoteName} <span class="muted">${r.loginId}</span></td>
            <td>${state(live?.state ?? r.state)} <span class="muted">${live?.message ?? ""}</span></td>
            <td>
              <form
                class="inline"
                method="post"
                action="/admin/logins/logout"
                data-confirm="Log ${r.matrixUserId} out of ${r.remoteName}?"
              >
                ${csrfField(session.csrf)}<input type="hidden" name="network" value="${network}" /><input
                  type="hidden"
                  name="login_id"
                  value="${r.loginId}"
                /><button class="danger">Log out</button>
              </form>
            </td>
          </tr>`,
        );
      }
    }
    return html`<h1>Logins</h1>
      <table>
        <thead>
          <tr>
            <th>Matrix user</th>
            <th>Network</th>
            <th>Account</th>
            <th>State</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          ${rows}${
            rows.length === 0
              ? html`<tr>
                  <td colspan="5" class="muted">Nobody is logged in.</td>
                </tr>`
              : ""
          }
        </tbody>
      </table>`;
  }

  private async activations(session: Session): Promise<Html> {
    const links = await this.deps.services.store.linkList({ state: "pending" });
    const button = (l: RoomLink, action: string, label: string, cls = "") =>
      html`<form class="inline" method="post" action="/admin/activations/decide">
        ${csrfField(session.csrf)}<input type="hidden" name="room_id" value="${l.roomId}" /><input
          type="hidden"
          name="action"
          value="${action}"
        /><button class="${cls}">${label}</button>
      </form>`;
    return html`<h1>Activations</h1>
      <p class="muted">
        Chats with more new members than the activation limit wait here before anything is bridged. Approve
        adds every member; lazy adds only those who speak.
      </p>
      <table>
        <thead>
          <tr>
            <th>Room</th>
            <th>Chat</th>
            <th>Members</th>
            <th>New to the bridge</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          ${links.map(
            (l) =>
              html`<tr>
                <td><code>${l.roomId}</code></td>
                <td>
                  ${String(l.meta.chatName ?? "")} <span class="muted">${l.network} ${l.channelId}</span>
                </td>
                <td>${typeof l.meta.members === "number" ? l.meta.members : "?"}</td>
                <td>${typeof l.meta.newMembers === "number" ? l.meta.newMembers : "?"}</td>
                <td>
                  ${button(l, "approve", "Approve", "primary")} ${button(l, "lazy", "Approve lazily")}
                  ${button(l, "deny", "Deny", "danger")}
                </td>
              </tr>`,
          )}
          ${
            links.length === 0
              ? html`<tr>
                  <td colspan="5" class="muted">Nothing is waiting.</td>
                </tr>`
              : ""
          }
        </tbody>
      </table>`;
  }

  private moderation(_session: Session): Html {
    const view = this.deps.policy?.();
    if (!view || view.rooms.length === 0)
      return html`<h1>Moderation</h1>
        <div class="card">
          No policy rooms are followed. List them in <code>moderation.policy_rooms</code> (for example a
          Draupnir or Mjolnir ban list).
        </div>`;
    return html`<h1>Moderation</h1>
      <h2>Policy rooms</h2>
      <table>
        <thead>
          <tr>
            <th>Room</th>
            <th>Rules</th>
          </tr>
        </thead>
        <tbody>
          ${view.rooms.map(
            (r) =>
              html`<tr>
                <td><code>${r.room}</code></td>
                <td>${r.error ? html`<span class="state denied">${r.error}</span>` : r.rules}</td>
              </tr>`,
          )}
        </tbody>
      </table>
      <h2>Rules</h2>
      <table>
        <thead>
          <tr>
            <th>Kind</th>
            <th>Entity</th>
            <th>Reason</th>
            <th>Matched</th>
          </tr>
        </thead>
        <tbody>
          ${view.rules.map(
            (r) =>
              html`<tr>
                <td>${r.kind}</td>
                <td><code>${r.entity}</code> ${r.held ? state("held") : ""}</td>
                <td>${r.reason}</td>
                <td>
                  ${r.matched.length === 0 ? html`<span class="muted">nobody</span>` : r.matched.slice(0, 20).map((m) => html`<div><code>${m}</code></div>`)}${r.matched.length > 20 ? html`<div class="muted">and ${r.matched.length - 20} more</div>` : ""}
                </td>
              </tr>`,
          )}
          ${
            view.rules.length === 0
              ? html`<tr>
                  <td colspan="4" class="muted">No ban rules.</td>
                </tr>`
              : ""
          }
        </tbody>
      </table>`;
  }

  private async backups(session: Session): Promise<Html> {
    const b = this.deps.backups;
    if (!b)
      return html`<h1>Backups</h1>
        <div class="card">
          Backups from the console need the bridge to be started by <code>switchboard start</code>.
        </div>`;
    const files = await this.backupFiles(b.dir);
    return html`<h1>Backups</h1>
      <div class="card">
        <form method="post" action="/admin/backups/take">
          ${csrfField(session.csrf)}<button class="primary">Take a backup now</button>
        </form>
        <p class="muted">
          Into <code>${b.dir}</code>: the store, config, registration and key file, as
          <code>switchboard backup</code> writes them. The bridge keeps serving meanwhile. Keep copies
          somewhere else too.
        </p>
        <p>Last backup: ${files[0] ? files[0].when : "never"}</p>
      </div>
      <table>
        <thead>
          <tr>
            <th>File</th>
            <th>Taken</th>
            <th>Size</th>
          </tr>
        </thead>
        <tbody>
          ${files.map(
            (f) =>
              html`<tr>
                <td><a href="/admin/backups/file/${encodeURIComponent(f.name)}">${f.name}</a></td>
                <td>${f.when}</td>
                <td>${f.size}</td>
              </tr>`,
          )}
          ${
            files.length === 0
              ? html`<tr>
                  <td colspan="3" class="muted">None yet.</td>
                </tr>`
              : ""
          }
        </tbody>
      </table>`;
  }

  private async backupFiles(
    dir: string,
  ): Promise<Array<{ name: string; when: string; size: string; at: number }>> {
    const names = await readdir(dir).catch(() => [] as string[]);
    const files = await Promise.all(
      names
        .filter((n) => BACKUP_NAME.test(n))
        .map(async (name) => {
          const s = await stat(join(dir, name));
          return {
            name,
            at: s.mtimeMs,
            when: new Date(s.mtimeMs).toISOString().replace("T", " ").slice(0, 19),
            size: `${(s.size / 1024).toFixed(1)} KiB`,
          };
        }),
    );
    return files.sort((a, b) => b.at - a.at);
  }

  private async download(res: ServerResponse, name: string): Promise<void> {
    const dir = this.deps.backups?.dir;
    if (!dir || !BACKUP_NAME.test(name)) throw new ApiError(404, "M_NOT_FOUND", "no such backup");
    const path = join(dir, name);
    const s = await stat(path).catch(() => null);
    if (!s?.isFile()) throw new ApiError(404, "M_NOT_FOUND", "no such backup");
    res.writeHead(200, {
      "content-type": "application/gzip",
      "content-length": s.size,
      "content-disposition": `attachment; filename="${name}"`,
      "cache-control": "no-store",
    });
    createReadStream(path).pipe(res);
  }

  // ---- plumbing ----

  private page(res: ServerResponse, status: number, page: Html): void {
    const text = page.toString();
    res.writeHead(status, {
      "content-type": "text/html; charset=utf-8",
      "content-length": Buffer.byteLength(text),
      "cache-control": "no-store",
      // The pages need nothing from elsewhere; inline style and script are the console's own.
      "content-security-policy":
        "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
    });
    res.end(text);
  }

  private redirect(res: ServerResponse, location: string): void {
    res.writeHead(303, { location, "cache-control": "no-store" });
    res.end();
  }
}
