import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Prisma, type QueueItem, type Status } from "../src/generated/prisma/client.js";
import { prisma } from "../src/db/client.js";
import { reportDatabaseError, waitForDatabase } from "../src/db/availability.js";
import { moveRun } from "../src/engine/checkpointed/checkpoint.js";
import { renewLeases } from "../src/engine/lease.js";
import { moveWork, transition } from "../src/engine/move.js";
import { endAndClaim } from "../src/engine/runnable.js";
import { canTransition, IllegalTransitionError } from "../src/engine/status.js";
import { recoverRunnable, startSweep } from "../src/engine/sweep.js";
import { logger } from "../src/logger.js";
import { cleanupFailedImports } from "../src/work/imports/commands.js";
import { importer } from "../src/work/imports/importer.js";
import { QUEUE_ITEM_KIND } from "../src/work/queue/kind.js";
import { queueRunnable } from "../src/work/queue/runner.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

// An api-only server: no worker moves these rows, so every change below is the test's own statement.
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ MILEPOST_ROLE: "api" });
});
afterAll(() => server.stop());

const STATUSES: Status[] = ["PENDING", "RUNNING", "PAUSED", "WAITING", "COMPLETED", "FAILED", "CANCELLED"];

async function item(data: Partial<QueueItem> = {}): Promise<QueueItem> {
  return prisma().queueItem.create({ data: { queue: "echo", key: `k-${Math.random()}`, payload: {}, maxAttempts: 3, ...data } as Prisma.QueueItemUncheckedCreateInput });
}
const reload = (id: number) => prisma().queueItem.findUniqueOrThrow({ where: { id } });
const statusEvents = (kind: "QUEUE_ITEM" | "IMPORT", id: number) => prisma().event.findMany({ where: { subjectKind: kind, subjectId: id, kind: "STATUS" }, orderBy: { id: "asc" } });
const pick = (id: number) => Prisma.sql`SELECT id, status FROM "QueueItem" WHERE id = ${id} FOR UPDATE`;

describe("the status machine, in every move", () => {
  it("moves along each of its edges and refuses every other pair, writing nothing for a refused one", async () => {
    for (const from of STATUSES) {
      for (const to of STATUSES) {
        const row = await item({ status: from, ...(from === "RUNNING" ? { leaseOwner: "w", leaseAt: new Date() } : {}) });
        const move = moveWork<QueueItem>(prisma(), QUEUE_ITEM_KIND, { picked: pick(row.id), to, reason: "test", owner: "w" });
        if (canTransition(from, to)) {
          const [moved] = await move;
          expect(moved, `${from} → ${to}`).toMatchObject({ status: to, fromStatus: from, refusedTo: null });
          expect(await statusEvents("QUEUE_ITEM", row.id)).toHaveLength(1);
        } else {
          await expect(move, `${from} → ${to}`).rejects.toBeInstanceOf(IllegalTransitionError);
          expect(await reload(row.id), `${from} → ${to}`).toMatchObject({ status: from, updatedAt: row.updatedAt });
          expect(await statusEvents("QUEUE_ITEM", row.id)).toHaveLength(0);
        }
      }
    }
  });

  it("leaves refused rows alone, without a word, when told to skip them, moving the others of the same statement", async () => {
    const done = await item({ status: "COMPLETED" });
    const waiting = await item({ status: "PENDING" });
    const rows = await moveWork<QueueItem>(prisma(), QUEUE_ITEM_KIND, {
      picked: Prisma.sql`SELECT id, status FROM "QueueItem" WHERE id IN (${done.id}, ${waiting.id}) FOR UPDATE`,
      to: "CANCELLED",
      reason: "test",
      onRefused: "skip",
    });
    expect(rows.map((row) => [row.id, row.status, row.refusedTo])).toEqual([[waiting.id, "CANCELLED", null]]);
    expect(await reload(done.id)).toMatchObject({ status: "COMPLETED", updatedAt: done.updatedAt });
  });

  it("clears completedAt when work runs again, and a retry that restarts it clears startedAt", async () => {
    const failed = await item({ status: "FAILED", startedAt: new Date(Date.now() - 60_000), completedAt: new Date() });
    const again = await transition<QueueItem>(prisma(), QUEUE_ITEM_KIND, { id: failed.id, from: "FAILED", to: "PENDING", reason: "retried", restart: true });
    expect(again).toMatchObject({ status: "PENDING", completedAt: null, startedAt: null });
    const kept = await item({ status: "FAILED", startedAt: new Date(Date.now() - 60_000), completedAt: new Date() });
    expect(await transition<QueueItem>(prisma(), QUEUE_ITEM_KIND, { id: kept.id, from: "FAILED", to: "PENDING", reason: "test" })).toMatchObject({ completedAt: null, startedAt: kept.startedAt });
  });
});

describe("a requested stop", () => {
  it("wins over a retry or a rate-limit wait written by the item's worker after it: the item ends CANCELLED", async () => {
    for (const to of ["PENDING", "WAITING"] as const) {
      const row = await item({ status: "RUNNING", leaseOwner: "w/1", leaseAt: new Date(), attempts: 1 });
      await prisma().$executeRaw`UPDATE "QueueItem" SET "cancelRequested" = true WHERE id = ${row.id}`;
      // The runner's own statement, with the outcome its worker wrote after the cancel: a retry, or a rate limit.
      const outcome = { id: row.id, owner: "w/1", to, reason: to === "PENDING" ? "attempt 1 of 3 failed; retrying in 50 ms" : "Rate limited", result: null, error: "x", delayMs: 60_000, attemptsBack: 0 };
      await moveWork(prisma(), QUEUE_ITEM_KIND, endAndClaim(queueRunnable, [outcome], null));
      expect(await reload(row.id)).toMatchObject({ status: "CANCELLED", cancelRequested: false, leaseOwner: null });
      const [event] = await statusEvents("QUEUE_ITEM", row.id);
      expect((event.payload as { reason: string }).reason).toBe(`cancelled on request (instead of: ${outcome.reason})`);
    }
  });

  it("wins over an import's rate-limit wait: it ends PAUSED, and a cancel over a hand-over ends CANCELLED", async () => {
    const running = (flag: "pauseRequested" | "cancelRequested") =>
      prisma().import.create({
        data: { name: "stop", source: "http-json", dataset: "stop", config: {}, configKey: `stop-${flag}`, checkpointEvery: 1, status: "RUNNING", leaseOwner: "a/1", leaseAt: new Date(), [flag]: true },
      });
    const paused = await running("pauseRequested");
    await prisma().$transaction((tx) => moveRun(tx, importer, paused.id, "a/1", { to: "WAITING", reason: "Rate limited by the upstream", resumeInMs: 60_000 }));
    expect(await prisma().import.findUniqueOrThrow({ where: { id: paused.id } })).toMatchObject({ status: "PAUSED", pauseRequested: false });
    const cancelled = await running("cancelRequested");
    await prisma().$transaction((tx) => moveRun(tx, importer, cancelled.id, "a/1", { to: "PENDING", reason: "worker shutting down; handed over" }));
    expect(await prisma().import.findUniqueOrThrow({ where: { id: cancelled.id } })).toMatchObject({ status: "CANCELLED", cancelRequested: false });
  });
});

describe("leases", () => {
  it("are renewed on the database's clock, whatever the session's time zone", async () => {
    const row = await item({ status: "RUNNING", leaseOwner: "w/tz", leaseAt: new Date(Date.now() - 5000) });
    await prisma().$transaction(async (tx) => {
      await tx.$executeRawUnsafe(`SET LOCAL TIME ZONE 'Pacific/Kiritimati'`); // UTC+14
      await renewLeases(tx, QUEUE_ITEM_KIND, [{ id: row.id, owner: "w/tz" }]);
    });
    expect(Math.abs((await reload(row.id)).leaseAt!.getTime() - Date.now())).toBeLessThan(2000);
  });

  it("are renewed only by their owner: a worker whose work was taken over renews nothing, and learns it lost the row", async () => {
    const row = await item({ status: "RUNNING", leaseOwner: "w/new", leaseAt: new Date(Date.now() - 5000) });
    const stale = await renewLeases(prisma(), QUEUE_ITEM_KIND, [{ id: row.id, owner: "w/old" }]);
    expect(stale.size).toBe(0);
    expect((await reload(row.id)).leaseAt!.getTime()).toBe(row.leaseAt!.getTime());
    expect((await renewLeases(prisma(), QUEUE_ITEM_KIND, [{ id: row.id, owner: "w/new" }])).size).toBe(1);
  });

  it("guard ends by attempt: an end an old attempt still had buffered never ends the row's newer attempt", async () => {
    const row = await item({ status: "RUNNING", leaseOwner: "p/newer", leaseAt: new Date(), attempts: 2 });
    const old = { id: row.id, owner: "p/older", to: "COMPLETED" as const, reason: "done", result: { old: true }, error: null, delayMs: null, attemptsBack: 0 };
    await moveWork(prisma(), QUEUE_ITEM_KIND, endAndClaim(queueRunnable, [old], null));
    expect(await reload(row.id)).toMatchObject({ status: "RUNNING", leaseOwner: "p/newer", result: null });
  });
});

describe("attempts and the sweep", () => {
  it("claims no item whose attempts are spent", async () => {
    const spent = await item({ queue: "spent-queue", status: "PENDING", attempts: 3, maxAttempts: 3 });
    const due = await item({ queue: "spent-queue", status: "PENDING", attempts: 2, maxAttempts: 3 });
    const claimed = await moveWork<QueueItem>(prisma(), QUEUE_ITEM_KIND, { ...queueRunnable.claim(10, ["spent-queue"]), to: "RUNNING", owner: "w/claim", reason: "claimed" });
    expect(claimed.map((row) => row.id)).toEqual([due.id]);
    expect((await reload(spent.id)).status).toBe("PENDING");
  });

  it("gives a dead worker's item back with its attempts, fails it if that was its last, and cancels it if a cancel was asked for", async () => {
    const old = new Date(Date.now() - 60_000);
    const again = await item({ queue: "sweep-queue", status: "RUNNING", leaseOwner: "dead/1", leaseAt: old, attempts: 1 });
    const last = await item({ queue: "sweep-queue", status: "RUNNING", leaseOwner: "dead/2", leaseAt: old, attempts: 3 });
    const cancelled = await item({ queue: "sweep-queue", status: "RUNNING", leaseOwner: "dead/3", leaseAt: old, attempts: 1, cancelRequested: true });
    const live = await item({ queue: "sweep-queue", status: "RUNNING", leaseOwner: "live/1", leaseAt: new Date(), attempts: 1 });
    await prisma().$transaction((tx) => recoverRunnable(tx, queueRunnable));
    expect(await reload(again.id)).toMatchObject({ status: "PENDING", attempts: 1, leaseOwner: null });
    expect(await reload(last.id)).toMatchObject({ status: "FAILED", attempts: 3, error: "its worker stopped responding during its last attempt" });
    expect(await reload(cancelled.id)).toMatchObject({ status: "CANCELLED" });
    expect(await reload(live.id)).toMatchObject({ status: "RUNNING", leaseOwner: "live/1" });
  });

  it("judges no lease right after the database came back, so an outage takes no work from the workers that held it", async () => {
    reportDatabaseError(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" }), "test");
    expect(await waitForDatabase()).toBe(true); // the probe finds it at once
    let judged = 0;
    const sweep = startSweep([{ kind: QUEUE_ITEM_KIND, recover: async () => (judged++, 0) }], logger);
    await new Promise((resolve) => setTimeout(resolve, 300));
    sweep.stop();
    expect(judged).toBe(0);
  });
});

describe("cleanupFailedImports", () => {
  it("never deletes an import resumed while it ran: the status is checked in the statement that deletes", async () => {
    const failed = await prisma().import.create({
      data: { name: "race", source: "http-json", dataset: "race", config: {}, configKey: "race", checkpointEvery: 1, status: "FAILED" },
    });
    await prisma().$executeRaw`UPDATE "Import" SET "updatedAt" = ${new Date(Date.now() - 3 * 86_400_000)} WHERE id = ${failed.id}`;
    // A resume holds the row, uncommitted, while the cleanup starts; it commits while the cleanup waits for the row.
    const resume = new pg.Client({ connectionString: server.databaseUrl });
    await resume.connect();
    try {
      await resume.query("BEGIN");
      await resume.query(`UPDATE "Import" SET status = 'PENDING' WHERE id = $1`, [failed.id]);
      const cleanup = cleanupFailedImports(1);
      await new Promise((resolve) => setTimeout(resolve, 200));
      await resume.query("COMMIT");
      expect(await cleanup).toBe(0);
    } finally {
      await resume.end();
    }
    expect((await prisma().import.findUniqueOrThrow({ where: { id: failed.id } })).status).toBe("PENDING");
  });
});

describe("the engine's boundary", () => {
  /** Assignments of the columns only the engine may write: status, lease, stop flags. */
  const OWNED = /(?:^|,)\s*(?:status|"status"|"leaseOwner"|"leaseAt"|"cancelRequested"|"pauseRequested")\s*=/m;
  /** The SET lists of SQL UPDATEs, and the `set`-like fragments a kind gives the engine's moves and checkpoints. */
  const SET_LISTS = [/UPDATE\s+(?:"?\w+"?|\$\{[^}]*\})(?:\s+\w+)?\s+SET\s+([\s\S]*?)(?=\bFROM\b|\bWHERE\b|\bRETURNING\b|`)/g, /\b(?:set|claimSet)\s*:\s*Prisma\.sql`([^`]*)`/g, /\bfailed\s*:\s*\([^)]*\)\s*=>\s*Prisma\.sql`([^`]*)`/g];
  /** Prisma client writes whose data names those columns. */
  const CLIENT_WRITES = /\.(?:update|updateMany|upsert)\(\s*\{[\s\S]*?\b(?:data|update)\s*:\s*\{[^}]*\b(?:status|leaseOwner|leaseAt|cancelRequested|pauseRequested)\s*:/;
  const writesOwned = (text: string) => CLIENT_WRITES.test(text) || SET_LISTS.some((list) => [...text.matchAll(list)].some((match) => OWNED.test(match[1])));

  function sources(dir: string): string[] {
    return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return entry.name === "generated" ? [] : sources(path);
      return path.endsWith(".ts") ? [path] : [];
    });
  }

  it("no statement outside src/engine writes a status, a lease or a stop flag", () => {
    const all = sources("src");
    const outside = all.filter((path) => !path.startsWith(join("src", "engine")));
    expect(outside.filter((path) => writesOwned(readFileSync(path, "utf8")))).toEqual([]);
    // The check finds what it looks for: the engine's own writers, and a write of each form.
    expect(all.filter((path) => path.startsWith(join("src", "engine")) && writesOwned(readFileSync(path, "utf8"))).length).toBeGreaterThanOrEqual(3);
    for (const sample of [
      'await db.$queryRaw`UPDATE "QueueItem" SET error = NULL, status = \'PENDING\' WHERE id = 1`',
      'set: Prisma.sql`"leaseOwner" = NULL`',
      "failed: (reason) => Prisma.sql`\"lastError\" = ${reason}, status = 'FAILED'`",
      'tx.import.update({ where: { id }, data: { pauseRequested: true } })',
    ]) {
      expect(writesOwned(sample), sample).toBe(true);
    }
  });
});
