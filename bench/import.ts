// Imports 100,000 items (500 pages × 200) from the demo upstream with no
// latency, through Milepost (checkpoints, counters, events included) and
// through a naive loop (fetch a page, upsert it with one SQL statement), on
// one database, in alternating rounds; prints the medians as JSON, with the
// CPU each side spent per item (Node, and PostgreSQL when it runs here).
//
//   DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres npm run bench
//   BENCH_ROUNDS=5 npm run bench
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readdirSync, readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import pg from "pg";
import { loadConfig } from "../src/config.js";
import { prisma } from "../src/db/client.js";
import { createService } from "../src/service.js";
import { startImport } from "../src/imports/commands.js";

const ITEMS = 100_000;
const PAGE = 200;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CHECKPOINT_EVERY = [1, 5, 25];
const server = (process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres").replace(/\/[^/]*$/, "");
const database = `milepost_bench_${Date.now()}`;

// The upstream runs in its own process, as a real one would: its work is charged to neither side.
const upstream = spawn(process.execPath, ["--import", "tsx", "src/demo/serve.ts", "--items", String(ITEMS), "--page-size", String(PAGE)], {
  stdio: ["ignore", "pipe", "inherit"],
});
const [line] = (await once(createInterface({ input: upstream.stdout }), "line")) as [string];
const demoUrl = (JSON.parse(line) as { url: string }).url;
const service = createService(
  loadConfig({ DATABASE_URL: `${server}/${database}`, PORT: "0", LOG_LEVEL: "warn", MILEPOST_AUTH: "off", MILEPOST_DEMO: "off", WORKER_CONCURRENCY: "1" }),
);
await service.start();
const config = { url: `${demoUrl}/3/movie/popular`, pagination: { type: "page", totalPagesPath: "total_pages" }, itemsPath: "results" };

/** CPU seconds spent by local PostgreSQL processes (and their ended children); null when they cannot be read. */
function postgresCpuSeconds(): number | null {
  let ticks = 0;
  let found = false;
  for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      if (!stat.includes("(postgres)")) continue;
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]); // utime stime cutime cstime
      found = true;
    } catch {
      // the process ended while being read
    }
  }
  return found ? ticks / 100 : null;
}

interface Run {
  itemsPerSecond: number;
  nodeCpuMicrosPerItem: number;
  postgresCpuMicrosPerItem: number | null;
}

async function measure(work: () => Promise<void>): Promise<Run> {
  const cpu = process.cpuUsage();
  const postgres = postgresCpuSeconds();
  const started = performance.now();
  await work();
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const postgresAfter = postgresCpuSeconds();
  return {
    itemsPerSecond: ITEMS / seconds,
    nodeCpuMicrosPerItem: (used.user + used.system) / ITEMS,
    postgresCpuMicrosPerItem: postgres === null || postgresAfter === null ? null : ((postgresAfter - postgres) * 1e6) / ITEMS,
  };
}

async function milepost(dataset: string, checkpointEvery: number): Promise<void> {
  const row = await startImport({ source: "http-json", dataset, config, checkpointEvery }, checkpointEvery);
  for (;;) {
    const current = await prisma().import.findUniqueOrThrow({ where: { id: row.id } });
    if (current.status === "COMPLETED") {
      if (current.itemsNew !== ITEMS) throw new Error(`expected ${ITEMS} new items, got ${current.itemsNew}`);
      return;
    }
    if (current.status === "FAILED") throw new Error(current.lastError ?? "failed");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function naive(dataset: string): Promise<void> {
  const client = new pg.Client({ connectionString: service.databaseUrl });
  await client.connect();
  for (let page = 1; page <= ITEMS / PAGE; page++) {
    const body = (await (await fetch(`${demoUrl}/3/movie/popular?page=${page}`)).json()) as { results: { id: number }[] };
    await client.query(
      `INSERT INTO "ImportedRecord" (dataset, "externalId", data, "updatedAt")
       SELECT $1, id, data::jsonb, now() FROM unnest($2::text[], $3::text[]) AS t(id, data)
       ON CONFLICT (dataset, "externalId") DO UPDATE SET data = EXCLUDED.data, "updatedAt" = now()`,
      [dataset, body.results.map((item) => String(item.id)), body.results.map((item) => JSON.stringify(item))],
    );
  }
  await client.end();
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const summary = (runs: Run[]) => ({
  itemsPerSecond: Math.round(median(runs.map((run) => run.itemsPerSecond))),
  nodeCpuMicrosPerItem: Math.round(median(runs.map((run) => run.nodeCpuMicrosPerItem)) * 10) / 10,
  postgresCpuMicrosPerItem: runs[0].postgresCpuMicrosPerItem === null ? null : Math.round(median(runs.map((run) => run.postgresCpuMicrosPerItem!)) * 10) / 10,
});

const naiveRuns: Run[] = [];
const milepostRuns = new Map<number, Run[]>(CHECKPOINT_EVERY.map((every) => [every, []]));
for (let round = 0; round < ROUNDS; round++) {
  // Every run writes a fresh dataset, so each is a first load of 100,000 new items.
  naiveRuns.push(await measure(() => naive(`naive-${round}`)));
  for (const every of CHECKPOINT_EVERY) milepostRuns.get(every)!.push(await measure(() => milepost(`milepost-${every}-${round}`, every)));
}
const baseline = summary(naiveRuns);
const results = Object.fromEntries(CHECKPOINT_EVERY.map((every) => [`checkpointEvery=${every}`, summary(milepostRuns.get(every)!)]));
console.log(
  JSON.stringify(
    {
      bench: "import",
      items: ITEMS,
      pageSize: PAGE,
      rounds: ROUNDS,
      naive: baseline,
      milepost: results,
      ratioToNaive: Object.fromEntries(
        CHECKPOINT_EVERY.map((every) => [`checkpointEvery=${every}`, Math.round((results[`checkpointEvery=${every}`].itemsPerSecond / baseline.itemsPerSecond) * 100) / 100]),
      ),
    },
    null,
    2,
  ),
);
await service.stop();
upstream.kill();
const admin = new pg.Client({ connectionString: `${server}/postgres` });
await admin.connect();
await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
await admin.end();
