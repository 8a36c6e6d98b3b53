import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
import { recordEvent } from "../src/engine/events.js";
import { prisma } from "../src/db/client.js";
import { hasChromium, useChromium } from "./helpers/browser.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

// GraphiQL in a real browser: kept in the suite wherever Debian's Chromium is installed.
describe.skipIf(!hasChromium("GraphiQL in Chromium"))("GraphiQL in Chromium", () => {
  let server: TestServer;
  const browser = useChromium();

  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  async function openGraphiQL(query: string): Promise<Page> {
    // The token goes where a user types it: GraphiQL's headers, sent with every request.
    const context = await browser().newContext({ extraHTTPHeaders: { authorization: `Bearer ${server.adminToken}` } });
    const page = await context.newPage();
    await page.goto(`${server.url}?query=${encodeURIComponent(query)}`);
    await page.locator(".graphiql-execute-button").waitFor({ timeout: 20_000 });
    return page;
  }

  // Monaco renders spaces as no-break spaces.
  const resultText = async (page: Page) => (await page.locator(".graphiql-response").innerText()).replace(/\u00a0/g, " ");

  it("runs a query", async () => {
    const page = await openGraphiQL("{ health { database version } }");
    await page.locator(".graphiql-execute-button").click();
    await expect.poll(() => resultText(page), { timeout: 15_000 }).toContain('"database": true');
    await page.context().close();
  });

  it("runs a subscription and shows live events", async () => {
    const page = await openGraphiQL("subscription { events(kinds: [LOG]) { id ... on LogEvent { message } } }");
    await page.locator(".graphiql-execute-button").click();
    // Publish until the subscription (opened asynchronously by the page) shows one.
    await expect
      .poll(
        async () => {
          await recordEvent(prisma(), { kind: "LOG", subjectKind: "IMPORT", subjectId: 1, level: "INFO", message: "hello from the test" });
          return resultText(page);
        },
        { timeout: 20_000, interval: 500 },
      )
      .toContain("hello from the test");
    await page.screenshot({ path: fileURLToPath(new URL("../.artifacts/graphiql-subscription.png", import.meta.url)) }); // ignored by git
    await page.context().close();
  });
});
