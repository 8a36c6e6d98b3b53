import type PgBoss from "pg-boss";
import { onDatabaseChange } from "../db/availability.js";
import { createHttpClient } from "../engine/http-client.js";
import { startSweep } from "../engine/sweep.js";
import { importRecovery } from "../work/imports/recovery.js";
import { startImportWorkers } from "./import-run.js";
import { pauseWorkers, resumeWorkers } from "./queues.js";
import type { WorkerDeps } from "./worker-deps.js";

/**
 * The worker role: the workers of every kind of work and the one crash
 * sweep over them. While the database is away the workers stop asking for
 * work (each poll would fail) and start again once it is back.
 */
export async function startWorkerRole(boss: PgBoss, deps: Omit<WorkerDeps, "http">): Promise<{ stop(): void }> {
  const { config, log } = deps;
  const http = createHttpClient(
    { maxRetries: config.MAX_RETRIES, retryDelayMs: config.RETRY_DELAY_MS, backoffFactor: config.BACKOFF_FACTOR, timeoutMs: config.API_TIMEOUT_MS },
    log,
  );
  await startImportWorkers(boss, { ...deps, http });
  onDatabaseChange((up) => void (up ? resumeWorkers() : pauseWorkers()).catch((error: unknown) => log.warn({ err: error }, "could not pause or resume the workers")));
  const sweep = startSweep([importRecovery], log);
  return { stop: () => sweep.stop() };
}
