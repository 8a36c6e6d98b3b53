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
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import pg from "pg";
import PgBoss from "pg-boss";
import { loadConfig } from "../src/config.js";
import { setQueuePaused } from "../src/work/queue/commands.js";
import { enqueue } from "../src/work/queue/enqueue.js";
import { createService } from "../src/service.js";

const ITEMS = 20_000;
const PER_CALL = 10_000;
const CONCURRENCY = 50;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const server = (process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres").replace(/\/[^/]*$/, "");
const database = `milepost_bench_queue_${Date.now()}`;
const url = `${server}/${database}`;
const PLUGIN = "bench/noop-processor.mjs";

// An api-only service in this process enqueues and controls; the work runs in worker processes.
const service = createService(loadConfig({ DATABASE_URL: url, PORT: "0", LOG_LEVEL: "warn", MILEPOST_AUTH: "off", MILEPOST_DEMO: "off", MILEPOST_ROLE: "api", MILEPOST_PLUGINS: PLUGIN }));
await service.start();
const db = new pg.Client({ connectionString: url });
await db.connect();
const boss = new PgBoss({ connectionString: url, schema: "pgboss", supervise: false, schedule: false });
boss.on("error", (error) => console.error(error));
await boss.start();

async function spawnReady(args: string[], env: Record<string, string>, ready: (line: string) => boolean): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", ...args], { env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "inherit"] });
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on("line", (line) => ready(line) && resolve());
    child.once("exit", (code) => reject(new Error(`${args.join(" ")} exited with ${code}`)));
  });
  return child;
}
const stopAll = (children: ChildProcess[]) => Promise.all(children.map((child) => new Promise((resolve) => (child.once("exit", resolve), child.kill("SIGTERM")))));

async function until(query: string, expected: number): Promise<void> {
  for (;;) {
    const { rows } = await db.query<{ count: number }>(query);
    if (rows[0].count >= expected) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
const perSecond = (items: number, ms: number) => Math.round((items / ms) * 1000);

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
  const children = await Promise.all(
    Array.from({ length: workers }, () =>
      spawnReady(["src/server.ts"], { DATABASE_URL: url, MILEPOST_ROLE: "worker", MILEPOST_PLUGINS: PLUGIN, WORKER_CONCURRENCY: String(CONCURRENCY), LOG_LEVEL: "info" }, (line) =>
        line.includes('"msg":"milepost started"'),
      ),
    ),
  );
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

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
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
    enqueue: { milepostItemsPerSecond: enqueueMilepost, pgbossInsertJobsPerSecond: insertPgboss, ratio: Math.round((enqueueMilepost / insertPgboss) * 100) / 100 },
    endToEnd: {
      "1 worker": { ...one, ratio: Math.round((one.milepost / one.pgboss) * 100) / 100 },
      "2 workers": { ...two, ratio: Math.round((two.milepost / two.pgboss) * 100) / 100 },
    },
  }),
);

await boss.stop({ graceful: false, wait: true });
await db.end();
await service.stop();
const admin = new pg.Client({ connectionString: `${server}/postgres` });
await admin.connect();
await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
await admin.end();
