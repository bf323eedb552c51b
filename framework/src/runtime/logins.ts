import { setTimeout as sleep } from "node:timers/promises";
import type { ChatRef, LoginClient, LoginProcess, LoginStep } from "../connector.js";
import { supportsImplicitLogins, supportsLogins } from "../connector.js";
import type { LoginRecord } from "../store/types.js";
import { loginStateNamespace } from "./login-state.js";
import type { NetworkSlot, Services } from "./services.js";

/**
 * Remote logins (puppeting): the conversation that creates one, credentials sealed at rest,
 * the connected clients, logout that wipes. Logins are keyed by network + login id: a Matrix
 * user may hold several on one network (two Slack workspaces, two Signal numbers), each a
 * client of its own; `Clients` chooses which one acts for an event.
 */

interface PendingLogin {
  slot: NetworkSlot;
  process: LoginProcess;
  step: LoginStep;
  values: Record<string, string>;
  fieldIndex: number;
}

export class Logins {
  /** Connected stored logins, by network + login id. */
  private readonly active = new Map<string, LoginClient>();
  /** Implicit logins (IRC's per-user connections) the connector handed out, by network + login id. */
  private readonly implicit = new Map<string, LoginClient>();
  private readonly pending = new Map<string, PendingLogin>();

  constructor(private readonly s: Services) {}

  private key(network: string, loginId: string): string {
    return `${network}\0${loginId}`;
  }

  /** A connected login (stored or implicit) by id. */
  get(network: string, loginId: string): LoginClient | undefined {
    const key = this.key(network, loginId);
    return this.active.get(key) ?? this.implicit.get(key);
  }

  /** A Matrix user's connected stored logins on a network. */
  ofUser(matrixUserId: string, network: string): LoginClient[] {
    const out: LoginClient[] = [];
    for (const [key, login] of this.active)
      if (login.matrixUserId === matrixUserId && key.startsWith(`${network}\0`)) out.push(login);
    return out;
  }

  /** The implicit logins a Matrix user has been given on a network. */
  implicitOf(matrixUserId: string, network: string): LoginClient[] {
    const out: LoginClient[] = [];
    for (const [key, login] of this.implicit)
      if (login.matrixUserId === matrixUserId && key.startsWith(`${network}\0`)) out.push(login);
    return out;
  }

  /** Asks the connector for the user's implicit login in a chat (and remembers it). */
  async implicitFor(slot: NetworkSlot, matrixUserId: string, chat: ChatRef): Promise<LoginClient | null> {
    const connector = slot.connector;
    if (!supportsImplicitLogins(connector)) return null;
    const login = await connector.implicitLogin(matrixUserId, chat);
    if (login) this.implicit.set(this.key(connector.id, login.loginId), login);
    return login;
  }

  /** The Matrix user a login id belongs to: a connected one, a stored one, or an implicit one. */
  async ownerOf(network: string, loginId: string): Promise<string | null> {
    const live = this.get(network, loginId);
    if (live) return live.matrixUserId;
    const record = await this.s.store.loginGet(network, loginId);
    if (record) return record.matrixUserId;
    const connector = this.s.networks.get(network)?.connector;
    return connector && supportsImplicitLogins(connector) ? connector.implicitLoginOwner(loginId) : null;
  }

  /**
   * Connects every stored active login at start. Credentials are opened first (no network
   * I/O), then logins connect concurrently (`startup.login_concurrency`), each given
   * `startup.login_timeout_seconds` before start goes on without it: a slow login keeps
   * connecting in the background and is used once it is up, so one unreachable workspace
   * never holds up the others. A login that fails is marked logged out and its owner told.
   */
  async loadAll(): Promise<void> {
    const work: Array<{ slot: NetworkSlot; record: LoginRecord; credentials: unknown }> = [];
    for (const slot of this.s.networks.values()) {
      if (!supportsLogins(slot.connector)) continue;
      for (const record of await this.s.store.loginsOfNetwork(slot.connector.id)) {
        if (record.state !== "active") continue;
        try {
          work.push({ slot, record, credentials: this.s.box.open(record.credentials) });
          this.s.states.report(slot.connector.id, { loginId: record.loginId, state: "CONNECTING" });
        } catch (err) {
          await this.markFailed(record, `its stored credentials could not be read: ${String(err)}`);
        }
      }
    }
    const { login_concurrency: concurrency, login_timeout_seconds: timeout } = this.s.config.startup;
    let next = 0;
    const worker = async () => {
      while (next < work.length) {
        const item = work[next++];
        if (!item) break;
        const connecting = this.connect(item.slot, item.record, item.credentials);
        const inTime = await Promise.race([
          connecting.then(() => true),
          sleep(timeout * 1000, false, { ref: false }),
        ]);
        if (!inTime) {
          this.s.log.warn(
            { network: item.slot.connector.id, loginId: item.record.loginId, timeoutSeconds: timeout },
            "a stored login is slow to connect; starting without it (it keeps connecting)",
          );
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, work.length) }, worker));
  }

  /** Connects one stored login; never throws (a failure marks it logged out). */
  private async connect(slot: NetworkSlot, record: LoginRecord, credentials: unknown): Promise<void> {
    const connector = slot.connector;
    if (!supportsLogins(connector)) return;
    try {
      const login = await connector.loadLogin({
        loginId: record.loginId,
        matrixUserId: record.matrixUserId,
        remoteName: record.remoteName,
        credentials,
      });
      if (this.s.stopping.aborted) {
        await login.disconnect().catch(() => undefined);
        return;
      }
      this.active.set(this.key(connector.id, record.loginId), login);
      this.s.states.report(connector.id, { loginId: record.loginId, state: "CONNECTED" });
    } catch (err) {
      this.s.log.warn(
        { err: String(err), network: connector.id, loginId: record.loginId },
        "a stored login could not connect",
      );
      await this.markFailed(record, `could not reconnect: ${String(err)}`);
    }
  }

  async disconnectAll(): Promise<void> {
    const all = [...this.active.values(), ...this.implicit.values()];
    await Promise.all(all.map((l) => l.disconnect().catch(() => undefined)));
    this.active.clear();
    this.implicit.clear();
    for (const p of this.pending.values()) p.process.cancel();
    this.pending.clear();
  }

  isPending(matrixUserId: string): boolean {
    return this.pending.has(matrixUserId);
  }

  cancel(matrixUserId: string): boolean {
    const p = this.pending.get(matrixUserId);
    if (!p) return false;
    p.process.cancel();
    this.pending.delete(matrixUserId);
    return true;
  }

  /** Starts a login; returns what to tell the user. */
  async start(
    slot: NetworkSlot,
    matrixUserId: string,
    flowId?: string,
    inlineValues: string[] = [],
  ): Promise<string> {
    const connector = slot.connector;
    if (!supportsLogins(connector))
      return `${connector.displayName} has no logins: your messages are relayed by the bridge.`;
    const flows = connector.loginFlows;
    const flow = flowId ? flows.find((f) => f.id === flowId) : flows[0];
    if (!flow)
      return `Unknown login method "${flowId ?? ""}". Methods: ${flows.map((f) => `${f.id} (${f.description})`).join(", ")}`;
    this.cancel(matrixUserId);
    const process = connector.createLogin(flow.id, matrixUserId);
    const step = await process.start();
    const pending: PendingLogin = { slot, process, step, values: {}, fieldIndex: 0 };
    this.pending.set(matrixUserId, pending);
    // "login slack token xoxp-…" answers the fields in one line.
    if (step.type === "input" && inlineValues.length > 0) {
      let reply = "";
      for (const value of inlineValues) reply = await this.answer(matrixUserId, value);
      return reply;
    }
    return this.describe(matrixUserId, pending);
  }

  /** Feeds the user's next message to their pending login. */
  async answer(matrixUserId: string, text: string): Promise<string> {
    const p = this.pending.get(matrixUserId);
    if (!p) return "No login in progress.";
    if (p.step.type !== "input") return "Waiting for the other side; say `cancel` to stop.";
    const field = p.step.fields[p.fieldIndex];
    if (!field) return "Unexpected input.";
    p.values[field.id] = text.trim();
    p.fieldIndex++;
    if (p.fieldIndex < p.step.fields.length) return this.describe(matrixUserId, p);
    if (!p.process.submit) return "This login method takes no input.";
    try {
      p.step = await p.process.submit(p.values);
    } catch (err) {
      this.pending.delete(matrixUserId);
      return `Login failed: ${(err as Error).message}`;
    }
    p.values = {};
    p.fieldIndex = 0;
    return this.describe(matrixUserId, p);
  }

  private async describe(matrixUserId: string, p: PendingLogin): Promise<string> {
    const step = p.step;
    if (step.type === "input") {
      const field = step.fields[p.fieldIndex];
      if (!field) return step.instructions;
      return `${p.fieldIndex === 0 ? step.instructions + "\n" : ""}Send your ${field.name}${field.description ? ` (${field.description})` : ""}.${field.secret ? " I will redact your message once I have read it." : ""}`;
    }
    if (step.type === "display") {
      if (p.process.wait) {
        const waiting = p.process.wait();
        void waiting.then(
          async (next) => {
            p.step = next;
            const text = await this.describe(matrixUserId, p);
            await this.s.bot
              .sendEvent((await this.s.store.userGet(matrixUserId))?.managementRoom ?? "", "m.room.message", {
                msgtype: "m.notice",
                body: text,
              })
              .catch(() => undefined);
          },
          () => this.pending.delete(matrixUserId),
        );
      }
      if (step.qr) await this.sendQr(matrixUserId, step.qr);
      return [step.instructions, step.url].filter(Boolean).join("\n");
    }
    this.pending.delete(matrixUserId);
    return this.complete(p.slot, matrixUserId, step);
  }

  /** Shows a QR code as an image in the user's management room (device-linking logins). */
  private async sendQr(matrixUserId: string, data: string): Promise<void> {
    const room = (await this.s.store.userGet(matrixUserId))?.managementRoom;
    if (!room) return;
    // Only QR logins draw codes: the encoder is loaded the first time one is drawn, not at start.
    const { default: QRCode } = await import("qrcode");
    const png = await QRCode.toBuffer(data, { type: "png", margin: 2, scale: 8 });
    const url = await this.s.bot.upload(png, "image/png", "login-qr.png");
    await this.s.bot.sendEvent(room, "m.room.message", {
      msgtype: "m.image",
      body: "login-qr.png",
      url,
      info: { mimetype: "image/png", size: png.length },
    });
  }

  private async complete(
    slot: NetworkSlot,
    matrixUserId: string,
    step: Extract<LoginStep, { type: "complete" }>,
  ): Promise<string> {
    return (await this.finish(slot, matrixUserId, step)).message;
  }

  /**
   * Stores and connects a finished login (the bot's conversation and the provisioning API both
   * end here); `ok` is false when it was refused or did not connect, with why in `message`.
   */
  async finish(
    slot: NetworkSlot,
    matrixUserId: string,
    step: Extract<LoginStep, { type: "complete" }>,
  ): Promise<{ ok: boolean; message: string }> {
    const connector = slot.connector;
    if (!supportsLogins(connector)) return { ok: false, message: `${connector.displayName} has no logins.` };
    const existing = await this.s.store.loginGet(connector.id, step.loginId);
    if (existing && existing.matrixUserId !== matrixUserId) {
      return {
        ok: false,
        message: `That ${connector.displayName} account is already logged in by another Matrix user.`,
      };
    }
    const record: LoginRecord = {
      network: connector.id,
      matrixUserId,
      loginId: step.loginId,
      credentials: this.s.box.seal(step.credentials),
      state: "active",
      remoteName: step.remoteName,
      createdAt: Date.now(),
      meta: {},
    };
    await this.s.store.loginPut(record);
    // Logging in again with the same account replaces its client.
    const previous = this.active.get(this.key(connector.id, step.loginId));
    if (previous) {
      this.active.delete(this.key(connector.id, step.loginId));
      await previous.disconnect().catch(() => undefined);
    }
    try {
      const login = await connector.loadLogin({
        loginId: step.loginId,
        matrixUserId,
        remoteName: step.remoteName,
        credentials: step.credentials,
      });
      this.active.set(this.key(connector.id, step.loginId), login);
      this.s.states.report(connector.id, { loginId: step.loginId, state: "CONNECTED" });
    } catch (err) {
      await this.markFailed(record, String(err));
      return { ok: false, message: `Logged in, but connecting failed: ${(err as Error).message}` };
    }
    return {
      ok: true,
      message: `Logged in to ${connector.displayName} as ${step.remoteName}. Your messages in bridged rooms now go out as you.`,
    };
  }

  /**
   * Ends exactly one login: `which` names it (login id, remote name, or its number in `status`);
   * it may be left out when the user has only one on the network. The remote session is
   * invalidated where the network can, then credentials, state and chat memberships are wiped.
   */
  async logout(slot: NetworkSlot, matrixUserId: string, which?: string): Promise<string> {
    const network = slot.connector.id;
    const name = slot.connector.displayName;
    const records = await this.s.store.loginsOf(matrixUserId, network);
    if (records.length === 0) return `You are not logged in to ${name}.`;
    const wanted = which?.trim().toLowerCase();
    const record = wanted
      ? records.find(
          (r, i) =>
            r.loginId.toLowerCase() === wanted ||
            r.remoteName.toLowerCase() === wanted ||
            String(i + 1) === wanted,
        )
      : records.length === 1
        ? records[0]
        : undefined;
    if (!record) {
      const list = records.map((r, i) => `${i + 1}. ${r.remoteName} (${r.loginId})`).join("\n");
      return `${wanted ? `You have no ${name} login "${which}". ` : ""}Your ${name} logins:\n${list}\nSay \`logout ${network} <number or login>\` to end one.`;
    }
    const key = this.key(network, record.loginId);
    const login = this.active.get(key);
    this.active.delete(key);
    // Forgotten first: the network's own "token revoked" echo must not read as a failed login.
    await this.forget(network, record.loginId);
    if (login) {
      await login
        .logout?.()
        .catch((err: unknown) => this.s.log.warn({ err: String(err) }, "remote logout failed"));
      await login.disconnect().catch(() => undefined);
    }
    return `Logged out of ${name} as ${record.remoteName}; your stored credentials are wiped, and its state.`;
  }

  /** Deletes everything the bridge keeps for a login. */
  private async forget(network: string, loginId: string): Promise<void> {
    const store = this.s.store;
    await store.loginDelete(network, loginId);
    await store.kvClear(loginStateNamespace(network, loginId));
    for (const m of await store.chatsOfLogin(network, loginId))
      await store.chatMemberDelete(network, m.channelId, m.receiver, loginId);
    this.s.states.forgetLogin(network, loginId);
  }

  /** Stores rotated credentials for a login (sealed). */
  async updateCredentials(network: string, loginId: string, credentials: unknown): Promise<void> {
    const record = await this.s.store.loginGet(network, loginId);
    if (!record) throw new Error(`no stored ${network} login ${loginId}`);
    record.credentials = this.s.box.seal(credentials);
    await this.s.store.loginPut(record);
  }

  /** The connector reports a login went bad (revoked, expired). */
  async failed(network: string, loginId: string, reason: string, loggedOut = false): Promise<void> {
    const record = await this.s.store.loginGet(network, loginId);
    if (!record) return;
    await this.markFailed(record, reason, loggedOut ? "LOGGED_OUT" : "BAD_CREDENTIALS");
  }

  /**
   * Marks a login logged out and tells its owner once: the connector's `loginFailed`, a stored
   * login that cannot reconnect, and a BAD_CREDENTIALS state report all end here.
   */
  private async markFailed(
    record: LoginRecord,
    reason: string,
    state: "BAD_CREDENTIALS" | "LOGGED_OUT" = "BAD_CREDENTIALS",
  ): Promise<void> {
    const previous = this.s.states.login(record.network, record.loginId);
    const wasActive = record.state === "active";
    record.state = "logged-out";
    await this.s.store.loginPut(record);
    // Recorded before telling anyone, so the state report below does not come back here.
    if (previous?.state !== state)
      this.s.states.report(record.network, {
        loginId: record.loginId,
        state,
        message: reason,
      });
    const key = this.key(record.network, record.loginId);
    const login = this.active.get(key);
    if (login) {
      this.active.delete(key);
      await login.disconnect().catch(() => undefined);
    }
    if (!wasActive && previous?.state === state) return;
    const user = await this.s.store.userGet(record.matrixUserId);
    if (user?.managementRoom) {
      const name = this.s.networks.get(record.network)?.connector.displayName ?? record.network;
      await this.s.bot
        .sendEvent(user.managementRoom, "m.room.message", {
          msgtype: "m.notice",
          body: `Your ${name} login (${record.remoteName}) stopped working: ${reason}. Messages are relayed until you log in again with \`login ${record.network}\`.`,
        })
        .catch(() => undefined);
    }
  }

  /** A connector reported a login's state: BAD_CREDENTIALS logs it out and tells its owner (once). */
  async onState(network: string, loginId: string, state: string, message: string | undefined): Promise<void> {
    if (state !== "BAD_CREDENTIALS") return;
    const record = await this.s.store.loginGet(network, loginId);
    if (record && record.state === "active")
      await this.markFailed(record, message ?? "the network refused its credentials");
  }
}
