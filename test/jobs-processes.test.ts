import { expect, it } from "vitest";
import { prisma } from "../src/db/client.js";
import { spawnService } from "./helpers/process.js";
import { apiForWorkerProcesses } from "./helpers/server.js";

const { api: server, workerEnv } = apiForWorkerProcesses("test/fixtures/test-processors.mjs");

async function createJob(count: number, input: Record<string, unknown>, concurrency: number): Promise<number> {
  const steps = Array.from({ length: count }, (_, index) => ({ name: `step ${index + 1}`, input: { tag: String(index), ...input } }));
  const response = await server().gql<{ createJob: { id: string } }>(`mutation($input: CreateJobInput!) { createJob(input: $input) { id } }`, {
    input: { kind: "echo", name: "across processes", steps, config: { concurrency } },
  });
  expect(response.errors).toBeUndefined();
  return Number(response.data!.createJob.id);
}

const running = (jobId: number) => prisma().jobStep.findMany({ where: { jobId, status: "RUNNING" }, select: { id: true, leaseOwner: true, attempts: true } });

/** A job's counters against its steps' rows. */
async function exact(jobId: number) {
  const job = await prisma().job.findUniqueOrThrow({ where: { id: jobId } });
  const rows = await prisma().jobStep.groupBy({ by: ["status"], where: { jobId }, _count: { _all: true } });
  const of = (status: string) => rows.find((row) => row.status === status)?._count._all ?? 0;
  expect({ completed: job.completedSteps, failed: job.failedSteps, cancelled: job.cancelledSteps, running: job.runningSteps }).toEqual({
    completed: of("COMPLETED"),
    failed: of("FAILED"),
    cancelled: of("CANCELLED"),
    running: of("RUNNING"),
  });
  return job;
}

it("cancels a job within a second on every worker process: the running steps' signals fire, none is left RUNNING", async () => {
  const workers = await Promise.all([spawnService(workerEnv()), spawnService(workerEnv())]);
  const jobId = await createJob(10, { sleepMs: 60_000 }, 4);
  await expect.poll(async () => (await running(jobId)).length, { timeout: 10_000 }).toBe(4);
  const owners = new Set((await running(jobId)).map((step) => step.leaseOwner!.split("/")[0]));
  expect(owners.size).toBe(2); // two steps on each worker process (WORKER_CONCURRENCY 2)
  const aborted = (await running(jobId)).map((step) => step.id);

  const cancelledAt = Date.now();
  const cancel = await server().gql<{ cancelJob: { status: string } }>(`mutation($id: ID!) { cancelJob(id: $id) { status } }`, { id: String(jobId) });
  expect(cancel.data!.cancelJob.status).toBe("CANCELLED");
  await expect.poll(async () => (await running(jobId)).length, { timeout: 1000, interval: 10 }).toBe(0);
  const tookMs = Date.now() - cancelledAt;
  expect(tookMs).toBeLessThan(1000);

  const job = await exact(jobId);
  expect(job).toMatchObject({ status: "CANCELLED", cancelledSteps: 10, completedSteps: 0 });
  const logs = await prisma().event.findMany({ where: { subjectKind: "JOB_STEP", subjectId: { in: aborted }, kind: "LOG" } });
  expect(new Set(logs.filter((event) => (event.payload as { message: string }).message === "aborted: stopped: cancel").map((event) => event.subjectId))).toEqual(new Set(aborted));
  for (const worker of workers) expect((await worker.stop()).code).toBe(0);
}, 60_000);

it("gives a killed worker's RUNNING steps back within 30 s with their attempts; the job's counters stay exact and it completes", async () => {
  const killed = await spawnService(workerEnv());
  const jobId = await createJob(4, { sleepMs: 1500 }, 2);
  await expect.poll(async () => (await running(jobId)).length, { timeout: 10_000 }).toBe(2);
  const interrupted = (await running(jobId)).map((step) => step.id);
  expect((await killed.stop("SIGKILL")).signal).toBe("SIGKILL");
  const diedAt = Date.now();
  await exact(jobId); // two RUNNING, and counted as such

  const survivor = await spawnService(workerEnv());
  await expect
    .poll(
      async () => {
        const back = await prisma().event.findMany({ where: { subjectKind: "JOB_STEP", subjectId: { in: interrupted }, kind: "STATUS" } });
        return back.filter((event) => (event.payload as { reason: string }).reason === "its worker stopped responding; to be run again").length;
      },
      { timeout: 30_000, interval: 250 },
    )
    .toBe(2);
  expect(Date.now() - diedAt).toBeLessThan(30_000);
  await expect.poll(async () => (await prisma().job.findUniqueOrThrow({ where: { id: jobId } })).status, { timeout: 20_000 }).toBe("COMPLETED");
  const job = await exact(jobId);
  expect(job).toMatchObject({ completedSteps: 4, failedSteps: 0, runningSteps: 0 });
  const steps = await prisma().jobStep.findMany({ where: { id: { in: interrupted } } });
  expect(steps.map((step) => step.attempts)).toEqual([2, 2]); // the killed attempt counts
  expect((await survivor.stop()).code).toBe(0);
}, 90_000);
