import { randomUUID } from "node:crypto";
import type PgBoss from "pg-boss";
import { reportDatabaseError, waitForDatabase } from "../db/availability.js";
import type { WorkerDeps } from "../engine/worker-deps.js";
import { LeaseLostError } from "../work/imports/checkpoint.js";
import { recordCrash } from "../work/imports/recovery.js";
import { runImport, type RunnerDeps } from "../work/imports/run.js";
import { QUEUES, startWorkers } from "../engine/queues.js";

/**
 * The worker side of imports: WORKER_CONCURRENCY handlers of `import-run`.
 * Aborting `shutdown` makes running imports commit a checkpoint and hand
 * over; then pg-boss can stop gracefully.
 */
export async function startImportWorkers(boss: PgBoss, { config, owner, shutdown, log, http }: WorkerDeps): Promise<void> {
  const deps: RunnerDeps = {
    http,
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
}
