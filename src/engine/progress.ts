import { reportDatabaseError } from "../db/availability.js";
import { prisma } from "../db/client.js";
import { sendProgress, type ProgressEvent } from "./events.js";
import type { Logger } from "../logger.js";

type ProgressInput = Omit<ProgressEvent, "id" | "at" | "kind">;

/**
 * At most 4 PROGRESS events a second per subject (docs/architecture.md, rule 9): a
 * dashboard cannot show more, and a fast import would otherwise flood every
 * subscriber. The latest value always goes out (trailing edge).
 */
const MIN_INTERVAL_MS = 250;

export function createProgressReporter(log: Logger) {
  let lastSent = 0;
  let pending: ProgressInput | undefined;
  let timer: NodeJS.Timeout | undefined;
  let sending = Promise.resolve();

  const send = () => {
    timer = undefined;
    const event = pending;
    pending = undefined;
    if (!event) return;
    lastSent = Date.now();
    sending = sending
      .then(() => sendProgress(prisma(), event))
      .then(
        () => undefined,
        (error) => {
          // Progress is not stored: one lost while the database is away is replaced by the next.
          if (!reportDatabaseError(error, "progress")) log.warn({ err: error }, "could not send a progress event");
        },
      );
  };

  return {
    report(event: ProgressInput) {
      pending = event;
      if (timer) return;
      const wait = lastSent + MIN_INTERVAL_MS - Date.now();
      if (wait <= 0) send();
      else timer = setTimeout(send, wait);
    },
    /** Sends what is pending now and waits for it. */
    async flush() {
      if (timer) clearTimeout(timer);
      send();
      await sending;
    },
  };
}
