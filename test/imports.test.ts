import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDemoServer } from "../src/demo/upstream.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { subscribe } from "./helpers/subscriptions.js";

let server: TestServer;
let demo: Awaited<ReturnType<typeof startDemoServer>>;

beforeAll(async () => {
  demo = await startDemoServer({ items: 200, pageSize: 20 });
  server = await startTestServer({ RETRY_DELAY_MS: "50", MAX_RETRIES: "2", API_TIMEOUT_MS: "500", MILEPOST_SECRETS: "DEMO_TEST_KEY@127.0.0.1" });
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

async function start(input: Record<string, unknown>): Promise<string> {
  const started = await server.gql<{ startImport: ImportView }>(`mutation($input: StartImportInput!) { startImport(input: $input) { id status } }`, { input });
  expect(started.errors).toBeUndefined();
  return started.data!.startImport.id;
}

/** Waits, on the import's STATUS events (replayed from `after`), until it stops at one of `stops`; returns the import then. */
async function waitFor(id: string, final: string, after = "0", stops = ["COMPLETED", "FAILED", "CANCELLED", "PAUSED", "WAITING"]): Promise<ImportView> {
  const events = subscribe<{ events: { id: string; to: string } }>(server.ws(), `subscription($id: ID!, $after: ID) { events(subject: { kind: IMPORT, id: $id }, kinds: [STATUS], after: $after) { id ... on StatusEvent { to } } }`, { id, after });
  for (let to = ""; !stops.includes(to); ) to = (await events.next(20_000)).events.to;
  await events.close();
  const view = await server.gql<{ import: ImportView }>(`query($id: ID!) { import(id: $id) { ${IMPORT_FIELDS} } }`, { id });
  expect(view.data!.import.status).toBe(final);
  return view.data!.import;
}

async function lastEventId(id: string): Promise<string> {
  const page = await server.gql<{ events: { edges: { node: { id: string } }[] } }>(`query($id: ID!) { events(subject: { kind: IMPORT, id: $id }, first: 1000) { edges { node { id } } } }`, { id });
  return page.data!.events.edges.at(-1)!.node.id;
}

async function runToEnd(input: Record<string, unknown>, final = "COMPLETED"): Promise<ImportView> {
  return waitFor(await start(input), final);
}

const mutate = (name: string, id: string) => server.gql<Record<string, ImportView>>(`mutation($id: ID!) { ${name}(id: $id) { id status } }`, { id });

describe("imports", () => {
  it("lists the built-in sources with their config schemas", async () => {
    const sources = await server.gql<{ sources: { name: string; shape: string; configSchema: { type: string } }[] }>("{ sources { name shape configSchema levels } }");
    expect(sources.data!.sources.map((source) => source.name)).toEqual(["demo-backup", "demo-movies", "http-json", "http-tree"]);
    expect(sources.data!.sources[2]).toMatchObject({ shape: "FLAT", configSchema: { type: "object" }, levels: [] });
    // http-tree's levels are its config's, so the source itself names none.
    expect(sources.data!.sources[3]).toMatchObject({ shape: "TREE", configSchema: { type: "object" }, levels: [] });
  });

  it("runs demo-movies against the demo this server serves, on the port it really got", async () => {
    const run = await runToEnd({ source: "demo-movies", config: {}, maxPages: 3 });
    expect(run).toMatchObject({ pagesDone: 3, itemsNew: 60, errorCount: 0 });
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

  it("fails at once on a 401 on the first page, saying why; resumed once fixed, it completes without the stale error", async () => {
    demo.upstream.options.faults.apiKey = "needed";
    let failed: ImportView;
    try {
      failed = await runToEnd({ source: "http-json", dataset: "denied", config: tmdbConfig() }, "FAILED");
      expect(failed.lastError).toMatch(/HTTP 401/);
      expect(failed.pagesDone).toBe(0);
    } finally {
      demo.upstream.options.faults.apiKey = null;
    }
    const after = await lastEventId(failed.id);
    expect((await mutate("resumeImport", failed.id)).errors).toBeUndefined();
    const done = await waitFor(failed.id, "COMPLETED", after);
    expect(done).toMatchObject({ itemsProcessed: 200, lastError: null });
  });

  it.each([
    ["an HTML page", { failPages: { "1": "html" } }, {}, /Configuration error: The answer of .* is not JSON/],
    ["no array at itemsPath", {}, { itemsPath: "nope" }, /Configuration error: No array at itemsPath "nope"/],
    ["a 404 (a wrong URL)", { failPages: { "1": 404 } }, {}, /HTTP 404/],
  ] as const)("fails at once, as a configuration error, when the first page is %s", async (_what, faults, config, reason) => {
    Object.assign(demo.upstream.options.faults, faults);
    try {
      const failed = await runToEnd({ source: "http-json", dataset: `misconfigured-${_what.length}`, config: tmdbConfig(config) }, "FAILED");
      expect(failed.lastError).toMatch(reason);
      expect(failed).toMatchObject({ pagesDone: 0, itemsProcessed: 0 });
    } finally {
      demo.upstream.options.faults.failPages = {};
    }
  });

  it("ends FAILED after MAX_CONSECUTIVE_PAGE_FAILURES pages fail in a row, instead of paging on", async () => {
    demo.upstream.options.faults.failPages = Object.fromEntries([3, 4, 5, 6, 7, 8, 9].map((page) => [String(page), "html" as const]));
    try {
      const failed = await runToEnd({ source: "http-json", dataset: "streak", config: tmdbConfig() }, "FAILED");
      expect(failed.lastError).toMatch(/^5 pages failed in a row \(MAX_CONSECUTIVE_PAGE_FAILURES\); last: The answer of .* is not JSON/);
      expect(failed).toMatchObject({ pagesDone: 6, itemsProcessed: 40, errorCount: 5 });
    } finally {
      demo.upstream.options.faults.failPages = {};
    }
  });

  it("stops at the first empty page when the page count is unknown", async () => {
    const { totalPagesPath: _unknown, ...pagination } = tmdbConfig().pagination;
    const { totalItemsPath: _none, ...config } = tmdbConfig({ pagination });
    const done = await runToEnd({ source: "http-json", dataset: "no-total", config });
    expect(done).toMatchObject({ pagesDone: 11, totalPages: null, itemsProcessed: 200 });
  });

  it.each(["file:///etc/passwd", "data:application/json,[]", "javascript:alert(1)", "gopher://127.0.0.1:5432/"])("refuses %s as a URL when the import starts", async (url) => {
    for (const input of [
      { source: "demo-movies", config: { baseUrl: url } },
      { source: "http-json", config: tmdbConfig({ url }) },
    ]) {
      const refused = await server.gql(`mutation($input: StartImportInput!) { startImport(input: $input) { id } }`, { input });
      expect(refused.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
      expect(refused.errors?.[0].message).toMatch(/must be an http or https URL/);
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

  it("pauses at a checkpoint and resumes to exact counts; importUpdated shows it live", async () => {
    demo.upstream.options.faults.latencyMs = 60;
    try {
      const id = await start({ source: "http-json", dataset: "paused", config: tmdbConfig(), checkpointEvery: 1 });
      const updates = subscribe<{ importUpdated: { status: string; pagesDone: number } }>(server.ws(), `subscription($id: ID!) { importUpdated(id: $id) { status pagesDone } }`, { id });
      for (let update = (await updates.next()).importUpdated; update.pagesDone < 2; ) update = (await updates.next()).importUpdated;
      await updates.close();
      const after = await lastEventId(id);
      expect((await mutate("pauseImport", id)).errors).toBeUndefined();
      const paused = await waitFor(id, "PAUSED", after);
      expect(paused.pagesDone as number).toBeLessThan(10);
      expect(paused.itemsProcessed).toBe((paused.pagesDone as number) * 20);
      const stored = await server.gql<{ records: { totalCount: number } }>(`{ records(dataset: "paused") { totalCount } }`);
      expect(stored.data!.records.totalCount).toBe(paused.itemsProcessed);

      const resumedFrom = await lastEventId(id);
      expect((await mutate("resumeImport", id)).errors).toBeUndefined();
      const done = await waitFor(id, "COMPLETED", resumedFrom);
      expect(done).toMatchObject({ pagesDone: 10, itemsProcessed: 200, itemsNew: 200, resumeCount: 1 });
    } finally {
      demo.upstream.options.faults.latencyMs = 0;
    }
  });

  it("cancels a running import, keeping what it committed; a cancelled import cannot resume", async () => {
    demo.upstream.options.faults.latencyMs = 60;
    try {
      const id = await start({ source: "http-json", dataset: "cancelled", config: tmdbConfig(), checkpointEvery: 1 });
      expect((await mutate("cancelImport", id)).errors).toBeUndefined();
      const cancelled = await waitFor(id, "CANCELLED");
      const stored = await server.gql<{ records: { totalCount: number } }>(`{ records(dataset: "cancelled") { totalCount } }`);
      expect(stored.data!.records.totalCount).toBe(cancelled.itemsProcessed);
      expect((await mutate("resumeImport", id)).errors?.[0].extensions?.code).toBe("CONFLICT");
    } finally {
      demo.upstream.options.faults.latencyMs = 0;
    }
  });

  it("waits out a long rate limit in WAITING, resumes by itself, and retryImportNow skips a wait", async () => {
    demo.upstream.options.faults.rateLimitEvery = 4;
    demo.upstream.options.faults.retryAfterSeconds = 6; // longer than the in-place wait
    try {
      const id = await start({ source: "http-json", dataset: "limited", config: tmdbConfig(), checkpointEvery: 2 });
      const waiting = await waitFor(id, "WAITING");
      const view = await server.gql<{ import: { resumeAt: string } }>(`query($id: ID!) { import(id: $id) { resumeAt } }`, { id });
      expect(Date.parse(view.data!.import.resumeAt)).toBeGreaterThan(Date.now());
      // Skip the wait: the upstream's cooldown is lifted and the import runs again at once.
      demo.upstream.options.faults.rateLimitEvery = 0;
      const before = await lastEventId(id);
      expect((await mutate("retryImportNow", id)).data?.retryImportNow.status).toBe("PENDING");
      const done = await waitFor(id, "COMPLETED", before);
      expect(done).toMatchObject({ itemsProcessed: 200, itemsNew: 200, resumeCount: 1 });
      expect(waiting.itemsProcessed as number).toBeLessThan(200);
    } finally {
      demo.upstream.options.faults.rateLimitEvery = 0;
    }
  });

  it("times out a hanging request, retries it and finishes", async () => {
    demo.upstream.options.faults.hangEvery = 5;
    try {
      const done = await runToEnd({ source: "http-json", dataset: "hangs", config: tmdbConfig() });
      expect(done).toMatchObject({ itemsProcessed: 200, errorCount: 0 });
    } finally {
      demo.upstream.options.faults.hangEvery = 0;
    }
  });

  it("exports a report and sums imports up", async () => {
    const done = await runToEnd({ source: "http-json", dataset: "reported", config: tmdbConfig(), name: "report me" });
    const report = await server.gql<{ import: { report: Record<string, unknown> } }>(`query($id: ID!) { import(id: $id) { report } }`, { id: done.id });
    expect(report.data!.import.report).toMatchObject({ name: "report me", status: "COMPLETED", counters: { itemsProcessed: 200, pagesDone: 10 }, errors: [] });
    const summary = await server.gql<{ importSummary: { total: number; successRate: number; recent: { id: string }[] } }>(`{ importSummary { total successRate itemsNew byStatus { status count } recent(first: 1) { id } } }`);
    expect(summary.data!.importSummary.recent[0].id).toBe(done.id);
    expect(summary.data!.importSummary.total).toBeGreaterThan(5);
  });

  it.each([
    ["offset", { url: "/offset/movies", itemsPath: "items", totalItemsPath: "total", pagination: { type: "offset", param: "offset", sizeParam: "limit", pageSize: 25 } }, 8],
    ["cursor", { url: "/cursor/movies", itemsPath: "data", pagination: { type: "cursor", param: "after", nextPath: "next_cursor" } }, 10],
    ["link", { url: "/link/movies", itemsPath: "", pagination: { type: "link" } }, 10],
  ])("follows %s pagination to the end", async (style, config, pages) => {
    const { url, ...rest } = config as { url: string };
    const done = await runToEnd({ source: "http-json", dataset: `style-${style}`, config: { ...rest, url: `${demo.url}${url}` } });
    expect(done).toMatchObject({ pagesDone: pages, itemsProcessed: 200, itemsNew: 200 });
  });

  it("resumes a WAITING import by itself when the rate limit ends", async () => {
    demo.upstream.options.faults.rateLimitEvery = 3;
    demo.upstream.options.faults.retryAfterSeconds = 6;
    try {
      const id = await start({ source: "http-json", dataset: "self-resume", config: tmdbConfig() });
      await waitFor(id, "WAITING");
      demo.upstream.options.faults.rateLimitEvery = 0;
      const after = await lastEventId(id);
      const done = await waitFor(id, "COMPLETED", after);
      expect(done).toMatchObject({ itemsProcessed: 200, itemsNew: 200, resumeCount: 1 });
    } finally {
      demo.upstream.options.faults.rateLimitEvery = 0;
    }
  }, 30_000);

  it("stops at maxPages, returns an unfinished twin instead of starting anew, honours `responses`, and cleans up", async () => {
    const limited = await runToEnd({ source: "http-json", dataset: "capped", config: tmdbConfig(), maxPages: 3 });
    expect(limited).toMatchObject({ pagesDone: 3, itemsProcessed: 60, progress: 1 });

    demo.upstream.options.faults.latencyMs = 80;
    try {
      const input = { source: "http-json", dataset: "twins", config: tmdbConfig() };
      const first = await start(input);
      expect((await mutate("pauseImport", first)).errors).toBeUndefined();
      await waitFor(first, "PAUSED");
      const again = await start(input); // same source, dataset and config: the paused one, resumed
      expect(again).toBe(first);
      await waitFor(first, "COMPLETED", await lastEventId(first), ["COMPLETED"]);
      const fresh = await start({ ...input, resumeExisting: false });
      expect(fresh).not.toBe(first);
      await waitFor(fresh, "COMPLETED");
    } finally {
      demo.upstream.options.faults.latencyMs = 0;
    }

    demo.upstream.options.faults.failPages = { "3": 410 };
    try {
      const stopped = await runToEnd({ source: "http-json", dataset: "gone", config: tmdbConfig({ responses: { "410": "stop" } }) });
      expect(stopped).toMatchObject({ pagesDone: 2, itemsProcessed: 40 });
    } finally {
      demo.upstream.options.faults.failPages = {};
    }

    demo.upstream.options.faults.latencyMs = 80;
    try {
      const cancelled = await start({ source: "http-json", dataset: "doomed", config: tmdbConfig() });
      await mutate("cancelImport", cancelled);
      await waitFor(cancelled, "CANCELLED");
    } finally {
      demo.upstream.options.faults.latencyMs = 0;
    }
    const kept = await server.gql<{ cleanupFailedImports: number }>(`mutation { cleanupFailedImports(olderThanDays: 1) }`);
    expect(kept.data!.cleanupFailedImports).toBe(0);
    const cleaned = await server.gql<{ cleanupFailedImports: number }>(`mutation { cleanupFailedImports(olderThanDays: 0) }`);
    expect(cleaned.data!.cleanupFailedImports).toBeGreaterThanOrEqual(1);
    const gone = await server.gql<{ imports: { edges: unknown[] } }>(`{ imports(status: [FAILED, CANCELLED]) { edges { node { id } } } }`);
    expect(gone.data!.imports.edges).toEqual([]);
  }, 30_000);
});
