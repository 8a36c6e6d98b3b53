import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

it("watch-events says it is reconnecting when the server restarts, and goes on without repeating itself", async () => {
  const token = newSecret();
  const port = String(await freePort());
  const env = { DATABASE_URL: database.url, MILEPOST_ADMIN_TOKEN: token, PORT: port };
  const startImport = (url: string) =>
    postGraphQL(url, { query: `mutation { startImport(input: { source: "demo-movies", config: {}, maxPages: 1, resumeExisting: false }) { id } }` }, token);

  let server = await spawnService(env);
  const watcher = await spawnScript("client-examples/watch-events.ts", { MILEPOST_URL: server.url!, MILEPOST_TOKEN: token, WATCH_EVENTS_BOOKMARK: join(scratch, "bookmark") }, null);
  await new Promise((resolve) => setTimeout(resolve, 1500)); // connected and subscribed
  await startImport(server.url!);
  await expect.poll(() => watcher.output(), { timeout: 15_000 }).toMatch(/IMPORT 1 STATUS RUNNING → COMPLETED/);

  expect((await server.stop()).code).toBe(0);
  await expect.poll(() => watcher.output(), { timeout: 15_000 }).toContain("reconnecting…");
  server = await spawnService(env);
  await expect.poll(() => watcher.output(), { timeout: 20_000 }).toContain("reconnected");
  await new Promise((resolve) => setTimeout(resolve, 500));
  await startImport(server.url!);
  await expect.poll(() => watcher.output(), { timeout: 15_000 }).toMatch(/IMPORT 2 STATUS RUNNING → COMPLETED/);

  expect(watcher.child.exitCode).toBeNull();
  expect(watcher.output()).not.toMatch(/ErrorEvent|CloseEvent|\n\s+at /);
  expect(watcher.output().match(/IMPORT 1 STATUS RUNNING → COMPLETED/g)).toHaveLength(1);
  await watcher.stop("SIGINT");
  await server.stop();
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
