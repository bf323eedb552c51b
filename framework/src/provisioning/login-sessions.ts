/**
 * Logins driven over HTTP: the connector's own LoginProcess (the same steps the bot's DM walks
 * through), with an id per process and per step so a client answers the step it was shown and
 * not a later one. Steps are written in mautrix bridgev2's shape (`user_input`,
 * `display_and_wait`, `complete`) so tools made for its provisioning API can drive ours.
 */
import { randomBytes } from "node:crypto";
import { supportsLogins, type LoginProcess, type LoginStep } from "../connector.js";
import type { Logins } from "../runtime/logins.js";
import type { NetworkSlot } from "../runtime/services.js";
import { ApiError, badRequest, notFound } from "./http.js";

/** A process nobody touched for this long is cancelled (a QR code left on a closed tab). */
const IDLE_MS = 15 * 60_000;

interface Session {
  id: string;
  slot: NetworkSlot;
  userId: string;
  flowId: string;
  process: LoginProcess;
  step: LoginStep;
  stepNumber: number;
  touched: number;
}

export type StepJson = Record<string, unknown>;

export class LoginSessions {
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly logins: Logins) {}

  async start(slot: NetworkSlot, userId: string, flowId: string): Promise<StepJson> {
    this.expire();
    const connector = slot.connector;
    if (!supportsLogins(connector))
      throw new ApiError(404, "M_NOT_FOUND", `${connector.displayName} has no logins`);
    if (!connector.loginFlows.some((f) => f.id === flowId))
      throw notFound(`no login flow "${flowId}"; flows: ${connector.loginFlows.map((f) => f.id).join(", ")}`);
    const process = connector.createLogin(flowId, userId);
    const step = await this.guarded(() => process.start());
    const session: Session = {
      id: `sbl_${randomBytes(12).toString("base64url")}`,
      slot,
      userId,
      flowId,
      process,
      step,
      stepNumber: 1,
      touched: Date.now(),
    };
    this.sessions.set(session.id, session);
    return this.advance(session, step);
  }

  /** Answers the step `stepId` of a process: its input fields, or a wait for a display step. */
  async step(
    userId: string,
    processId: string,
    stepId: string,
    kind: string,
    body: Record<string, unknown>,
  ): Promise<StepJson> {
    const session = this.sessions.get(processId);
    if (!session || session.userId !== userId) throw notFound(`no login process ${processId}`);
    if (stepId !== this.stepId(session))
      throw new ApiError(
        400,
        "M_BAD_STATE",
        `step ${stepId} is not the current step (${this.stepId(session)})`,
      );
    session.touched = Date.now();
    const step = session.step;
    if (kind === "user_input") {
      if (step.type !== "input") throw new ApiError(400, "M_BAD_STATE", "the current step takes no input");
      const values: Record<string, string> = {};
      for (const field of step.fields) {
        const value = body[field.id];
        if (typeof value !== "string" || value.trim() === "")
          throw badRequest(`"${field.id}" (${field.name}) must be a non-empty string`);
        values[field.id] = value.trim();
      }
      const submit = session.process.submit?.bind(session.process);
      if (!submit) throw new ApiError(400, "M_BAD_STATE", "this login method takes no input");
      return this.advance(session, await this.guarded(() => submit(values), session));
    }
    if (kind === "display_and_wait") {
      if (step.type !== "display") throw new ApiError(400, "M_BAD_STATE", "the current step is not a wait");
      const wait = session.process.wait?.bind(session.process);
      if (!wait) throw new ApiError(400, "M_BAD_STATE", "this login method has nothing to wait for");
      return this.advance(session, await this.guarded(() => wait(), session));
    }
    throw badRequest(`unknown step type "${kind}" (user_input or display_and_wait)`);
  }

  cancel(userId: string, processId: string): void {
    const session = this.sessions.get(processId);
    if (!session || session.userId !== userId) throw notFound(`no login process ${processId}`);
    this.end(session);
  }

  stop(): void {
    for (const session of [...this.sessions.values()]) this.end(session);
  }

  private async advance(session: Session, step: LoginStep): Promise<StepJson> {
    session.step = step;
    session.stepNumber++;
    const base = {
      login_id: session.id,
      step_id: this.stepId(session),
      instructions: step.type === "complete" ? "" : step.instructions,
    };
    if (step.type === "input") {
      return {
        ...base,
        type: "user_input",
        user_input: {
          fields: step.fields.map((f) => ({
            type: f.secret ? "password" : "username",
            id: f.id,
            name: f.name,
            description: f.description ?? "",
          })),
        },
      };
    }
    if (step.type === "display") {
      return {
        ...base,
        type: "display_and_wait",
        display_and_wait: step.qr ? { type: "qr", data: step.qr } : { type: "nothing" },
        ...(step.url ? { url: step.url } : {}),
        instructions: [step.instructions, step.url].filter(Boolean).join("\n"),
      };
    }
    this.sessions.delete(session.id);
    const result = await this.logins.finish(session.slot, session.userId, step);
    if (!result.ok) throw new ApiError(400, "M_LOGIN_FAILED", result.message);
    return {
      ...base,
      type: "complete",
      instructions: result.message,
      complete: { user_login_id: step.loginId, remote_name: step.remoteName },
    };
  }

  private stepId(session: Session): string {
    return `fi.switchboard.${session.slot.connector.id}.${session.flowId}.${session.stepNumber}`;
  }

  /** A connector's refusal (a wrong token) ends the process with a 400 naming why. */
  private async guarded(run: () => Promise<LoginStep>, session?: Session): Promise<LoginStep> {
    try {
      return await run();
    } catch (err) {
      if (session) this.end(session);
      throw new ApiError(400, "M_LOGIN_FAILED", `login failed: ${(err as Error).message}`);
    }
  }

  private end(session: Session): void {
    this.sessions.delete(session.id);
    try {
      session.process.cancel();
    } catch {
      // A process that cannot cancel has nothing left to stop.
    }
  }

  private expire(): void {
    const now = Date.now();
    for (const session of [...this.sessions.values()]) if (now - session.touched > IDLE_MS) this.end(session);
  }
}
