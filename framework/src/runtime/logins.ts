import { setTimeout as sleep } from "node:timers/promises";
import QRCode from "qrcode";
import type { LoginProcess, LoginStep, RemoteLogin } from "../connector.js";
import { supportsLogins } from "../connector.js";
import type { LoginRecord } from "../store/types.js";
import type { NetworkSlot, Services } from "./services.js";

/**
 * Remote logins (puppeting): the conversation that creates one, credentials sealed at rest,
 * the connected sessions, logout that wipes. A user has at most one active login per
 * network for sending; more can be stored.
 */

interface PendingLogin {
  slot: NetworkSlot;
  process: LoginProcess;
  step: LoginStep;
  values: Record<string, string>;
  fieldIndex: number;
}

export class Logins {
  private readonly active = new Map<string, RemoteLogin>();
  private readonly pending = new Map<string, PendingLogin>();

  constructor(private readonly s: Services) {}

  private key(network: string, matrixUserId: string): string {
    return `${network}\0${matrixUserId}`;
  }

  activeFor(matrixUserId: string, network: string): RemoteLogin | undefined {
    return this.active.get(this.key(network, matrixUserId));
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
        credentials,
      });
      if (this.s.stopping.aborted) {
        await login.disconnect().catch(() => undefined);
        return;
      }
      this.active.set(this.key(connector.id, record.matrixUserId), login);
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
    await Promise.all([...this.active.values()].map((l) => l.disconnect().catch(() => undefined)));
    this.active.clear();
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
    const connector = slot.connector;
    if (!supportsLogins(connector)) return "";
    const existing = await this.s.store.loginGet(connector.id, step.loginId);
    if (existing && existing.matrixUserId !== matrixUserId) {
      return `That ${connector.displayName} account is already logged in by another Matrix user.`;
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
    try {
      const login = await connector.loadLogin({
        loginId: step.loginId,
        matrixUserId,
        credentials: step.credentials,
      });
      this.active.set(this.key(connector.id, matrixUserId), login);
      this.s.states.report(connector.id, { loginId: step.loginId, state: "CONNECTED" });
    } catch (err) {
      await this.markFailed(record, String(err));
      return `Logged in, but connecting failed: ${(err as Error).message}`;
    }
    return `Logged in to ${connector.displayName} as ${step.remoteName}. Your messages in bridged rooms now go out as you.`;
  }

  async logout(slot: NetworkSlot, matrixUserId: string): Promise<string> {
    const network = slot.connector.id;
    const records = await this.s.store.loginsOf(matrixUserId, network);
    if (records.length === 0) return `You are not logged in to ${slot.connector.displayName}.`;
    const login = this.active.get(this.key(network, matrixUserId));
    if (login) {
      await login
        .logout?.()
        .catch((err: unknown) => this.s.log.warn({ err: String(err) }, "remote logout failed"));
      await login.disconnect().catch(() => undefined);
      this.active.delete(this.key(network, matrixUserId));
    }
    for (const r of records) {
      await this.s.store.loginDelete(network, r.loginId);
      this.s.states.forgetLogin(network, r.loginId);
    }
    return `Logged out of ${slot.connector.displayName}; your stored credentials are wiped.`;
  }

  /** The connector reports a login went bad (revoked, expired). */
  async failed(network: string, loginId: string, reason: string): Promise<void> {
    const record = await this.s.store.loginGet(network, loginId);
    if (!record) return;
    await this.markFailed(record, reason);
  }

  /**
   * Marks a login logged out and tells its owner once: the connector's `loginFailed`, a stored
   * login that cannot reconnect, and a BAD_CREDENTIALS state report all end here.
   */
  private async markFailed(record: LoginRecord, reason: string): Promise<void> {
    const previous = this.s.states.login(record.network, record.loginId);
    const wasActive = record.state === "active";
    record.state = "logged-out";
    await this.s.store.loginPut(record);
    // Recorded before telling anyone, so the state report below does not come back here.
    if (previous?.state !== "BAD_CREDENTIALS")
      this.s.states.report(record.network, {
        loginId: record.loginId,
        state: "BAD_CREDENTIALS",
        message: reason,
      });
    const key = this.key(record.network, record.matrixUserId);
    const login = this.active.get(key);
    if (login?.loginId === record.loginId) {
      this.active.delete(key);
      await login.disconnect().catch(() => undefined);
    }
    if (!wasActive && previous?.state === "BAD_CREDENTIALS") return;
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
