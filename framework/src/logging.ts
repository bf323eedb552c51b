/**
 * The bridge's log: JSON lines for machines (piped, under systemd, into a log shipper), readable
 * lines for a person at a terminal. pino-pretty runs as a stream in this thread rather than as a
 * pino transport, which would start a worker thread (and its memory) for every bridge process.
 * It is required only when the log is pretty: a bridge under systemd never loads it.
 */
import { createRequire } from "node:module";
import pino, { type Logger } from "pino";
import type PinoPretty from "pino-pretty";
import type { Config } from "./config/schema.js";

export type LogFormat = "json" | "pretty";

/** `auto` is pretty exactly when the output is a terminal. */
export function logFormat(setting: Config["logging"]["format"], isTerminal: boolean): LogFormat {
  if (setting === "auto") return isTerminal ? "pretty" : "json";
  return setting;
}

export function createLogger(
  logging: Config["logging"],
  out: NodeJS.WritableStream & { isTTY?: boolean } = process.stdout,
): Logger {
  const options = { level: logging.level, base: undefined };
  if (logFormat(logging.format, out.isTTY === true) === "json")
    // Standard output goes through pino's own fast writer; another stream (tests) as it is.
    return out === process.stdout ? pino(options) : pino(options, out as pino.DestinationStream);
  const pretty = createRequire(import.meta.url)("pino-pretty") as typeof PinoPretty;
  return pino(
    options,
    pretty({
      destination: out,
      sync: true,
      colorize: out.isTTY === true,
      translateTime: "SYS:HH:MM:ss.l",
      ignore: "pid,hostname",
      singleLine: true,
    }),
  );
}
