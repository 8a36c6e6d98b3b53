import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startDemoServer } from "../src/demo/upstream.js";
import { cloneDatabase } from "./helpers/database.js";
import { spawnScript, spawnService, type ServiceProcess } from "./helpers/process.js";
import { newSecret, postGraphQL } from "./helpers/server.js";

let database: Awaited<ReturnType<typeof cloneDatabase>>;
let scratch: string;
beforeAll(async () => {
  database = await cloneDatabase();
  scratch = await mkdtemp(join(tmpdir(), "milepost-examples-"));
});
afterAll(async () => {
  await database.drop();
  await rm(scratch, { recursive: true, force: true });
});

/** A client example's exit; if it does not come in time, a failure that shows what it and the server printed (a hang says where it hung). */
async function exitedWithin(example: ServiceProcess, ms: number, server: ServiceProcess) {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no exit within ${ms} ms\n--- example ---\n${example.output().slice(-3000)}\n--- server ---\n${server.output().slice(-6000)}`)), ms);
  });
  try {
    return await Promise.race([example.exited, late]);
  } finally {
    clearTimeout(timer);
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

it("watch-events, started without a bookmark, shows after a restart of the api what happened while it was down, and nothing twice", async () => {
  const demo = await startDemoServer({ items: 200, pageSize: 20, faults: { latencyMs: 150 } });
  const token = newSecret();
  const port = String(await freePort());
  const env = { DATABASE_URL: database.url, MILEPOST_ADMIN_TOKEN: token, PORT: port };
  const startImport = (url: string, pages: number) =>
    postGraphQL<{ startImport: { id: string } }>(url, { query: `mutation { startImport(input: { source: "demo-movies", config: { baseUrl: "${demo.url}" }, maxPages: ${pages}, resumeExisting: false }) { id } }` }, token);

  let api = await spawnService({ ...env, MILEPOST_ROLE: "api" });
  const worker = await spawnService({ ...env, MILEPOST_ROLE: "worker" });
  const watcher = await spawnScript("client-examples/watch-events.ts", { MILEPOST_URL: api.url!, MILEPOST_TOKEN: token, WATCH_EVENTS_BOOKMARK: join(scratch, "no-bookmark-yet") }, null);
  await new Promise((resolve) => setTimeout(resolve, 1500)); // connected and subscribed
  const first = (await startImport(api.url!, 1)).data!.startImport.id;
  await expect.poll(() => watcher.output(), { timeout: 15_000 }).toMatch(new RegExp(`IMPORT ${first} STATUS RUNNING → COMPLETED`));

  // An import the worker runs to its end while the api is down: its events are stored, and must be shown after.
  const second = (await startImport(api.url!, 8)).data!.startImport.id;
  expect((await api.stop()).code).toBe(0);
  await expect.poll(() => watcher.output(), { timeout: 15_000 }).toContain("reconnecting…");
  const db = new pg.Client({ connectionString: database.url });
  await db.connect();
  await expect.poll(async () => (await db.query(`SELECT status FROM "Import" WHERE id = $1`, [second])).rows[0].status, { timeout: 15_000 }).toBe("COMPLETED");
  await db.end();
  api = await spawnService({ ...env, MILEPOST_ROLE: "api" });
  await expect.poll(() => watcher.output(), { timeout: 20_000 }).toContain("reconnected");
  await expect.poll(() => watcher.output(), { timeout: 15_000 }).toMatch(new RegExp(`IMPORT ${second} STATUS RUNNING → COMPLETED`));
  const third = (await startImport(api.url!, 1)).data!.startImport.id;
  await expect.poll(() => watcher.output(), { timeout: 15_000 }).toMatch(new RegExp(`IMPORT ${third} STATUS RUNNING → COMPLETED`));

  expect(watcher.child.exitCode).toBeNull();
  expect(watcher.output()).not.toMatch(/ErrorEvent|CloseEvent|\n\s+at /);
  for (const id of [first, second, third]) expect(watcher.output().match(new RegExp(`IMPORT ${id} STATUS RUNNING → COMPLETED`, "g"))).toHaveLength(1);
  await watcher.stop("SIGINT");
  await Promise.all([api.stop(), worker.stop()]);
  await demo.close();
}, 90_000);

it("watch-events for one subject shows its history first, keeps a bookmark of its own, and stops at once on a refused token", async () => {
  const token = newSecret();
  const server = await spawnService({ DATABASE_URL: database.url, MILEPOST_ADMIN_TOKEN: token, PORT: String(await freePort()) });
  const started = await postGraphQL<{ startImport: { id: string } }>(server.url!, { query: `mutation { startImport(input: { source: "demo-movies", config: {}, maxPages: 1, resumeExisting: false }) { id } }` }, token);
  const id = started.data!.startImport.id;
  await expect.poll(async () => (await postGraphQL<{ import: { status: string } }>(server.url!, { query: `{ import(id: ${id}) { status } }` }, token)).data!.import.status, { timeout: 15_000 }).toBe("COMPLETED");
  const cwd = await mkdtemp(join(tmpdir(), "milepost-watch-"));
  // A finished import: its history, then it waits.
  const watcher = await spawnScript("client-examples/watch-events.ts", { MILEPOST_URL: server.url!, MILEPOST_TOKEN: token, WATCH_EVENTS_BOOKMARK: join(cwd, "import") }, null, 30_000, ["IMPORT", id]);
  await expect.poll(() => watcher.output(), { timeout: 15_000 }).toMatch(new RegExp(`IMPORT ${id} STATUS — → PENDING \\(created\\)[\\s\\S]*IMPORT ${id} STATUS RUNNING → COMPLETED`));
  await watcher.stop("SIGINT");
  const bookmark = await readFile(join(cwd, "import"), "utf8");
  expect(Number(bookmark)).toBeGreaterThan(0);

  const refused = await spawnScript("client-examples/watch-events.ts", { MILEPOST_URL: server.url!, MILEPOST_TOKEN: "mp_not_a_token_at_all_000000000000", WATCH_EVENTS_BOOKMARK: join(cwd, "refused") }, null);
  const exit = await exitedWithin(refused, 15_000, server);
  expect(exit.code).toBe(1);
  expect(refused.output().trim().split("\n").filter(Boolean)).toHaveLength(1);
  const progress = await spawnScript("client-examples/import-progress.ts", { MILEPOST_URL: server.url!, MILEPOST_TOKEN: "mp_not_a_token_at_all_000000000000" }, null);
  const progressExit = await exitedWithin(progress, 15_000, server);
  expect(progressExit.code).toBe(1);
  expect(progress.output()).toMatch(/UNAUTHENTICATED/);
  expect(progress.output()).not.toMatch(/\n\s+at /);
  await server.stop();
  await rm(cwd, { recursive: true, force: true });
}, 90_000);

it("enqueue-batch adds 500 items in batches of 100 and watches the queue drain", async () => {
  const token = newSecret();
  const server = await spawnService({ DATABASE_URL: database.url, MILEPOST_ADMIN_TOKEN: token, WORKER_CONCURRENCY: "16" });
  const example = await spawnScript("client-examples/enqueue-batch.ts", { MILEPOST_URL: server.url!, MILEPOST_TOKEN: token }, null);
  const { code } = await example.exited;
  expect(code, example.output()).toBe(0);
  expect(example.output().match(/^batch \d+: 100 added, 0 skipped$/gm)).toHaveLength(5);
  expect(example.output()).toContain("500 items added");
  expect(example.output()).toMatch(/drained: 500 completed, 0 failed, 0 cancelled/);
  await server.stop();
}, 90_000);

it("check-domains checks a file's domains as one http-check job, live, then prints a summary and the failures; Ctrl+C offers to cancel", async () => {
  const token = newSecret();
  const server = await spawnService({ DATABASE_URL: database.url, MILEPOST_ADMIN_TOKEN: token, WORKER_CONCURRENCY: "8", RETRY_DELAY_MS: "20", MAX_RETRIES: "0", API_TIMEOUT_MS: "3000" });
  const origin = new URL(server.url!).origin;
  const list = join(scratch, "domains.txt");
  await writeFile(list, [`# demo pages of this server`, `${origin}/demo/pages/home`, `${origin}/demo/pages/moved   # a redirect`, "", `${origin}/demo/pages/missing`, `${origin}/demo/pages/home`, "not a domain!", "http://127.0.0.1:1/"].join("\n"));
  const example = await spawnScript("client-examples/check-domains.ts", { MILEPOST_URL: server.url!, MILEPOST_TOKEN: token }, null, 60_000, [list]);
  const { code } = await exitedWithin(example, 45_000, server);
  const output = example.output();
  expect(code, output).toBe(0);
  expect(output).toContain('line 7: "not a domain!" is not a domain or an http(s) URL; left out');
  expect(output).toMatch(/job \d+: 4 domains, 8 at once/);
  expect(output).toMatch(/\[#{30}\] 100%/);
  expect(output).toMatch(/job \d+ COMPLETED: 3 checked, 1 failed, 0 cancelled/);
  expect(output).toMatch(/^HTTP 200\s+2$/m);
  expect(output).toMatch(/^HTTP 404\s+1$/m);
  expect(output).toMatch(/^FAILED\s+1$/m);
  expect(output).toMatch(/failures:\n {2}http:\/\/127\.0\.0\.1:1\/: .+ \(\d attempts?\)/);

  // A long list interrupted: Ctrl+C, then "y" cancels the job on the server.
  const slow = join(scratch, "slow.txt");
  await writeFile(slow, Array.from({ length: 40 }, (_, index) => `${origin}/demo/pages/home?delayMs=1000&n=${index}`).join("\n"));
  const watched = await spawnScript("client-examples/check-domains.ts", { MILEPOST_URL: server.url!, MILEPOST_TOKEN: token, CHECK_CONCURRENCY: "2" }, null, 60_000, [slow], true);
  await expect.poll(() => watched.output(), { timeout: 20_000 }).toMatch(/\] +\d+%/);
  watched.child.kill("SIGINT");
  await expect.poll(() => watched.output(), { timeout: 10_000 }).toMatch(/cancel job \d+ on the server\? \[y\/N\]/);
  watched.child.stdin!.write("y\n");
  const stopped = await exitedWithin(watched, 30_000, server);
  expect(stopped.code, watched.output()).toBe(0);
  expect(watched.output()).toMatch(/job \d+ CANCELLED after \d+ checks/);
  await server.stop();
}, 120_000);

it("backup-progress follows a backup level by level, shows a rate limit's wait with a countdown, and retries on r", async () => {
  const demo = await startDemoServer({ tree: { orgs: 1, workspaces: 3, apps: 2, items: 6 }, faults: { rateLimitEvery: 8, retryAfterSeconds: 3600 } });
  const token = newSecret();
  const server = await spawnService({ DATABASE_URL: database.url, MILEPOST_ADMIN_TOKEN: token, PORT: String(await freePort()), MILEPOST_DATA_DIR: scratch });
  const example = await spawnScript("client-examples/backup-progress.ts", { MILEPOST_URL: server.url!, MILEPOST_TOKEN: token, BACKUP_CONFIG: JSON.stringify({ baseUrl: demo.url }) }, null, 30_000, [], true);
  await expect.poll(() => example.output(), { timeout: 20_000 }).toMatch(/WAITING .*rate limited: resumes in 3\d\d\d s \(r: retry now\)/);
  expect(example.output()).toMatch(/at org 1\/1 'Org 1'/);
  demo.upstream.options.faults.rateLimitEvery = 0;
  example.child.stdin!.write("r\n");
  const exited = await exitedWithin(example, 30_000, server);
  expect(exited.code, example.output()).toBe(0);
  expect(example.output()).toContain("retrying now");
  expect(example.output()).toMatch(/COMPLETED: 36 items/);
  expect(example.output()).toMatch(/org 1\/1 {2}workspace 3\/3 {2}app 6\/6 {2}item 36\/36/);
  await server.stop();
  await demo.close();
}, 90_000);

it("collector-report runs a collector live, then prints its runs table and stats; a second run fetches two years", async () => {
  const token = newSecret();
  const server = await spawnService({ DATABASE_URL: database.url, MILEPOST_ADMIN_TOKEN: token, PORT: String(await freePort()), MILEPOST_DATA_DIR: scratch });
  const env = { MILEPOST_URL: server.url!, MILEPOST_TOKEN: token };
  const year = new Date().getUTCFullYear();
  for (const expected of [`${year - 25}–${year} (26)`, `${year - 1}–${year} (2)`]) {
    const example = await spawnScript("client-examples/collector-report.ts", env, null);
    const exited = await exitedWithin(example, 30_000, server);
    expect(exited.code, example.output()).toBe(0);
    expect(example.output()).toContain("COMPLETED");
    expect(example.output()).toMatch(/run +status +trigger +processed \/ new \/ updated +duration +window/);
    expect(example.output()).toContain(expected);
  }
  const output = (await spawnScript("client-examples/collector-report.ts", { ...env, COLLECTOR: "nope" }, null)).exited;
  expect((await output).code).toBe(1);
  await server.stop();
}, 90_000);
