// Jobs of 5,000 no-op steps at concurrency 1, 8 and 32, against 5,000 queue
// items through the same no-op processor on the same worker
// (WORKER_CONCURRENCY=32), in alternating rounds; then the cancel of a
// 5,000-step job with 32 steps running on two worker processes. Prints the
// medians as JSON:
// - steps/s: from startJob until the job is COMPLETED (every step's status,
//   attempts and STATUS events kept, the job's counters exact throughout);
// - the queue's end-to-end items/s: from resumeQueue until the last item is
//   COMPLETED, and the ratio of the jobs' at concurrency 32 to it;
// - cancel: ms from cancelJob's call until no step is RUNNING (each aborted
//   through its signal and its end written by its worker).
//
//   DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres npm run bench:jobs
import pg from "pg";
import { loadConfig } from "../src/config.js";
import { cancelJob, startJob } from "../src/work/jobs/commands.js";
import { createJob } from "../src/work/jobs/create.js";
import { setQueuePaused } from "../src/work/queue/commands.js";
import { enqueue } from "../src/work/queue/enqueue.js";
import { createService } from "../src/service.js";
import { median, perSecond, ratio, ROUNDS, scratchDatabase, spawnWorker, stopAll, until } from "./lib.js";

const STEPS = 5_000;
const CONCURRENCIES = (process.env.BENCH_CONCURRENCIES ?? "1,8,32").split(",").map(Number) as (1 | 8 | 32)[];
const WORKER_CONCURRENCY = "32";
const PLUGIN = "bench/noop-processor.mjs";
const { url, drop } = scratchDatabase("milepost_bench_jobs");

const service = createService(loadConfig({ DATABASE_URL: url, PORT: "0", LOG_LEVEL: "warn", MILEPOST_AUTH: "off", MILEPOST_DEMO: "off", MILEPOST_ROLE: "api", MILEPOST_PLUGINS: PLUGIN }));
await service.start();
const db = new pg.Client({ connectionString: url });
await db.connect();
const fresh = () => db.query(`TRUNCATE "QueueItem", "Job", "JobStep", "Event" CASCADE`);
const steps = (input: Record<string, unknown> = {}) => Array.from({ length: STEPS }, (_, index) => ({ name: `step ${index}`, input: { n: index, ...input } }));

async function queueRound(round: number): Promise<number> {
  await fresh();
  await setQueuePaused("noop", true);
  await enqueue({ queue: "noop", items: Array.from({ length: STEPS }, (_, index) => ({ key: `${round}-${index}`, payload: { n: index } })) });
  const started = performance.now();
  await setQueuePaused("noop", false);
  await until(db, `SELECT count(*)::int AS count FROM "QueueItem" WHERE status = 'COMPLETED'`, STEPS, 5);
  return perSecond(STEPS, performance.now() - started);
}

async function jobRound(concurrency: number): Promise<number> {
  await fresh();
  const job = await createJob({ kind: "noop", name: `bench ${concurrency}`, steps: steps(), config: { concurrency }, start: false }, "bench");
  const started = performance.now();
  await startJob(job.id);
  await until(db, `SELECT count(*)::int AS count FROM "Job" WHERE id = ${job.id} AND status = 'COMPLETED'`, 1, 5);
  return perSecond(STEPS, performance.now() - started);
}

const runs = { queue: [] as number[], ...Object.fromEntries(CONCURRENCIES.map((concurrency) => [concurrency, [] as number[]])) } as Record<string, number[]>;
const WORKERS = Number(process.env.BENCH_WORKERS ?? 1);
const worker = await Promise.all(Array.from({ length: WORKERS }, () => spawnWorker(url, { MILEPOST_PLUGINS: PLUGIN, WORKER_CONCURRENCY })));
for (let round = 0; round < ROUNDS; round++) {
  runs.queue.push(await queueRound(round));
  for (const concurrency of CONCURRENCIES) runs[concurrency].push(await jobRound(concurrency));
}
await stopAll(worker);

// The cancel: 32 steps of a minute each running on two worker processes, the other 4,968 pending.
const cancels: number[] = [];
const workers = await Promise.all([1, 2].map(() => spawnWorker(url, { MILEPOST_PLUGINS: PLUGIN, WORKER_CONCURRENCY: "16" })));
for (let round = 0; round < ROUNDS; round++) {
  await fresh();
  const job = await createJob({ kind: "noop", name: "to cancel", steps: steps({ sleepMs: 60_000 }), config: { concurrency: 32 } }, "bench");
  await until(db, `SELECT count(*)::int AS count FROM "JobStep" WHERE "jobId" = ${job.id} AND status = 'RUNNING'`, 32, 5);
  const started = performance.now();
  await cancelJob(job.id);
  for (;;) {
    const { rows } = await db.query<{ count: number }>(`SELECT count(*)::int AS count FROM "JobStep" WHERE "jobId" = ${job.id} AND status = 'RUNNING'`);
    if (rows[0].count === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  cancels.push(Math.round(performance.now() - started));
}
await stopAll(workers);

const queue = median(runs.queue);
const jobs = Object.fromEntries(CONCURRENCIES.map((concurrency) => [`concurrency ${concurrency}`, median(runs[concurrency])]));
console.log(
  JSON.stringify({
    steps: STEPS,
    rounds: ROUNDS,
    stepsPerSecond: jobs,
    queueEndToEndItemsPerSecond: queue,
    ratioConcurrency32ToQueue: ratio(median(runs[32]), queue),
    cancel: { runningSteps: 32, workerProcesses: 2, msUntilNoneRunning: median(cancels), all: cancels },
  }),
);

await db.end();
await service.stop();
await drop();
