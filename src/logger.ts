import { pino, type Logger } from "pino";
import { prettyFactory } from "pino-pretty";
import { redactDeep } from "./secrets.js";

/** How lines are written: JSON (for machines), or one readable line each (for a person at a terminal). */
export type LogFormat = "auto" | "json" | "pretty";

let pretty = false;
// A move's fields (`move`) say again what its line says.
const prettify = prettyFactory({ colorize: Boolean(process.stdout.isTTY && process.stdout.hasColors?.()), ignore: "pid,hostname,move", translateTime: "SYS:HH:MM:ss", singleLine: true });

/**
 * The process's logger; the server sets its level from LOG_LEVEL and its
 * format from LOG_FORMAT. Lines are JSON, one per event, on stdout, or
 * readable ones when a person watches. Every line passes through the
 * secrets' redaction first: a URL or an error quoted in a log is shown
 * without the value of any secret MILEPOST_SECRETS grants.
 */
export const logger: Logger = pino(
  {
    base: { pid: process.pid },
    hooks: {
      logMethod(args, method) {
        method.apply(this, redactDeep(args) as typeof args);
      },
    },
  },
  { write: (line: string) => void process.stdout.write(pretty ? prettyLine(line) : line) },
);

/**
 * What a terminal must not be sent from a log's values (an upstream's error
 * text, a page title): C0 and C1 controls, escaped by JSON or not, line
 * breaks (one event, one line) and bidirectional overrides.
 */
const UNSHOWABLE = /\\(?:\\|u00(?:[01][0-9a-fA-F]|7[fF])|[nrt])|[\u0080-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** A JSON log line as one readable line, its values unable to move the cursor, clear the screen or reorder the text. */
export function prettyLine(json: string): string {
  // An escaped backslash stays what it is: only the escapes of what may not be shown become spaces.
  return prettify(json.replace(UNSHOWABLE, (found) => (found === "\\\\" ? found : " ")));
}

/** `auto`: readable when stdout is a terminal, JSON otherwise (a pipe, a file, a log collector). */
export function configureLogFormat(format: LogFormat): void {
  pretty = format === "pretty" || (format === "auto" && Boolean(process.stdout.isTTY));
}

export type { Logger };
