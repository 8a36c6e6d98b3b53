import { prisma } from "../../db/client.js";
import { DB_NOW, dbNowPlus } from "../clock.js";
import { tableOf } from "../kind.js";
import { moveWork } from "../move.js";
import { staleRunning, type Recovery } from "../sweep.js";
import type { CheckpointedKind, CheckpointedRow } from "./kind.js";

/** A WAITING row this long past its time has lost its job (e.g. sent while the database was away). */
const OVERDUE_WAIT_MS = 30_000;
/** A PENDING row untouched this long has probably lost its job; a second one is harmless (claims are idempotent). */
const LOST_PENDING_MS = 5 * 60_000;

/**
 * What the sweep does for a checkpointed kind: a RUNNING row whose worker
 * stopped renewing its lease goes where the kind says (PENDING, to run
 * again from its last checkpoint, or FAILED), and every row that should be
 * running but has no job (a PENDING one handed on, a WAITING one long past
 * its time, a PENDING one whose job was lost) gets one, in the same
 * transaction; touched, so a row behind a long queue gets one job per
 * interval, not one per sweep.
 */
export function checkpointedRecovery<Row extends CheckpointedRow>(kind: CheckpointedKind<Row, unknown>): Recovery {
  const table = tableOf(kind.work);
  return {
    kind: kind.work,
    async recover() {
      const sent = await prisma().$transaction(async (tx) => {
        const failed = kind.lost.to === "FAILED" ? kind.failed?.(kind.lost.reason) : undefined;
        const lost = await moveWork<Row>(tx, kind.work, { picked: staleRunning(kind.work), to: kind.lost.to, reason: kind.lost.reason, set: failed, onRefused: "skip" });
        const orphans = await tx.$queryRaw<{ id: number }[]>`
          UPDATE ${table} t SET "updatedAt" = ${DB_NOW}
          FROM (
            SELECT id FROM ${table}
            WHERE (status = 'WAITING' AND "resumeAt" < ${dbNowPlus(-OVERDUE_WAIT_MS)} AND "updatedAt" < ${dbNowPlus(-OVERDUE_WAIT_MS)})
              OR (status = 'PENDING' AND "updatedAt" < ${dbNowPlus(-LOST_PENDING_MS)})
            FOR UPDATE SKIP LOCKED
          ) due WHERE t.id = due.id
          RETURNING t.id`;
        const ids = [...lost.filter((row) => row.status === "PENDING").map((row) => row.id), ...orphans.map((row) => row.id)];
        for (const id of ids) await kind.queue.send(kind.payload(id), { tx });
        return lost.length + orphans.length;
      });
      if (sent > 0) kind.queue.wake();
      return sent;
    },
  };
}
