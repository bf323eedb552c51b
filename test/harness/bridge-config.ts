import type { SlackDouble } from "../doubles/slack/index.js";
import type { Ircd } from "./ircd.js";

/**
 * The config sections the suites give the bridge for the real ircd and the Slack double: the
 * parts every suite needs once, with each suite's own keys merged over them.
 */

/** `bridges.irc` with one network, `test`, on the harness's ircd (a fast send rate for tests). */
export function ircBridge(ircd: Ircd, network: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    enabled: true,
    networks: {
      test: {
        host: ircd.host,
        port: ircd.port,
        bot_nick: "sbbot",
        send_rate: { lines_per_second: 50, burst: 50 },
        ...network,
      },
    },
  };
}

/** One `bridges.slack.workspaces` entry in Socket Mode on the double. */
export function slackWorkspace(
  slack: SlackDouble,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    mode: "socket",
    bot_token: slack.botToken,
    app_token: slack.appToken,
    api_url: slack.apiUrl,
    ...extra,
  };
}
