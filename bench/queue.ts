// 20,000 items through a no-op processor, Milepost's queue against raw
// pg-boss on the same database, in alternating rounds; prints the medians as
// JSON with the ratios:
// - enqueue: Milepost's enqueue (two calls of 10,000: rows, dedupe, STATUS
//   events, wake-up) against pg-boss insert() of the same 20,000 jobs, in
//   arrays of 10,000;
// - end to end with 1 and 2 worker processes (WORKER_CONCURRENCY=50):
//   Milepost (claim, run, end, every item's status, attempts and three
//   STATUS events kept) against pg-boss in its best mode (separate worker
//   processes, batches of 50 per fetch, the worker woken after each batch).
//   Timed from when the work may start (Milepost: resumeQueue; pg-boss: the
//   workers start polling) until the last item or job is completed.
//
//   DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres npm run bench:queue
//   BENCH_ROUNDS=5 npm run bench:queue
import type { ChildProcess } from "node:child_process";
import pg from "pg";
import PgBoss from "pg-boss";
import { loadConfig } from "../src/config.js";
import { setQueuePaused } from "../src/work/queue/commands.js";
import { enqueue } from "../src/work/queue/enqueue.js";
import { createService } from "../src/service.js";
import { median, perSecond, ratio, ROUNDS, scratchDatabase, spawnReady, spawnWorker, stopAll, until as untilCount } from "./lib.js";

const ITEMS = 20_000;
const PER_CALL = 10_000;
const CONCURRENCY = 50;
const { url, drop } = scratchDatabase("milepost_bench_queue");
const PLUGIN = "bench/noop-processor.mjs";

// An api-only service in this process enqueues and controls; the work runs in worker processes.
const service = createService(loadConfig({ DATABASE_URL: url, PORT: "0", LOG_LEVEL: "warn", MILEPOST_AUTH: "off", MILEPOST_DEMO: "off", MILEPOST_ROLE: "api", MILEPOST_PLUGINS: PLUGIN }));
await service.start();
const db = new pg.Client({ connectionString: url });
await db.connect();
const boss = new PgBoss({ connectionString: url, schema: "pgboss", supervise: false, schedule: false });
boss.on("error", (error) => console.error(error));
await boss.start();
const until = (query: string, expected: number) => untilCount(db, query, expected);

async function milepostRound(workers: number, round: number): Promise<{ enqueue: number; endToEnd: number }> {
  await db.query(`TRUNCATE "QueueItem", "Event"`); // fresh, as each pg-boss round gets a new queue (its own partition)
  await setQueuePaused("noop", true);
  // Enqueued with no worker running, as pg-boss's insert is timed; the workers start next, paused.
  const started = performance.now();
  for (let offset = 0; offset < ITEMS; offset += PER_CALL) {
    const items = Array.from({ length: PER_CALL }, (_, index) => ({ key: `${round}-${offset + index}`, payload: { n: offset + index } }));
    await enqueue({ queue: "noop", items });
  }
  const enqueueMs = performance.now() - started;
  const children: ChildProcess[] = await Promise.all(Array.from({ length: workers }, () => spawnWorker(url, { MILEPOST_PLUGINS: PLUGIN, WORKER_CONCURRENCY: String(CONCURRENCY) })));
  const resumed = performance.now();
  await setQueuePaused("noop", false);
  await until(`SELECT count(*)::int AS count FROM "QueueItem" WHERE status = 'COMPLETED'`, ITEMS);
  const endToEndMs = performance.now() - resumed;
  await stopAll(children);
  return { enqueue: perSecond(ITEMS, enqueueMs), endToEnd: perSecond(ITEMS, endToEndMs) };
}

async function pgbossRound(workers: number, round: number): Promise<{ insert: number; endToEnd: number }> {
  const queue = `bench-noop-${workers}-${round}`;
  await boss.createQueue(queue, { name: queue, policy: "standard" });
  const started = performance.now();
  // pg-boss's insert() with the job data alone; Milepost's enqueue also validates, dedupes and writes events.
  for (let offset = 0; offset < ITEMS; offset += PER_CALL) {
    await boss.insert(Array.from({ length: PER_CALL }, (_, index) => ({ name: queue, data: { n: offset + index } })));
  }
  const insertMs = performance.now() - started;
  const children = await Promise.all(Array.from({ length: workers }, () => spawnReady(["bench/pgboss-worker.ts"], { DATABASE_URL: url, QUEUE: queue }, (line) => line === "ready")));
  const begun = performance.now();
  for (const child of children) child.stdin!.write("go\n");
  await until(`SELECT count(*)::int AS count FROM pgboss.job WHERE name = '${queue}' AND state = 'completed'`, ITEMS);
  const endToEndMs = performance.now() - begun;
  await stopAll(children);
  return { insert: perSecond(ITEMS, insertMs), endToEnd: perSecond(ITEMS, endToEndMs) };
}

const runs = { milepost: { 1: [] as { enqueue: number; endToEnd: number }[], 2: [] as { enqueue: number; endToEnd: number }[] }, pgboss: { 1: [] as { insert: number; endToEnd: number }[], 2: [] as { insert: number; endToEnd: number }[] } };
for (let round = 0; round < ROUNDS; round++) {
  for (const workers of [1, 2] as const) {
    runs.milepost[workers].push(await milepostRound(workers, round));
    runs.pgboss[workers].push(await pgbossRound(workers, round));
  }
}
const enqueueMilepost = median([...runs.milepost[1], ...runs.milepost[2]].map((run) => run.enqueue));
const insertPgboss = median([...runs.pgboss[1], ...runs.pgboss[2]].map((run) => run.insert));
const endToEnd = (workers: 1 | 2) => ({
  milepost: median(runs.milepost[workers].map((run) => run.endToEnd)),
  pgboss: median(runs.pgboss[workers].map((run) => run.endToEnd)),
});
const [one, two] = [endToEnd(1), endToEnd(2)];
console.log(
  JSON.stringify({
    items: ITEMS,
    rounds: ROUNDS,
    enqueue: { milepostItemsPerSecond: enqueueMilepost, pgbossInsertJobsPerSecond: insertPgboss, ratio: ratio(enqueueMilepost, insertPgboss) },
    endToEnd: {
      "1 worker": { ...one, ratio: ratio(one.milepost, one.pgboss) },
      "2 workers": { ...two, ratio: ratio(two.milepost, two.pgboss) },
    },
  }),
);

await boss.stop({ graceful: false, wait: true });
await db.end();
await service.stop();
await drop();
