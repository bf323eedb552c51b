import type { WebClient } from "@slack/web-api";
import type { LoginProcess, LoginStep } from "@switchboard/framework";
import { slackError } from "./errors.js";
import * as ids from "./ids.js";
import type { SlackWorkspace } from "./workspace.js";

/**
 * How a Matrix user logs in with a Slack user token: pasted (`tokenLogin`) or obtained by OAuth
 * (oauth.ts); both end in `userTokenStep`. The login's client is `SlackLogin` (logins.ts).
 */

/** Slack accepts the token, but for a workspace this bridge is not connected to. */
export class ForeignWorkspaceError extends Error {}

/**
 * The "complete" step for a user token, whichever way it was obtained: auth.test (with `web`, a
 * client holding the token) says whose it is, and it must be in one of the bridged workspaces.
 */
export async function userTokenStep(
  web: WebClient,
  token: string,
  workspaces: SlackWorkspace[],
): Promise<LoginStep> {
  const auth = await web.auth.test().catch((err: unknown) => {
    throw new Error(`Slack refused the token: ${slackError(err) ?? String(err)}`);
  });
  const ws = workspaces.find((w) => w.teamId === auth.team_id);
  if (!ws)
    throw new ForeignWorkspaceError(
      `that account is in the Slack workspace "${String(auth.team ?? auth.team_id)}", which this bridge is not connected to`,
    );
  return {
    type: "complete",
    loginId: ids.userId(ws.teamId, String(auth.user_id)),
    remoteName: `${String(auth.user)} on ${ws.teamName}`,
    credentials: { token },
  };
}

/** Login with a user token (xoxp-…): checked with auth.test against the bridged workspaces. */
export function tokenLogin(workspaces: () => SlackWorkspace[]): LoginProcess {
  return {
    start: async (): Promise<LoginStep> => ({
      type: "input",
      instructions:
        "Send your Slack user token (xoxp-…). Your workspace admin can give you one from the bridge's Slack app " +
        "(OAuth & Permissions → User OAuth Token); it lets the bridge post as you and mark your chats read.",
      fields: [{ id: "token", name: "token", secret: true }],
    }),
    submit: async (values): Promise<LoginStep> => {
      const token = (values.token ?? "").trim();
      if (!/^xox[pc]-/.test(token)) throw new Error("that is not a Slack user token: it starts with xoxp-");
      const all = workspaces();
      if (!all[0]) throw new Error("no Slack workspace is configured on this bridge");
      // Workspaces may sit behind different API URLs (Enterprise Grid hosts, a proxy, test
      // doubles): ask each distinct one until one knows the token.
      const byUrl = new Map(all.map((ws) => [ws.config.api_url ?? "", ws]));
      let refused: unknown;
      for (const ws of byUrl.values()) {
        try {
          return await userTokenStep(ws.client(token), token, all);
        } catch (err) {
          if (err instanceof ForeignWorkspaceError) throw err;
          refused = err;
        }
      }
      throw refused instanceof Error ? refused : new Error(String(refused));
    },
    cancel: () => undefined,
  };
}
