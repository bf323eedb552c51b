#!/usr/bin/env node
// `switchboard` with the toy reference network added, for the test suites (see cli.ts).
import { register } from "tsx/esm/api";

register();
const { main } = await import("./cli.ts");
process.exitCode = await main(process.argv.slice(2));
