import { reportDatabaseError } from "./db/availability.js";
import type { Logger } from "./logger.js";

/** Repeats of one cause are counted this long, then said in one line. */
const REPEAT_WINDOW_MS = 60_000;

/**
 * What the process does with a promise rejected with nobody to handle it
 * (pg-boss, for one, does not await the call that records a job's end): it
 * must not end a service holding other work. Each distinct cause is logged
 * once, in full, with a count of repeats a minute later if there are any. A
 * database outage is reported as such (a warning that the work is retried),
 * not as a bug.
 */
export function createRejectionReporter(log: Logger): (reason: unknown) => void {
  const seen = new Map<string, { count: number }>();
  return (reason) => {
    const outage = reportDatabaseError(reason, "unhandled rejection");
    const key = reason instanceof Error ? `${reason.name}: ${reason.message.split("\n")[0]}` : String(reason);
    const known = seen.get(key);
    if (known) {
      known.count++;
      return;
    }
    const entry = { count: 0 };
    seen.set(key, entry);
    if (outage) log.warn({ reason: key }, "a database call failed during the outage with nobody waiting for it; the work it belonged to is retried");
    else log.error({ err: reason }, "unhandled promise rejection (a bug: please report it); the service keeps running");
    setTimeout(() => {
      if (entry.count > 0) log.warn({ reason: key, repeats: entry.count }, "the same unhandled rejection repeated");
      seen.delete(key);
    }, REPEAT_WINDOW_MS).unref();
  };
}
