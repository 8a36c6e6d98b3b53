import { readdirSync } from "node:fs";
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startDemoServer } from "../src/demo/upstream.js";
import { cloneDatabase } from "./helpers/database.js";
import { adminQuery, serverUrlOf } from "./helpers/postgres.js";
import { spawnService } from "./helpers/process.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { startTcpProxy, type TcpProxy } from "./helpers/tcp-proxy.js";

// A connection can die after PostgreSQL committed and before the client heard it. Through a proxy that does just
// that to chosen statements, every count must come out exact, and the service must go on.

let database: Awaited<ReturnType<typeof cloneDatabase>>;
let proxy: TcpProxy;
let demo: Awaited<ReturnType<typeof startDemoServer>>;
let server: TestServer;
let direct: pg.Client;

beforeAll(async () => {
  database = await cloneDatabase();
  const url = new URL(database.url);
  proxy = await startTcpProxy(url.hostname, Number(url.port || 5432));
  url.host = `127.0.0.1:${proxy.port}`;
  demo = await startDemoServer({ items: 6000, pageSize: 20 });
  server = await startTestServer({ MILEPOST_PLUGINS: "test/fixtures/test-processors.mjs", WORKER_CONCURRENCY: "8", RETRY_DELAY_MS: "50" }, url.toString());
  direct = new pg.Client({ connectionString: database.url });
  await direct.connect();
}, 60_000);
afterAll(async () => {
  await direct?.end();
  await server?.stop();
  await proxy?.close();
  await demo?.close();
  await database?.drop();
});

const one = async <T>(sql: string, values: unknown[] = []) => (await direct.query(sql, values)).rows[0] as T;

/** Polls the database itself (not through the proxy) until `check` holds. */
async function until(check: () => Promise<boolean>, timeout = 90_000): Promise<void> {
  await expect.poll(check, { timeout, interval: 200 }).toBe(true);
}

it("an import of 300 checkpoints ends with exact counts when every 10th checkpoint's answer is lost", async () => {
  proxy.loseAnswers({ match: /"checkpointSeq" = t\."checkpointSeq" \+ 1/, every: 10 });
  const lostBefore = proxy.lost();
  const started = await server.gql<{ startImport: { id: string } }>(`mutation($input: StartImportInput!) { startImport(input: $input) { id } }`, {
    input: {
      source: "http-json",
      dataset: "lost-answers",
      checkpointEvery: 1,
      config: { url: `${demo.url}/3/movie/popular`, pagination: { type: "page", totalPagesPath: "total_pages" }, itemsPath: "results", totalItemsPath: "total_results" },
    },
  });
  expect(started.errors).toBeUndefined();
  const id = Number(started.data!.startImport.id);
  await until(async () => (await one<{ status: string }>(`SELECT status FROM "Import" WHERE id = $1`, [id])).status === "COMPLETED");
  proxy.loseAnswers(null);
  expect(proxy.lost() - lostBefore).toBeGreaterThanOrEqual(25);
  expect(await one(`SELECT "pagesDone", "itemsProcessed", "itemsNew", "itemsUpdated", "itemsUnchanged", "errorCount", "checkpointSeq" FROM "Import" WHERE id = $1`, [id])).toEqual({
    pagesDone: 300,
    itemsProcessed: 6000,
    itemsNew: 6000,
    itemsUpdated: 0,
    itemsUnchanged: 0,
    errorCount: 0,
    checkpointSeq: 300, // one per page: the last commits with the ending
  });
  expect(await one(`SELECT count(*)::int AS count FROM "ImportedRecord" WHERE dataset = 'lost-answers'`)).toEqual({ count: 6000 });
}, 120_000);

it("a tree import ends with exact per-level counts, records and nodes when every 7th checkpoint's answer is lost", async () => {
  proxy.loseAnswers({ match: /"checkpointSeq" = t\."checkpointSeq" \+ 1/, every: 7 });
  const lostBefore = proxy.lost();
  const started = await server.gql<{ startImport: { id: string } }>(`mutation($input: StartImportInput!) { startImport(input: $input) { id } }`, {
    input: { source: "demo-backup", dataset: "lost-tree", config: { baseUrl: demo.url, itemsPerPage: 5 } },
  });
  expect(started.errors).toBeUndefined();
  const id = Number(started.data!.startImport.id);
  await until(async () => (await one<{ status: string }>(`SELECT status FROM "Import" WHERE id = $1`, [id])).status === "COMPLETED");
  proxy.loseAnswers(null);
  expect(proxy.lost() - lostBefore).toBeGreaterThanOrEqual(10);
  expect(await one(`SELECT "itemsProcessed", "itemsNew", "errorCount" FROM "Import" WHERE id = $1`, [id])).toEqual({ itemsProcessed: 288, itemsNew: 288, errorCount: 0 });
  const levels = (await direct.query(`SELECT level, discovered, done FROM "ImportLevel" WHERE "importId" = $1 ORDER BY level`, [id])).rows;
  expect(levels).toEqual([
    { level: 0, discovered: 2, done: 2 },
    { level: 1, discovered: 8, done: 8 },
    { level: 2, discovered: 24, done: 24 },
    { level: 3, discovered: 288, done: 288 },
  ]);
  // The counts agree with the nodes themselves.
  const nodes = (await direct.query(`SELECT level, count(*)::int AS discovered, count(*) FILTER (WHERE done)::int AS done FROM "ImportNode" WHERE "importId" = $1 AND level >= 0 GROUP BY level ORDER BY level`, [id])).rows;
  expect(nodes).toEqual(levels.slice(0, 3));
  expect(await one(`SELECT count(*)::int AS count FROM "ImportedRecord" WHERE dataset = 'lost-tree'`)).toEqual({ count: 288 });
}, 120_000);

it("a collector run ends with exact counts, and leaves its collector exact, when every 5th checkpoint's or move's answer is lost", async () => {
  proxy.loseAnswers({ match: /"checkpointSeq" = t\."checkpointSeq" \+ 1|moved AS \(/, every: 5 });
  const lostBefore = proxy.lost();
  const started = await server.gql<{ runCollector: { id: string } }>(`mutation { runCollector(input: { name: "demo-stats" }) { id } }`);
  expect(started.errors).toBeUndefined();
  const id = Number(started.data!.runCollector.id);
  await until(async () => (await one<{ status: string }>(`SELECT status FROM "CollectorRun" WHERE id = $1`, [id])).status === "COMPLETED");
  proxy.loseAnswers(null);
  expect(proxy.lost() - lostBefore).toBeGreaterThanOrEqual(10);
  // 26 years of 30 figures, in 52 pages: one checkpoint each, and the claim and the end.
  expect(await one(`SELECT "recordsProcessed", "recordsInserted", "recordsUpdated", "checkpointSeq", error FROM "CollectorRun" WHERE id = $1`, [id])).toEqual({
    recordsProcessed: 780,
    recordsInserted: 780,
    recordsUpdated: 0,
    checkpointSeq: 53,
    error: null,
  });
  expect(await one(`SELECT count(*)::int AS count FROM "ImportedRecord" WHERE dataset = 'demo-stats'`)).toEqual({ count: 780 });
  const collector = await one<{ windows: Record<string, string>; lastSuccessAt: Date | null }>(`SELECT windows, "lastSuccessAt" FROM "Collector" WHERE name = 'demo-stats'`);
  expect(Object.keys(collector.windows)).toHaveLength(26);
  expect(collector.lastSuccessAt).not.toBeNull();
  expect(await one(`SELECT count(*)::int AS count FROM "Event" WHERE "subjectKind" = 'COLLECTOR_RUN' AND "subjectId" = $1 AND kind = 'STATUS'`, [id])).toEqual({ count: 3 });
}, 120_000);

it("a queue of 300 items and a job of 300 steps end exact when every 5th claim's or end's answer is lost", async () => {
  // "moved AS (" is in every move: the runners' claims and ends, the job's own end.
  proxy.loseAnswers({ match: /moved AS \(/, every: 5 });
  const lostBefore = proxy.lost();
  const items = Array.from({ length: 300 }, (_, n) => ({ key: `lost-${n}`, payload: { tag: `lost-${n}` } }));
  const enqueued = await server.gql<{ enqueue: { added: { id: string }[] } }>(`mutation($input: EnqueueInput!) { enqueue(input: $input) { added { id } } }`, {
    input: { queue: "echo", items },
  });
  expect(enqueued.data!.enqueue.added).toHaveLength(300);
  const created = await server.gql<{ createJob: { id: string } }>(`mutation($input: CreateJobInput!) { createJob(input: $input) { id } }`, {
    input: { kind: "echo", name: "lost answers", steps: items.map((item) => ({ name: item.key, input: item.payload })), config: { concurrency: 8 } },
  });
  expect(created.errors).toBeUndefined();
  const jobId = Number(created.data!.createJob.id);
  await until(async () => (await one<{ done: number }>(`SELECT count(*)::int AS done FROM "QueueItem" WHERE queue = 'echo' AND key LIKE 'lost-%' AND status = 'COMPLETED'`)).done === 300);
  await until(async () => (await one<{ status: string }>(`SELECT status FROM "Job" WHERE id = $1`, [jobId])).status === "COMPLETED");
  proxy.loseAnswers(null);
  expect(proxy.lost() - lostBefore).toBeGreaterThanOrEqual(20);

  // Each item ran once: one attempt, and exactly the STATUS events of one run.
  expect(await one(`SELECT min(attempts)::int AS min, max(attempts)::int AS max FROM "QueueItem" WHERE key LIKE 'lost-%'`)).toEqual({ min: 1, max: 1 });
  const histories = await direct.query<{ history: string; count: number }>(`
    SELECT string_agg(e.payload->>'to', ',' ORDER BY e.id) AS history, count(*) OVER (PARTITION BY string_agg(e.payload->>'to', ',' ORDER BY e.id))::int AS count
    FROM "QueueItem" i JOIN "Event" e ON e."subjectKind" = 'QUEUE_ITEM' AND e."subjectId" = i.id AND e.kind = 'STATUS'
    WHERE i.key LIKE 'lost-%' GROUP BY i.id`);
  expect(new Set(histories.rows.map((row) => row.history))).toEqual(new Set(["PENDING,RUNNING,COMPLETED"]));

  expect(await one(`SELECT "completedSteps", "failedSteps", "cancelledSteps", "runningSteps" FROM "Job" WHERE id = $1`, [jobId])).toEqual({
    completedSteps: 300,
    failedSteps: 0,
    cancelledSteps: 0,
    runningSteps: 0,
  });
  expect(await one(`SELECT count(*) FILTER (WHERE status = 'COMPLETED')::int AS completed, max(attempts)::int AS attempts FROM "JobStep" WHERE "jobId" = $1`, [jobId])).toEqual({
    completed: 300,
    attempts: 1,
  });
  const jobEnds = await one<{ count: number }>(`SELECT count(*)::int AS count FROM "Event" WHERE "subjectKind" = 'JOB' AND "subjectId" = $1 AND payload->>'to' = 'COMPLETED'`, [jobId]);
  expect(jobEnds.count).toBe(1);
}, 150_000);

it("a start whose migrations lose their answers retries them and starts, with every migration applied once and no unhandled 'error' event", async () => {
  const server = serverUrlOf(database.url);
  const name = `milepost_fresh_${process.pid}`;
  await adminQuery(server, `DROP DATABASE IF EXISTS ${name}`, `CREATE DATABASE ${name}`);
  try {
    const url = new URL(`${server}/${name}`);
    url.host = `127.0.0.1:${proxy.port}`;
    // The first two migrations' COMMITs happen, and their answers are lost.
    proxy.loseAnswers({ match: /INSERT INTO "_prisma_migrations"/, every: 1, times: proxy.lost() + 2 });
    const lostBefore = proxy.lost();
    const started = await spawnService({ DATABASE_URL: url.toString(), MILEPOST_ROLE: "api", MILEPOST_ADMIN_TOKEN: "mp_test_fresh_start_token_0123456789" });
    proxy.loseAnswers(null);
    expect(proxy.lost() - lostBefore).toBe(2);
    expect(started.output()).not.toContain("Unhandled 'error' event");
    expect(started.output()).toContain("the database connection was lost while migrating; trying again");
    const migrations = readdirSync(new URL("../prisma/migrations/", import.meta.url), { withFileTypes: true }).filter((entry) => entry.isDirectory());
    const fresh = new pg.Client({ connectionString: `${server}/${name}` });
    await fresh.connect();
    try {
      const { rows } = await fresh.query(`SELECT migration_name, count(*)::int AS count FROM "_prisma_migrations" WHERE finished_at IS NOT NULL GROUP BY 1`);
      expect(rows).toHaveLength(migrations.length);
      expect(rows.every((row) => row.count === 1)).toBe(true);
    } finally {
      await fresh.end();
    }
    expect((await started.stop()).code).toBe(0);
  } finally {
    await adminQuery(server, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
}, 60_000);
