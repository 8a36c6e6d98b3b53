import { Prisma } from "../generated/prisma/client.js";
import { databaseUpSince, reportDatabaseError } from "../db/availability.js";
import type { Logger } from "../logger.js";
import { dbNowPlus } from "./clock.js";
import type { Db } from "./events.js";
import { tableOf, type WorkKind } from "./kind.js";
import { moveWork, type Moved } from "./move.js";
import type { Runnable, RunnableRow } from "./runnable.js";
import { notifyWork } from "./wake.js";
import { LEASE_RENEW_MS, LEASE_STALE_MS } from "./lease.js";

/**
 * How often each worker process looks for work nobody runs. With 10 s
 * leases, a crashed worker's work runs again within about 20 s.
 */
const SWEEP_MS = 10_000;

/** How a kind of work runs again what a dead worker held (and anything else it may have lost). */
export interface Recovery {
  kind: WorkKind;
  /** Returns how many rows it set going again. */
  recover(): Promise<number>;
}

/**
 * The one stale rule: the RUNNING rows of a kind whose lease was not
 * renewed for LEASE_STALE_MS, on the database's clock, or that have no
 * lease at all (no move leaves one so; a row written by hand might). Work
 * handed on is PENDING, never RUNNING without an owner. Locks them,
 * skipping rows another sweep holds, for a move in the same statement.
 */
export function staleRunning(kind: WorkKind): Prisma.Sql {
  return Prisma.sql`
    SELECT id, status FROM ${tableOf(kind)}
    WHERE status = 'RUNNING' AND ("leaseAt" IS NULL OR "leaseAt" < ${dbNowPlus(-LEASE_STALE_MS)})
    FOR UPDATE SKIP LOCKED`;
}

/**
 * The one crash sweep, over every kind of work: every SWEEP_MS each kind's
 * recovery runs. A lease is judged stale only once this process has seen the
 * database up for longer than a lease lasts, so an outage does not take work
 * from the workers that held it through the outage.
 */
export function startSweep(recoveries: Recovery[], log: Logger): { stop(): void } {
  const sweep = async () => {
    if (Date.now() - databaseUpSince() < LEASE_STALE_MS + 2 * LEASE_RENEW_MS) return;
    for (const { kind, recover } of recoveries) {
      try {
        const count = await recover();
        if (count) log.info({ kind: kind.subject, count }, "set going again work no worker was running");
      } catch (error) {
        if (!reportDatabaseError(error, "sweep")) log.warn({ err: error, kind: kind.subject }, "the sweep failed; trying again at the next");
      }
    }
  };
  void sweep();
  const timer = setInterval(() => void sweep(), SWEEP_MS);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

/**
 * What the sweep does for a runnable kind (src/engine/runner.ts): a row
 * RUNNING on a worker that died goes back to PENDING with its attempts (the
 * attempt was made), or FAILED when that was its last; a cancel asked for
 * meanwhile wins (src/engine/move.ts). The workers of the rows' processors
 * are woken. Returns the rows moved.
 */
export async function recoverRunnable<Row extends RunnableRow>(db: Db, runnable: Runnable<Row>): Promise<Moved<Row>[]> {
  const { kind } = runnable;
  const moved = await moveWork<Row>(db, kind, {
    picked: Prisma.sql`
      SELECT s.id, s.status, CASE WHEN w.attempts >= w."maxAttempts" THEN 'FAILED' ELSE 'PENDING' END AS "to"
      FROM (${staleRunning(kind)}) s JOIN ${tableOf(kind)} w ON w.id = s.id`,
    to: Prisma.sql`picked."to"`,
    reason: Prisma.sql`CASE WHEN picked."to" = 'FAILED' THEN 'its worker stopped responding during its last attempt' ELSE 'its worker stopped responding; to be run again' END`,
    set: Prisma.sql`error = CASE WHEN picked."to" = 'FAILED' THEN 'its worker stopped responding during its last attempt' ELSE t.error END`,
    onRefused: "skip", // RUNNING rows may always go back or fail
  });
  for (const processor of new Set(moved.filter((row) => row.status === "PENDING").map((row) => runnable.task(row).processor))) {
    await notifyWork(db, { queue: processor });
  }
  return moved;
}
