import { mkdir, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
import { hasChromium, useChromium } from "./helpers/browser.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/** Screenshots and the load figures go to the repository's ignored artifacts folder. */
const ARTIFACTS = fileURLToPath(new URL("../.artifacts/", import.meta.url));

// The dashboard at / in a real browser, as an operator uses it: everything over graphql-ws, live.
describe.skipIf(!hasChromium("the dashboard in Chromium"))("the dashboard in Chromium", () => {
  let server: TestServer;
  let origin: string;
  const browser = useChromium();

  beforeAll(async () => {
    // The demo answers in 30 ms: an import of it lasts long enough to be watched, paused and resumed.
    server = await startTestServer({ MILEPOST_PLUGINS: "test/fixtures/test-processors.mjs", DEMO_LATENCY_MS: "30" });
    origin = new URL(server.url).origin;
    await mkdir(ARTIFACTS, { recursive: true });
  });
  afterAll(async () => {
    await server?.stop();
  });

  async function signedIn(token: string, path = "/"): Promise<Page> {
    const page = await (await browser().newContext({ viewport: { width: 1400, height: 900 } })).newPage();
    page.on("dialog", (dialog) => void dialog.accept());
    page.setDefaultTimeout(10_000); // a step that does not come says which, before the test's own timeout
    await page.goto(`${origin}${path}`);
    await page.fill("input[name=token]", token);
    await page.click("button[type=submit]");
    await page.locator("header.top .viewer").waitFor();
    return page;
  }
  const gql = async <T,>(query: string, variables?: Record<string, unknown>) => {
    const answer = await server.gql<T>(query, variables);
    expect(answer.errors).toBeUndefined();
    return answer.data!;
  };

  it("loads fast from the service itself, signs in, and shows every kind of work", async () => {
    const page = await (await browser().newContext()).newPage();
    await page.goto(`${origin}/`);
    await page.locator("input[name=token]").waitFor();
    const load = await page.evaluate(() => {
      const navigation = performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming;
      const resources = performance.getEntriesByType("resource") as PerformanceResourceTiming[];
      return {
        bytes: navigation.transferSize + resources.reduce((sum, entry) => sum + entry.transferSize, 0),
        firstContentfulPaintMs: Math.round(performance.getEntriesByName("first-contentful-paint")[0]?.startTime ?? -1),
        requests: 1 + resources.length,
      };
    });
    await writeFile(`${ARTIFACTS}dashboard-load.json`, `${JSON.stringify(load, null, 2)}\n`);
    expect(load.bytes).toBeGreaterThan(0);
    expect(load.firstContentfulPaintMs).toBeGreaterThan(0);
    await page.fill("input[name=token]", server.adminToken);
    await page.click("button[type=submit]");
    for (const title of ["Imports (", "Queues", "Jobs (", "Collectors"]) await page.locator("section.panel h2", { hasText: title }).first().waitFor();
    await page.locator("tr[data-collector=demo-stats]").waitFor();
    await page.close();
  });

  it("starts a demo import and shows its bar move; pauses and resumes it; the page survives a reload (deep link)", async () => {
    const page = await signedIn(server.adminToken);
    await page.click("text=Start a demo import");
    await page.waitForURL(/\/imports\/\d+$/);
    const bar = page.locator(".panel").first().locator("[role=progressbar]");
    const progress = async () => Number(await bar.getAttribute("aria-valuenow"));
    await expect.poll(progress, { timeout: 15_000 }).toBeGreaterThan(0);
    const first = await progress();
    await expect.poll(progress, { timeout: 15_000 }).toBeGreaterThan(first);
    await page.screenshot({ path: `${ARTIFACTS}dashboard-import.png`, fullPage: true });

    await page.click("button:has-text('Pause')");
    await page.locator(".panel h2 .status-paused").waitFor({ timeout: 15_000 });
    await page.click("button:has-text('Resume')");
    await page.locator(".panel h2 .status-running, .panel h2 .status-pending").first().waitFor({ timeout: 15_000 });
    await page.locator(".log li", { hasText: "paused on request" }).first().waitFor();

    await page.reload();
    await page.locator(".panel h2", { hasText: "Import #" }).waitFor(); // the token was kept for the tab
    await page.close();
  });

  it("opens a job by its link, adds a comment, and cancels it", async () => {
    const { createJob } = await gql<{ createJob: { id: string } }>(
      `mutation { createJob(input: { kind: "echo", name: "slow job", tags: ["nightly"], config: { concurrency: 1 }, steps: [${Array.from({ length: 20 }, (_, i) => `{ name: "step ${i + 1}", input: { n: ${i + 100}, sleepMs: 1000 } }`).join(", ")}] }) { id } }`,
    );
    const page = await signedIn(server.adminToken, `/jobs/${createJob.id}`);
    await page.locator(".panel h2", { hasText: "slow job" }).waitFor();
    await page.locator("tr[data-step='1']").waitFor();
    await page.fill("textarea[name=comment]", "looking into the slow steps");
    await page.click("text=Add comment");
    await page.locator(".comments li", { hasText: "looking into the slow steps" }).waitFor();
    await page.click("text=Cancel job");
    await page.locator(".panel h2 .status-cancelled").waitFor({ timeout: 15_000 });
    expect((await gql<{ job: { status: string } }>(`{ job(id: ${createJob.id}) { status } }`)).job.status).toBe("CANCELLED");
    await page.close();
  });

  it("pauses a queue and filters its items by tag", async () => {
    await gql(
      `mutation { enqueue(input: { queue: "echo", items: [{ key: "blue-1", payload: { n: 1 }, tags: ["blue"] }, { key: "red-1", payload: { n: 2 }, tags: ["red"] }, { key: "blue-2", payload: { n: 3 }, tags: ["blue", "big"] }, { key: "doomed", payload: { n: 4, permanent: true } }] }) { added { id } } }`,
    );
    const page = await signedIn(server.adminToken, "/queues/echo");
    await page.locator("tr[data-item=red-1]").waitFor();
    await page.click("text=Pause queue");
    await page.locator(".panel h2 .status-paused").waitFor();
    expect((await gql<{ queueStatus: { paused: boolean } }>(`{ queueStatus(queue: "echo") { paused } }`)).queueStatus.paused).toBe(true);
    await page.fill("input[name=tags]", "blue");
    await page.click("button:has-text('Filter')");
    await expect.poll(async () => (await page.locator("tr[data-item]").evaluateAll((rows) => rows.map((row) => row.getAttribute("data-item")))).sort(), { timeout: 10_000 }).toEqual(["blue-1", "blue-2"]);
    await page.click("text=Resume queue");
    await page.locator("button:has-text('Pause queue')").waitFor();
    await page.goto(`${origin}/`);
    await page.locator("tr[data-import]").first().waitFor();
    await page.locator("tr[data-job]").first().waitFor();
    // The strip shows what failed among the queues' items too.
    await page.locator(".alerts .alert-error", { hasText: "echo item doomed failed" }).waitFor();
    await page.screenshot({ path: `${ARTIFACTS}dashboard-overview.png`, fullPage: true });
    await page.close();
  });

  it("shows a VIEWER no action buttons, and opens deep links to the right view", async () => {
    const { createApiToken } = await gql<{ createApiToken: { token: string } }>(`mutation { createApiToken(name: "watcher", role: VIEWER) { token } }`);
    const { jobs } = await gql<{ jobs: { edges: { node: { id: string } }[] } }>(`{ jobs(first: 1) { edges { node { id } } } }`);
    const page = await signedIn(createApiToken.token, `/jobs/${jobs.edges[0].node.id}`);
    await page.locator(".panel h2", { hasText: "slow job" }).waitFor();
    await page.locator(".comments li").first().waitFor();
    expect(await page.locator("button:has-text('Cancel job'), button:has-text('Retry failed steps'), button:has-text('Delete'), textarea[name=comment]").count()).toBe(0);
    await page.goto(`${origin}/collectors/demo-stats`);
    await page.locator(".panel h2", { hasText: "Collector demo-stats" }).waitFor();
    expect(await page.locator("button:has-text('Run now'), input[name=cron]").count()).toBe(0);
    await page.goto(`${origin}/queues/echo`);
    await page.locator(".panel h2", { hasText: "Queue echo" }).waitFor();
    expect(await page.locator("button:has-text('Pause queue'), button:has-text('Retry')").count()).toBe(0);
    await page.goto(`${origin}/`);
    await page.locator("section.panel h2", { hasText: "Imports (" }).waitFor();
    expect(await page.locator("text=Start a demo import").count()).toBe(0);
    // Signing out forgets the token: the page asks for one again.
    await page.click("text=Sign out");
    await page.locator("input[name=token]").waitFor();
    await page.reload();
    await page.locator("input[name=token]").waitFor();
    await page.close();
  });
});
