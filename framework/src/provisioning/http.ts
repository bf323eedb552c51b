/**
 * The small HTTP vocabulary the provisioning API and the admin console share: Matrix-style errors
 * (`{errcode, error}`), bounded JSON and form bodies, and JSON answers. node:http is enough for a
 * handful of routes on a listener of their own; a web framework would add a dependency and hide
 * where each request is authenticated.
 */
import type { IncomingMessage, ServerResponse } from "node:http";

/** An answer other than 2xx: the status and the Matrix errcode that tools switch on. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly errcode: string,
    message: string,
  ) {
    super(message);
  }
}

export const badRequest = (message: string) => new ApiError(400, "M_BAD_JSON", message);
export const notFound = (message: string) => new ApiError(404, "M_NOT_FOUND", message);
export const forbidden = (message: string) => new ApiError(403, "M_FORBIDDEN", message);

/** Bodies here are a few fields; anything larger is a mistake or an attack. */
const MAX_BODY_BYTES = 64 * 1024;

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES)
      throw new ApiError(413, "M_TOO_LARGE", `the body is over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** A JSON object body; an empty body is `{}` (mautrix clients send none to start a flow). */
export async function readJsonObject(req: IncomingMessage): Promise<Record<string, unknown>> {
  const text = await readBody(req);
  if (text.trim() === "") return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw badRequest("the body is not JSON");
  }
  if (value === null || typeof value !== "object" || Array.isArray(value))
    throw badRequest("the body must be a JSON object");
  return value as Record<string, unknown>;
}

/** A string field of a body, required or not; anything else is a 400 naming the field. */
export function stringField(body: Record<string, unknown>, name: string): string;
export function stringField(body: Record<string, unknown>, name: string, optional: true): string | undefined;
export function stringField(
  body: Record<string, unknown>,
  name: string,
  optional?: true,
): string | undefined {
  const value = body[name];
  if (value === undefined && optional) return undefined;
  if (typeof value !== "string" || value === "") throw badRequest(`"${name}" must be a non-empty string`);
  return value;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
  });
  res.end(text);
}

export function sendError(res: ServerResponse, error: ApiError): void {
  sendJson(res, error.status, { errcode: error.errcode, error: error.message });
}
