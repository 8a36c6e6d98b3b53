import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closedUntil, closeUpstream, cooldownKey } from "../src/engine/cooldowns.js";
import { startDemoServer } from "../src/demo/upstream.js";
import { prisma } from "../src/db/client.js";
import { cleanupFailedImports } from "../src/work/imports/commands.js";
import { LEASE_STALE_MS } from "../src/engine/lease.js";
import { checkpointedRecovery } from "../src/engine/checkpointed/recovery.js";
import { importer } from "../src/work/imports/importer.js";
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
    const message = "Internal error: Cannot read properties of undefined (reading 'items')";
    expect(await row(id)).toMatchObject({ crashCount: 3, lastError: `3 failures in a row; last: ${message}` });
    const events = await prisma().event.findMany({ where: { subjectKind: "IMPORT", subjectId: id, kind: "STATUS" }, orderBy: { id: "asc" } });
    const moves = events.map((event) => ({ at: event.at.getTime(), ...(event.payload as { to: string; reason: string }) }));
    // RETRY_DELAY_MS=20: five delays times the crashes in a row, 100 ms then 200 ms, each from its last checkpoint.
    expect(moves.map((move) => [move.to, move.reason])).toEqual([
      ["PENDING", "created"],
      ["RUNNING", "started"],
      ["PENDING", `${message}; retrying from the last checkpoint in 100 ms`],
      ["RUNNING", "resumed"],
      ["PENDING", `${message}; retrying from the last checkpoint in 200 ms`],
      ["RUNNING", "resumed"],
      ["FAILED", `3 failures in a row; last: ${message}`],
    ]);
    expect(moves[3].at - moves[2].at).toBeGreaterThanOrEqual(100);
    expect(moves[5].at - moves[4].at).toBeGreaterThanOrEqual(200);
    const all = await prisma().event.findMany({ where: { subjectKind: "IMPORT", subjectId: id } });
    expect(JSON.stringify(all.map((event) => event.payload))).not.toMatch(/\/work\/|\.ts:\d+|invocation/);
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
  it("hands on every import nobody runs with a job, and no other", async () => {
    const now = Date.now();
    const ago = (ms: number) => new Date(now - ms);
    const died = await insertImport({ status: "RUNNING", leaseOwner: "gone", leaseAt: ago(LEASE_STALE_MS + 5000) }); // its worker died
    const due = [
      await insertImport({ status: "WAITING", resumeAt: ago(60_000) }), // long past its time
      died,
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
    for (const [id, updatedAt] of [[due[0], ago(60_000)], [due[2], ago(10 * 60_000)]] as const) {
      await prisma().$executeRaw`UPDATE "Import" SET "updatedAt" = ${updatedAt} WHERE id = ${id}`;
    }
    const before = new Date();
    expect(await checkpointedRecovery(importer).recover()).toBe(3);
    const jobs = await prisma().$queryRaw<{ importId: number }[]>`
      SELECT (data->>'importId')::int AS "importId" FROM pgboss.job WHERE name = 'import-run' AND created_on >= ${before}`;
    const sent = new Set(jobs.map((job) => job.importId));
    expect(due.filter((id) => !sent.has(id))).toEqual([]);
    expect(left.filter((id) => sent.has(id))).toEqual([]);
    expect(await row(died)).toMatchObject({ status: "PENDING", leaseOwner: null });
    const [lost] = await prisma().event.findMany({ where: { subjectKind: "IMPORT", subjectId: died, kind: "STATUS" } });
    expect(lost.payload).toMatchObject({ from: "RUNNING", to: "PENDING", reason: "its worker stopped responding; continuing from the last checkpoint" });
    // Touched: the next sweep sends no second job for the same rows.
    expect(await checkpointedRecovery(importer).recover()).toBe(0);
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
