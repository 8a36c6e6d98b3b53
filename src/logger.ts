import { pino, type Logger } from "pino";

/**
 * The process's logger; the server sets its level from LOG_LEVEL. Lines are
 * JSON, one per event, on stdout.
 */
export const logger: Logger = pino({ base: { pid: process.pid } });

export type { Logger };
