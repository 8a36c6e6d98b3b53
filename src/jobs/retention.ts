import { z } from "zod";
import { deleteOldEvents } from "../engine/retention.js";
import type { WorkKind } from "../engine/kind.js";
import { currentBoss, declareQueue } from "../engine/queues.js";
import type { Logger } from "../logger.js";
import { pruneCollectorRuns } from "../work/collectors/retention.js";

/** Hourly, at a minute no other job of this service uses. */
const RETENTION_CRON = "17 * * * *";

/**
 * Deletes old LOG and STATUS events of finished work (EVENT_RETENTION_DAYS),
 * on a cron schedule; one run at a time across every process.
 */
const retentionQueue = declareQueue({
  name: "event-retention",
  payload: z.object({}).passthrough(),
  options: { policy: "singleton", retryLimit: 2, retryDelay: 60, expireInHours: 1, retentionDays: 7 },
});

/**
 * Schedules retention (old events; collector runs past the newest kept) through pg-boss's cron (kept in the database,
 * so one schedule serves every worker process) and works its jobs here.
 */
export async function startEventRetention(kinds: WorkKind[], keep: { days: number; collectorRuns: number }, log: Logger): Promise<void> {
  await currentBoss().schedule(retentionQueue.name, RETENTION_CRON, {}, { tz: "UTC" });
  await retentionQueue.work(1, async () => {
    const deleted = await deleteOldEvents(kinds, keep.days);
    log.info({ deleted, olderThanDays: keep.days }, "old events of finished work deleted");
    const runs = await pruneCollectorRuns(keep.collectorRuns);
    if (runs > 0) log.info({ deleted: runs, keptPerCollector: keep.collectorRuns }, "old collector runs deleted");
  });
}
