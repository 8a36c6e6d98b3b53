import { z } from "zod";
import { Prisma } from "../../generated/prisma/client.js";
import type { WorkKind } from "../../engine/kind.js";
import { declareQueue, type Queue } from "../../engine/queues.js";

/** Collector runs, to the engine: their rows are in "CollectorRun", their events scoped by collector. */
export const COLLECTOR_RUN_KIND = {
  subject: "COLLECTOR_RUN",
  table: "CollectorRun",
  flags: ["pauseRequested", "cancelRequested"],
  scope: "collector",
  columns: Object.values(Prisma.CollectorRunScalarFieldEnum),
} as const satisfies WorkKind;

/**
 * The pg-boss queue whose jobs run collector runs, one job an attempt.
 * Named without a dash, so no collector's own queue (`collector-<name>`)
 * can take its name.
 */
export const collectorRunQueue = declareQueue({
  name: "collectors",
  payload: z.object({ runId: z.number().int().positive() }),
  options: { policy: "standard", retryLimit: 0, expireInHours: 23, retentionDays: 7 },
});

/** What a cron tick carries: nothing but the fact that it fired (the queue says which collector). */
const tickPayload = z.object({}).passthrough();
const tickQueues = new Map<string, Queue<z.infer<typeof tickPayload>>>();

/**
 * The queue of one collector's cron ticks, declared when the collector is
 * registered: pg-boss keeps one schedule per queue name, so each collector
 * needs its own. Declared once per process, however often it is registered.
 */
export function tickQueue(collector: string): Queue<z.infer<typeof tickPayload>> {
  let queue = tickQueues.get(collector);
  if (!queue) {
    queue = declareQueue({ name: `collector-${collector}`, payload: tickPayload, options: { policy: "standard", retryLimit: 0, expireInMinutes: 15, retentionDays: 1 } });
    tickQueues.set(collector, queue);
  }
  return queue;
}
