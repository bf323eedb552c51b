import { runCli, type ConnectorFactory } from "@switchboard/framework";
import { connectors } from "../../cli/main.js";
import { ReferenceConnector } from "./connector.js";

/**
 * The `switchboard` command as the test suites and benchmarks run it: every shipped bridge,
 * plus the toy reference network the framework's own tests run on (it ships with nothing).
 */
export const testConnectors: Record<string, ConnectorFactory> = {
  ...connectors,
  reference: () => new ReferenceConnector(),
};

export function main(argv: string[]): Promise<number> {
  return runCli(argv, testConnectors);
}
