import { runCli, type BridgeModule } from "@switchboard/framework";
import { bridges } from "../../cli/main.js";
import { ReferenceConfigSchema } from "./connector.js";

/**
 * The `switchboard` command as the test suites and benchmarks run it: every shipped bridge,
 * plus the toy reference network the framework's own tests run on (it ships with nothing).
 */
export const testBridges: Record<string, BridgeModule> = {
  ...bridges,
  reference: {
    displayName: "Toy network",
    configSchema: ReferenceConfigSchema,
    load: async () => new (await import("./connector.js")).ReferenceConnector(),
  },
};

export function main(argv: string[]): Promise<number> {
  return runCli(argv, testBridges);
}
