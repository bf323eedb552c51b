// `node --import ./test/harness/import-log.mjs …` appends the URL of every module the process
// imports to $SWITCHBOARD_IMPORT_LOG: how a test sees which libraries a command really loaded.
import { register } from "node:module";

register("./import-log-hooks.mjs", import.meta.url);
