// A 26-year collector (the demo's yearly statistics through
// http-json-collector, 30 figures a year, 2 pages each) against the demo
// upstream answering each request after BENCH_LATENCY_MS (50 by default, a
// remote API's round trip): its first run, then a second once this year's
// and last year's figures changed. Requests the upstream received and
// seconds (from runCollector's call to the run's end, and the run's own
// duration), per run, medians over BENCH_ROUNDS collectors, and the ratios
// second / first. Then what collectors cost while idle: transactions a
// second on the database of a service with 1 collector and with 50 (each
// has a pg-boss queue of its own for its cron ticks), over 30 s.
// Prints JSON.
//
//   DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres npm run bench:collector
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { loadConfig } from "../src/config.js";
import { startDemoServer } from "../src/demo/upstream.js";
import { createService } from "../src/service.js";
import { median, ratio, ROUNDS, scratchDatabase } from "./lib.js";

const LATENCY_MS = Number(process.env.BENCH_LATENCY_MS ?? 50);
const YEAR = new Date().getUTCFullYear();
const { url, drop } = scratchDatabase("milepost_bench_collector");
const demo = await startDemoServer({ stats: { revision: 1 }, faults: { latencyMs: LATENCY_MS } });
const scratch = await mkdtemp(join(tmpdir(), "milepost-bench-collector-"));
const collectorsFile = join(scratch, "collectors.json");
const names = Array.from({ length: ROUNDS }, (_, round) => `stats-${round + 1}`);
const config = { url: `${demo.url}/stats/{year}`, pagination: { type: "page", totalPagesPath: "total_pages" }, itemsPath: "results", watermarkPath: "updated_at", startYear: YEAR - 25, maxAgeDays: 30 };
await writeFile(collectorsFile, JSON.stringify(names.map((name) => ({ name, use: "http-json-collector", config }))));
const service = createService(
  loadConfig({ DATABASE_URL: url, PORT: "0", LOG_LEVEL: "warn", MILEPOST_AUTH: "off", MILEPOST_DEMO: "off", MILEPOST_EGRESS: "127.0.0.1", MILEPOST_DATA_DIR: scratch, MILEPOST_COLLECTORS: collectorsFile }),
);
await service.start();
const db = new pg.Client({ connectionString: url });
await db.connect();

type Measured = { requests: number; wallSeconds: number; runSeconds: number; processed: number; inserted: number; updated: number };

async function run(name: string): Promise<Measured> {
  const requestsBefore = demo.upstream.requests;
  const started = performance.now();
  const response = await fetch(service.url!, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query: `mutation($name: String!) { runCollector(input: { name: $name }) { id } }`, variables: { name } }),
  });
  const id = Number(((await response.json()) as { data: { runCollector: { id: string } } }).data.runCollector.id);
  for (;;) {
    const { rows } = await db.query(`SELECT status, extract(epoch FROM "completedAt" - "startedAt")::float8 AS seconds, "recordsProcessed", "recordsInserted", "recordsUpdated" FROM "CollectorRun" WHERE id = $1`, [id]);
    const row = rows[0] as { status: string; seconds: number; recordsProcessed: number; recordsInserted: number; recordsUpdated: number };
    if (row.status === "FAILED") throw new Error(`run ${id} failed`);
    if (row.status === "COMPLETED") {
      const wallSeconds = (performance.now() - started) / 1000;
      return { requests: demo.upstream.requests - requestsBefore, wallSeconds, runSeconds: row.seconds, processed: row.recordsProcessed, inserted: row.recordsInserted, updated: row.recordsUpdated };
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const firsts: Measured[] = [];
const seconds: Measured[] = [];
for (const name of names) {
  demo.upstream.options.stats.revision = 1;
  firsts.push(await run(name));
  demo.upstream.options.stats.revision = 2; // this year's and last year's figures change
  seconds.push(await run(name));
}
const summary = (runs: Measured[]) => ({
  requests: median(runs.map((r) => r.requests)),
  wallSeconds: Math.round(median(runs.map((r) => r.wallSeconds)) * 1000) / 1000,
  runSeconds: Math.round(median(runs.map((r) => r.runSeconds)) * 1000) / 1000,
  processed: median(runs.map((r) => r.processed)),
  inserted: median(runs.map((r) => r.inserted)),
  updated: median(runs.map((r) => r.updated)),
});
await db.end();
await service.stop();

/** Transactions a second committed on a fresh database while a service with `count` collectors (and nothing to do) runs. */
async function idleLoad(count: number): Promise<number> {
  const scratchDb = scratchDatabase(`milepost_bench_idle_${count}`);
  const file = join(scratch, `idle-${count}.json`);
  await writeFile(file, JSON.stringify(Array.from({ length: count }, (_, index) => ({ name: `idle-${index + 1}`, use: "http-json-collector", config }))));
  const idle = createService(loadConfig({ DATABASE_URL: scratchDb.url, PORT: "0", LOG_LEVEL: "warn", MILEPOST_AUTH: "off", MILEPOST_DEMO: "off", MILEPOST_EGRESS: "127.0.0.1", MILEPOST_DATA_DIR: scratch, MILEPOST_COLLECTORS: file }));
  await idle.start();
  const stats = new pg.Client({ connectionString: scratchDb.url });
  await stats.connect();
  const commits = async () => Number((await stats.query(`SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()`)).rows[0].xact_commit);
  await new Promise((resolve) => setTimeout(resolve, 5000)); // past the start's own work
  await stats.query("SELECT pg_stat_clear_snapshot()");
  const before = await commits();
  await new Promise((resolve) => setTimeout(resolve, 30_000));
  await stats.query("SELECT pg_stat_clear_snapshot()");
  const perSecond = Math.round(((await commits()) - before) / 30);
  await stats.end();
  await idle.stop();
  await scratchDb.drop();
  return perSecond;
}
const idle = { collectors1: await idleLoad(1), collectors50: await idleLoad(50) };

const first = summary(firsts);
const second = summary(seconds);
console.log(
  JSON.stringify(
    {
      bench: "collector",
      years: 26,
      latencyMs: LATENCY_MS,
      rounds: ROUNDS,
      first,
      second,
      ratios: { requests: ratio(second.requests, first.requests), wallSeconds: ratio(second.wallSeconds, first.wallSeconds), runSeconds: ratio(second.runSeconds, first.runSeconds) },
      targets: { requests: "<= 0.10", seconds: "<= 0.15" },
      idleTransactionsPerSecond: idle,
    },
    null,
    2,
  ),
);
await demo.close();
await drop();
await rm(scratch, { recursive: true, force: true });
