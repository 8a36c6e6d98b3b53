import { onDatabaseChange } from "../db/availability.js";
import { startCheckpointedWorkers } from "../engine/checkpointed/workers.js";
import { createHttpClient } from "../engine/http-client.js";
import { createLeaseKeeper } from "../engine/lease-keeper.js";
import { pauseWorkers, resumeWorkers } from "../engine/queues.js";
import { startRunner } from "../engine/runner.js";
import { startSweep } from "../engine/sweep.js";
import { importer } from "../work/imports/importer.js";
import { collectorRuns } from "../work/collectors/collector-runs.js";
import { workTicks } from "../work/collectors/commands.js";
import { JOB_KIND } from "../work/jobs/kind.js";
import { stepRecovery } from "../work/jobs/recovery.js";
import { stepRunnable } from "../work/jobs/runner.js";
import { queueRecovery } from "../work/queue/recovery.js";
import { queueRunnable } from "../work/queue/runner.js";
import { getProcessor, listProcessors } from "../registry.js";
import { startEventRetention } from "./retention.js";
import type { WorkerDeps } from "../engine/worker-deps.js";

/**
 * The worker role: the workers of every kind of work, the one lease
 * keeper and the one crash sweep over them. While the database is away the
 * workers stop asking for work (each poll would fail) and start again once
 * it is back.
 */
export async function startWorkerRole(deps: Omit<WorkerDeps, "http" | "attemptHttp" | "processors" | "leases">): Promise<{ stop(): Promise<void> }> {
  const { config, log } = deps;
  const policy = { maxRetries: config.MAX_RETRIES, retryDelayMs: config.RETRY_DELAY_MS, backoffFactor: config.BACKOFF_FACTOR, timeoutMs: config.API_TIMEOUT_MS };
  const http = createHttpClient(policy, log);
  const attemptHttp = createHttpClient({ ...policy, maxRetries: 0 }, log);
  const processors = { get: getProcessor, names: () => listProcessors().map((processor) => processor.name) };
  const leases = createLeaseKeeper(log);
  const all: WorkerDeps = { ...deps, http, attemptHttp, processors, leases };
  const imports = await startCheckpointedWorkers(importer, all);
  const collectors = await startCheckpointedWorkers(collectorRuns, all);
  await workTicks(config.SCHEDULE_CHECK_SECONDS, deps.shutdown);
  const runners = [await startRunner(queueRunnable, all), await startRunner(stepRunnable, all)];
  onDatabaseChange((up) => void (up ? resumeWorkers() : pauseWorkers()).catch((error: unknown) => log.warn({ err: error }, "could not pause or resume the workers")));
  const recoveries = [imports.recovery, collectors.recovery, queueRecovery, stepRecovery];
  const sweep = startSweep(recoveries, log);
  await startEventRetention([...recoveries.map((recovery) => recovery.kind), JOB_KIND], { days: config.EVENT_RETENTION_DAYS, collectorRuns: config.COLLECTOR_RUNS_KEPT }, log);
  return {
    async stop() {
      sweep.stop();
      await Promise.all(runners.map((runner) => runner.stop()));
      await imports.stop();
      await collectors.stop();
      leases.stop();
    },
  };
}
