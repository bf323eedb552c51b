/**
 * The console's pages: plain server-rendered HTML that reads without JavaScript. Every action is
 * a form posting back with the session's CSRF token; the script in STYLE_AND_SCRIPT only asks
 * before destructive actions and refreshes the overview.
 */
import { html, raw, type Html } from "./html.js";

export interface PageContext {
  title: string;
  userId: string | null;
  csrf: string;
  /** A one-line result of the last action (from the redirect's query). */
  flash?: string | null;
  active?: string;
}

const NAV: Array<[string, string]> = [
  ["overview", "Overview"],
  ["links", "Links"],
  ["logins", "Logins"],
  ["activations", "Activations"],
  ["moderation", "Moderation"],
  ["backups", "Backups"],
];

const STYLE = `
:root { --fg:#1d2330; --muted:#5b6475; --line:#dfe3ea; --bg:#f6f7f9; --card:#fff; --accent:#3457d5;
  --ok:#1f7a44; --warn:#9a6700; --bad:#b42318; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color:var(--fg); background:var(--bg); }
header { background:#182033; color:#fff; padding:0 24px; display:flex; align-items:center; gap:28px; height:52px; }
header .brand { font-weight:650; letter-spacing:.2px; }
header nav a { color:#c9d2e6; text-decoration:none; margin-right:18px; }
header nav a.on, header nav a:hover { color:#fff; }
header .who { margin-left:auto; color:#c9d2e6; font-size:13px; display:flex; gap:12px; align-items:center; }
main { max-width:1100px; margin:24px auto; padding:0 24px; }
h1 { font-size:22px; margin:0 0 16px; }
h2 { font-size:16px; margin:24px 0 8px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:16px; margin-bottom:16px; }
.grid { display:grid; grid-template-columns:repeat(auto-fill,minmax(240px,1fr)); gap:16px; }
table { width:100%; border-collapse:collapse; background:var(--card); border:1px solid var(--line); border-radius:8px; overflow:hidden; }
th, td { text-align:left; padding:8px 12px; border-bottom:1px solid var(--line); vertical-align:top; }
th { background:#eef1f6; font-weight:600; font-size:13px; color:var(--muted); }
tr:last-child td { border-bottom:none; }
code { font:12.5px ui-monospace, SFMono-Regular, Menlo, monospace; background:#eef1f6; padding:1px 5px; border-radius:4px; }
.state { font-weight:600; font-size:12.5px; padding:2px 8px; border-radius:10px; background:#eef1f6; }
.state.CONNECTED, .state.active, .state.reachable { color:var(--ok); background:#e3f4ea; }
.state.pending, .state.CONNECTING, .state.TRANSIENT_DISCONNECT, .state.held { color:var(--warn); background:#fdf3d8; }
.state.BAD_CREDENTIALS, .state.LOGGED_OUT, .state.UNKNOWN_ERROR, .state.unreachable, .state.denied, .state.logged-out { color:var(--bad); background:#fde8e6; }
.muted { color:var(--muted); }
.big { font-size:26px; font-weight:650; }
.flash { background:#e8eefc; border:1px solid #c5d3f6; padding:10px 14px; border-radius:8px; margin-bottom:16px; }
form.inline { display:inline; }
button { font:inherit; font-size:13px; padding:5px 12px; border-radius:6px; border:1px solid #b9c2d3; background:#fff; cursor:pointer; }
button.primary { background:var(--accent); color:#fff; border-color:var(--accent); }
button.danger { color:var(--bad); border-color:#e5b1ab; }
input, select { font:inherit; padding:6px 8px; border:1px solid #b9c2d3; border-radius:6px; }
label { display:block; margin:10px 0 4px; font-size:13px; color:var(--muted); }
.login { max-width:380px; margin:80px auto; }
.row { display:flex; gap:8px; align-items:end; flex-wrap:wrap; }
`;

// Progressive: confirm destructive actions; refresh the overview every 15 s while visible.
const SCRIPT = `
document.addEventListener("submit", (e) => {
  const msg = e.target.getAttribute("data-confirm");
  if (msg && !confirm(msg)) e.preventDefault();
});
if (document.body.dataset.refresh) setInterval(() => { if (!document.hidden) location.reload(); }, 15000);
`;

export function layout(ctx: PageContext, body: Html): Html {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${ctx.title} &middot; Switchboard</title>
        <style>
          ${raw(STYLE)}
        </style>
      </head>
      <body ${ctx.active === "overview" ? raw('data-refresh="1"') : ""}>
        <header>
          <span class="brand">Switchboard</span>
          ${
            ctx.userId
              ? html`<nav>
                    ${NAV.map(([id, name]) => html`<a href="/admin/${id}" class="${ctx.active === id ? "on" : ""}">${name}</a>`)}
                  </nav>
                  <span class="who"
                    >${ctx.userId}
                    <form class="inline" method="post" action="/admin/logout">
                      <input type="hidden" name="csrf" value="${ctx.csrf}" /><button>Sign out</button>
                    </form>
                  </span>`
              : ""
          }
        </header>
        <main>${ctx.flash ? html`<div class="flash" role="status">${ctx.flash}</div>` : ""} ${body}</main>
        <script>
          ${raw(SCRIPT)};
        </script>
      </body>
    </html>`;
}

export const csrfField = (csrf: string): Html => html`<input type="hidden" name="csrf" value="${csrf}" />`;

export const state = (value: string): Html => html`<span class="state ${value}">${value}</span>`;

export function loginPage(error: string | null, homeserver: string): Html {
  return layout(
    { title: "Sign in", userId: null, csrf: "" },
    html`<div class="login card">
      <h1>Sign in</h1>
      <p class="muted">With a Matrix account of ${homeserver} that is a bridge admin.</p>
      ${error ? html`<div class="flash" role="alert">${error}</div>` : ""}
      <form method="post" action="/admin/login">
        <label for="user">Matrix user</label>
        <input
          id="user"
          name="user"
          autocomplete="username"
          placeholder="@you:${homeserver}"
          style="width:100%"
        />
        <label for="password">Password</label>
        <input
          id="password"
          name="password"
          type="password"
          autocomplete="current-password"
          style="width:100%"
        />
        <p class="muted" style="margin:14px 0 4px">or paste an access token</p>
        <input
          id="token"
          name="token"
          type="password"
          autocomplete="off"
          placeholder="syt_&hellip;"
          style="width:100%"
        />
        <p><button class="primary" type="submit">Sign in</button></p>
      </form>
    </div>`,
  );
}

export function refusedPage(userId: string, csrf: string): Html {
  return layout(
    { title: "Not an admin", userId, csrf },
    html`<div class="card">
      <h1>Not a bridge admin</h1>
      <p>
        ${userId} is signed in, but the console is for the bridge's admins (the <code>admins</code> list or an
        <code>admin</code> entry in <code>permissions</code>). Users manage their own logins by talking to the
        bridge bot.
      </p>
    </div>`,
  );
}
