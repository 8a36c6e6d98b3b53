import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { prisma } from "../src/db/client.js";
import { startDemoServer } from "../src/demo/upstream.js";
import { httpJsonCollectorConfig } from "../src/collectors/http-json-collector.js";
import { logger } from "../src/logger.js";
import { loadCollectors } from "../src/registry.js";
import { pruneCollectorRuns } from "../src/work/collectors/retention.js";
import { cloneDatabase } from "./helpers/database.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { subscribe } from "./helpers/subscriptions.js";

// Collectors fetch the same data set again and again, only what changed: tracked runs, planned windows,
// watermarks kept only by runs that succeed, one run at a time, and cron schedules run by pg-boss.

const YEAR = new Date().getUTCFullYear();
const FIRST_YEAR = YEAR - 25;
/** The demo's statistics: 30 countries a year, 20 to a page; half of this year's and last year's change with each revision. */
const PER_YEAR = 30;
const PAGES_PER_YEAR = 2;

let server: TestServer;
let demo: Awaited<ReturnType<typeof startDemoServer>>;
let slow: Awaited<ReturnType<typeof startDemoServer>>;
let leaky: Awaited<ReturnType<typeof startDemoServer>>;
let collectorsFile: string;
let database: Awaited<ReturnType<typeof cloneDatabase>>;

async function writeCollectors(): Promise<void> {
  const stats = (baseUrl: string) => ({ url: `${baseUrl}/stats/{year}`, pagination: { type: "page", totalPagesPath: "total_pages" }, itemsPath: "results", idPath: "id", watermarkPath: "updated_at", startYear: FIRST_YEAR, maxAgeDays: 30 });
  await writeFile(
    collectorsFile,
    JSON.stringify([
      { name: "stats", use: "http-json-collector", description: "Yearly statistics", config: stats(demo.url) },
      { name: "slow-stats", use: "http-json-collector", config: stats(slow.url) },
      { name: "recent", use: "http-json-collector", config: { url: `${demo.url}/stats/${YEAR}?since={since}`, pagination: { type: "page", totalPagesPath: "total_pages" }, itemsPath: "results", watermarkPath: "updated_at" } },
      { name: "demo", use: "demo-stats", config: { baseUrl: demo.url } },
      // A careless upstream that quotes the request (its Authorization header) in every error.
      { name: "leaky", use: "http-json-collector", config: { ...stats(leaky.url), watermarkPath: "request.authorization", headers: { authorization: { $env: "STATS_TOKEN" } } } },
    ]),
  );
}

const SECRET = "stats-token-0123456789abcdef";
const ENV = () => ({ MILEPOST_COLLECTORS: collectorsFile, SCHEDULE_CHECK_SECONDS: "1", MAX_RETRIES: "1", RETRY_DELAY_MS: "20", MILEPOST_SECRETS: `STATS_TOKEN@${new URL(leaky.url).host}` });

beforeAll(async () => {
  demo = await startDemoServer({ stats: { revision: 1 } });
  slow = await startDemoServer({ stats: { revision: 1 }, faults: { latencyMs: 150 } });
  leaky = await startDemoServer({ faults: { echo: true } });
  process.env.STATS_TOKEN = SECRET;
  collectorsFile = join(await mkdtemp(join(tmpdir(), "milepost-collectors-")), "collectors.json");
  await writeCollectors();
  database = await cloneDatabase();
  server = await startTestServer(ENV(), database.url);
});
afterAll(async () => {
  await server?.stop();
  await database?.drop();
  await demo?.close();
  await slow?.close();
  await leaky?.close();
  delete process.env.STATS_TOKEN;
});

type Run = {
  id: string;
  collector: string;
  status: string;
  trigger: string;
  window: { years?: number[]; why?: Record<string, string>; since?: unknown; fullRefresh: boolean } | null;
  watermark: unknown;
  recordsProcessed: number;
  recordsInserted: number;
  recordsUpdated: number;
  error: string | null;
  durationSeconds: number | null;
  completedAt: string | null;
};
const RUN = "id collector status trigger window watermark recordsProcessed recordsInserted recordsUpdated error durationSeconds completedAt";

async function runCollector(name: string, options: { fullRefresh?: boolean; maxAgeDays?: number } = {}) {
  return server.gql<{ runCollector: Run }>(`mutation($input: RunCollectorInput!) { runCollector(input: $input) { ${RUN} } }`, { input: { name, ...options } });
}
const runOf = async (id: string) => (await server.gql<{ collectorRuns: { edges: { node: Run }[] } }>(`{ collectorRuns(first: 200) { edges { node { ${RUN} } } } }`)).data!.collectorRuns.edges.map((edge) => edge.node).find((run) => run.id === id)!;
async function until(id: string, statuses: string[], timeout = 30_000): Promise<Run> {
  let last: Run | undefined;
  await expect.poll(async () => statuses.includes((last = await runOf(id)).status), { timeout, interval: 100 }).toBe(true);
  return last!;
}
/** Runs a collector to its end, following it on collectorRunUpdated. */
async function runToEnd(name: string, options: Parameters<typeof runCollector>[1] = {}): Promise<Run> {
  const started = await runCollector(name, options);
  expect(started.errors).toBeUndefined();
  const live = subscribe<{ collectorRunUpdated: Run }>(server.ws(), `subscription($id: ID!) { collectorRunUpdated(id: $id) { ${RUN} } }`, { id: started.data!.runCollector.id });
  let seen = (await live.next()).collectorRunUpdated;
  while (!["COMPLETED", "FAILED"].includes(seen.status)) seen = (await live.next(30_000)).collectorRunUpdated;
  await live.close();
  return seen;
}
/** Requests for statistics the upstream received since `from`, by year. */
function yearsRequested(upstream: typeof demo, from: number): number[] {
  return upstream.upstream.received.slice(from).flatMap((request) => {
    const year = /^\/stats\/(\d+)/.exec(request.url)?.[1];
    return year ? [Number(year)] : [];
  });
}
const collectorRow = (name: string) => prisma().collector.findUniqueOrThrow({ where: { name } });

it("fetches every year and inserts on the first run; the second fetches this year and last only, and updates only what changed", async () => {
  let from = demo.upstream.received.length;
  const first = await runToEnd("stats");
  expect(first).toMatchObject({ status: "COMPLETED", trigger: "manual", recordsProcessed: 26 * PER_YEAR, recordsInserted: 26 * PER_YEAR, recordsUpdated: 0, error: null });
  expect(first.window!.years).toHaveLength(26);
  expect(first.window!.why![String(FIRST_YEAR)]).toBe("never fetched");
  expect(first.window!.why![String(YEAR)]).toBe("the current year");
  expect(yearsRequested(demo, from)).toHaveLength(26 * PAGES_PER_YEAR);
  expect(first.durationSeconds).toBeGreaterThan(0);
  expect(await prisma().importedRecord.count({ where: { dataset: "stats" } })).toBe(26 * PER_YEAR);
  const watermark = first.watermark as string;
  expect(watermark).toMatch(/^\d{4}-\d\d-\d\dT/);

  // Nothing changed upstream: two years fetched, nothing written.
  from = demo.upstream.received.length;
  const same = await runToEnd("stats");
  expect(same).toMatchObject({ status: "COMPLETED", recordsProcessed: 2 * PER_YEAR, recordsInserted: 0, recordsUpdated: 0 });
  expect(same.window!.years).toEqual([YEAR - 1, YEAR]);
  expect(same.window!.why![String(YEAR - 2)]).toBe("skipped: fetched today, max age 30");
  expect([...new Set(yearsRequested(demo, from))]).toEqual([YEAR - 1, YEAR]);

  // A new revision of the recent figures: half of each recent year's countries change, and only they are updated.
  demo.upstream.options.stats.revision = 2;
  const changed = await runToEnd("stats");
  expect(changed).toMatchObject({ status: "COMPLETED", recordsProcessed: 2 * PER_YEAR, recordsInserted: 0, recordsUpdated: PER_YEAR });
  expect(changed.watermark! > watermark).toBe(true);
  const row = await collectorRow("stats");
  expect(row.watermark).toBe(changed.watermark);
  expect(row.lastSuccessAt!.toISOString()).toBe(changed.completedAt);
  expect(Object.keys(row.windows as object)).toHaveLength(26);
});

it("brings an old year back once its last fetch is older than maxAgeDays, and every year with maxAgeDays 0 or a full refresh", async () => {
  const old = String(YEAR - 10);
  // As if the year had last been fetched 40 days ago.
  await prisma().$executeRaw`UPDATE "Collector" SET windows = jsonb_set(windows, ${[old]}::text[], to_jsonb(now() AT TIME ZONE 'UTC' - interval '40 days')) WHERE name = 'stats'`;
  const aged = await runToEnd("stats");
  expect(aged.window!.years).toEqual([YEAR - 10, YEAR - 1, YEAR]);
  expect(aged.window!.why![old]).toBe("fetched 40 days ago, max age 30");
  expect(aged).toMatchObject({ status: "COMPLETED", recordsProcessed: 3 * PER_YEAR, recordsInserted: 0 });
  // That run fetched it: it is young again.
  expect((await runToEnd("stats")).window!.years).toEqual([YEAR - 1, YEAR]);

  const everything = await runToEnd("stats", { maxAgeDays: 0 });
  expect(everything.window!.years).toHaveLength(26);
  expect(everything.window!.why![old]).toBe("fetched today, max age 0");

  const full = await runToEnd("stats", { fullRefresh: true });
  expect(full.window).toMatchObject({ fullRefresh: true });
  expect(full.window!.since).toBeUndefined(); // a URL without {since} asks for none
  expect(full.window!.years).toHaveLength(26);
  expect(full.window!.why![old]).toBe("full refresh");
  expect(full).toMatchObject({ status: "COMPLETED", recordsProcessed: 26 * PER_YEAR, recordsInserted: 0, recordsUpdated: 0 });
});

it("fetches only what changed since the last successful run's watermark ({since})", async () => {
  demo.upstream.options.stats.revision = 3;
  const first = await runToEnd("recent");
  expect(first).toMatchObject({ status: "COMPLETED", recordsProcessed: PER_YEAR, recordsInserted: PER_YEAR });
  expect(first.window!.since).toBeNull();
  const from = demo.upstream.received.length;
  const none = await runToEnd("recent");
  expect(none).toMatchObject({ status: "COMPLETED", recordsProcessed: 0, watermark: first.watermark });
  expect(none.window!.since).toBe(first.watermark);
  expect(demo.upstream.received.slice(from).map((request) => request.url)).toEqual([`/stats/${YEAR}?since=${encodeURIComponent(first.watermark as string)}&page=1`]);
  demo.upstream.options.stats.revision = 4;
  expect(await runToEnd("recent")).toMatchObject({ status: "COMPLETED", recordsProcessed: PER_YEAR / 2, recordsUpdated: PER_YEAR / 2, recordsInserted: 0 });
});

it("keeps the previous watermark and windows when a run fails, and the next run plans from the last that succeeded", async () => {
  const before = await collectorRow("stats");
  demo.upstream.options.stats.revision = 5;
  demo.upstream.options.faults.errorEvery = 1;
  const failed = await runToEnd("stats", { fullRefresh: true });
  demo.upstream.options.faults.errorEvery = 0;
  expect(failed.status).toBe("FAILED");
  expect(failed.error).toMatch(/503/);
  expect(failed.recordsProcessed).toBe(0);
  const after = await collectorRow("stats");
  expect(after.watermark).toEqual(before.watermark);
  expect(after.windows).toEqual(before.windows);
  expect(after.lastSuccessAt).toEqual(before.lastSuccessAt);
  const next = await runToEnd("stats");
  expect(next.window!.years).toEqual([YEAR - 1, YEAR]);
  expect(next.status).toBe("COMPLETED");
});

it("runs one run at a time: of five concurrent runCollector calls one starts, the others are CONFLICT naming it", async () => {
  const answers = await Promise.all(Array.from({ length: 5 }, () => runCollector("slow-stats")));
  const started = answers.filter((answer) => !answer.errors);
  expect(started).toHaveLength(1);
  const id = started[0].data!.runCollector.id;
  for (const answer of answers.filter((a) => a.errors)) {
    expect(answer.errors![0].extensions?.code).toBe("CONFLICT");
    expect(answer.errors![0].message).toContain(`run ${id} is`);
  }
  expect(await prisma().collectorRun.count({ where: { collector: "slow-stats" } })).toBe(1);
  await until(id, ["RUNNING"]);

  // A cron tick while it runs is skipped, with a LOG event on the run, and starts nothing.
  const scheduled = await server.gql<{ scheduleCollector: { schedule: string; nextRunAt: string } }>(`mutation { scheduleCollector(name: "slow-stats", cron: "* * * * *") { schedule nextRunAt } }`);
  expect(scheduled.data!.scheduleCollector.schedule).toBe("* * * * *");
  expect(new Date(scheduled.data!.scheduleCollector.nextRunAt).getTime() - Date.now()).toBeLessThanOrEqual(60_000);
  await expect
    .poll(async () => (await prisma().event.findMany({ where: { subjectKind: "COLLECTOR_RUN", subjectId: Number(id), kind: "LOG" } })).map((event) => (event.payload as { message: string }).message), { timeout: 20_000, interval: 200 })
    .toContain("a scheduled tick was skipped: this run was still going (one run at a time)");
  expect(await prisma().collectorRun.count({ where: { collector: "slow-stats" } })).toBe(1);
  await server.gql(`mutation { scheduleCollector(name: "slow-stats", cron: null) { name } }`);
  expect((await until(id, ["COMPLETED"], 60_000)).recordsInserted).toBe(26 * PER_YEAR);
});

it("fires a schedule through pg-boss, shows it and its next fire time, keeps it across a restart, and clears it", async () => {
  const set = await server.gql<{ scheduleCollector: { name: string; schedule: string; nextRunAt: string } }>(`mutation { scheduleCollector(name: "demo", cron: "*  *  * * *") { name schedule nextRunAt } }`);
  expect(set.data!.scheduleCollector).toMatchObject({ name: "demo", schedule: "* * * * *" });
  await expect.poll(() => prisma().collectorRun.count({ where: { collector: "demo", trigger: "schedule" } }), { timeout: 20_000, interval: 200 }).toBe(1);

  // The row is the truth: the schedule survives a restart, and one lost from pg-boss is put back at start.
  const boss = async () => (await prisma().$queryRaw<{ cron: string }[]>`SELECT cron FROM pgboss.schedule WHERE name = 'collector-demo'`).map((row) => row.cron);
  expect(await boss()).toEqual(["* * * * *"]);
  await prisma().$executeRaw`DELETE FROM pgboss.schedule WHERE name = 'collector-demo'`;
  await server.stop();
  server = await startTestServer(ENV(), database.url);
  expect(await boss()).toEqual(["* * * * *"]);
  const shown = await server.gql<{ collector: { schedule: string; nextRunAt: string; lastRun: { trigger: string } } }>(`{ collector(name: "demo") { schedule nextRunAt lastRun { trigger } } }`);
  expect(shown.data!.collector).toMatchObject({ schedule: "* * * * *", lastRun: { trigger: "schedule" } });

  const cleared = await server.gql<{ scheduleCollector: { schedule: string | null; nextRunAt: string | null } }>(`mutation { scheduleCollector(name: "demo", cron: null) { schedule nextRunAt } }`);
  expect(cleared.data!.scheduleCollector).toEqual({ schedule: null, nextRunAt: null });
  expect(await boss()).toEqual([]);
});

it("answers every bad input with a code: unknown collectors, bad cron, bad numbers", async () => {
  const bad = async (query: string, code: string, text: RegExp) => {
    const answer = await server.gql(query);
    expect(answer.errors?.[0]?.extensions?.code, query).toBe(code);
    expect(answer.errors![0].message).toMatch(text);
  };
  await bad(`mutation { runCollector(input: { name: "nope" }) { id } }`, "BAD_USER_INPUT", /Unknown collector "nope"; known: demo, demo-stats, leaky, recent, slow-stats, stats/);
  await bad(`mutation { runCollector(input: { name: "stats", maxAgeDays: -1 }) { id } }`, "BAD_USER_INPUT", /maxAgeDays/);
  await bad(`mutation { scheduleCollector(name: "stats", cron: "* * * * * *") { name } }`, "BAD_USER_INPUT", /five fields/);
  await bad(`mutation { scheduleCollector(name: "stats", cron: "61 * * * *") { name } }`, "BAD_USER_INPUT", /not a valid cron expression/);
  await bad(`mutation { scheduleCollector(name: "nope", cron: null) { name } }`, "BAD_USER_INPUT", /Unknown collector/);
  await bad(`{ collectorRuns(first: 100000) { totalCount } }`, "BAD_USER_INPUT", /first/);
  await bad(`subscription { collectorRunUpdated(id: "x") { id } }`, "BAD_USER_INPUT", /id/);
  expect((await server.gql<{ collector: null }>(`{ collector(name: "nope") { name } }`)).data!.collector).toBeNull();
});

it("lists collectors with their stats, and pages and filters runs", async () => {
  const answer = await server.gql<{ collectors: { name: string; description: string; stats: { successes: number; failures: number; avgRecordsProcessed: number; recordsPerSecond: number; lastRunAt: string } }[] }>(
    `{ collectors { name description stats { successes failures avgRecordsProcessed avgDurationSeconds recordsPerSecond lastRunAt } } }`,
  );
  const stats = answer.data!.collectors.find((collector) => collector.name === "stats")!;
  expect(stats.description).toBe("Yearly statistics");
  const runs = await prisma().collectorRun.findMany({ where: { collector: "stats" } });
  const completed = runs.filter((run) => run.status === "COMPLETED");
  expect(stats.stats).toMatchObject({ successes: completed.length, failures: runs.length - completed.length });
  expect(stats.stats.avgRecordsProcessed).toBeCloseTo(completed.reduce((sum, run) => sum + run.recordsProcessed, 0) / completed.length);
  expect(stats.stats.recordsPerSecond).toBeGreaterThan(0);

  const failed = await server.gql<{ collectorRuns: { totalCount: number; edges: { node: { status: string } }[] } }>(`{ collectorRuns(collector: "stats", status: [FAILED]) { totalCount edges { node { status } } } }`);
  expect(failed.data!.collectorRuns.totalCount).toBe(runs.length - completed.length);
  const page = await server.gql<{ collector: { runs: { totalCount: number; pageInfo: { hasNextPage: boolean; endCursor: string }; edges: { node: { id: string } }[] } } }>(`{ collector(name: "stats") { runs(first: 2) { totalCount pageInfo { hasNextPage endCursor } edges { node { id } } } } }`);
  const { runs: first } = page.data!.collector;
  expect(first.totalCount).toBe(runs.length);
  expect(first.edges.map((edge) => Number(edge.node.id))).toEqual(runs.map((run) => run.id).sort((a, b) => b - a).slice(0, 2));
  const next = await server.gql<{ collector: { runs: { edges: { node: { id: string } }[] } } }>(`query($after: String) { collector(name: "stats") { runs(first: 2, after: $after) { edges { node { id } } } } }`, { after: first.pageInfo.endCursor });
  expect(Number(next.data!.collector.runs.edges[0].node.id)).toBeLessThan(Number(first.edges[1].node.id));
});

it("never shows a secret an upstream echoed: in the run's watermark, the collector's, its error and its events", async () => {
  // Every figure quotes the request's Authorization header, and the watermark is read from it.
  const done = await runToEnd("leaky");
  expect(done.status).toBe("COMPLETED");
  expect(leaky.upstream.received.some((request) => request.authorization === SECRET)).toBe(true);
  expect(done.watermark).toBe("[redacted:STATS_TOKEN]");
  expect((await collectorRow("leaky")).watermark).toBe("[redacted:STATS_TOKEN]");
  // Every error body quotes it too.
  leaky.upstream.options.faults.errorEvery = 1;
  const failed = await runToEnd("leaky");
  leaky.upstream.options.faults.errorEvery = 0;
  expect(failed.status).toBe("FAILED");
  expect(failed.error).toContain("[redacted:STATS_TOKEN]");
  for (const run of [done, failed]) {
    const events = await prisma().event.findMany({ where: { subjectKind: "COLLECTOR_RUN", subjectId: Number(run.id) } });
    expect(events.some((event) => event.kind === "CHECKPOINT" || event.kind === "STATUS")).toBe(true);
    for (const text of [JSON.stringify(run), JSON.stringify(events.map((event) => event.payload))]) expect(text).not.toContain(SECRET);
  }
});

it("refuses, before any request, a collector whose URL leaves the egress rules or puts a placeholder in the host, naming the entry", async () => {
  const refusal = (config: Record<string, unknown>) => {
    const parsed = httpJsonCollectorConfig.safeParse(config);
    return parsed.success ? null : parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; ");
  };
  expect(refusal({ url: "http://169.254.169.254/latest/{year}", startYear: 2000 })).toMatch(/^url: .*169\.254\.169\.254/);
  expect(refusal({ url: "http://[::ffff:10.0.0.1]/{year}", startYear: 2000 })).toMatch(/^url: /);
  expect(refusal({ url: "file:///etc/{year}", startYear: 2000 })).toMatch(/^url: must be an http or https URL/);
  expect(refusal({ url: "http://{year}.127.0.0.1.nip.io/x", startYear: 2000 })).toMatch(/url: /);
  expect(refusal({ url: `${demo.url}/{year}` })).toBe("startYear: a URL with {year} needs startYear");
  expect(refusal({ url: `${demo.url}/stats/{year}?since={since}`, startYear: 2000 })).toBeNull();

  const file = join(await mkdtemp(join(tmpdir(), "milepost-collectors-")), "bad.json");
  const loading = async (entries: unknown) => {
    await writeFile(file, JSON.stringify(entries));
    return loadCollectors(file, logger).then(() => "loaded", (error: Error) => error.message);
  };
  expect(await loading([{ name: "metadata", use: "http-json-collector", config: { url: "http://169.254.169.254/{year}", startYear: 2000 } }])).toMatch(/^The collector "metadata": its config does not fit "http-json-collector": .*169\.254\.169\.254/s);
  expect(await loading([{ name: "typo", use: "http-json-colector", config: {} }])).toMatch(/uses "http-json-colector", which is not a registered collector \(known: .*http-json-collector/);
  expect(await loading([{ name: "extra", use: "demo-stats", shedule: "* * * * *" }])).toMatch(/MILEPOST_COLLECTORS: .* is not an array of .*: entry 0: Unrecognized key: "shedule"/);
  expect(await loading([{ name: "every-second", use: "demo-stats", schedule: "* * * * * *" }])).toMatch(/five fields/);
});

it("keeps the newest finished runs of each collector (hourly), with their events; the next run plans as before", async () => {
  const before = await collectorRow("stats");
  const runs = await prisma().collectorRun.findMany({ where: { collector: "stats" }, orderBy: { id: "desc" } });
  expect(runs.length).toBeGreaterThan(3);
  const deleted = await pruneCollectorRuns(3);
  const left = await prisma().collectorRun.findMany({ where: { collector: "stats" }, orderBy: { id: "desc" } });
  expect(left.map((run) => run.id)).toEqual(runs.slice(0, 3).map((run) => run.id));
  expect(deleted).toBeGreaterThanOrEqual(runs.length - 3);
  const gone = runs.slice(3).map((run) => run.id);
  expect(await prisma().event.count({ where: { subjectKind: "COLLECTOR_RUN", subjectId: { in: gone } } })).toBe(0);
  expect(await collectorRow("stats")).toEqual(before);
  const next = await runToEnd("stats");
  expect(next).toMatchObject({ status: "COMPLETED" });
  expect(next.window!.years).toEqual([YEAR - 1, YEAR]);
});
