// A backup of the demo's nested API (org > workspace > app > item) through
// the demo-backup source, in a worker process of its own:
// - 100 orgs × 50 workspaces × 20 apps with 10 items an app (105,100 nodes,
//   1,000,000 records), once straight through, and once with a rate limit
//   every 500 requests plus a SIGKILL of the worker half way (another one
//   takes over);
// - a tree a tenth of the size, straight through, to compare memory.
// Prints JSON: nodes/s, requests made against the minimum (one per node and
// page), and the worker's peak RSS.
//
//   DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres npm run bench:tree
import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { loadConfig } from "../src/config.js";
import type { DemoTree } from "../src/demo/backup-api.js";
import { startDemoServer } from "../src/demo/upstream.js";
import { createService } from "../src/service.js";
import { scratchDatabase, spawnWorker, stopAll } from "./lib.js";

const ITEMS_PER_APP = 10;
const { url, drop } = scratchDatabase("milepost_bench_tree");
const dataDir = await mkdtemp(join(tmpdir(), "milepost-bench-tree-"));
const demo = await startDemoServer();
// An api-only service in this process starts the imports; the walk runs in a worker process.
const service = createService(loadConfig({ DATABASE_URL: url, PORT: "0", LOG_LEVEL: "warn", MILEPOST_AUTH: "off", MILEPOST_DEMO: "off", MILEPOST_ROLE: "api", MILEPOST_EGRESS: "127.0.0.1" }));
await service.start();
const db = new pg.Client({ connectionString: url });
await db.connect();
const workerEnv = { MILEPOST_EGRESS: "127.0.0.1", MILEPOST_DATA_DIR: dataDir, WORKER_CONCURRENCY: "1" };

const rssMb = (child: ChildProcess) => {
  try {
    return Math.round(Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"))![1]) / 1024);
  } catch {
    return 0;
  }
};
const one = async <T>(sql: string, values: unknown[] = []) => (await db.query(sql, values)).rows[0] as T;

async function run(tree: DemoTree, interrupted: boolean) {
  Object.assign(demo.upstream.options, { tree });
  Object.assign(demo.upstream.options.faults, { rateLimitEvery: interrupted ? 500 : 0, retryAfterSeconds: 0 });
  const nodes = tree.orgs * (1 + tree.workspaces * (1 + tree.apps));
  const minimum = 1 + tree.orgs + tree.orgs * tree.workspaces + tree.orgs * tree.workspaces * tree.apps * Math.ceil(tree.items / ITEMS_PER_APP);
  const requestsBefore = demo.upstream.requests;
  let worker = await spawnWorker(url, workerEnv);
  let peak = rssMb(worker);
  const sampler = setInterval(() => (peak = Math.max(peak, rssMb(worker))), 200);
  const started = performance.now();
  const response = await fetch(service.url!, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query: `mutation($input: StartImportInput!) { startImport(input: $input) { id } }`, variables: { input: { source: "demo-backup", dataset: `tree-${nodes}-${interrupted}`, config: { baseUrl: demo.url, itemsPerPage: ITEMS_PER_APP } } } }),
  });
  const id = Number(((await response.json()) as { data: { startImport: { id: string } } }).data.startImport.id);
  const appsDone = async () => (await one<{ done: number | null }>(`SELECT done FROM "ImportLevel" WHERE "importId" = $1 AND level = 2`, [id]))?.done ?? 0;
  let kills = 0;
  for (;;) {
    const { status } = await one<{ status: string }>(`SELECT status FROM "Import" WHERE id = $1`, [id]);
    if (status === "COMPLETED" || status === "FAILED") break;
    if (interrupted && kills === 0 && (await appsDone()) >= (tree.orgs * tree.workspaces * tree.apps) / 2) {
      worker.kill("SIGKILL");
      await new Promise((resolve) => worker.once("exit", resolve));
      kills++;
      worker = await spawnWorker(url, workerEnv);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  await stopAll([worker]);
  const counted = await one<{ status: string; itemsProcessed: number }>(`SELECT status, "itemsProcessed" FROM "Import" WHERE id = $1`, [id]);
  const limited = interrupted ? Math.floor((demo.upstream.requests - requestsBefore) / 500) : 0;
  const requests = demo.upstream.requests - requestsBefore;
  return {
    nodes,
    records: counted.itemsProcessed,
    status: counted.status,
    seconds: Math.round(seconds),
    nodesPerSecond: Math.round(nodes / seconds),
    requests,
    minimumRequests: minimum,
    interruptions: limited + kills,
    extraRequests: requests - minimum,
    workerPeakRssMb: peak,
  };
}

const large = { orgs: 100, workspaces: 50, apps: 20, items: ITEMS_PER_APP };
const small = { orgs: 10, workspaces: 50, apps: 20, items: ITEMS_PER_APP };
const result = {
  bench: "tree",
  smallStraight: await run(small, false),
  largeStraight: await run(large, false),
  largeInterrupted: await run(large, true),
};
console.log(JSON.stringify({ ...result, peakRssLargeOverSmall: Math.round((result.largeStraight.workerPeakRssMb / result.smallStraight.workerPeakRssMb) * 100) / 100 }, null, 2));
await db.end();
await service.stop();
await demo.close();
await rm(dataDir, { recursive: true, force: true });
await drop();
