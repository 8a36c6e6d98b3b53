// Imports 100,000 items (500 pages × 200) from the demo upstream with no
// latency, through Milepost (checkpoints, counters, events included) and
// through a naive loop (fetch a page, upsert it with one SQL statement), in
// one run on one database. Prints JSON.
//
//   DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres npx tsx bench/import.ts
import pg from "pg";
import { loadConfig } from "../src/config.js";
import { startDemoServer } from "../src/demo/upstream.js";
import { prisma } from "../src/db/client.js";
import { createService } from "../src/service.js";
import { startImport } from "../src/imports/commands.js";

const ITEMS = 100_000;
const PAGE = 200;
const server = (process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres").replace(/\/[^/]*$/, "");
const database = `milepost_bench_${Date.now()}`;
const demo = await startDemoServer({ items: ITEMS, pageSize: PAGE });
const service = createService(
  loadConfig({ DATABASE_URL: `${server}/${database}`, PORT: "0", LOG_LEVEL: "warn", MILEPOST_AUTH: "off", MILEPOST_DEMO: "off", WORKER_CONCURRENCY: "1" }),
);
await service.start();
const config = { url: `${demo.url}/3/movie/popular`, pagination: { type: "page", totalPagesPath: "total_pages" }, itemsPath: "results" };

async function milepost(checkpointEvery: number): Promise<number> {
  const started = Date.now();
  const row = await startImport({ source: "http-json", dataset: `bench-${checkpointEvery}`, config, checkpointEvery }, checkpointEvery);
  for (;;) {
    const current = await prisma().import.findUniqueOrThrow({ where: { id: row.id } });
    if (current.status === "COMPLETED") {
      if (current.itemsNew !== ITEMS) throw new Error(`expected ${ITEMS} new items, got ${current.itemsNew}`);
      return ITEMS / ((Date.now() - started) / 1000);
    }
    if (current.status === "FAILED") throw new Error(current.lastError ?? "failed");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function naive(): Promise<number> {
  const client = new pg.Client({ connectionString: service.databaseUrl });
  await client.connect();
  const started = Date.now();
  for (let page = 1; page <= ITEMS / PAGE; page++) {
    const body = (await (await fetch(`${demo.url}/3/movie/popular?page=${page}`)).json()) as { results: { id: number }[] };
    await client.query(
      `INSERT INTO "ImportedRecord" (dataset, "externalId", data, hash, "updatedAt")
       SELECT 'baseline', id, data::jsonb, md5(data), now() FROM unnest($1::text[], $2::text[]) AS t(id, data)
       ON CONFLICT (dataset, "externalId") DO UPDATE SET data = EXCLUDED.data, hash = EXCLUDED.hash, "updatedAt" = now()`,
      [body.results.map((item) => String(item.id)), body.results.map((item) => JSON.stringify(item))],
    );
  }
  const rate = ITEMS / ((Date.now() - started) / 1000);
  await client.end();
  return rate;
}

const baseline = await naive();
const runs: Record<string, number> = {};
for (const every of [1, 5, 25]) runs[`checkpointEvery=${every}`] = Math.round(await milepost(every));
const milepostDefault = runs["checkpointEvery=5"];
console.log(
  JSON.stringify(
    {
      bench: "import",
      items: ITEMS,
      pageSize: PAGE,
      naiveItemsPerSecond: Math.round(baseline),
      milepostItemsPerSecond: runs,
      ratioAtDefault: Math.round((milepostDefault / baseline) * 100) / 100,
    },
    null,
    2,
  ),
);
await service.stop();
await demo.close();
const admin = new pg.Client({ connectionString: `${server}/postgres` });
await admin.connect();
await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
await admin.end();
