import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startDemoServer } from "../src/demo/upstream.js";
import { spawnService } from "./helpers/process.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { subscribe } from "./helpers/subscriptions.js";

let api: TestServer;
let demo: Awaited<ReturnType<typeof startDemoServer>>;

beforeAll(async () => {
  demo = await startDemoServer({ items: 400, pageSize: 20, faults: { latencyMs: 40 } });
  api = await startTestServer({ MILEPOST_ROLE: "api" });
});
afterAll(async () => {
  await api.stop();
  await demo.close();
});

const FIELDS = "status pagesDone itemsProcessed itemsNew itemsUpdated itemsUnchanged resumeCount";

/** Starts a 20-page import, follows it on importUpdated, and returns once `pages` pages are committed. */
async function startAndFollow(dataset: string, checkpointEvery: number, pages: number) {
  const started = await api.gql<{ startImport: { id: string } }>(`mutation($input: StartImportInput!) { startImport(input: $input) { id } }`, {
    input: {
      source: "http-json",
      dataset,
      checkpointEvery,
      config: { url: `${demo.url}/3/movie/popular`, pagination: { type: "page", totalPagesPath: "total_pages" }, itemsPath: "results", totalItemsPath: "total_results" },
    },
  });
  const id = started.data!.startImport.id;
  const updates = subscribe<{ importUpdated: View }>(api.ws(), `subscription($id: ID!) { importUpdated(id: $id) { ${FIELDS} } }`, { id });
  for (let view = (await updates.next()).importUpdated; view.pagesDone < pages; ) view = (await updates.next()).importUpdated;
  const now = async () => (await api.gql<{ import: View }>(`query($id: ID!) { import(id: $id) { ${FIELDS} } }`, { id })).data!.import;
  /** Follows the import until it is COMPLETED, from `view`. */
  const untilCompleted = async (view: View) => {
    while (view.status !== "COMPLETED") view = (await updates.next(30_000)).importUpdated;
    await updates.close();
    return view;
  };
  return { id, now, untilCompleted };
}

type View = { status: string; pagesDone: number; itemsProcessed: number; itemsNew: number; itemsUpdated: number; itemsUnchanged: number; resumeCount: number };

it("a worker killed with SIGKILL mid-import: two others race to take over, and every count is exact", async () => {
  const workerEnv = { DATABASE_URL: api.databaseUrl, MILEPOST_ROLE: "worker", WORKER_CONCURRENCY: "2" };
  const first = await spawnService(workerEnv);
  const followed = await startAndFollow("crash", 2, 6);

  const killed = await first.stop("SIGKILL");
  expect(killed.signal).toBe("SIGKILL");
  const atCrash = await followed.now();
  expect(atCrash.status).toBe("RUNNING");
  expect(atCrash.pagesDone).toBeLessThan(20);

  const takeover = await Promise.all([spawnService(workerEnv), spawnService(workerEnv)]);
  const view = await followed.untilCompleted(atCrash);

  expect(view.pagesDone).toBe(20);
  expect(view.itemsProcessed).toBe(400);
  expect(view.itemsNew + view.itemsUpdated + view.itemsUnchanged).toBe(400);
  expect(view.itemsNew).toBe(400);
  expect(view.resumeCount).toBe(1);
  const records = await api.gql<{ records: { totalCount: number } }>(`{ records(dataset: "crash") { totalCount } }`);
  expect(records.data!.records.totalCount).toBe(400);
  // The sweep handed it on once (RUNNING → PENDING), and one of the two claimed it (PENDING → RUNNING): no takeover of live work.
  const moves = await api.gql<{ events: { edges: { node: { from: string; to: string; reason: string } }[] } }>(
    `query($id: ID!) { events(subject: { kind: IMPORT, id: $id }, kinds: [STATUS]) { edges { node { ... on StatusEvent { from to reason } } } } }`,
    { id: followed.id },
  );
  expect(moves.data!.events.edges.map((edge) => `${edge.node.from} → ${edge.node.to}: ${edge.node.reason}`)).toEqual([
    "null → PENDING: created",
    "PENDING → RUNNING: started",
    "RUNNING → PENDING: its worker stopped responding; continuing from the last checkpoint",
    "PENDING → RUNNING: resumed",
    "RUNNING → COMPLETED: all pages imported",
  ]);
  for (const worker of takeover) expect((await worker.stop()).code).toBe(0);
}, 60_000);

it("a worker stopped with SIGTERM mid-import checkpoints, hands over and exits 0; another finishes with exact counts", async () => {
  const workerEnv = { DATABASE_URL: api.databaseUrl, MILEPOST_ROLE: "worker" };
  const first = await spawnService(workerEnv);
  const followed = await startAndFollow("handover", 3, 4);

  const stopped = await first.stop("SIGTERM");
  expect(stopped).toMatchObject({ code: 0, signal: null });
  expect(first.output(), "errors logged while handing over").not.toMatch(/"level":(50|60)/);
  expect(stopped.afterMs).toBeLessThan(10_000);
  // Handed over: PENDING with a job, for whichever worker comes next.
  const handedOver = await followed.now();
  expect(handedOver.status).toBe("PENDING");

  const next = await spawnService(workerEnv);
  const view = await followed.untilCompleted(handedOver);
  expect(view).toMatchObject({ pagesDone: 20, itemsProcessed: 400, itemsNew: 400, resumeCount: 1 });
  expect((await next.stop()).code).toBe(0);
}, 60_000);

it("a worker killed with SIGKILL mid-tree: the next one goes on at the same node, lists no finished workspace or app again, and counts exactly", async () => {
  const dataDir = await mkdtemp(join(tmpdir(), "milepost-tree-crash-"));
  const workerEnv = { DATABASE_URL: api.databaseUrl, MILEPOST_ROLE: "worker", WORKER_CONCURRENCY: "2", MILEPOST_DATA_DIR: dataDir };
  const first = await spawnService(workerEnv);
  const from = demo.upstream.received.length;
  const started = await api.gql<{ startImport: { id: string } }>(`mutation($input: StartImportInput!) { startImport(input: $input) { id } }`, {
    input: { source: "demo-backup", dataset: "tree-crash", config: { baseUrl: demo.url, itemsPerPage: 5 } },
  });
  const id = started.data!.startImport.id;
  const levels = async () => (await api.gql<{ import: { status: string; itemsProcessed: number; levels: { discovered: number; done: number }[] } }>(`query($id: ID!) { import(id: $id) { status itemsProcessed levels { discovered done } } }`, { id })).data!.import;
  // Killed once some apps are done, in the middle of the tree.
  await expect.poll(async () => (await levels()).levels[2]?.done ?? 0, { timeout: 20_000, interval: 50 }).toBeGreaterThanOrEqual(6);
  expect((await first.stop("SIGKILL")).signal).toBe("SIGKILL");
  expect((await levels()).status).toBe("RUNNING");

  const next = await spawnService(workerEnv);
  await expect.poll(async () => (await levels()).status, { timeout: 60_000, interval: 100 }).toBe("COMPLETED");
  const done = await levels();
  expect(done.itemsProcessed).toBe(288);
  expect(done.levels).toEqual([
    { discovered: 2, done: 2 },
    { discovered: 8, done: 8 },
    { discovered: 24, done: 24 },
    { discovered: 288, done: 288 },
  ]);
  expect((await api.gql<{ records: { totalCount: number } }>(`{ records(dataset: "tree-crash") { totalCount } }`)).data!.records.totalCount).toBe(288);
  // Each workspace's apps and each app's first page were answered once, but for the one in flight at the kill.
  const answered = new Map<string, number>();
  for (const request of demo.upstream.received.slice(from)) {
    if (/^\/(app\/space\/\d+\/|item\/app\/\d+\/\?offset=0\b)/.test(request.url)) answered.set(request.url, (answered.get(request.url) ?? 0) + 1);
  }
  expect(answered.size).toBe(8 + 24);
  expect([...answered.values()].filter((count) => count > 1).length).toBeLessThanOrEqual(1);
  // Each folder and file was made once: a node's effects are recorded with its first page, and reused after.
  const made = (await api.gql<{ events: { edges: { node: { message: string } }[] } }>(`query($id: ID!) { events(subject: { kind: IMPORT, id: $id }, kinds: [LOG], first: 1000) { edges { node { ... on LogEvent { message } } } } }`, { id })).data!.events.edges
    .map((edge) => edge.node.message)
    .filter((message) => message.startsWith("created "));
  expect(new Set(made).size).toBe(made.length);
  expect(made.length).toBeLessThanOrEqual(8 + 24);
  expect((await next.stop()).code).toBe(0);
  await rm(dataDir, { recursive: true, force: true });
}, 90_000);
