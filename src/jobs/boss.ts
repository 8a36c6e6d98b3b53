import PgBoss from "pg-boss";
import { reportDatabaseError } from "../db/availability.js";
import type { Logger } from "../logger.js";

/** pg-boss keeps its tables here, apart from Prisma's. */
export const BOSS_SCHEMA = "pgboss";

/**
 * Starts pg-boss on the service's database. Api processes only send jobs, so
 * they leave maintenance and cron scheduling to the workers.
 */
export async function startBoss(databaseUrl: string, options: { runsWork: boolean; scheduleCheckSeconds?: number }, log: Logger): Promise<PgBoss> {
  const boss = new PgBoss({
    connectionString: databaseUrl,
    schema: BOSS_SCHEMA,
    application_name: "milepost",
    supervise: options.runsWork,
    schedule: options.runsWork,
    // A tick is sent within this of its minute, and then fetched within this (the default would be 30 s and 5 s).
    ...(options.scheduleCheckSeconds ? { cronMonitorIntervalSeconds: options.scheduleCheckSeconds, cronWorkerIntervalSeconds: options.scheduleCheckSeconds } : {}),
  });
  boss.on("error", (error) => {
    if (!reportDatabaseError(error, "pg-boss")) log.error({ err: error }, "pg-boss error");
  });
  await boss.start();
  return boss;
}
