import { pino, type Logger } from "pino";
import { redactDeep } from "./secrets.js";

/**
 * The process's logger; the server sets its level from LOG_LEVEL. Lines are
 * JSON, one per event, on stdout. Every line passes through the secrets'
 * redaction first: a URL or an error quoted in a log is shown without the
 * value of any secret MILEPOST_SECRETS grants.
 */
export const logger: Logger = pino({
  base: { pid: process.pid },
  hooks: {
    logMethod(args, method) {
      method.apply(this, redactDeep(args) as typeof args);
    },
  },
});

export type { Logger };
