import { Prisma } from "../../generated/prisma/client.js";
import { prisma } from "../../db/client.js";
import { dbNowPlus } from "../clock.js";
import { columnsOf, tableOf } from "../kind.js";
import { moveWork } from "../move.js";
import type { CheckpointedKind, CheckpointedRow } from "./kind.js";

/** A WAITING row may be claimed this much before its resume time: its job fires on whole seconds. */
const EARLY_MS = 1000;

/**
 * Takes a row for an attempt if it is runnable: a PENDING row, or a WAITING
 * one whose time has come, becomes RUNNING under `attempt` (a move, with its
 * STATUS event: "started", or "resumed" once it has run before). A row
 * already RUNNING under this same attempt (the claim's answer was lost, and
 * the attempt tries again) comes back as it is. Anything else is null: the
 * row is finished, paused, waiting, or held by a live worker (running the
 * same job twice is harmless); a RUNNING row whose worker died is the
 * sweep's to hand on, never taken over here.
 */
export async function claimRun<Row extends CheckpointedRow>(kind: CheckpointedKind<Row, unknown>, id: number, attempt: string): Promise<Row | null> {
  const table = tableOf(kind.work);
  const [claimed] = await moveWork<Row>(prisma(), kind.work, {
    picked: Prisma.sql`
      SELECT id, status, "startedAt" FROM ${table}
      WHERE id = ${id} AND (status = 'PENDING' OR (status = 'WAITING' AND "resumeAt" <= ${dbNowPlus(EARLY_MS)}))
      FOR UPDATE`,
    to: "RUNNING",
    owner: attempt,
    reason: Prisma.sql`CASE WHEN picked."startedAt" IS NULL THEN 'started' ELSE 'resumed' END`,
    set: Prisma.sql`"resumeAt" = NULL${kind.claimSet ? Prisma.sql`, ${kind.claimSet}` : Prisma.empty}`,
  });
  if (claimed) {
    const { fromStatus: _from, refusedTo: _refused, moveReason: _reason, ...row } = claimed;
    return row as unknown as Row;
  }
  const [mine] = await prisma().$queryRaw<Row[]>`
    SELECT ${columnsOf(kind.work, "t")} FROM ${table} t WHERE t.id = ${id} AND t.status = 'RUNNING' AND t."leaseOwner" = ${attempt}`;
  return mine ?? null;
}
