import { randomUUID } from "node:crypto";
import type PgBoss from "pg-boss";
import { databaseUpSince, reportDatabaseError, waitForDatabase } from "../db/availability.js";
import { prisma } from "../db/client.js";
import { describeError } from "../engine/error-text.js";
import { recordEvent } from "../engine/events.js";
import { createHttpClient } from "../engine/http-client.js";
import { transition } from "../engine/status.js";
import type { Config } from "../config.js";
import type { Logger } from "../logger.js";
import { LeaseLostError } from "../work/imports/checkpoint.js";
import { lockImport, LEASE_RENEW_MS, LEASE_STALE_MS } from "../engine/lease.js";
import { runImport, type RunnerDeps } from "../work/imports/run.js";
import { QUEUES, sendJob, startWorkers, wakeWorkers } from "./queues.js";

/** Unexpected failures in a row (a bug, the database away) before an import is failed rather than retried. */
const MAX_CRASHES = 3;
/** The wait before a crashed import runs again, times the crashes in a row: five retry delays (5 s by default). */
const CRASH_BACKOFF_RETRY_DELAYS = 5;
/**
 * How often each worker looks for imports nobody runs: a RUNNING one whose
 * lease went stale (its worker died) or a WAITING one long past its time.
 * With 10 s leases, a crashed worker's import resumes within ~20 s.
 */
const SWEEP_MS = 10_000;
const OVERDUE_WAIT_MS = 30_000;
/** A PENDING import untouched this long has probably lost its job; a second one is harmless (claims are idempotent). */
const LOST_PENDING_MS = 5 * 60_000;

/**
 * An unexpected error: the checkpoint in flight was rolled back (docs/architecture.md,
 * rule 7), so the import is retried from its last one after a backoff, and
 * failed after MAX_CRASHES in a row.
 */
async function recordCrash(importId: number, owner: string, error: unknown, retryDelayMs: number, log: Logger): Promise<void> {
  log.error({ err: error, importId }, "import run failed unexpectedly");
  await prisma().$transaction(async (tx) => {
    const row = await lockImport(tx, importId);
    if (!row || row.status !== "RUNNING" || (row.leaseOwner !== null && row.leaseOwner !== owner)) return;
    const crashes = row.crashCount + 1;
    const message = describeError(error);
    if (crashes >= MAX_CRASHES) {
      await transition(tx, { subjectKind: "IMPORT", subjectId: importId, from: "RUNNING", to: "FAILED", reason: `${crashes} failures in a row; last: ${message}` });
      await tx.import.update({ where: { id: importId }, data: { status: "FAILED", crashCount: crashes, lastError: message, leaseOwner: null, completedAt: new Date() } });
      return;
    }
    // A crash that is retried is not the import's error: it goes to the log, and lastError stays for what the import recorded.
    await tx.import.update({ where: { id: importId }, data: { crashCount: crashes, leaseOwner: null } });
    await recordEvent(tx, { kind: "LOG", subjectKind: "IMPORT", subjectId: importId, level: "WARNING", message: `${message}; retrying from the last checkpoint` });
    await sendJob("importRun", { importId }, { tx, startAfter: new Date(Date.now() + retryDelayMs * CRASH_BACKOFF_RETRY_DELAYS * crashes) });
  });
}

/**
 * Re-sends the job of every import no worker is running although it should
 * be: a RUNNING one whose lease went stale or that was handed over, a WAITING
 * one long past its time, a PENDING one whose job was lost (e.g. it failed
 * while the database was away).
 */
export async function sweepStaleImports(now = Date.now()): Promise<number> {
  const stale = await prisma().import.findMany({
    where: {
      OR: [
        { status: "RUNNING", leaseAt: { lt: new Date(now - LEASE_STALE_MS) } },
        { status: "RUNNING", leaseOwner: null, updatedAt: { lt: new Date(now - LEASE_STALE_MS) } },
        { status: "WAITING", resumeAt: { lt: new Date(now - OVERDUE_WAIT_MS) } },
        { status: "PENDING", updatedAt: { lt: new Date(now - LOST_PENDING_MS) } },
      ],
    },
    select: { id: true, status: true },
  });
  for (const { id, status } of stale) {
    await sendJob("importRun", { importId: id });
    // Touched so a PENDING import behind a long queue gets one more job per LOST_PENDING_MS, not one per sweep.
    if (status === "PENDING") await prisma().import.update({ where: { id }, data: { updatedAt: new Date(now) } });
  }
  if (stale.length > 0) wakeWorkers("importRun");
  return stale.length;
}

/**
 * The worker side of imports: WORKER_CONCURRENCY handlers of `import-run`
 * and the stale sweep. Aborting `shutdown` makes running imports commit a
 * checkpoint and hand over; then pg-boss can stop gracefully.
 */
export async function startImportWorkers(boss: PgBoss, config: Config, owner: string, shutdown: AbortSignal, log: Logger): Promise<{ stop(): void }> {
  const deps: RunnerDeps = {
    http: createHttpClient(
      { maxRetries: config.MAX_RETRIES, retryDelayMs: config.RETRY_DELAY_MS, backoffFactor: config.BACKOFF_FACTOR, timeoutMs: config.API_TIMEOUT_MS },
      log,
    ),
    log,
    owner,
    shutdown,
    retryDelayMs: config.RETRY_DELAY_MS,
    maxConsecutiveFailures: config.MAX_CONSECUTIVE_PAGE_FAILURES,
  };
  const handle = async (jobs: PgBoss.Job<unknown>[]) => {
    for (const job of jobs) {
      const { importId } = QUEUES.importRun.payload.parse(job.data);
      // One owner per run: a retry of this run after an outage re-claims its own lease, a duplicate job in this process cannot.
      const runDeps = { ...deps, owner: `${owner}/${randomUUID().slice(0, 8)}` };
      for (;;) {
        try {
          await runImport(importId, runDeps);
        } catch (error) {
          if (error instanceof LeaseLostError) log.info({ importId }, "another worker took the import over");
          else if (reportDatabaseError(error, "import run")) {
            if (await waitForDatabase(shutdown)) continue; // from its last checkpoint, with its own lease
          } else await recordCrash(importId, runDeps.owner, error, config.RETRY_DELAY_MS, log).catch((failure: unknown) => log.error({ err: failure, importId }, "could not record a crash"));
        }
        break;
      }
    }
  };
  await startWorkers(boss, "importRun", config.WORKER_CONCURRENCY, handle);
  // A lease is judged stale only once this process has seen the database up for longer than a lease
  // lasts: an outage must not take work from the workers that held it through the outage.
  const sweep = () =>
    (Date.now() - databaseUpSince() < LEASE_STALE_MS + 2 * LEASE_RENEW_MS ? Promise.resolve(0) : sweepStaleImports()).then(
      (count) => count && log.info({ count }, "resuming imports no worker was running"),
      (error) => reportDatabaseError(error, "sweep") || log.warn({ err: error }, "stale-import sweep failed; trying again"),
    );
  void sweep();
  const timer = setInterval(sweep, SWEEP_MS);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
