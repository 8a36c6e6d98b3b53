import { Prisma } from "../generated/prisma/client.js";
import { databaseUpSince, reportDatabaseError } from "../db/availability.js";
import type { Logger } from "../logger.js";
import { tableOf, type WorkKind } from "./kind.js";
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
  recover(now: number): Promise<number>;
}

/**
 * The RUNNING rows of a kind that no live worker holds: a lease not renewed
 * for LEASE_STALE_MS, or no owner at all for as long (handed over at a
 * shutdown and never picked up). Locks them, skipping rows another sweep
 * holds, for a move in the same statement.
 */
export function staleRunning(kind: WorkKind, now: number): Prisma.Sql {
  const stale = new Date(now - LEASE_STALE_MS);
  return Prisma.sql`
    SELECT id, status FROM ${tableOf(kind)}
    WHERE status = 'RUNNING' AND ("leaseAt" < ${stale} OR ("leaseOwner" IS NULL AND "updatedAt" < ${stale}))
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
        const count = await recover(Date.now());
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
