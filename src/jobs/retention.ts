import type PgBoss from "pg-boss";
import { deleteOldEvents } from "../engine/retention.js";
import type { WorkKind } from "../engine/kind.js";
import type { Logger } from "../logger.js";
import { QUEUES } from "../engine/queues.js";

/** Hourly, at a minute no other job of this service uses. */
const RETENTION_CRON = "17 * * * *";

/**
 * Schedules event retention through pg-boss's cron (kept in the database,
 * so one schedule serves every worker process) and works its jobs here.
 */
export async function startEventRetention(boss: PgBoss, kinds: WorkKind[], days: number, log: Logger): Promise<void> {
  const { name } = QUEUES.eventRetention;
  await boss.schedule(name, RETENTION_CRON, {}, { tz: "UTC" });
  await boss.work(name, async () => {
    const deleted = await deleteOldEvents(kinds, days);
    log.info({ deleted, olderThanDays: days }, "old events of finished work deleted");
  });
}
