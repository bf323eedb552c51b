import type { WebClient } from "@slack/web-api";
import type { LoginProcess, LoginStep, RemoteLogin } from "@switchboard/framework";
import * as ids from "./ids.js";
import type { SlackWorkspace } from "./workspace.js";

/** A Matrix user's Slack account, used to send as them, mark read and see their DMs. */
export class SlackLogin implements RemoteLogin {
  readonly web: WebClient;
  private readonly memberOf = new Map<string, boolean>();

  constructor(
    readonly loginId: string,
    readonly matrixUserId: string,
    readonly remoteName: string,
    readonly slackUserId: string,
    readonly workspace: SlackWorkspace,
    readonly token: string,
    private readonly onClose: (login: SlackLogin) => void,
  ) {
    this.web = workspace.client(token);
  }

  /** Whether this account is in a conversation (DMs are bridged per member), cached. */
  async isMember(channel: string): Promise<boolean> {
    const known = this.memberOf.get(channel);
    if (known !== undefined) return known;
    let member = false;
    try {
      for await (const page of this.web.paginate("conversations.members", { channel, limit: 500 })) {
        if (((page as { members?: string[] }).members ?? []).includes(this.slackUserId)) member = true;
      }
    } catch {
      member = false;
    }
    this.memberOf.set(channel, member);
    return member;
  }

  async disconnect(): Promise<void> {
    this.onClose(this);
  }

  /** Revokes the token on Slack: the workspace's bot token is untouched, so others keep working. */
  async logout(): Promise<void> {
    await this.web.auth.revoke().catch(() => undefined);
    this.onClose(this);
  }
}

export const SLACK_TOKEN_ERRORS = new Set([
  "token_revoked",
  "token_expired",
  "invalid_auth",
  "account_inactive",
  "not_authed",
]);

/** The error code of a failed Web API call, when Slack gave one. */
export function slackError(err: unknown): string | undefined {
  const data = (err as { data?: { error?: unknown } } | null)?.data;
  return typeof data?.error === "string" ? data.error : undefined;
}

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
      return userTokenStep(all[0].client(token), token, all);
    },
    cancel: () => undefined,
  };
}
