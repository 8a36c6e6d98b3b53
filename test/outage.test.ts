import { afterAll, beforeAll, expect, it } from "vitest";
import { startDemoServer } from "../src/demo/upstream.js";
import { cloneDatabase } from "./helpers/database.js";
import { adminQuery, serverUrlOf } from "./helpers/postgres.js";
import { spawnService, type ServiceProcess } from "./helpers/process.js";
import { newSecret, postGraphQL } from "./helpers/server.js";
import { startTcpProxy, type TcpProxy } from "./helpers/tcp-proxy.js";

const OUTAGE_MS = 15_000;

let database: Awaited<ReturnType<typeof cloneDatabase>>;
let proxy: TcpProxy;
let demo: Awaited<ReturnType<typeof startDemoServer>>;
const processes: ServiceProcess[] = [];

beforeAll(async () => {
  database = await cloneDatabase();
  const direct = new URL(database.url);
  proxy = await startTcpProxy(direct.hostname, Number(direct.port || 5432));
  demo = await startDemoServer({ items: 400, pageSize: 20, faults: { latencyMs: 150 } });
});
afterAll(async () => {
  for (const child of processes) await child.stop();
  await proxy?.close();
  await demo?.close();
  await database?.drop();
});

type View = { status: string; pagesDone: number; itemsProcessed: number; itemsNew: number; itemsUpdated: number; itemsUnchanged: number; lastError: string | null; resumeCount: number };
const FIELDS = "status pagesDone itemsProcessed itemsNew itemsUpdated itemsUnchanged lastError resumeCount";

it(`survives the database going away for ${OUTAGE_MS / 1000} s mid-import: alive, answering, and the import completes with exact counts`, async () => {
  const viaProxy = new URL(database.url);
  viaProxy.host = `127.0.0.1:${proxy.port}`;
  const token = newSecret();
  const env = { DATABASE_URL: viaProxy.toString(), MILEPOST_ADMIN_TOKEN: token, RETRY_DELAY_MS: "50" };
  const service = await spawnService(env);
  processes.push(service);
  // A second worker: its sweep must not take the import from the first because of the outage.
  processes.push(await spawnService({ ...env, MILEPOST_ROLE: "worker" }));
  const gql = <T>(query: string, variables?: Record<string, unknown>) => postGraphQL<T>(service.url!, { query, variables }, token);
  const origin = new URL(service.url!).origin;

  const started = await gql<{ startImport: { id: string } }>(`mutation($input: StartImportInput!) { startImport(input: $input) { id } }`, {
    input: {
      source: "http-json",
      dataset: "outage",
      checkpointEvery: 1,
      config: { url: `${demo.url}/3/movie/popular`, pagination: { type: "page", totalPagesPath: "total_pages" }, itemsPath: "results" },
    },
  });
  const id = started.data!.startImport.id;
  const view = async () => (await gql<{ import: View }>(`query($id: ID!) { import(id: $id) { ${FIELDS} } }`, { id })).data?.import;
  await expect.poll(async () => (await view())?.pagesDone ?? 0, { timeout: 20_000, interval: 100 }).toBeGreaterThanOrEqual(4);

  const pagesAtCut = (await view())!.pagesDone;
  await proxy.cut();
  const cutAt = Date.now();
  // Answering during the outage: health says so, the probes too.
  await expect.poll(async () => (await gql<{ health: { database: boolean } }>("{ health { database } }")).data?.health.database, { timeout: 5000 }).toBe(false);
  expect((await fetch(`${origin}/healthz`)).status).toBe(200);
  expect((await fetch(`${origin}/readyz`)).status).toBe(503);
  const during = await gql(`query($id: ID!) { import(id: $id) { status } }`, { id });
  expect(during.errors?.[0].extensions).toMatchObject({ code: "SERVICE_UNAVAILABLE", reason: "DATABASE_UNAVAILABLE" });
  while (Date.now() - cutAt < OUTAGE_MS) {
    for (const child of processes) expect(child.child.exitCode, child.output().slice(-2000)).toBeNull();
    await new Promise((resolve) => setTimeout(resolve, 500));
  }

  await proxy.restore();
  const restoredAt = Date.now();
  let firstProgressMs: number | undefined;
  let done: View | undefined;
  await expect
    .poll(
      async () => {
        done = await view();
        if (firstProgressMs === undefined && done && done.pagesDone > pagesAtCut) firstProgressMs = Date.now() - restoredAt;
        return done?.status;
      },
      { timeout: 60_000, interval: 200 },
    )
    .toBe("COMPLETED");
  const recoveryMs = Date.now() - restoredAt;
  console.log(JSON.stringify({ outageMs: restoredAt - cutAt, checkpointsAgainAfterMs: firstProgressMs, completedAfterRestoreMs: recoveryMs, pagesAtCut }));

  expect(done).toMatchObject({ pagesDone: 20, itemsProcessed: 400, itemsNew: 400, itemsUpdated: 0, itemsUnchanged: 0, lastError: null });
  const records = await gql<{ records: { totalCount: number } }>(`{ records(dataset: "outage") { totalCount } }`);
  expect(records.data!.records.totalCount).toBe(400);
  const logs = await gql<{ events: { edges: { node: { message?: string } }[] } }>(
    `query($id: ID!) { events(subject: { kind: IMPORT, id: $id }, kinds: [LOG]) { edges { node { ... on LogEvent { message } } } } }`,
    { id },
  );
  expect(logs.data!.events.edges.map((edge) => edge.node.message).filter((message) => message?.startsWith("Taken over"))).toEqual([]);
  expect((await fetch(`${origin}/readyz`)).status).toBe(200);
  for (const child of processes) {
    expect(child.child.exitCode).toBeNull();
    expect(child.output(), "a bug reported during the outage").not.toContain("unhandled promise rejection (a bug");
    expect(child.output(), "errors logged for an outage that was survived").not.toMatch(/"level":(50|60)/);
  }
}, 120_000);

it("answers while its database refuses new connections (ALLOW_CONNECTIONS false): health says database: false, an unchecked token SERVICE_UNAVAILABLE with 503", async () => {
  const own = await cloneDatabase();
  const name = new URL(own.url).pathname.slice(1);
  const server = serverUrlOf(own.url);
  const token = newSecret();
  const service = await spawnService({ DATABASE_URL: own.url, MILEPOST_ROLE: "api", MILEPOST_ADMIN_TOKEN: token });
  processes.push(service);
  const gql = <T>(query: string, as = token) => postGraphQL<T>(service.url!, { query }, as);
  try {
    expect((await gql<{ health: { database: boolean } }>("{ health { database } }")).data?.health.database).toBe(true);
    const unseen = (await gql<{ createApiToken: { token: string } }>(`mutation { createApiToken(name: "unseen", role: VIEWER) { token } }`)).data!.createApiToken.token;
    await adminQuery(server, `ALTER DATABASE ${name} ALLOW_CONNECTIONS false`, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${name}'`);
    await expect.poll(async () => (await gql<{ health: { database: boolean } }>("{ health { database } }")).data?.health.database, { timeout: 10_000 }).toBe(false);
    const refused = await gql("{ health { database } }", unseen);
    expect(refused.status).toBe(503);
    expect(refused.errors?.[0].extensions).toMatchObject({ code: "SERVICE_UNAVAILABLE", reason: "DATABASE_UNAVAILABLE" });
    expect(service.output()).not.toMatch(/"level":(50|60)/);
    await adminQuery(server, `ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
    await expect.poll(async () => (await gql<{ health: { database: boolean } }>("{ health { database } }")).data?.health.database, { timeout: 15_000 }).toBe(true);
    expect((await gql("{ health { database } }", unseen)).status).toBe(200);
  } finally {
    await adminQuery(server, `ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
    await service.stop();
    await own.drop();
  }
}, 60_000);
