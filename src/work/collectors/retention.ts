import { prisma } from "../../db/client.js";

/**
 * Deletes the finished runs of each collector past its newest `kept` (and
 * their events), so a collector scheduled every minute does not grow its
 * table by half a million rows a year. What the next run plans from lives
 * on the collector's row, not on its runs; stats are over the runs kept.
 */
export async function pruneCollectorRuns(kept: number): Promise<number> {
  const [{ count }] = await prisma().$queryRaw<{ count: number }[]>`
    WITH old AS (
      SELECT id FROM (SELECT id, status, row_number() OVER (PARTITION BY collector ORDER BY id DESC) AS newest FROM "CollectorRun") ranked
      WHERE newest > ${kept} AND status IN ('COMPLETED', 'FAILED', 'CANCELLED')
    ), doomed AS (
      DELETE FROM "CollectorRun" r USING old WHERE r.id = old.id RETURNING r.id
    ), events AS (
      DELETE FROM "Event" WHERE "subjectKind" = 'COLLECTOR_RUN' AND "subjectId" IN (SELECT id FROM doomed)
    )
    SELECT count(*)::int AS count FROM doomed`;
  return count;
}
