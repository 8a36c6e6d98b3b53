import { Prisma } from "../../generated/prisma/client.js";
import { prisma, type Tx } from "../../db/client.js";
import { DB_NOW, dbNowPlus } from "../clock.js";
import { eventCtes, NOTIFY_NOTICE, type Db } from "../events.js";
import { columnsOf, tableOf } from "../kind.js";
import { moveWork } from "../move.js";
import type { CheckpointedKind, CheckpointedRow, Ending, UnitWrites } from "./kind.js";

/** The attempt no longer holds the row: another worker runs it now, or it was stopped. Nothing of this attempt was written. */
export class LeaseLostError extends Error {
  override name = "LeaseLostError";
}

/**
 * What a checkpoint statement did: `applied` its unit; found it `already`
 * applied (the same attempt sent it before and the answer was lost: nothing
 * written twice); or found the row `lost` to this attempt.
 */
export type Applied<Row> = { outcome: "applied"; row: Row } | { outcome: "already" } | { outcome: "lost" };

/**
 * The one checkpoint statement of every checkpointed kind. It locks the row
 * (`current`: after a wait, FOR UPDATE reads the newest version), and goes
 * on only if this attempt holds the lease at the sequence the unit was made
 * from (`lease`); the unit's writes, the row's new columns and the
 * sequence's advance, and the CHECKPOINT event then commit together. Sent
 * again after its answer was lost, it finds the sequence one on and written
 * by this attempt: `already`, and it writes nothing. So a unit can never
 * apply twice, and counters may be increments. Without `writes` it only
 * advances the sequence (an ending with nothing new to commit).
 */
export function checkpointStatement<Row extends CheckpointedRow>(kind: CheckpointedKind<Row, unknown>, row: Row, attempt: string, writes?: UnitWrites): Prisma.Sql {
  const { work } = kind;
  const table = tableOf(work);
  const seq = row.checkpointSeq;
  const event = writes
    ? Prisma.sql`, ${eventCtes({ kind: "CHECKPOINT", subjectKind: work.subject, subjectId: row.id, checkpoint: writes.checkpoint }, Prisma.sql`advanced`)}`
    : Prisma.empty;
  return Prisma.sql`
    WITH current AS (
      SELECT id, status, "leaseOwner", "checkpointSeq", "checkpointBy" FROM ${table} WHERE id = ${row.id} FOR UPDATE
    ), lease AS (
      SELECT id FROM current WHERE status = 'RUNNING' AND "leaseOwner" = ${attempt} AND "checkpointSeq" = ${seq}::int
    )${writes?.ctes ? Prisma.sql`, ${writes.ctes}` : Prisma.empty}, advanced AS (
      UPDATE ${table} t SET
        "checkpointSeq" = t."checkpointSeq" + 1, "checkpointBy" = ${attempt}, "checkpointAt" = ${DB_NOW},
        "leaseAt" = ${DB_NOW}, "updatedAt" = ${DB_NOW}, "crashCount" = 0${writes ? Prisma.sql`, ${writes.set}` : Prisma.empty}
      FROM lease${writes?.from ? Prisma.sql`, ${writes.from}` : Prisma.empty}
      WHERE t.id = lease.id
      RETURNING ${columnsOf(work, "t")}
    )${event}
    SELECT CASE WHEN a.id IS NOT NULL THEN 'applied'
        WHEN c."checkpointSeq" = ${seq + 1}::int AND c."checkpointBy" = ${attempt} THEN 'already' ELSE 'lost' END AS outcome,
      ${columnsOf(work, "a")}${writes ? Prisma.sql`, (SELECT ${NOTIFY_NOTICE} FROM notice) AS sent` : Prisma.empty}
    FROM current c LEFT JOIN advanced a ON true`;
}

/** Runs a checkpoint statement (see checkpointStatement). */
export async function applyCheckpoint<Row>(db: Db, statement: Prisma.Sql): Promise<Applied<Row>> {
  const [answer] = await db.$queryRaw<({ outcome: Applied<Row>["outcome"]; sent?: string } & Row)[]>(statement);
  if (!answer || answer.outcome === "lost") return { outcome: "lost" };
  if (answer.outcome === "already") return { outcome: "already" };
  const { outcome: _outcome, sent: _sent, ...row } = answer;
  return { outcome: "applied", row: row as Row };
}

/** The row as it is now (after an `already`: what the first sending committed). */
export async function readRow<Row extends CheckpointedRow>(kind: CheckpointedKind<Row, unknown>, id: number): Promise<Row> {
  const [row] = await prisma().$queryRaw<Row[]>`SELECT ${columnsOf(kind.work, "t")} FROM ${tableOf(kind.work)} t WHERE t.id = ${id}`;
  return row;
}

/** How an attempt hands its row on: one of the run's own endings, or one of the engine's (a stop, a hand-over). */
export type FinalMove =
  | Ending
  | { to: "PAUSED" | "CANCELLED"; reason: string }
  | { to: "PENDING"; reason: string; set?: Prisma.Sql; delayMs?: number };

/**
 * Ends an attempt: its last unit (or, without one, only the sequence's
 * advance) and the move to its final status commit in one transaction, with
 * the pg-boss job that runs it again when it waits or is handed on. Sent
 * again after a lost answer, the checkpoint says `already` and nothing more
 * is written; a row lost to this attempt is a LeaseLostError.
 */
export async function commitEnding<Row extends CheckpointedRow, Unit>(kind: CheckpointedKind<Row, Unit>, row: Row, attempt: string, final: FinalMove, unit?: Unit): Promise<void> {
  const statement = checkpointStatement(kind as CheckpointedKind<Row, unknown>, row, attempt, unit === undefined ? undefined : kind.unit(row, unit));
  await prisma().$transaction(async (tx) => {
    const applied = await applyCheckpoint<Row>(tx, statement);
    if (applied.outcome === "lost") throw new LeaseLostError(`${kind.noun} ${row.id} is no longer held by this attempt`);
    if (applied.outcome === "already") return;
    await moveRun(tx, kind as CheckpointedKind<Row, unknown>, row.id, attempt, final);
  });
}

/** What a final move writes besides the status and its side effects. */
function finalSet<Row extends CheckpointedRow>(kind: CheckpointedKind<Row, unknown>, final: FinalMove): Prisma.Sql | undefined {
  const sets: Prisma.Sql[] = [];
  if (final.to === "WAITING") sets.push(Prisma.sql`"resumeAt" = ${dbNowPlus(final.resumeInMs)}`);
  if (final.to === "FAILED" && kind.failed) sets.push(kind.failed(final.reason));
  if ("set" in final && final.set) sets.push(final.set);
  return sets.length ? Prisma.join(sets, ", ") : undefined;
}

/**
 * Moves a row this attempt holds to where the attempt leaves it, sending the
 * job that runs it again when it waits or is handed on (a requested stop
 * wins over both: the job then finds nothing to run).
 */
export async function moveRun<Row extends CheckpointedRow>(tx: Tx, kind: CheckpointedKind<Row, unknown>, id: number, attempt: string, final: FinalMove): Promise<void> {
  await moveWork(tx, kind.work, {
    picked: Prisma.sql`SELECT id, status FROM ${tableOf(kind.work)} WHERE id = ${id} AND status = 'RUNNING' AND "leaseOwner" = ${attempt} FOR UPDATE`,
    to: final.to,
    reason: final.reason,
    set: finalSet(kind, final),
    after: kind.afterMove,
  });
  const delayMs = final.to === "WAITING" ? final.resumeInMs : final.to === "PENDING" ? (final.delayMs ?? 0) : null;
  if (delayMs !== null) await kind.queue.send(kind.payload(id), { tx, delayMs });
}
