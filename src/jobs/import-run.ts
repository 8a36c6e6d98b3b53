import type PgBoss from "pg-boss";
import { prisma } from "../db/client.js";
import { recordEvent } from "../core/events.js";
import { createHttpClient } from "../core/http-client.js";
import { transition } from "../core/status.js";
import type { Config } from "../config.js";
import type { Logger } from "../logger.js";
import { LeaseLostError } from "../imports/checkpoint.js";
import { lockImport, LEASE_STALE_MS } from "../imports/lease.js";
import { runImport, type RunnerDeps } from "../imports/runner.js";
import { QUEUES, sendJob, startWorkers, wakeWorkers } from "./queues.js";

/** Unexpected failures in a row (a bug, the database away) before an import is failed rather than retried. */
const MAX_CRASHES = 3;
const CRASH_BACKOFF_MS = 5000;
/**
 * How often each worker looks for imports nobody runs: a RUNNING one whose
 * lease went stale (its worker died) or a WAITING one long past its time.
 * With 10 s leases, a crashed worker's import resumes within ~20 s.
 */
const SWEEP_MS = 10_000;
const OVERDUE_WAIT_MS = 30_000;

/**
 * An unexpected error: the checkpoint in flight was rolled back (DESIGN.md
 * rule 7), so the import is retried from its last one after a backoff, and
 * failed after MAX_CRASHES in a row.
 */
async function recordCrash(importId: number, owner: string, error: Error, log: Logger): Promise<void> {
  log.error({ err: error, importId }, "import run failed unexpectedly");
  await prisma().$transaction(async (tx) => {
    const row = await lockImport(tx, importId);
    if (!row || row.status !== "RUNNING" || (row.leaseOwner !== null && row.leaseOwner !== owner)) return;
    const crashes = row.crashCount + 1;
    const message = `Internal error: ${error.message}`;
    if (crashes >= MAX_CRASHES) {
      await transition(tx, { subjectKind: "IMPORT", subjectId: importId, from: "RUNNING", to: "FAILED", reason: `${crashes} failures in a row; last: ${message}` });
      await tx.import.update({ where: { id: importId }, data: { status: "FAILED", crashCount: crashes, lastError: message, leaseOwner: null, completedAt: new Date() } });
      return;
    }
    await tx.import.update({ where: { id: importId }, data: { crashCount: crashes, lastError: message, leaseOwner: null } });
    await recordEvent(tx, { kind: "LOG", subjectKind: "IMPORT", subjectId: importId, level: "WARNING", message: `${message}; retrying from the last checkpoint` });
    await sendJob("importRun", { importId }, { tx, startAfter: new Date(Date.now() + CRASH_BACKOFF_MS * crashes) });
  });
}

/** Re-sends the job of every import no worker is running although it should be. */
export async function sweepStaleImports(): Promise<number> {
  const now = Date.now();
  const stale = await prisma().import.findMany({
    where: {
      OR: [
        { status: "RUNNING", leaseAt: { lt: new Date(now - LEASE_STALE_MS) } },
        { status: "RUNNING", leaseOwner: null, updatedAt: { lt: new Date(now - LEASE_STALE_MS) } },
        { status: "WAITING", resumeAt: { lt: new Date(now - OVERDUE_WAIT_MS) } },
      ],
    },
    select: { id: true },
  });
  for (const { id } of stale) await sendJob("importRun", { importId: id });
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
      try {
        await runImport(importId, deps);
      } catch (error) {
        if (error instanceof LeaseLostError) log.info({ importId }, "another worker took the import over");
        else await recordCrash(importId, owner, error as Error, log);
      }
    }
  };
  await startWorkers(boss, "importRun", config.WORKER_CONCURRENCY, handle);
  const sweep = () =>
    sweepStaleImports().then(
      (count) => count && log.info({ count }, "resuming imports no worker was running"),
      (error) => log.warn({ err: error }, "stale-import sweep failed; trying again"),
    );
  void sweep();
  const timer = setInterval(sweep, SWEEP_MS);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
