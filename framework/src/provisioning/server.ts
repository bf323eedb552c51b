/**
 * The provisioning listener (`provisioning.bind:port`, off by default): the provisioning API and
 * the admin console. Its own port, so an admin can expose it (behind TLS) without exposing the
 * appservice port the homeserver pushes to. A handler's ApiError becomes its status and errcode;
 * anything else is logged and answered 500, and the listener keeps serving.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Logger } from "pino";
import { ApiError, sendError, sendJson } from "./http.js";

/** A part of the listener: answers true when the request was its own. */
export type Mount = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

export class ProvisioningServer {
  private server: Server | null = null;
  port = 0;

  constructor(
    private readonly mounts: Mount[],
    private readonly log: Logger,
  ) {}

  async listen(bind: string, port: number): Promise<void> {
    const server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, bind, () => resolve());
    });
    const addr = server.address();
    this.port = typeof addr === "object" && addr ? addr.port : port;
    this.server = server;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      for (const mount of this.mounts) if (await mount(req, res)) return;
      sendJson(res, 404, { errcode: "M_UNRECOGNIZED", error: "not found" });
    } catch (err) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof ApiError) {
        sendError(res, err);
        return;
      }
      this.log.error({ err: String(err), path: req.url?.split("?")[0] }, "provisioning request failed");
      sendError(res, new ApiError(500, "M_UNKNOWN", "the bridge could not do this; its log says why"));
    }
  }
}
