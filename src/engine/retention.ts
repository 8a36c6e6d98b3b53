import { prisma } from "../db/client.js";
import { tableOf, type WorkKind } from "./kind.js";

/** Rows deleted per statement, so retention never holds long locks on a busy Event table. */
const BATCH = 10_000;

/**
 * Deletes LOG and STATUS events older than `days` of work that is finished
 * (or whose row is gone), kind by kind, in batches; returns how many. A
 * subject's last CHECKPOINT is kept, and nothing of unfinished work is
 * touched, however old: a running import's history stays whole.
 */
export async function deleteOldEvents(kinds: WorkKind[], days: number, now = Date.now()): Promise<number> {
  const cutoff = new Date(now - days * 86_400_000);
  let total = 0;
  for (const kind of kinds) {
    for (;;) {
      const deleted = await prisma().$executeRaw`
        DELETE FROM "Event" WHERE id IN (
          SELECT e.id FROM "Event" e
          WHERE e.at < ${cutoff} AND e.kind IN ('LOG', 'STATUS') AND e."subjectKind" = ${kind.subject}::"SubjectKind"
            AND NOT EXISTS (SELECT 1 FROM ${tableOf(kind)} w WHERE w.id = e."subjectId" AND w.status NOT IN ('COMPLETED', 'FAILED', 'CANCELLED'))
          LIMIT ${BATCH})`;
      total += deleted;
      if (deleted < BATCH) break;
    }
  }
  return total;
}
