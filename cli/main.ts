import { runCli, type BridgeModule } from "@switchboard/framework";
import { ircBridge } from "@switchboard/bridge-irc/module";
import { slackBridge } from "@switchboard/bridge-slack/module";
import { signalBridge } from "@switchboard/bridge-signal/module";
import { discordBridge } from "@switchboard/bridge-discord/module";

/**
 * Every bridge Switchboard ships, by config key. The entry point imports only each bridge's
 * module (its schema and admin commands); a bridge's connector and network client library load
 * when the config enables it, so a disabled bridge costs nothing but its schema.
 */
export const bridges: Record<string, BridgeModule> = {
  irc: ircBridge,
  slack: slackBridge,
  signal: signalBridge,
  discord: discordBridge,
};

export function main(argv: string[]): Promise<number> {
  return runCli(argv, bridges);
}
