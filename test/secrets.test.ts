import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDemoServer } from "../src/demo/upstream.js";
import { cloneDatabase } from "./helpers/database.js";
import { spawnService, type ServiceProcess } from "./helpers/process.js";
import { newSecret, postGraphQL, startTestServer, type TestServer } from "./helpers/server.js";

// URL-unsafe characters on purpose: the value must not leak encoded either.
const SECRET = "s3cr3t/Value+with=chars&more";
const GRANTED = "MP_TEST_KEY";

type Demo = Awaited<ReturnType<typeof startDemoServer>>;
let demo: Demo;
let elsewhere: Demo;

beforeAll(async () => {
  demo = await startDemoServer({ items: 100, pageSize: 10 });
  elsewhere = await startDemoServer({ items: 100, pageSize: 10 });
});
afterAll(async () => {
  await demo.close();
  await elsewhere.close();
});

const START = `mutation($input: StartImportInput!) { startImport(input: $input) { id status } }`;
const STATUS = `query($id: ID!) { import(id: $id) { status lastError itemsProcessed errorCount } }`;

function pageConfig(url: string, extra: Record<string, unknown> = {}) {
  return {
    url: `${url}/3/movie/popular`,
    pagination: { type: "page", totalPagesPath: "total_pages" },
    itemsPath: "results",
    query: { api_key: { $env: GRANTED } },
    headers: { authorization: { $env: GRANTED } },
    ...extra,
  };
}

type Gql = <T>(query: string, variables?: Record<string, unknown>) => Promise<{ data?: T; errors?: { message: string; extensions?: Record<string, unknown> }[] }>;

async function waitUntilFinished(gql: Gql, id: string): Promise<{ status: string; lastError: string | null; itemsProcessed: number; errorCount: number }> {
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; ) {
    const view = await gql<{ import: { status: string; lastError: string | null; itemsProcessed: number; errorCount: number } }>(STATUS, { id });
    if (["COMPLETED", "FAILED", "CANCELLED"].includes(view.data!.import.status)) return view.data!.import;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`import ${id} did not finish`);
}

describe("secret references", () => {
  let server: TestServer;
  beforeAll(async () => {
    process.env[GRANTED] = SECRET;
    process.env.MP_UNGRANTED = "not-for-upstreams";
    server = await startTestServer({ MILEPOST_SECRETS: `${GRANTED}@127.0.0.1`, RETRY_DELAY_MS: "20" });
  });
  afterAll(() => server.stop());

  it.each(["MILEPOST_ADMIN_TOKEN", "DATABASE_URL", "MP_UNGRANTED"])("refuses a reference to %s that MILEPOST_SECRETS does not grant, naming it", async (variable) => {
    const refused = await server.gql(START, { input: { source: "http-json", config: pageConfig(demo.url, { query: { api_key: { $env: variable } }, headers: {} }) } });
    expect(refused.errors?.[0].extensions).toMatchObject({ code: "BAD_USER_INPUT", fields: ["input.config.query.api_key"] });
    expect(refused.errors?.[0].message).toContain(variable);
    expect(refused.errors?.[0].message).toContain("MILEPOST_SECRETS");
    const imports = await server.gql<{ imports: { totalCount: number } }>("{ imports { totalCount } }");
    expect(imports.data!.imports.totalCount).toBe(0);
  });

  it("sends a granted secret to its host only: another host gets the request without it", async () => {
    const before = demo.upstream.received.length;
    const sent = await server.gql<{ startImport: { id: string } }>(START, { input: { source: "http-json", dataset: "granted", config: pageConfig(demo.url), maxPages: 1 } });
    expect((await waitUntilFinished(server.gql, sent.data!.startImport.id)).status).toBe("COMPLETED");
    const arrived = demo.upstream.received.slice(before);
    expect(arrived.length).toBeGreaterThan(0);
    expect(new URL(arrived[0].url, "http://x").searchParams.get("api_key")).toBe(SECRET);
    expect(arrived[0].authorization).toBe(SECRET);

    // localhost is the same machine, but not the host the grant names.
    const other = elsewhere.url.replace("127.0.0.1", "localhost");
    const fromElsewhere = elsewhere.upstream.received.length;
    const withheld = await server.gql<{ startImport: { id: string } }>(START, { input: { source: "http-json", dataset: "withheld", config: pageConfig(other), maxPages: 1 } });
    expect((await waitUntilFinished(server.gql, withheld.data!.startImport.id)).status).toBe("COMPLETED");
    const requests = elsewhere.upstream.received.slice(fromElsewhere);
    expect(requests.length).toBeGreaterThan(0);
    for (const request of requests) {
      expect(request.url).not.toContain("api_key");
      expect(request.authorization).toBeNull();
    }
  });

  it("drops secret headers and parameters on a redirect to another origin", async () => {
    demo.upstream.options.faults.redirectTo = elsewhere.url; // same host, another port: another origin
    const fromElsewhere = elsewhere.upstream.received.length;
    try {
      const moved = await server.gql<{ startImport: { id: string } }>(START, { input: { source: "http-json", dataset: "moved", config: pageConfig(demo.url), maxPages: 1 } });
      expect((await waitUntilFinished(server.gql, moved.data!.startImport.id)).status).toBe("COMPLETED");
    } finally {
      demo.upstream.options.faults.redirectTo = null;
    }
    const requests = elsewhere.upstream.received.slice(fromElsewhere);
    expect(requests.length).toBeGreaterThan(0);
    for (const request of requests) {
      expect(request.authorization).toBeNull();
      expect(decodeURIComponent(request.url)).not.toContain(SECRET);
    }
  });
});

describe("a resolved secret through every kind of failure", () => {
  let database: Awaited<ReturnType<typeof cloneDatabase>>;
  let service: ServiceProcess;
  const token = newSecret();
  const gql: Gql = (query, variables) => postGraphQL(service.url!, { query, variables }, token);

  beforeAll(async () => {
    database = await cloneDatabase();
    service = await spawnService({
      DATABASE_URL: database.url,
      MILEPOST_ADMIN_TOKEN: token,
      MILEPOST_SECRETS: `${GRANTED}@127.0.0.1`,
      [GRANTED]: SECRET,
      LOG_LEVEL: "debug",
      RETRY_DELAY_MS: "20",
      MAX_RETRIES: "2",
      API_TIMEOUT_MS: "300",
    });
  });
  afterAll(async () => {
    await service?.stop();
    await database?.drop();
  });

  it("is found in no table, no API field and no log line", async () => {
    const faults = demo.upstream.options.faults;
    Object.assign(faults, { echo: true, apiKey: SECRET, errorEvery: 4, hangEvery: 11, rateLimitEvery: 13, retryAfterSeconds: 1, failPages: { "3": 404, "5": "html" } });
    const ids: string[] = [];
    const run = async (input: Record<string, unknown>) => {
      const started = await gql<{ startImport: { id: string } }>(START, { input });
      expect(started.errors).toBeUndefined();
      ids.push(started.data!.startImport.id);
      return waitUntilFinished(gql, started.data!.startImport.id);
    };
    try {
      // Retried 5xx, timeouts and rate limits, a 404 page and an HTML page skipped: each quoting the request.
      const pages = await run({ source: "http-json", dataset: "echo-pages", config: pageConfig(demo.url) });
      expect(pages).toMatchObject({ status: "COMPLETED", errorCount: 2, itemsProcessed: 80 });
      // A Link header carrying the key on: the stored cursor must not. (Link pagination cannot skip a page.)
      faults.failPages = {};
      const link = await run({ source: "http-json", dataset: "echo-link", config: { ...pageConfig(demo.url), url: `${demo.url}/link/movies`, itemsPath: "", pagination: { type: "link" } } });
      expect(link.status).toBe("COMPLETED");
      // A 401 on the first page, its body quoting the Authorization header sent.
      faults.apiKey = "another-key";
      const denied = await run({ source: "http-json", dataset: "echo-denied", config: pageConfig(demo.url) });
      expect(denied.status).toBe("FAILED");
      expect(denied.lastError).toContain("[redacted:MP_TEST_KEY]");
      // Not JSON on the first page.
      faults.apiKey = SECRET;
      faults.failPages = { "1": "html" };
      const garbage = await run({ source: "http-json", dataset: "echo-html", config: pageConfig(demo.url) });
      expect(garbage.status).toBe("FAILED");
    } finally {
      Object.assign(demo.upstream.options.faults, { echo: false, apiKey: null, errorEvery: 0, hangEvery: 0, rateLimitEvery: 0, failPages: {} });
    }
    // The secret really went out (else nothing here proves anything).
    expect(demo.upstream.received.some((request) => request.authorization === SECRET)).toBe(true);

    const leaks = (text: string) => [SECRET, encodeURIComponent(SECRET), new URLSearchParams({ v: SECRET }).toString().slice(2)].filter((form) => text.includes(form));

    const db = new pg.Client({ connectionString: database.url });
    await db.connect();
    try {
      const tables = await db.query<{ schema: string; name: string }>(
        `SELECT table_schema AS schema, table_name AS name FROM information_schema.tables WHERE table_schema IN ('public', 'pgboss') AND table_type = 'BASE TABLE'`,
      );
      expect(tables.rows.length).toBeGreaterThan(5);
      for (const { schema, name } of tables.rows) {
        const rows = await db.query(`SELECT t::text AS text FROM ${pg.escapeIdentifier(schema)}.${pg.escapeIdentifier(name)} t`);
        const found = rows.rows.flatMap((row: { text: string }) => leaks(row.text));
        expect(found, `${schema}.${name}`).toEqual([]);
      }
    } finally {
      await db.end();
    }

    const everything = await gql(`{
      imports(first: 20) { edges { node {
        id name config status lastError report checkpoint { position path { level index } at }
        errors(first: 50) { edges { node { page httpStatus message path } } }
      } } }
    }`);
    expect(everything.errors).toBeUndefined();
    expect(leaks(JSON.stringify(everything))).toEqual([]);
    expect(JSON.stringify(everything)).toContain("[redacted:MP_TEST_KEY]");
    for (const id of ids) {
      const events = await gql(`query($id: ID!) { events(subject: { kind: IMPORT, id: $id }, first: 1000) { edges { node {
        id kind ... on LogEvent { message } ... on StatusEvent { reason } ... on CheckpointEvent { checkpoint { position } }
      } } } }`, { id });
      expect(leaks(JSON.stringify(events))).toEqual([]);
    }
    expect(service.output()).toContain('"level":20'); // debug lines were written
    expect(leaks(service.output())).toEqual([]);
  }, 60_000);
});
