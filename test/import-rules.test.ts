import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closedUntil, closeUpstream, cooldownKey } from "../src/engine/cooldowns.js";
import { startDemoServer } from "../src/demo/upstream.js";
import { prisma } from "../src/db/client.js";
import { cleanupFailedImports } from "../src/work/imports/commands.js";
import { LEASE_STALE_MS } from "../src/engine/lease.js";
import { sweepStaleImports } from "../src/work/imports/recovery.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

let server: TestServer;
let demo: Awaited<ReturnType<typeof startDemoServer>>;

beforeAll(async () => {
  demo = await startDemoServer({ items: 100, pageSize: 20 });
  server = await startTestServer({ RETRY_DELAY_MS: "20", MILEPOST_PLUGINS: "test/fixtures/crashing-source.mjs" });
});
afterAll(async () => {
  await server.stop();
  await demo.close();
});

const START = `mutation($input: StartImportInput!) { startImport(input: $input) { id } }`;
const start = async (input: Record<string, unknown>) => Number((await server.gql<{ startImport: { id: string } }>(START, { input })).data!.startImport.id);
const row = (id: number) => prisma().import.findUniqueOrThrow({ where: { id } });

async function insertImport(data: Record<string, unknown>): Promise<number> {
  const created = await prisma().import.create({
    data: { name: "rule", source: "http-json", dataset: "rules", config: {}, configKey: `rule-${Math.random()}`, checkpointEvery: 1, ...data },
  });
  return created.id;
}

describe("the crash path", () => {
  it("retries a run that throws with a growing backoff, then fails it after three crashes in a row, saying why in short", async () => {
    const id = await start({ source: "crashing", config: {} });
    await expect.poll(async () => (await row(id)).status, { timeout: 15_000 }).toBe("FAILED");
    const failed = await row(id);
    expect(failed).toMatchObject({ crashCount: 3, lastError: "Internal error: Cannot read properties of undefined (reading 'items')" });
    const events = await prisma().event.findMany({ where: { subjectKind: "IMPORT", subjectId: id }, orderBy: { id: "asc" } });
    const messages = events.map((event) => ({ at: event.at.getTime(), text: JSON.stringify(event.payload) }));
    const crashes = messages.filter((message) => message.text.includes("retrying from the last checkpoint"));
    const resumes = messages.filter((message) => message.text.includes("Continuing after a worker shut down"));
    expect([crashes.length, resumes.length]).toEqual([2, 2]);
    // RETRY_DELAY_MS=20: five delays times the crashes in a row, 100 ms then 200 ms.
    expect(resumes[0].at - crashes[0].at).toBeGreaterThanOrEqual(100);
    expect(resumes[1].at - crashes[1].at).toBeGreaterThanOrEqual(200);
    const statusFailed = events.find((event) => event.kind === "STATUS" && (event.payload as { to: string }).to === "FAILED");
    expect((statusFailed!.payload as { reason: string }).reason).toMatch(/^3 failures in a row; last: Internal error/);
    expect(messages.map((message) => message.text).join("\n")).not.toMatch(/\/work\/|\.ts:\d+|invocation/);
  });
});

describe("the lease", () => {
  it("is renewed while a page takes longer than a lease lasts", async () => {
    demo.upstream.options.faults.latencyMs = LEASE_STALE_MS + 1500;
    try {
      const id = await start({ source: "http-json", dataset: "slow-page", maxPages: 1, config: { url: `${demo.url}/3/movie/popular`, pagination: { type: "page" }, itemsPath: "results" } });
      await expect.poll(async () => (await row(id)).status, { timeout: 5000 }).toBe("RUNNING");
      let oldest = 0;
      for (const until = Date.now() + LEASE_STALE_MS + 500; Date.now() < until; ) {
        const { leaseAt, status } = await row(id);
        if (status !== "RUNNING") break;
        oldest = Math.max(oldest, Date.now() - leaseAt!.getTime());
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      expect(oldest).toBeLessThan(2500);
      await expect.poll(async () => (await row(id)).status, { timeout: 10_000 }).toBe("COMPLETED");
      expect((await row(id)).resumeCount).toBe(0);
    } finally {
      demo.upstream.options.faults.latencyMs = 0;
    }
  }, 30_000);
});

describe("the sweep", () => {
  it("re-sends the job of every import nobody runs, and of no other", async () => {
    const now = Date.now();
    const ago = (ms: number) => new Date(now - ms);
    const due = [
      await insertImport({ status: "WAITING", resumeAt: ago(60_000) }), // long past its time
      await insertImport({ status: "RUNNING", leaseOwner: null, updatedAt: ago(LEASE_STALE_MS + 5000) }), // handed over, never picked up
      await insertImport({ status: "RUNNING", leaseOwner: "gone", leaseAt: ago(LEASE_STALE_MS + 5000) }), // its worker died
      await insertImport({ status: "PENDING", updatedAt: ago(10 * 60_000) }), // its job was lost
    ];
    const left = [
      await insertImport({ status: "WAITING", resumeAt: new Date(now + 60_000) }),
      await insertImport({ status: "RUNNING", leaseOwner: "alive", leaseAt: new Date(now) }),
      await insertImport({ status: "PENDING", updatedAt: new Date(now) }),
      await insertImport({ status: "COMPLETED", updatedAt: ago(60 * 60_000) }),
      await insertImport({ status: "PAUSED", updatedAt: ago(60 * 60_000) }),
    ];
    // The rows above bypassed @updatedAt where it mattered: set it as given.
    for (const [id, updatedAt] of [[due[1], ago(LEASE_STALE_MS + 5000)], [due[3], ago(10 * 60_000)]] as const) {
      await prisma().$executeRaw`UPDATE "Import" SET "updatedAt" = ${updatedAt} WHERE id = ${id}`;
    }
    const before = new Date();
    await sweepStaleImports(now);
    const jobs = await prisma().$queryRaw<{ importId: number }[]>`
      SELECT (data->>'importId')::int AS "importId" FROM pgboss.job WHERE name = 'import-run' AND created_on >= ${before}`;
    const sent = new Set(jobs.map((job) => job.importId));
    expect(due.filter((id) => !sent.has(id))).toEqual([]);
    expect(left.filter((id) => sent.has(id))).toEqual([]);
  });
});

describe("cleanupFailedImports", () => {
  it("deletes old FAILED and CANCELLED imports and their events, never a COMPLETED one or any record", async () => {
    const old = new Date(Date.now() - 3 * 86_400_000);
    const failed = await insertImport({ status: "FAILED", dataset: "kept-records" });
    const cancelled = await insertImport({ status: "CANCELLED", dataset: "kept-records" });
    const completed = await insertImport({ status: "COMPLETED", dataset: "kept-records" });
    const recent = await insertImport({ status: "FAILED", dataset: "kept-records" });
    for (const id of [failed, cancelled, completed]) await prisma().$executeRaw`UPDATE "Import" SET "updatedAt" = ${old} WHERE id = ${id}`;
    await prisma().importedRecord.createMany({ data: [1, 2, 3].map((n) => ({ dataset: "kept-records", externalId: String(n), data: { n } })) });
    await prisma().event.create({ data: { kind: "LOG", subjectKind: "IMPORT", subjectId: failed, payload: { level: "INFO", message: "x" } } });

    expect(await cleanupFailedImports(1)).toBe(2);
    const remaining = (await prisma().import.findMany({ where: { id: { in: [failed, cancelled, completed, recent] } } })).map((entry) => entry.id);
    expect(remaining.sort()).toEqual([completed, recent].sort());
    expect(await prisma().importedRecord.count({ where: { dataset: "kept-records" } })).toBe(3);
    expect(await prisma().event.count({ where: { subjectKind: "IMPORT", subjectId: failed } })).toBe(0);
  });
});

describe("upstream cooldowns", () => {
  it("are kept apart per credential: one key's rate limit does not close the upstream for another", async () => {
    const origin = "https://api.example.com";
    const [first, second, none] = [cooldownKey(origin, "key-1"), cooldownKey(origin, "key-2"), cooldownKey(origin, undefined)];
    expect(new Set([first, second, none]).size).toBe(3);
    expect(first).not.toContain("key-1"); // the credential is hashed, not stored
    await closeUpstream(first, origin, new Date(Date.now() + 60_000), "HTTP 429");
    expect(await closedUntil(first)).toBeGreaterThan(Date.now());
    expect(await closedUntil(second)).toBe(0);
    expect(await closedUntil(none)).toBe(0);
  });
});
