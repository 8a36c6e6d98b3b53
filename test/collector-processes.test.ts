import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { prisma } from "../src/db/client.js";
import { startDemoServer } from "../src/demo/upstream.js";
import { spawnService, type ServiceProcess } from "./helpers/process.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

// A collector run cannot go on from the middle: a worker killed or stopped during one fails it ("worker lost",
// found by the sweep of another worker within 30 s), and the next run plans from the last that succeeded.

const YEAR = new Date().getUTCFullYear();
let api: TestServer;
let demo: Awaited<ReturnType<typeof startDemoServer>>;
let workerEnv: Record<string, string>;

beforeAll(async () => {
  // 52 pages at 100 ms: a run of every year takes about 5 s.
  demo = await startDemoServer({ stats: { revision: 1 }, faults: { latencyMs: 100 } });
  const file = join(await mkdtemp(join(tmpdir(), "milepost-collectors-")), "collectors.json");
  await writeFile(file, JSON.stringify([{ name: "stats", use: "demo-stats", config: { baseUrl: demo.url } }]));
  api = await startTestServer({ MILEPOST_ROLE: "api", MILEPOST_COLLECTORS: file });
  workerEnv = { DATABASE_URL: api.databaseUrl, MILEPOST_ROLE: "worker", MILEPOST_COLLECTORS: file, MILEPOST_EGRESS: "127.0.0.1" };
});
afterAll(async () => {
  await api?.stop();
  await demo?.close();
});

async function start(input: Record<string, unknown> = {}): Promise<number> {
  const started = await api.gql<{ runCollector: { id: string } }>(`mutation($input: RunCollectorInput!) { runCollector(input: $input) { id } }`, { input: { name: "stats", ...input } });
  expect(started.errors).toBeUndefined();
  return Number(started.data!.runCollector.id);
}
const run = (id: number) => prisma().collectorRun.findUniqueOrThrow({ where: { id } });
async function until(id: number, check: (row: Awaited<ReturnType<typeof run>>) => boolean, timeout = 30_000) {
  await expect.poll(async () => check(await run(id)), { timeout, interval: 100 }).toBe(true);
  return run(id);
}

it("a worker killed mid-run: the run is FAILED 'worker lost' within 30 s, the collector keeps what its last success left, and the next run is right", async () => {
  let worker: ServiceProcess = await spawnService(workerEnv);
  const first = await until(await start(), (row) => row.status === "COMPLETED");
  expect(first).toMatchObject({ recordsProcessed: 780, recordsInserted: 780 });
  const before = await prisma().collector.findUniqueOrThrow({ where: { name: "stats" } });

  // Every year again (maxAgeDays 0), killed once some of it is committed.
  const id = await start({ maxAgeDays: 0 });
  await until(id, (row) => row.status === "RUNNING" && row.recordsProcessed >= 120);
  await worker.stop("SIGKILL");
  const killedAt = Date.now();
  worker = await spawnService(workerEnv); // its sweep finds the lease gone stale
  const lost = await until(id, (row) => row.status === "FAILED", 30_000);
  expect(Date.now() - killedAt).toBeLessThan(30_000);
  expect(lost.error).toBe("worker lost");
  // What it committed stays counted, exactly once (its records were unchanged: nothing inserted or updated).
  expect(lost.recordsProcessed % 30).toBe(0);
  expect(lost).toMatchObject({ recordsInserted: 0, recordsUpdated: 0 });
  const after = await prisma().collector.findUniqueOrThrow({ where: { name: "stats" } });
  expect({ watermark: after.watermark, windows: after.windows, lastSuccessAt: after.lastSuccessAt }).toEqual({ watermark: before.watermark, windows: before.windows, lastSuccessAt: before.lastSuccessAt });

  // The next run plans from the first: this year and last only.
  demo.upstream.options.stats.revision = 2;
  const next = await until(await start(), (row) => row.status === "COMPLETED");
  expect(next).toMatchObject({ recordsProcessed: 60, recordsInserted: 0, recordsUpdated: 30 });
  expect((next.window as { years: number[] }).years).toEqual([YEAR - 1, YEAR]);

  // A worker stopped during a run fails it at once, saying so, rather than leaving it to the sweep.
  const stopped = await start({ fullRefresh: true });
  await until(stopped, (row) => row.status === "RUNNING" && row.recordsProcessed > 0);
  const exit = await worker.stop("SIGTERM");
  expect(exit.code).toBe(0);
  expect(await run(stopped)).toMatchObject({ status: "FAILED", error: "its worker shut down during the run" });
}, 120_000);
