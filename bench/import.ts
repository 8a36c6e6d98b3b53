// Imports 100,000 items (500 pages × 200) from the demo upstream with no
// latency, through Milepost (checkpoints, counters, events included) and
// through a naive loop (fetch a page, upsert it with one SQL statement), on
// one database, in alternating rounds; prints the medians as JSON, with the
// CPU each side spent per item (Node, and PostgreSQL when it runs here).
// Three scenarios: a first load into an empty dataset; a re-import of the
// same dataset after the upstream changed (10% of the items changed, 5 new);
// and a first load of 20,000 items from an upstream answering in 10 ms.
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
import { startImport } from "../src/work/imports/commands.js";

const ITEMS = 100_000;
const PAGE = 200;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CHECKPOINT_EVERY = [1, 5, 25];
const server = (process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres").replace(/\/[^/]*$/, "");
const database = `milepost_bench_${Date.now()}`;

// Upstreams run in their own processes, as real ones would: their work is charged to neither side.
interface Upstream {
  url: string;
  items: number;
  stop(): void;
}
async function startUpstream(items: number, options: string[] = []): Promise<Upstream> {
  const args = ["--import", "tsx", "src/demo/serve.ts", "--items", String(items), "--page-size", String(PAGE), ...options];
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
  const [line] = (await once(createInterface({ input: child.stdout }), "line")) as [string];
  return { url: (JSON.parse(line) as { url: string }).url, items, stop: () => child.kill() };
}
const SLOW_ITEMS = 20_000;
const LATENCY_MS = 10;
const catalogue = await startUpstream(ITEMS);
const changed = { ...(await startUpstream(ITEMS, ["--catalogue-version", "2"])), items: ITEMS + 5 };
const slow = await startUpstream(SLOW_ITEMS, ["--latency-ms", String(LATENCY_MS)]);
const upstreams = [catalogue, changed, slow];
const service = createService(
  loadConfig({ DATABASE_URL: `${server}/${database}`, PORT: "0", LOG_LEVEL: "warn", MILEPOST_EGRESS: "127.0.0.1", MILEPOST_AUTH: "off", MILEPOST_DEMO: "off", WORKER_CONCURRENCY: "1" }),
);
await service.start();
const DEFAULT_EVERY = 5;
const REIMPORT_CHANGED = 10_000 + 5; // every 10th of 100,000 changed, and 5 added

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

async function measure(items: number, work: () => Promise<void>): Promise<Run> {
  const cpu = process.cpuUsage();
  const postgres = postgresCpuSeconds();
  const started = performance.now();
  await work();
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const postgresAfter = postgresCpuSeconds();
  return {
    itemsPerSecond: items / seconds,
    nodeCpuMicrosPerItem: (used.user + used.system) / items,
    postgresCpuMicrosPerItem: postgres === null || postgresAfter === null ? null : ((postgresAfter - postgres) * 1e6) / items,
  };
}

/** Runs an import to the end and checks it wrote `written` new or updated records. */
async function milepost(upstream: Upstream, dataset: string, checkpointEvery: number, written: number): Promise<void> {
  const config = { url: `${upstream.url}/3/movie/popular`, pagination: { type: "page", totalPagesPath: "total_pages" }, itemsPath: "results" };
  const row = await startImport({ source: "http-json", dataset, config, checkpointEvery, resumeExisting: false }, checkpointEvery);
  for (;;) {
    const current = await prisma().import.findUniqueOrThrow({ where: { id: row.id } });
    if (current.status === "COMPLETED") {
      if (current.itemsNew + current.itemsUpdated !== written) throw new Error(`expected ${written} new or updated, got ${current.itemsNew + current.itemsUpdated}`);
      return;
    }
    if (current.status === "FAILED") throw new Error(current.lastError ?? "failed");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function naive(upstream: Upstream, dataset: string): Promise<void> {
  const client = new pg.Client({ connectionString: service.databaseUrl });
  await client.connect();
  for (let page = 1, pages = 1; page <= pages; page++) {
    const response = await fetch(`${upstream.url}/3/movie/popular?page=${page}`);
    const body = (await response.json()) as { results: { id: number }[]; total_pages: number };
    pages = body.total_pages;
    await client.query(
      `INSERT INTO "ImportedRecord" (dataset, "externalId", data, "updatedAt")
       SELECT $1, id, data::jsonb, now() FROM unnest($2::text[], $3::text[]) AS t(id, data)
       ON CONFLICT (dataset, "externalId") DO UPDATE SET data = EXCLUDED.data, "updatedAt" = now()`,
      [dataset, body.results.map((item) => String(item.id)), body.results.map((item) => JSON.stringify(item))],
    );
  }
  await client.end();
}

const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const summary = (runs: Run[]) => ({
  itemsPerSecond: Math.round(median(runs.map((run) => run.itemsPerSecond))),
  nodeCpuMicrosPerItem: Math.round(median(runs.map((run) => run.nodeCpuMicrosPerItem)) * 10) / 10,
  postgresCpuMicrosPerItem: runs[0].postgresCpuMicrosPerItem === null ? null : Math.round(median(runs.map((run) => run.postgresCpuMicrosPerItem!)) * 10) / 10,
});

const naiveRuns: Run[] = [];
const milepostRuns = new Map<number, Run[]>(CHECKPOINT_EVERY.map((every) => [every, []]));
const naiveReimports: Run[] = [];
const milepostReimports: Run[] = [];
const naiveSlow: Run[] = [];
const milepostSlow: Run[] = [];
for (let round = 0; round < ROUNDS; round++) {
  // Every first load writes a fresh dataset; the re-imports then go over the default's and the naive loop's.
  naiveRuns.push(await measure(ITEMS, () => naive(catalogue, `naive-${round}`)));
  for (const every of CHECKPOINT_EVERY) {
    milepostRuns.get(every)!.push(await measure(ITEMS, () => milepost(catalogue, `milepost-${every}-${round}`, every, ITEMS)));
  }
  naiveReimports.push(await measure(changed.items, () => naive(changed, `naive-${round}`)));
  milepostReimports.push(await measure(changed.items, () => milepost(changed, `milepost-${DEFAULT_EVERY}-${round}`, DEFAULT_EVERY, REIMPORT_CHANGED)));
  naiveSlow.push(await measure(SLOW_ITEMS, () => naive(slow, `naive-slow-${round}`)));
  milepostSlow.push(await measure(SLOW_ITEMS, () => milepost(slow, `milepost-slow-${round}`, DEFAULT_EVERY, SLOW_ITEMS)));
}
const baseline = summary(naiveRuns);
const results = Object.fromEntries(CHECKPOINT_EVERY.map((every) => [`checkpointEvery=${every}`, summary(milepostRuns.get(every)!)]));
const reimport = { naive: summary(naiveReimports), milepost: summary(milepostReimports) };
const withLatency = { naive: summary(naiveSlow), milepost: summary(milepostSlow) };
console.log(
  JSON.stringify(
    {
      bench: "import",
      items: ITEMS,
      pageSize: PAGE,
      rounds: ROUNDS,
      firstLoad: {
        naive: baseline,
        milepost: results,
        ratioToNaive: Object.fromEntries(
          CHECKPOINT_EVERY.map((every) => [`checkpointEvery=${every}`, ratio(results[`checkpointEvery=${every}`].itemsPerSecond, baseline.itemsPerSecond)]),
        ),
      },
      reimportAfterUpstreamChanged: {
        checkpointEvery: DEFAULT_EVERY,
        ...reimport,
        ratioToNaive: ratio(reimport.milepost.itemsPerSecond, reimport.naive.itemsPerSecond),
      },
      firstLoadWithUpstreamLatency: {
        items: SLOW_ITEMS,
        latencyMs: LATENCY_MS,
        checkpointEvery: DEFAULT_EVERY,
        ...withLatency,
        ratioToNaive: ratio(withLatency.milepost.itemsPerSecond, withLatency.naive.itemsPerSecond),
      },
    },
    null,
    2,
  ),
);
await service.stop();
for (const upstream of upstreams) upstream.stop();
const admin = new pg.Client({ connectionString: `${server}/postgres` });
await admin.connect();
await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
await admin.end();
