import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { prisma } from "../src/db/client.js";
import { startDemoServer } from "../src/demo/upstream.js";
import { getSource } from "../src/registry.js";
import type { TreeSource } from "../src/sources/types.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { subscribe } from "./helpers/subscriptions.js";

// Nested imports (org > workspace > app > item) with checkpoints at every level: a rate limit deep in the tree
// waits and goes on where it stopped, counters come from one row per node, and side effects are made once.

const TREE = { orgs: 2, workspaces: 4, apps: 3, items: 12 };
const TRUTH = [
  { level: "org", discovered: 2, done: 2 },
  { level: "workspace", discovered: 8, done: 8 },
  { level: "app", discovered: 24, done: 24 },
  { level: "item", discovered: 288, done: 288 },
];

let server: TestServer;
let demo: Awaited<ReturnType<typeof startDemoServer>>;
beforeAll(async () => {
  demo = await startDemoServer({ tree: TREE });
  server = await startTestServer({ RETRY_DELAY_MS: "50" });
});
afterAll(async () => {
  await server?.stop();
  await demo.close();
});

type View = { id: string; status: string; itemsProcessed: number; itemsNew: number; pagesDone: number; resumeAt: string | null; levels: { level: string; discovered: number; done: number }[]; checkpoint: { path: { level: string; index: number; total: number | null; key: string | null; label: string | null }[] } | null };
const VIEW = "id status itemsProcessed itemsNew pagesDone resumeAt levels { level discovered done } checkpoint { path { level index total key label } }";

async function start(dataset: string): Promise<string> {
  const started = await server.gql<{ startImport: { id: string } }>(`mutation($input: StartImportInput!) { startImport(input: $input) { id } }`, {
    input: { source: "demo-backup", dataset, config: { baseUrl: demo.url, itemsPerPage: 5 } },
  });
  expect(started.errors).toBeUndefined();
  return started.data!.startImport.id;
}
const view = async (id: string) => (await server.gql<{ import: View }>(`query($id: ID!) { import(id: $id) { ${VIEW} } }`, { id })).data!.import;
async function until(id: string, statuses: string[], timeout = 30_000): Promise<View> {
  let last: View | undefined;
  await expect.poll(async () => statuses.includes((last = await view(id)).status), { timeout, interval: 100 }).toBe(true);
  return last!;
}
/** Listings of each workspace's apps and each app's first page since `from`, that the upstream answered (not rate limited). */
function listings(from: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (const request of demo.upstream.received.slice(from)) {
    const path = request.url.replace(/\?.*$/, "");
    if (/^\/app\/space\/\d+\/$/.test(path) || (/^\/item\/app\/\d+\/$/.test(path) && /offset=0\b/.test(request.url))) counts.set(path, (counts.get(path) ?? 0) + 1);
  }
  return counts;
}
const logs = async (id: string) =>
  (await prisma().event.findMany({ where: { subjectKind: "IMPORT", subjectId: Number(id), kind: "LOG" }, orderBy: { id: "asc" } })).map((event) => (event.payload as { message: string }).message);

it("walks the tree straight through: per-level counts from one row per node, exact records, a folder per workspace and a file per app, made once", async () => {
  const from = demo.upstream.received.length;
  const id = await start("backup-straight");
  // Counters are never above the truth, at any moment a subscriber sees.
  const live = subscribe<{ importUpdated: View }>(server.ws(), `subscription($id: ID!) { importUpdated(id: $id) { ${VIEW} } }`, { id });
  let seen = await live.next();
  while (seen.importUpdated.status !== "COMPLETED") {
    seen.importUpdated.levels.forEach((level, index) => {
      expect(level.discovered).toBeLessThanOrEqual(TRUTH[index].discovered);
      expect(level.done).toBeLessThanOrEqual(level.discovered);
    });
    seen = await live.next(20_000);
  }
  await live.close();
  const done = await view(id);
  expect(done).toMatchObject({ status: "COMPLETED", itemsProcessed: 288, itemsNew: 288, levels: TRUTH });
  expect(await prisma().importedRecord.count({ where: { dataset: "backup-straight" } })).toBe(288);
  expect(await prisma().importNode.count({ where: { importId: Number(id) } })).toBe(1 + 2 + 8 + 24);
  // Every app listed once, and every app's items from their first page once.
  expect([...listings(from).values()].every((count) => count === 1)).toBe(true);
  expect(listings(from).size).toBe(8 + 24);
  const folder = join(server.dataDir, "backups", `import-${id}`);
  const orgs = await readdir(folder);
  expect(orgs.sort()).toEqual(["org-1", "org-2"]);
  expect((await readdir(join(folder, "org-1", "workspace-1"))).sort()).toEqual(["app-1.json", "app-2.json", "app-3.json"]);
  const made = (await logs(id)).filter((message) => message.startsWith("created "));
  expect(made).toHaveLength(8 + 24);
  expect(new Set(made).size).toBe(made.length);
});

it("waits out a rate limit deep in the tree, says where it stopped and where it went on, and lists no finished workspace or app again", async () => {
  const from = demo.upstream.received.length;
  Object.assign(demo.upstream.options.faults, { rateLimitEvery: 40, retryAfterSeconds: 6 });
  try {
    const id = await start("backup-limited");
    const waiting = await until(id, ["WAITING"]);
    expect(waiting.resumeAt).not.toBeNull();
    expect(waiting.checkpoint!.path.map((level) => level.level)).toEqual(expect.arrayContaining(["org", "workspace"]));
    const done = await until(id, ["COMPLETED"], 60_000);
    expect(done).toMatchObject({ itemsProcessed: 288, itemsNew: 288, levels: TRUTH });
    const messages = await logs(id);
    expect(messages.find((message) => message.startsWith("rate limit at "))).toMatch(/^rate limit at org \d\/2 'Org \d', workspace \d\/4 '\w+ \d+'.*; resumes at \d\d:\d\d UTC$/);
    expect(messages.find((message) => message.startsWith("continuing at "))).toMatch(/^continuing at org \d\/2 'Org \d', workspace \d\/4/);
    // The rate-limited request is made again; nothing else is.
    const limited = demo.upstream.received.slice(from).length - 83; // 83 requests walk this tree once
    expect(limited).toBeGreaterThan(0);
    const repeats = [...listings(from).values()].filter((count) => count > 1).length;
    expect(repeats).toBeLessThanOrEqual(limited);
    expect(await prisma().importedRecord.count({ where: { dataset: "backup-limited" } })).toBe(288);
    const made = messages.filter((message) => message.startsWith("created "));
    expect(new Set(made).size).toBe(made.length);
  } finally {
    Object.assign(demo.upstream.options.faults, { rateLimitEvery: 0, retryAfterSeconds: 1 });
  }
}, 90_000);

it("waits by the source's rule when a 420 says nothing (Podio's hour), and resumes at once on retryImportNow (force retry)", async () => {
  Object.assign(demo.upstream.options.faults, { rateLimitEvery: 30, retryAfterSeconds: -1 });
  try {
    const id = await start("backup-forced");
    const waiting = await until(id, ["WAITING"]);
    expect(new Date(waiting.resumeAt!).getTime()).toBeGreaterThan(Date.now() + 3500_000);
    expect(new Date(waiting.resumeAt!).getTime()).toBeLessThan(Date.now() + 3700_000);
    Object.assign(demo.upstream.options.faults, { rateLimitEvery: 0 });
    const retried = await server.gql(`mutation($id: ID!) { retryImportNow(id: $id) { status } }`, { id });
    expect(retried.errors).toBeUndefined();
    expect(await until(id, ["COMPLETED"])).toMatchObject({ itemsProcessed: 288, levels: TRUTH });
  } finally {
    Object.assign(demo.upstream.options.faults, { rateLimitEvery: 0, retryAfterSeconds: 1 });
  }
});

it("shows the tree's shape in the contract: source levels and shape, and a new import starts from an empty tree", async () => {
  const sources = await server.gql<{ sources: { name: string; shape: string; levels: string[] }[] }>(`{ sources { name shape levels } }`);
  expect(sources.data!.sources.find((source) => source.name === "demo-backup")).toEqual({ name: "demo-backup", shape: "TREE", levels: ["org", "workspace", "app", "item"] });
  const again = await start("backup-straight");
  expect(await until(again, ["COMPLETED"])).toMatchObject({ itemsProcessed: 288, itemsNew: 0, levels: TRUTH });
  expect(await prisma().importNode.count({ where: { importId: Number(again) } })).toBe(35);
});

it("records where a node's listing failed, and cleans the nodes and counts with the import", async () => {
  demo.upstream.options.faults.failPages = {};
  // A workspace whose apps cannot be listed: its path says where, and the walk goes on past it.
  const started = await server.gql<{ startImport: { id: string } }>(`mutation($input: StartImportInput!) { startImport(input: $input) { id } }`, {
    input: {
      source: "http-tree",
      dataset: "tree-errors",
      config: {
        levels: [
          { name: "org", url: `${demo.url}/org/`, keyPath: "org_id", labelPath: "name" },
          { name: "workspace", url: `${demo.url}/org/{org}/space/`, keyPath: "space_id", labelPath: "name" },
          { name: "app", url: `${demo.url}/app/space/{workspace}/`, keyPath: "app_id", labelPath: "config.name" },
          { name: "item", url: `${demo.url}/item/app/{app}/`, itemsPath: "items", keyPath: "item_id", pagination: { type: "offset", pageSize: 20 } },
        ],
      },
    },
  });
  expect(started.errors).toBeUndefined();
  const id = started.data!.startImport.id;
  expect(await until(id, ["COMPLETED"])).toMatchObject({ itemsProcessed: 288, levels: TRUTH });

  // The same tree with a level that does not exist upstream: every app listing answers 404 and is recorded with its path.
  const broken = await server.gql<{ startImport: { id: string } }>(`mutation($input: StartImportInput!) { startImport(input: $input) { id } }`, {
    input: {
      source: "http-tree",
      dataset: "tree-errors-2",
      config: {
        levels: [
          { name: "org", url: `${demo.url}/org/`, keyPath: "org_id" },
          { name: "workspace", url: `${demo.url}/org/{org}/space/`, keyPath: "space_id" },
          { name: "item", url: `${demo.url}/item/app/{workspace}9999/`, itemsPath: "items", keyPath: "item_id" },
        ],
      },
    },
  });
  const brokenId = broken.data!.startImport.id;
  await until(brokenId, ["COMPLETED"]);
  const errors = await prisma().importError.findMany({ where: { importId: Number(brokenId) }, orderBy: { id: "asc" } });
  expect(errors).toHaveLength(8);
  expect(errors[0]).toMatchObject({ httpStatus: 404, path: ["1", "1"] });
  expect(errors[7]).toMatchObject({ httpStatus: 404, path: ["2", "8"] });

  // Nodes and counts go with their import.
  await prisma().import.update({ where: { id: Number(brokenId) }, data: { status: "FAILED", completedAt: new Date(Date.now() - 86_400_000) } });
  expect((await server.gql<{ cleanupFailedImports: number }>(`mutation { cleanupFailedImports(olderThanDays: 0) }`)).data!.cleanupFailedImports).toBe(1);
  expect(await prisma().importNode.count({ where: { importId: Number(brokenId) } })).toBe(0);
  expect(await prisma().importLevel.count({ where: { importId: Number(brokenId) } })).toBe(0);
});

it("demo-backup's side effects are found and reused when entering a node again (a run cut off before its first page committed)", async () => {
  const source = getSource("demo-backup") as TreeSource;
  const logged: string[] = [];
  const ctx = { config: { itemsPerPage: 5 }, http: undefined as never, signal: new AbortController().signal, firstPage: false, importId: 999_999, log: async (_level: string, message: string) => void logged.push(message) };
  const workspace = { level: 1, key: "7", label: "Sales 7", keys: { org: "2", workspace: "7" }, effects: null };
  const app = { level: 2, key: "19", label: "Leads 19", keys: { org: "2", workspace: "7", app: "19" }, effects: null };
  const first = [await source.enter!(ctx, workspace), await source.enter!(ctx, app)];
  const again = [await source.enter!(ctx, workspace), await source.enter!(ctx, app)];
  expect(again).toEqual(first);
  expect(logged).toHaveLength(2); // made once each
  await rm(join(server.dataDir, "backups", "import-999999"), { recursive: true, force: true });
});
