import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDemoServer } from "../src/demo/upstream.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { subscribe } from "./helpers/subscriptions.js";

let server: TestServer;
let demo: Awaited<ReturnType<typeof startDemoServer>>;

beforeAll(async () => {
  demo = await startDemoServer({ items: 200, pageSize: 20 });
  server = await startTestServer({ RETRY_DELAY_MS: "50", MAX_RETRIES: "2" });
});
afterAll(async () => {
  await server.stop();
  await demo.close();
});

const IMPORT_FIELDS = `id status pagesDone totalPages itemsTotal itemsProcessed itemsNew itemsUpdated itemsUnchanged errorCount lastError
  progress resumeCount config dataset checkpoint { position path { level index total } }
  errors { totalCount edges { node { page httpStatus message attempts } } }`;

type ImportView = Record<string, unknown> & { id: string; status: string };

function tmdbConfig(extra: Record<string, unknown> = {}) {
  return {
    url: `${demo.url}/3/movie/popular`,
    pagination: { type: "page", param: "page", start: 1, totalPagesPath: "total_pages" },
    itemsPath: "results",
    idPath: "id",
    totalItemsPath: "total_results",
    ...extra,
  };
}

/** Starts an import and waits, on its STATUS events, until it reaches `final`. */
async function runToEnd(input: Record<string, unknown>, final = "COMPLETED"): Promise<ImportView> {
  const started = await server.gql<{ startImport: ImportView }>(`mutation($input: StartImportInput!) { startImport(input: $input) { id status } }`, { input });
  expect(started.errors).toBeUndefined();
  const id = started.data!.startImport.id;
  const events = subscribe<{ events: { to: string } }>(server.ws(), `subscription($id: ID!) { events(subject: { kind: IMPORT, id: $id }, kinds: [STATUS], after: "0") { ... on StatusEvent { to } } }`, { id });
  for (let to = ""; !["COMPLETED", "FAILED", "CANCELLED", "PAUSED", "WAITING"].includes(to); ) to = (await events.next(20_000)).events.to;
  await events.close();
  const view = await server.gql<{ import: ImportView }>(`query($id: ID!) { import(id: $id) { ${IMPORT_FIELDS} } }`, { id });
  expect(view.data!.import.status).toBe(final);
  return view.data!.import;
}

describe("imports", () => {
  it("lists the built-in sources with their config schemas", async () => {
    const sources = await server.gql<{ sources: { name: string; shape: string; configSchema: { type: string } }[] }>("{ sources { name shape configSchema levels } }");
    expect(sources.data!.sources.map((source) => source.name)).toEqual(["demo-movies", "http-json"]);
    expect(sources.data!.sources[1]).toMatchObject({ shape: "FLAT", configSchema: { type: "object" } });
  });

  it("imports every page once, then counts new, updated and unchanged after the upstream changed", async () => {
    const first = await runToEnd({ source: "http-json", dataset: "movies", config: tmdbConfig(), checkpointEvery: 3 });
    expect(first).toMatchObject({ pagesDone: 10, totalPages: 10, itemsTotal: 200, itemsProcessed: 200, itemsNew: 200, itemsUpdated: 0, itemsUnchanged: 0, progress: 1 });
    const records = await server.gql<{ records: { totalCount: number } }>(`{ records(dataset: "movies") { totalCount } }`);
    expect(records.data!.records.totalCount).toBe(200);

    demo.upstream.options.version = 2; // every 10th movie changed, 5 added
    const second = await runToEnd({ source: "http-json", dataset: "movies", config: tmdbConfig(), checkpointEvery: 3 });
    expect(second.id).not.toBe(first.id);
    expect(second).toMatchObject({ pagesDone: 11, itemsProcessed: 205, itemsNew: 5, itemsUpdated: 20, itemsUnchanged: 180 });
    demo.upstream.options.version = 1;
  });

  it("records a 4xx page as an error and goes on; shows secrets redacted", async () => {
    process.env.DEMO_TEST_KEY = "sesame";
    demo.upstream.options.faults.apiKey = "sesame";
    demo.upstream.options.faults.failPages = { "4": 404 };
    try {
      const done = await runToEnd({ source: "http-json", dataset: "skips", config: tmdbConfig({ query: { api_key: { $env: "DEMO_TEST_KEY" } } }) });
      expect(done).toMatchObject({ pagesDone: 10, itemsProcessed: 180, itemsNew: 180, errorCount: 1 });
      expect((done.config as { query: unknown }).query).toEqual({ api_key: "[redacted:DEMO_TEST_KEY]" });
      expect(JSON.stringify(done)).not.toContain("sesame");
      expect((done.errors as { edges: { node: unknown }[] }).edges[0].node).toMatchObject({ page: 4, httpStatus: 404, attempts: 1 });
    } finally {
      demo.upstream.options.faults.apiKey = null;
      demo.upstream.options.faults.failPages = {};
    }
  });

  it("fails at once on a 401 on the first page, saying why", async () => {
    demo.upstream.options.faults.apiKey = "needed";
    try {
      const failed = await runToEnd({ source: "http-json", dataset: "denied", config: tmdbConfig() }, "FAILED");
      expect(failed.lastError).toMatch(/HTTP 401/);
      expect(failed.pagesDone).toBe(0);
    } finally {
      demo.upstream.options.faults.apiKey = null;
    }
  });

  it("retries 5xx with backoff and counts every item exactly once", async () => {
    demo.upstream.options.faults.errorEvery = 3;
    try {
      const done = await runToEnd({ source: "http-json", dataset: "flaky", config: tmdbConfig() });
      expect(done).toMatchObject({ pagesDone: 10, itemsProcessed: 200, itemsNew: 200, errorCount: 0 });
    } finally {
      demo.upstream.options.faults.errorEvery = 0;
    }
  });

  it("refuses an unknown source or a bad config as BAD_USER_INPUT naming the field", async () => {
    const unknown = await server.gql(`mutation { startImport(input: { source: "nope", config: {} }) { id } }`);
    expect(unknown.errors?.[0].extensions).toMatchObject({ code: "BAD_USER_INPUT", fields: ["input.source"] });
    const bad = await server.gql(`mutation { startImport(input: { source: "http-json", config: { url: "ftp://x" } }) { id } }`);
    expect(bad.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
    expect(bad.errors?.[0].extensions?.fields).toEqual(expect.arrayContaining(["input.config.url", "input.config.pagination"]));
  });
});
