/**
 * The admin console in a real browser: Debian's Chromium driven by playwright-core against the
 * running bridge (`switchboard start`) and the real Synapse. An admin signs in with their Matrix
 * password, sees the network CONNECTED, approves a held activation (and the chat then bridges),
 * unlinks a room and takes a backup; a Matrix user who is not a bridge admin is refused; the
 * pages read without JavaScript. Screenshots of the overview and links pages are written to
 * docs/screenshots/ for the README.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { chromium, type Browser, type Page } from "playwright-core";
import { ToyNetwork } from "../reference/toy-network.js";
import { startBridgeEnvironment, type BridgeEnvironment } from "../harness/switchboard.js";
import { freePort } from "../harness/net.js";
import { TestMatrixClient, botSays } from "../harness/matrix-client.js";

// SWITCHBOARD_SCREENSHOTS=docs/screenshots refreshes the README's pictures; otherwise a scratch dir.
const SCREENSHOTS = resolve(
  process.env.SWITCHBOARD_SCREENSHOTS ?? join(tmpdir(), `switchboard-console-${process.pid}`),
);
const PASSWORD = "correct horse battery staple";

let env: BridgeEnvironment;
let toy: ToyNetwork;
let alice: TestMatrixClient;
let browser: Browser;
let consoleUrl: string;
let crowdRoom: string;
let generalRoom: string;

/** The text of the first element `selector` finds ("" when there is none). */
async function text(page: Page, selector: string): Promise<string> {
  return (await page.textContent(selector)) ?? "";
}

async function signIn(page: Page, user: string): Promise<void> {
  await page.goto(`${consoleUrl}/admin`);
  await page.fill("#user", user);
  await page.fill("#password", PASSWORD);
  await page.click("button[type=submit]");
  await page.waitForLoadState("domcontentloaded");
}

before(async () => {
  toy = new ToyNetwork();
  await toy.listen();
  toy.addUser("bob", "Bob Remote");
  toy.addChannel("general", "General", "", ["bob"]);
  for (const id of ["c1", "c2", "c3", "c4"]) toy.addUser(id, `Crowd ${id}`);
  toy.addChannel("crowd", "Crowd", "", ["bob", "c1", "c2", "c3", "c4"]);
  const port = await freePort();
  env = await startBridgeEnvironment({
    bridges: { reference: { enabled: true, url: toy.url, token: toy.bridgeToken } },
    extraConfig: {
      admins: ["@admin:localhost"],
      guards: { activation_limit: 3 },
      provisioning: { enabled: true, bind: "127.0.0.1", port },
    },
  });
  consoleUrl = `http://127.0.0.1:${port}`;
  const a = await env.hs.registerUser("alice", { password: PASSWORD });
  alice = new TestMatrixClient(env.hs.url, a.accessToken, a.userId);
  await env.hs.registerUser("admin", { password: PASSWORD });
  generalRoom = await alice.join("#reference_general:localhost");
  toy.post("bob", "general", "hello from general");
  await alice.waitForEvent(generalRoom, (e) => e.content.body === "hello from general");
  crowdRoom = await alice.join("#reference_crowd:localhost");
  await alice.waitForEvent(crowdRoom, botSays(env.botUserId, /waits for a bridge admin/));
  browser = await chromium.launch({
    executablePath: process.env.SWITCHBOARD_CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
  await mkdir(SCREENSHOTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  if (!process.env.SWITCHBOARD_SCREENSHOTS) await rm(SCREENSHOTS, { recursive: true, force: true });
  await env?.cleanup();
  await toy?.close();
});

describe("admin console", () => {
  test("a Matrix user who is not a bridge admin is refused; a wrong password is told", async () => {
    const page = await browser.newPage();
    await signIn(page, "alice");
    assert.match(await text(page, "main"), /Not a bridge admin/);
    const res = await page.goto(`${consoleUrl}/admin/links`);
    assert.equal(res?.status(), 403);
    assert.doesNotMatch(await page.content(), /reference_crowd|!.*:localhost<\/code>/);
    await page.close();

    const wrong = await browser.newPage();
    await wrong.goto(`${consoleUrl}/admin/login`);
    await wrong.fill("#user", "admin");
    await wrong.fill("#password", "not the password");
    await wrong.click("button[type=submit]");
    assert.match(await text(wrong, "main"), /Could not sign in/);
    // Without a session nothing is shown: every page sends you to sign in.
    await wrong.goto(`${consoleUrl}/admin/overview`);
    assert.match(wrong.url(), /\/admin\/login$/);
    await wrong.close();
  });

  test("an admin signs in and sees the network CONNECTED and the homeserver reachable", async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 760 } });
    await signIn(page, "admin");
    assert.match(page.url(), /\/admin\/overview$/);
    const networks = await text(page, "table");
    assert.match(networks, /Toy network/);
    assert.match(networks, /CONNECTED/);
    assert.match(await text(page, ".grid"), /reachable/);
    assert.match(await text(page, ".grid"), /Waiting for approval\s*1/);
    assert.match(await text(page, "main"), /remote to matrix|matrix to remote/);
    await page.screenshot({ path: join(SCREENSHOTS, "console-overview.png"), fullPage: true });
    await page.close();
  });

  test("an admin approves a held activation, and the chat then bridges", async () => {
    const page = await browser.newPage();
    await signIn(page, "admin");
    await page.click("a[href='/admin/activations']");
    const row = page.locator("tr", { hasText: crowdRoom });
    assert.match((await row.textContent()) ?? "", /Crowd\s+reference crowd\s*5/);
    toy.post("c1", "crowd", "held back");
    await row.locator("button", { hasText: /^Approve$/ }).click();
    await page.waitForLoadState("domcontentloaded");
    assert.match(await text(page, ".flash"), /Approved/);
    assert.match(await text(page, "main"), /Nothing is waiting/);
    toy.post("c2", "crowd", "the crowd is bridged");
    await alice.waitForEvent(crowdRoom, (e) => e.content.body === "the crowd is bridged", 30_000);
    await page.close();
  });

  test("an admin unlinks a room from the links page (with a confirmation); messages stop crossing", async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 700 } });
    await signIn(page, "admin");
    await page.goto(`${consoleUrl}/admin/links`);
    const row = page.locator("tr", { hasText: generalRoom });
    assert.match((await row.textContent()) ?? "", /reference\s+general\s*portal\s*active/);
    await page.screenshot({ path: join(SCREENSHOTS, "console-links.png"), fullPage: true });
    let asked = "";
    page.once("dialog", (d) => {
      asked = d.message();
      void d.accept();
    });
    await row.locator("button", { hasText: "Unlink" }).click();
    await page.waitForLoadState("domcontentloaded");
    assert.match(asked, /Unlink/);
    assert.match(await text(page, ".flash"), /Unlinked/);
    assert.equal(await page.locator("tr", { hasText: generalRoom }).count(), 0);
    await alice.sendText(generalRoom, "after the console unlink");
    await sleep(1500);
    assert.ok(!toy.channelMessages("general").some((m) => m.text === "after the console unlink"));
    await page.close();
  });

  test("a backup taken from the console is listed and downloads", async () => {
    const page = await browser.newPage();
    await signIn(page, "admin");
    await page.goto(`${consoleUrl}/admin/backups`);
    assert.match(await text(page, "main"), /Last backup: never/);
    await page.click("button:has-text('Take a backup now')");
    await page.waitForLoadState("domcontentloaded");
    assert.match(await text(page, ".flash"), /Wrote switchboard-.*\.sbk/);
    const link = page.locator("a[href^='/admin/backups/file/']");
    assert.equal(await link.count(), 1);
    const href = (await link.getAttribute("href")) as string;
    const download = await page.request.get(`${consoleUrl}${href}`);
    assert.equal(download.status(), 200);
    const bytes = await download.body();
    assert.equal(bytes[0], 0x1f, "gzip");
    assert.equal(bytes[1], 0x8b, "gzip");
    // Without the session cookie the same file is not given out.
    const anonymous = await fetch(`${consoleUrl}${href}`, { redirect: "manual" });
    assert.equal(anonymous.status, 303);
    await page.close();
  });

  test("the pages read without JavaScript, and a form without its CSRF token is refused", async () => {
    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    await signIn(page, "admin");
    assert.match(await text(page, "main"), /CONNECTED/);
    await page.goto(`${consoleUrl}/admin/links`);
    assert.match(await text(page, "main"), /reference\s+crowd/);
    const cookies = await context.cookies();
    const cookie = cookies.map((c) => `${c.name}=${c.value}`).join("; ");
    const forged = await fetch(`${consoleUrl}/admin/links/unlink`, {
      method: "POST",
      headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
      body: `room_id=${encodeURIComponent(crowdRoom)}`,
      redirect: "manual",
    });
    assert.equal(forged.status, 403);
    toy.post("c3", "crowd", "still bridged");
    await alice.waitForEvent(crowdRoom, (e) => e.content.body === "still bridged");
    await context.close();
  });
});
