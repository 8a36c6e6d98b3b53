import { sqlStateOf } from "../src/db/sql-state.js";
import { stepRunnable } from "../src/work/jobs/runner.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prisma } from "../src/db/client.js";
import { recordEvent } from "../src/engine/events.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { subscribe } from "./helpers/subscriptions.js";

const PLUGINS = "test/fixtures/test-processors.mjs";
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ MILEPOST_PLUGINS: PLUGINS, RETRY_DELAY_MS: "50", WORKER_CONCURRENCY: "8" });
});
afterAll(() => server?.stop());

type Step = { id: string; number: number; name: string; status: string; attempts: number; result: unknown; error: string | null };
type Job = {
  id: string;
  status: string;
  totalSteps: number;
  completedSteps: number;
  failedSteps: number;
  cancelledSteps: number;
  runningSteps: number;
  progressPercentage: number;
  createdBy: string | null;
  steps: { totalCount: number; edges: { node: Step }[] };
};
const JOB = "id status totalSteps completedSteps failedSteps cancelledSteps runningSteps progressPercentage createdBy";
const STEPS = "steps(first: 500) { totalCount edges { node { id number name status attempts result error } } }";
const CREATE = `mutation($input: CreateJobInput!) { createJob(input: $input) { ${JOB} } }`;

type StepInput = { name: string; input: Record<string, unknown> };
const steps = (count: number, input: Record<string, unknown> = {}): StepInput[] => Array.from({ length: count }, (_, index) => ({ name: `step ${index + 1}`, input: { tag: `s${index + 1}`, ...input } }));

async function createJob(input: Record<string, unknown>, token?: string): Promise<Job> {
  const response = await server.gql<{ createJob: Job }>(CREATE, { input: { kind: "echo", name: "test job", ...input } }, token);
  expect(response.errors).toBeUndefined();
  return response.data!.createJob;
}

async function job(id: string, stepFilter = ""): Promise<Job> {
  const response = await server.gql<{ job: Job }>(`query($id: ID!) { job(id: $id) { ${JOB} ${stepFilter || STEPS} } }`, { id });
  expect(response.errors).toBeUndefined();
  return response.data!.job;
}

async function until(id: string, statuses: string[], timeout = 20_000): Promise<Job> {
  let last: Job | undefined;
  await expect
    .poll(
      async () => {
        last = await job(id);
        return statuses.includes(last.status);
      },
      { timeout, interval: 50 },
    )
    .toBe(true);
  return last!;
}

/** The truth a job's counters must equal: its steps' rows. */
async function counted(id: string) {
  const rows = await prisma().jobStep.groupBy({ by: ["status"], where: { jobId: Number(id) }, _count: { _all: true } });
  const of = (status: string) => rows.find((row) => row.status === status)?._count._all ?? 0;
  return { completedSteps: of("COMPLETED"), failedSteps: of("FAILED"), cancelledSteps: of("CANCELLED"), runningSteps: of("RUNNING") };
}

describe("a job of steps", () => {
  it("runs every step, keeps each one's result or error, retries a failing step with backoff, and ends COMPLETED with its failures counted", async () => {
    const created = await createJob({
      steps: [
        { name: "plain", input: { n: 1 } },
        { name: "flaky", input: { failTimes: 1 } },
        { name: "hopeless", input: { failTimes: 9 } },
        { name: "doomed", input: { permanent: true } },
        { name: "last", input: { n: 5 } },
      ],
      maxRetries: 2,
      config: { concurrency: 2 },
    });
    expect(created).toMatchObject({ status: "RUNNING", totalSteps: 5, completedSteps: 0, createdBy: expect.any(String) });
    const done = await until(created.id, ["COMPLETED", "FAILED"]);
    expect(done).toMatchObject({ status: "COMPLETED", completedSteps: 3, failedSteps: 2, cancelledSteps: 0, runningSteps: 0, progressPercentage: 100 });
    const byName = Object.fromEntries(done.steps.edges.map((edge) => [edge.node.name, edge.node]));
    expect(byName.plain).toMatchObject({ status: "COMPLETED", attempts: 1, error: null, result: { echoed: { n: 1 }, attempt: 1 } });
    expect(byName.flaky).toMatchObject({ status: "COMPLETED", attempts: 2, result: { attempt: 2 } });
    expect(byName.hopeless).toMatchObject({ status: "FAILED", attempts: 3, result: null, error: expect.stringContaining("attempt 3 fails on purpose") });
    expect(byName.doomed).toMatchObject({ status: "FAILED", attempts: 1, error: "this input can never work" });
    expect(await counted(created.id)).toMatchObject({ completedSteps: 3, failedSteps: 2 });

    const failed = await job(created.id, `steps(status: [FAILED]) { totalCount edges { node { name } } }`);
    expect(failed.steps.edges.map((edge) => edge.node.name)).toEqual(["hopeless", "doomed"]);
    const events = await prisma().event.findMany({ where: { subjectKind: "JOB", subjectId: Number(created.id), kind: "STATUS" }, orderBy: { id: "asc" } });
    expect(events.map((event) => event.payload)).toEqual([
      expect.objectContaining({ from: null, to: "RUNNING", reason: "created with 5 steps" }),
      expect.objectContaining({ from: "RUNNING", to: "COMPLETED", reason: "3 of 5 steps completed, 2 failed" }),
    ]);
    const stepEvents = await prisma().event.count({ where: { subjectKind: "JOB_STEP", subjectId: Number(byName.hopeless.id), kind: "STATUS" } });
    expect(stepEvents).toBe(6); // RUNNING, PENDING (backoff), RUNNING, PENDING, RUNNING, FAILED
  });

  it("ends FAILED only when every step failed", async () => {
    const created = await createJob({ steps: steps(3, { permanent: true }), config: { concurrency: 3 } });
    expect(await until(created.id, ["COMPLETED", "FAILED"])).toMatchObject({ status: "FAILED", failedSteps: 3, completedSteps: 0 });
  });

  it("starts steps in order (up to what runs at once) and never runs more at once than the job's concurrency", async () => {
    const created = await createJob({ steps: steps(8, { sleepMs: 150 }), config: { concurrency: 3 } });
    let most = 0;
    for (;;) {
      const truth = await counted(created.id);
      most = Math.max(most, truth.runningSteps);
      if (truth.completedSteps === 8) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(most).toBe(3);
    // In order, up to what runs at once: steps claimed together share a start time, and two claims may interleave.
    const starts = await prisma().jobStep.findMany({ where: { jobId: Number(created.id) }, orderBy: [{ startedAt: "asc" }, { number: "asc" }], select: { number: true } });
    expect(starts).toHaveLength(8);
    starts.forEach((step, position) => expect(Math.abs(step.number - 1 - position), `step ${step.number} started ${position + 1}th`).toBeLessThan(3));
  });

  it("with start: false waits for startJob", async () => {
    const created = await createJob({ steps: steps(2), start: false });
    expect(created.status).toBe("PENDING");
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect((await job(created.id)).completedSteps).toBe(0);
    const started = await server.gql<{ startJob: Job }>(`mutation($id: ID!) { startJob(id: $id) { status } }`, { id: created.id });
    expect(started.data!.startJob.status).toBe("RUNNING");
    expect(await until(created.id, ["COMPLETED"])).toMatchObject({ completedSteps: 2 });
    const again = await server.gql(`mutation($id: ID!) { startJob(id: $id) { status } }`, { id: created.id });
    expect(again.errors?.[0].extensions).toMatchObject({ code: "CONFLICT", from: "COMPLETED" });
  });

  it("cancels mid-run: running steps aborted through their signal, pending ones CANCELLED, none left RUNNING; retryJob runs them again", async () => {
    const created = await createJob({ steps: steps(6, { sleepMs: 30_000 }), config: { concurrency: 2 } });
    await expect.poll(async () => (await counted(created.id)).runningSteps, { timeout: 10_000 }).toBe(2);
    const cancelledAt = Date.now();
    const cancel = await server.gql<{ cancelJob: Job & { comments: unknown[] } }>(`mutation($id: ID!) { cancelJob(id: $id) { ${JOB} steps(first: 1) { totalCount } comments { body } } }`, { id: created.id });
    expect(cancel.errors).toBeUndefined();
    expect(cancel.data!.cancelJob).toMatchObject({ status: "CANCELLED", steps: { totalCount: 6 }, comments: [] }); // relations load from the row the command returns
    await expect.poll(async () => (await counted(created.id)).runningSteps, { timeout: 1000, interval: 20 }).toBe(0);
    expect(Date.now() - cancelledAt).toBeLessThan(1000);
    expect(await job(created.id)).toMatchObject({ status: "CANCELLED", cancelledSteps: 6, runningSteps: 0, completedSteps: 0 });
    const aborted = await prisma().event.findMany({ where: { subjectKind: "JOB_STEP", kind: "LOG", payload: { path: ["message"], string_starts_with: "aborted: stopped: cancel" } } });
    expect(new Set(aborted.map((event) => event.subjectId)).size).toBe(2);

    // The retry runs the cancelled steps, quick ones now that the input is what it is: they sleep again, so cut them short by cancelling the retry too.
    const retried = await server.gql<{ retryJob: Job }>(`mutation($id: ID!) { retryJob(id: $id) { status cancelledSteps } }`, { id: created.id });
    expect(retried.errors).toBeUndefined();
    expect(retried.data!.retryJob).toEqual({ status: "RUNNING", cancelledSteps: 0 });
    await expect.poll(async () => (await counted(created.id)).runningSteps, { timeout: 10_000 }).toBe(2);
    const steps1 = await prisma().jobStep.findMany({ where: { jobId: Number(created.id), status: "RUNNING" } });
    expect(steps1.map((step) => step.attempts)).toEqual([1, 1]); // attempts reset by the retry
    await server.gql(`mutation($id: ID!) { cancelJob(id: $id) { status } }`, { id: created.id });
    await expect.poll(async () => (await counted(created.id)).runningSteps, { timeout: 1000, interval: 20 }).toBe(0);
  });

  it("retryJob runs the FAILED steps of a finished job again and reopens it; a job with none is a CONFLICT", async () => {
    const created = await createJob({ steps: [...steps(2), { name: "fails twice", input: { failTimes: 2 } }], maxRetries: 0, config: { concurrency: 3 } });
    const first = await until(created.id, ["COMPLETED"]);
    expect(first).toMatchObject({ completedSteps: 2, failedSteps: 1 });
    // attempt 1 of the retry is the step's attempt 1 again (attempts reset), which fails again on purpose; so retry twice.
    for (const _ of [1, 2]) {
      const retry = await server.gql<{ retryJob: { status: string } }>(`mutation($id: ID!) { retryJob(id: $id) { status } }`, { id: created.id });
      expect(retry.errors).toBeUndefined();
      await until(created.id, ["COMPLETED"]);
    }
    const events = await prisma().event.findMany({ where: { subjectKind: "JOB", subjectId: Number(created.id), kind: "STATUS" }, orderBy: { id: "asc" } });
    expect(events.map((event) => (event.payload as { to: string }).to)).toEqual(["RUNNING", "COMPLETED", "PENDING", "RUNNING", "COMPLETED", "PENDING", "RUNNING", "COMPLETED"]);
    const done = await job(created.id);
    expect(done).toMatchObject({ failedSteps: 1, completedSteps: 2 }); // fails every first attempt: maxRetries 0
    const none = await createJob({ steps: steps(1) });
    await until(none.id, ["COMPLETED"]);
    const conflict = await server.gql(`mutation($id: ID!) { retryJob(id: $id) { status } }`, { id: none.id });
    expect(conflict.errors?.[0].extensions?.code).toBe("CONFLICT");
    expect(conflict.errors?.[0].message).toMatch(/no FAILED or CANCELLED step/);
  });

  it("keeps every job's counters exact and never deadlocks while jobs are cancelled and retried as their steps end", async () => {
    const deadlocks = async () => (await prisma().$queryRaw<{ deadlocks: number }[]>`SELECT deadlocks::int FROM pg_stat_database WHERE datname = current_database()`)[0].deadlocks;
    const before = await deadlocks();
    // 150 steps of 30 ms, 8 at once: about 600 ms each, so the cancels land mid-run however fast the machine.
    const jobs = await Promise.all([1, 2, 3, 4].map(() => createJob({ steps: steps(150, { sleepMs: 30 }), config: { concurrency: 8 } })));
    await new Promise((resolve) => setTimeout(resolve, 150));
    for (const created of jobs.slice(0, 2)) {
      expect((await server.gql(`mutation($id: ID!) { cancelJob(id: $id) { status } }`, { id: created.id })).errors).toBeUndefined();
    }
    for (const created of jobs.slice(0, 2)) {
      await expect.poll(async () => (await counted(created.id)).runningSteps, { timeout: 2000 }).toBe(0);
      expect((await server.gql(`mutation($id: ID!) { retryJob(id: $id) { status } }`, { id: created.id })).errors).toBeUndefined();
    }
    for (const created of jobs) {
      const done = await until(created.id, ["COMPLETED"], 30_000);
      expect(done).toMatchObject({ completedSteps: 150, failedSteps: 0, cancelledSteps: 0, runningSteps: 0 });
      expect(await counted(created.id)).toEqual({ completedSteps: 150, failedSteps: 0, cancelledSteps: 0, runningSteps: 0 });
    }
    expect(await deadlocks()).toBe(before);
  });


  it("takes cancelJob and retryJob of one job in turn: a retry that reopens a job between the cancel's two halves keeps its steps", async () => {
    for (let round = 0; round < 8; round++) {
      // Two steps fail at once; two run a while: a cancel has running steps to stop, and a retry FAILED steps to run again.
      const created = await createJob({
        steps: [...steps(2, { permanent: true }), ...steps(2, { sleepMs: 1500 })].map((step, n) => ({ ...step, name: `step ${n + 1}` })),
        config: { concurrency: 4 },
        maxRetries: 0,
      });
      await expect.poll(async () => (await job(created.id)).failedSteps + (await job(created.id)).runningSteps, { timeout: 10_000 }).toBe(4);
      const cancel = server.gql<{ cancelJob: Job }>(`mutation($id: ID!) { cancelJob(id: $id) { status } }`, { id: created.id });
      await new Promise((resolve) => setTimeout(resolve, round * 3)); // the retry lands ever later into the cancel
      const retry = await server.gql<{ retryJob: Job }>(`mutation($id: ID!) { retryJob(id: $id) { status } }`, { id: created.id });
      await cancel;
      const settled = await until(created.id, ["COMPLETED", "FAILED", "CANCELLED"]);
      const stepIds = (await prisma().jobStep.findMany({ where: { jobId: Number(created.id) }, select: { id: true } })).map((step) => step.id);
      const events = await prisma().event.findMany({ where: { kind: "STATUS", OR: [{ subjectKind: "JOB", subjectId: Number(created.id) }, { subjectKind: "JOB_STEP", subjectId: { in: stepIds } }] }, orderBy: { id: "asc" } });
      const reopened = events.find((event) => event.subjectKind === "JOB" && (event.payload as { reason: string }).reason === "started again");
      if (retry.data?.retryJob) {
        // The retry came after the cancel: the job runs again, and nothing of the cancel stops the steps it reopened.
        expect(reopened, `round ${round}`).toBeDefined();
        const cancelledAfter = events.filter((event) => event.id > reopened!.id && (event.payload as { reason: string }).reason === "the job was cancelled");
        expect(cancelledAfter, `round ${round}`).toEqual([]);
        expect(settled.status, `round ${round}`).not.toBe("CANCELLED");
      } else {
        // The retry came first (the job was still running: CONFLICT): the cancel holds.
        expect(retry.errors?.[0].extensions?.code, `round ${round}`).toBe("CONFLICT");
        expect(settled.status, `round ${round}`).toBe("CANCELLED");
      }
    }
  }, 90_000);

  it("keeps counters in the statement that moves steps, whatever runs it: per job, never over the concurrency, never a claim for a stopped job", async () => {
    // Created not started, so no worker touches them: every change below is this test's own statement.
    const [first, second] = await Promise.all([1, 2].map(() => createJob({ steps: steps(4), config: { concurrency: 2 }, start: false })));
    const ids = [Number(first.id), Number(second.id)];
    await prisma().job.updateMany({ where: { id: { in: ids } }, data: { status: "RUNNING" } });
    const claim = (jobId: number, count: number) =>
      prisma().$executeRaw`UPDATE "JobStep" SET status = 'RUNNING', "startedAt" = now() WHERE id IN (SELECT id FROM "JobStep" WHERE "jobId" = ${jobId} AND status = 'PENDING' ORDER BY number LIMIT ${count})`;
    // One statement over both jobs' steps: each job gets its own share.
    await prisma().$executeRaw`UPDATE "JobStep" SET status = 'RUNNING', "startedAt" = now() WHERE "jobId" = ANY(${ids}) AND number = 1`;
    await prisma().$executeRaw`UPDATE "JobStep" SET status = (CASE WHEN "jobId" = ${ids[0]} THEN 'COMPLETED' ELSE 'FAILED' END)::"Status", "completedAt" = now() WHERE "jobId" = ANY(${ids}) AND number = 1`;
    expect(await job(first.id, "steps { totalCount }")).toMatchObject({ completedSteps: 1, failedSteps: 0, runningSteps: 0 });
    expect(await job(second.id, "steps { totalCount }")).toMatchObject({ completedSteps: 0, failedSteps: 1, runningSteps: 0 });
    // A third step at once in a job of concurrency 2: the whole statement fails, and nothing of it is kept.
    // Told apart by SQLSTATE (MPJ01), as the runner does: it claims again.
    expect(sqlStateOf(await claim(ids[0], 3).catch((error: unknown) => error))).toBe("MPJ01");
    expect(stepRunnable.claimConflict!(await claim(ids[0], 3).catch((error: unknown) => error))).toBe(true);
    await claim(ids[0], 2);
    expect(await counted(first.id)).toEqual({ completedSteps: 1, failedSteps: 0, cancelledSteps: 0, runningSteps: 2 });
    expect(await job(first.id, "steps { totalCount }")).toMatchObject({ runningSteps: 2 });
    // A claim for a job no longer RUNNING fails; a step of it may still end.
    await prisma().job.update({ where: { id: ids[1] }, data: { status: "CANCELLED" } });
    expect(sqlStateOf(await claim(ids[1], 1).catch((error: unknown) => error))).toBe("MPJ02");
    await prisma().$executeRaw`UPDATE "JobStep" SET status = 'CANCELLED' WHERE "jobId" = ${ids[1]} AND status = 'PENDING'`;
    expect(await job(second.id, "steps { totalCount }")).toMatchObject({ failedSteps: 1, cancelledSteps: 3, runningSteps: 0 });
    expect(await counted(second.id)).toEqual({ completedSteps: 0, failedSteps: 1, cancelledSteps: 3, runningSteps: 0 });
    // Its steps were claimed by hand, under no lease: ended here, so no sweep runs the job after this test.
    await prisma().$executeRaw`UPDATE "JobStep" SET status = 'CANCELLED' WHERE "jobId" = ${ids[0]} AND status IN ('RUNNING', 'PENDING')`;
    await prisma().job.update({ where: { id: ids[0] }, data: { status: "CANCELLED" } });
  });
  it("refuses bad input with BAD_USER_INPUT before anything is written", async () => {
    const before = await prisma().job.count();
    const cases: [Record<string, unknown>, string[]][] = [
      [{ steps: [] }, ["input.steps"]],
      [{ steps: steps(10_001) }, ["input.steps"]],
      [{ kind: "nope", steps: steps(1) }, ["input.kind"]],
      [{ steps: [{ name: "ok", input: {} }, { name: "bad", input: { n: "x" } }, { name: "unlucky", input: { n: 13 } }] }, ["input.steps.1.input.n", "input.steps.2.input"]],
      [{ steps: steps(1), config: { concurrency: 33 } }, ["input.config.concurrency"]],
      [{ steps: steps(1), maxRetries: -1 }, ["input.maxRetries"]],
      [{ steps: [{ name: "  ", input: {} }] }, ["input.steps.0.name"]],
    ];
    for (const [input, fields] of cases) {
      const response = await server.gql(CREATE, { input: { kind: "echo", name: "bad", ...input } });
      expect(response.errors?.[0].extensions, JSON.stringify(input).slice(0, 100)).toMatchObject({ code: "BAD_USER_INPUT", fields });
    }
    expect(await prisma().job.count()).toBe(before);
    for (const id of ["0", "-1", "abc", "99999999999"]) {
      const response = await server.gql(`mutation($id: ID!) { cancelJob(id: $id) { id } }`, { id });
      expect(["BAD_USER_INPUT", "NOT_FOUND"]).toContain(response.errors?.[0].extensions?.code);
    }
  });
});

describe("jobUpdated", () => {
  it("pushes the job as its steps end, and never shows a counter above the truth", async () => {
    const created = await createJob({ steps: steps(40, { sleepMs: 80 }), config: { concurrency: 4 }, start: false });
    const live = subscribe<{ jobUpdated: Job }>(server.ws(), `subscription($id: ID!) { jobUpdated(id: $id) { ${JOB} } }`, { id: created.id });
    expect((await live.next()).jobUpdated).toMatchObject({ status: "PENDING", completedSteps: 0 });
    await server.gql(`mutation($id: ID!) { startJob(id: $id) { id } }`, { id: created.id });
    const seen: Job[] = [];
    for (;;) {
      const update = (await live.next()).jobUpdated;
      const truth = await counted(created.id); // read after the update was sent: counters only grow in this run
      expect(update.completedSteps).toBeLessThanOrEqual(truth.completedSteps);
      expect(update.progressPercentage).toBeCloseTo((100 * (update.completedSteps + update.failedSteps)) / 40);
      seen.push(update);
      if (update.status === "COMPLETED") break;
    }
    await live.close();
    expect(seen.length).toBeGreaterThan(2);
    expect(seen.map((update) => update.completedSteps)).toEqual([...seen.map((update) => update.completedSteps)].sort((a, b) => a - b));
    expect(seen.at(-1)).toMatchObject({ completedSteps: 40, progressPercentage: 100, runningSteps: 0 });
  });
});

describe("comments", () => {
  const ADD = `mutation($jobId: ID!, $body: String!) { addComment(jobId: $jobId, body: $body) { id author body jobId } }`;
  const DELETE = `mutation($id: ID!) { deleteComment(id: $id) { id body } }`;
  async function token(name: string, role: string): Promise<string> {
    const created = await server.gql<{ createApiToken: { token: string } }>(`mutation($name: String!, $role: Role!) { createApiToken(name: $name, role: $role) { token } }`, { name, role });
    return created.data!.createApiToken.token;
  }

  it("are written by a token's name, listed oldest first, deleted by their author or an ADMIN only, and refuse bad bodies", async () => {
    const created = await createJob({ steps: steps(1) });
    const alice = await token("alice", "OPERATOR");
    const bob = await token("bob", "OPERATOR");
    const first = await server.gql<{ addComment: { id: string; author: string; body: string } }>(ADD, { jobId: created.id, body: "  looks slow today  " }, alice);
    expect(first.data!.addComment).toMatchObject({ author: "alice", body: "looks slow today" });
    const second = await server.gql<{ addComment: { id: string } }>(ADD, { jobId: created.id, body: "second" }, bob);
    const listed = await server.gql<{ job: { comments: { author: string; body: string }[] } }>(`query($id: ID!) { job(id: $id) { comments { author body } } }`, { id: created.id });
    expect(listed.data!.job.comments).toEqual([
      { author: "alice", body: "looks slow today" },
      { author: "bob", body: "second" },
    ]);
    const logged = await prisma().event.findMany({ where: { subjectKind: "JOB", subjectId: Number(created.id), kind: "LOG" } });
    expect(logged.map((event) => (event.payload as { message: string }).message)).toContain(`alice commented (comment ${first.data!.addComment.id})`);
    // A log line of an older version, which held the text, goes with the comment too.
    await recordEvent(prisma(), { kind: "LOG", subjectKind: "JOB", subjectId: Number(created.id), level: "INFO", message: "alice commented: looks slow today" });

    const forbidden = await server.gql(DELETE, { id: first.data!.addComment.id }, bob);
    expect(forbidden.errors?.[0].extensions?.code).toBe("FORBIDDEN");
    // A comment is its author's token's, not its author's name's: another token called "alice" may not delete it.
    const namesake = await server.gql(DELETE, { id: first.data!.addComment.id }, await token("alice", "OPERATOR"));
    expect(namesake.errors?.[0].extensions?.code).toBe("FORBIDDEN");
    const viewer = await server.gql(DELETE, { id: first.data!.addComment.id }, await token("carol", "VIEWER"));
    expect(viewer.errors?.[0].extensions?.code).toBe("FORBIDDEN");
    expect((await server.gql(DELETE, { id: first.data!.addComment.id }, alice)).errors).toBeUndefined();
    const remaining = await prisma().event.findMany({ where: { subjectKind: "JOB", subjectId: Number(created.id) } });
    expect(JSON.stringify(remaining.map((event) => event.payload))).not.toContain("looks slow today");
    expect((await server.gql(DELETE, { id: second.data!.addComment.id })).errors).toBeUndefined(); // the admin token
    expect((await server.gql(DELETE, { id: second.data!.addComment.id })).errors?.[0].extensions?.code).toBe("NOT_FOUND");

    // Shown in terminals and on the dashboard, a comment is cleaned as a page title is: no ANSI escapes, no bidi overrides.
    const cleaned = await server.gql<{ addComment: { id: string; body: string } }>(ADD, { jobId: created.id, body: "\u001b[2Jred \u001b]0;owned\u0007\u202eevil\u202c\nline two" });
    expect(cleaned.data!.addComment.body).toBe("[2Jred  ]0;owned  evil\nline two");
    expect((await server.gql(DELETE, { id: cleaned.data!.addComment.id })).errors).toBeUndefined();
    for (const body of ["", "   ", "\u001b\u0007", "x".repeat(10_001), "nul\u0000here"]) {
      const response = await server.gql(ADD, { jobId: created.id, body });
      expect(["BAD_USER_INPUT"]).toContain(response.errors?.[0].extensions?.code);
    }
    expect((await server.gql(ADD, { jobId: "987654", body: "hi" })).errors?.[0].extensions?.code).toBe("NOT_FOUND");
    expect(await prisma().comment.count({ where: { jobId: Number(created.id) } })).toBe(0);
  });
});

describe("jobs and jobStats", () => {
  it("filter by status and kind, page newest first, and count per kind", async () => {
    const done = await createJob({ steps: steps(3, { sleepMs: 30 }), config: { concurrency: 3 } });
    await until(done.id, ["COMPLETED"]);
    const waiting = await createJob({ steps: steps(1), start: false });
    const pending = await server.gql<{ jobs: { totalCount: number; edges: { node: { id: string } }[] } }>(`{ jobs(status: [PENDING], kind: "echo") { totalCount edges { node { id } } } }`);
    expect(pending.data!.jobs.edges.map((edge) => edge.node.id)).toContain(waiting.id);
    expect(pending.data!.jobs.edges.map((edge) => edge.node.id)).not.toContain(done.id);
    const none = await server.gql<{ jobs: { totalCount: number } }>(`{ jobs(kind: "http-check") { totalCount } }`);
    expect(none.data!.jobs.totalCount).toBe(0);
    const page = await server.gql<{ jobs: { edges: { cursor: string; node: { id: string } }[]; pageInfo: { hasNextPage: boolean } } }>(`{ jobs(first: 2) { edges { cursor node { id } } pageInfo { hasNextPage } } }`);
    const next = await server.gql<{ jobs: { edges: { node: { id: string } }[] } }>(`query($after: String) { jobs(first: 2, after: $after) { edges { node { id } } } }`, { after: page.data!.jobs.edges[1].cursor });
    const ids = [...page.data!.jobs.edges, ...next.data!.jobs.edges].map((edge) => Number(edge.node.id));
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    expect(page.data!.jobs.pageInfo.hasNextPage).toBe(true);

    // Jobs of earlier tests may still be ending: the stats and the truth are read once nothing runs.
    await expect.poll(() => prisma().job.count({ where: { kind: "echo", status: "RUNNING" } }), { timeout: 20_000 }).toBe(0);
    const stats = await server.gql<{ jobStats: { total: number; pending: number; completed: number; byKind: { kind: string; jobs: number; stepsCompleted: number; stepsFailed: number; averageStepSeconds: number; stepsLast24h: number }[] } }>(
      `{ jobStats { total pending completed failed cancelled running byKind { kind jobs stepsCompleted stepsFailed averageStepSeconds stepsLast24h } } }`,
    );
    expect(stats.errors).toBeUndefined();
    const truth = await prisma().job.aggregate({ where: { kind: "echo" }, _count: { _all: true }, _sum: { completedSteps: true, failedSteps: true } });
    const echo = stats.data!.jobStats.byKind.find((row) => row.kind === "echo")!;
    expect(echo).toMatchObject({ jobs: truth._count._all, stepsCompleted: truth._sum.completedSteps, stepsFailed: truth._sum.failedSteps });
    expect(echo.stepsLast24h).toBe(await prisma().jobStep.count({ where: { kind: "echo", status: { in: ["COMPLETED", "FAILED"] } } }));
    // Per ended step: the steps COMPLETED or FAILED now, each once (a retried step's earlier run is not counted again).
    const [ended] = await prisma().$queryRaw<{ average: number }[]>`
      SELECT avg(extract(epoch FROM "completedAt" - "startedAt"))::float8 AS average FROM "JobStep" WHERE kind = 'echo' AND status IN ('COMPLETED', 'FAILED')`;
    expect(echo.averageStepSeconds).toBeGreaterThan(0);
    expect(echo.averageStepSeconds).toBeCloseTo(ended.average, 6);
    expect(stats.data!.jobStats.pending).toBeGreaterThanOrEqual(1);
    expect(stats.data!.jobStats.total).toBe(await prisma().job.count());
  });
});
