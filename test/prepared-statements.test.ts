import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDemoServer } from "../src/demo/upstream.js";
import { prisma } from "../src/db/client.js";
import { statementNames } from "../src/db/prepared-statements.js";
import { Prisma, type Import } from "../src/generated/prisma/client.js";
import { checkpointStatement } from "../src/engine/checkpointed/checkpoint.js";
import { moveStatement } from "../src/engine/move.js";
import { endAndClaim, endAndClaimStatement } from "../src/engine/runnable.js";
import { staleRunning } from "../src/engine/sweep.js";
import { importer } from "../src/work/imports/importer.js";
import { IMPORT_KIND } from "../src/work/imports/kind.js";
import { emptyUnit } from "../src/work/imports/unit.js";
import { JOB_STEP_KIND } from "../src/work/jobs/kind.js";
import { stepRunnable } from "../src/work/jobs/runner.js";
import { QUEUE_ITEM_KIND } from "../src/work/queue/kind.js";
import { queueRunnable } from "../src/work/queue/runner.js";
import { spawnService } from "./helpers/process.js";
import { apiForWorkerProcesses } from "./helpers/server.js";

describe("statement names", () => {
  it("names a statement the second time its text is seen, by the same name from then on, and by a new one once forgotten", () => {
    const names = statementNames(10);
    const sql = `SELECT id FROM "Job" WHERE id = $1`;
    expect(names.name(sql)).toBe("");
    const second = names.name(sql);
    expect(second).toMatch(/^milepost_0_[\w-]{27}$/);
    expect(names.name(sql)).toBe(second);
    expect(names.name(`SELECT id FROM "Job" WHERE id = $2`)).toBe("");
    names.forget();
    expect([names.name(sql), names.name(sql)]).toEqual(["", second.replace("_0_", "_1_")]);
  });

  it("never names a statement whose result has a `*`, which a migration adding a column would break; count(*) and comments are fine", () => {
    const names = statementNames(10);
    const twice = (sql: string) => (names.name(sql), names.name(sql));
    for (const sql of [`SELECT * FROM "Job"`, `SELECT t.* FROM "Job" t`, `UPDATE "Job" SET x = 1 RETURNING *`, `SELECT a,* FROM t`, `SELECT moved.*\nFROM moved`]) expect(twice(sql), sql).toBe("");
    for (const sql of [`SELECT count(*) FROM "Job"`, `/* why */ SELECT id FROM "Job"`]) expect(twice(sql), sql).not.toBe("");
  });

  it("can name every statement a worker sends over and over: claims and ends of each runnable kind, an import's claim and checkpoint, the stale rule", () => {
    const import_ = { id: 1, checkpointSeq: 3, dataset: "d", pagesDone: 0 } as unknown as Import;
    const unit = { ...emptyUnit({ failureStreak: 0, activeSeconds: 0 }), cursor: { page: 2 }, path: [] };
    const outcome = { id: 1, owner: "o", to: "PENDING" as const, reason: "r", result: null, error: null, delayMs: 50, attemptsBack: 0 };
    const statements: Record<string, string> = {
      "queue claim": moveStatement(QUEUE_ITEM_KIND, endAndClaim(queueRunnable, [], { count: 5, owner: "o", processors: ["echo"] })).sql,
      "queue ends": moveStatement(QUEUE_ITEM_KIND, endAndClaim(queueRunnable, [outcome], null)).sql,
      "step ends and claim": moveStatement(JOB_STEP_KIND, endAndClaim(stepRunnable, [outcome], { count: 5, owner: "o", processors: ["echo"] })).sql,
      "import checkpoint": checkpointStatement(importer, import_, "o", importer.unit(import_, unit)).sql,
      "import claim": moveStatement(IMPORT_KIND, { picked: Prisma.sql`SELECT id, status FROM "Import" WHERE id = 1`, to: "RUNNING", owner: "o", reason: "started", set: importer.claimSet }).sql,
      "stale rows": staleRunning(QUEUE_ITEM_KIND).sql,
    };
    const names = statementNames(100);
    for (const [what, sql] of Object.entries(statements)) expect((names.name(sql), names.name(sql)), what).not.toBe("");
  });

  it("fills the runner's statement templates with exactly the statement it would build afresh", () => {
    const outcomes = [{ id: 7, owner: "p/1", to: "FAILED" as const, reason: "bad \u0000 text", result: { a: 1 }, error: "e", delayMs: null, attemptsBack: 0 }];
    for (const [runnable, kind] of [[queueRunnable, QUEUE_ITEM_KIND], [stepRunnable, JOB_STEP_KIND]] as const) {
      for (const count of [0, 5]) {
        const claim = { count, owner: "p/2", processors: ["echo", "noop"] };
        const fresh = moveStatement(kind, endAndClaim(runnable as never, outcomes, count > 0 ? claim : null));
        const filled = endAndClaimStatement(runnable as never, outcomes, claim);
        // A claim of 0 writes ends only: its owner is unused, as in the fresh one's (no claim, no owner).
        expect([filled.text, filled.values.map((value) => (value === "p/2" && count === 0 ? null : value))]).toEqual([fresh.text, fresh.values]);
      }
    }
  });

  it("names at most `limit` statements per process, and none at 0", () => {
    const names = statementNames(2);
    const named = Array.from({ length: 5 }, (_, index) => `SELECT ${index}`).map((sql) => (names.name(sql), names.name(sql)));
    expect(named.filter(Boolean)).toHaveLength(2);
    const off = statementNames(0);
    expect([off.name("SELECT 1"), off.name("SELECT 1"), off.name("SELECT 1")]).toEqual(["", "", ""]);
  });
});

describe("prepared statements on a running service", () => {
  const { api: server, workerEnv } = apiForWorkerProcesses("test/fixtures/test-processors.mjs");
  let demo: Awaited<ReturnType<typeof startDemoServer>>;
  beforeAll(async () => {
    demo = await startDemoServer({ items: 60, pageSize: 10 });
  });
  afterAll(() => demo?.close());

  /** Queue items, a job's steps and an import, each run to its end. */
  async function runEachKind(round: number) {
    const enqueued = await server().gql<{ enqueue: { added: { id: string }[] } }>(`mutation($input: EnqueueInput!) { enqueue(input: $input) { added { id } } }`, {
      input: { queue: "echo", items: Array.from({ length: 12 }, (_, index) => ({ key: `${round}-${index}`, payload: { n: index } })) },
    });
    const job = await server().gql<{ createJob: { id: string } }>(`mutation($input: CreateJobInput!) { createJob(input: $input) { id } }`, {
      input: { kind: "echo", name: `round ${round}`, steps: Array.from({ length: 12 }, (_, index) => ({ name: `step ${index}`, input: { tag: `s${index}` } })), config: { concurrency: 4 } },
    });
    const started = await server().gql<{ startImport: { id: string } }>(`mutation($input: StartImportInput!) { startImport(input: $input) { id } }`, {
      input: { source: "http-json", name: `round ${round}`, config: { url: `${demo.url}/3/movie/popular`, pagination: { type: "page", param: "page", start: 1, totalPagesPath: "total_pages" }, itemsPath: "results", idPath: "id" } },
    });
    for (const response of [enqueued, job, started]) expect(response.errors).toBeUndefined();
    const ids = enqueued.data!.enqueue.added.map((added) => Number(added.id));
    const ended = async () => ({
      items: (await prisma().queueItem.groupBy({ by: ["status"], where: { id: { in: ids } }, _count: { _all: true } })).map((group) => [group.status, group._count._all]),
      job: (await prisma().job.findUniqueOrThrow({ where: { id: Number(job.data!.createJob.id) } })).status,
      import: (await prisma().import.findUniqueOrThrow({ where: { id: Number(started.data!.startImport.id) } })).status,
    });
    await expect.poll(ended, { timeout: 20_000, interval: 50 }).toEqual({ items: [["COMPLETED", 12]], job: "COMPLETED", import: "COMPLETED" });
  }

  it("prepares what it runs over and over, and keeps running every kind of work through migrations that add a column to its tables or change a column's type", async () => {
    // The worker's claims, ends, leases and checkpoints; this process's polls above.
    const worker = await spawnService({ ...workerEnv(), WORKER_CONCURRENCY: "4", CHECKPOINT_EVERY: "1" });
    try {
      await runEachKind(1);
      // Prepared statements live in the connections that ran them: ask every pooled connection at once.
      const counts = await Promise.all(
        Array.from({ length: 10 }, () => prisma().$queryRaw<{ count: number }[]>`SELECT count(*)::int AS count, pg_sleep(0.05)::text AS slept FROM pg_prepared_statements WHERE name LIKE 'milepost_%'`),
      );
      expect(Math.max(...counts.map(([row]) => row.count))).toBeGreaterThan(0);

      // What a newer version's migration does while this one still runs: no prepared statement returns a `*`, so none notices.
      for (const table of ["QueueItem", "Job", "JobStep", "Import", "Event"]) await prisma().$executeRawUnsafe(`ALTER TABLE "${table}" ADD COLUMN "addedLater" integer`);
      await runEachKind(2);
      await runEachKind(3);
      expect(worker.output()).not.toMatch(/"level":50|cached plan/);

      // A change of a returned column's type does make the prepared statements that return it fail, once: the process
      // forgets its names and prepares them anew, and one that failed outside a transaction is sent again at once.
      for (const table of ["QueueItem", "JobStep", "Import"]) await prisma().$executeRawUnsafe(`ALTER TABLE "${table}" ALTER COLUMN "leaseOwner" TYPE varchar(200)`);
      await runEachKind(4);
      await runEachKind(5);
      expect(worker.output()).not.toMatch(/"level":50|cached plan/);
    } catch (error) {
      throw new Error(`${(error as Error).message}\nthe worker's output:\n${worker.output().slice(-3000)}`);
    } finally {
      await worker.stop();
    }
  }, 60_000);
});
