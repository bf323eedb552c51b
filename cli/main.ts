import { runCli, type ConnectorFactory } from "@switchboard/framework";
import { IrcConnector } from "@switchboard/bridge-irc";
import { SlackConnector } from "@switchboard/bridge-slack";
import { SignalConnector } from "@switchboard/bridge-signal";
import { DiscordConnector } from "@switchboard/bridge-discord";

/**
 * Every bridge Switchboard ships, by config key. The framework takes them as factories so
 * it never imports a bridge; a disabled bridge costs nothing but its schema.
 */
export const connectors: Record<string, ConnectorFactory> = {
  irc: () => new IrcConnector(),
  slack: () => new SlackConnector(),
  signal: () => new SignalConnector(),
  discord: () => new DiscordConnector(),
};

export function main(argv: string[]): Promise<number> {
  return runCli(argv, connectors);
}
