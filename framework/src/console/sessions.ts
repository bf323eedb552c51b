/**
 * Console sign-ins: a random session id in an HttpOnly, SameSite=Strict cookie, kept in memory
 * (a restart signs everyone out, which for an admin tool is a feature, and there is no user
 * database to keep). Each session has its own CSRF token, which every form posts back.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";

export const COOKIE = "sb_console";
const LIFETIME_MS = 12 * 3600_000;
const MAX_SESSIONS = 200;

export interface Session {
  userId: string;
  csrf: string;
  expires: number;
}

const sameSecret = (a: string, b: string): boolean =>
  timingSafeEqual(createHash("sha256").update(a).digest(), createHash("sha256").update(b).digest());

export class Sessions {
  private readonly byId = new Map<string, Session>();

  create(userId: string): { id: string; session: Session } {
    this.expire();
    if (this.byId.size >= MAX_SESSIONS) this.byId.delete(this.byId.keys().next().value as string);
    const id = randomBytes(24).toString("base64url");
    const session = {
      userId,
      csrf: randomBytes(18).toString("base64url"),
      expires: Date.now() + LIFETIME_MS,
    };
    this.byId.set(id, session);
    return { id, session };
  }

  of(req: IncomingMessage): Session | null {
    const id = cookie(req, COOKIE);
    if (!id) return null;
    const session = this.byId.get(id);
    if (!session || session.expires < Date.now()) return null;
    return session;
  }

  end(req: IncomingMessage): void {
    const id = cookie(req, COOKIE);
    if (id) this.byId.delete(id);
  }

  csrfOk(session: Session, posted: string | undefined): boolean {
    return typeof posted === "string" && sameSecret(session.csrf, posted);
  }

  private expire(): void {
    const now = Date.now();
    for (const [id, s] of this.byId) if (s.expires < now) this.byId.delete(id);
  }
}

export function cookie(req: IncomingMessage, name: string): string | null {
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) return v.join("=");
  }
  return null;
}

export function sessionCookie(id: string, secure: boolean): string {
  return `${COOKIE}=${id}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=${LIFETIME_MS / 1000}${secure ? "; Secure" : ""}`;
}

export const clearedCookie = `${COOKIE}=; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=0`;
