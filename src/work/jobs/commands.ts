import { Prisma, type Job } from "../../generated/prisma/client.js";
import { prisma } from "../../db/client.js";
import { ConflictError, NotFoundError } from "../../engine/errors.js";
import type { Db } from "../../engine/events.js";
import { lockRow } from "../../engine/lease.js";
import { moveWork } from "../../engine/move.js";
import { FINISHED, IllegalTransitionError, transition } from "../../engine/status.js";
import { notifyWork } from "../../engine/wake.js";
import { JOB_KIND, JOB_STEP_KIND } from "./kind.js";

/** Cancel notices carry at most this many step ids each (a NOTIFY payload holds 8,000 bytes). */
const IDS_PER_NOTICE = 500;

/**
 * Runs a change of a job in a transaction that holds the job's row first:
 * every transaction that changes steps takes their job's lock before the
 * steps' (the step counters' trigger needs it too), so none deadlocks.
 */
async function withJob<T>(id: number, change: (tx: Db, job: Job) => Promise<T>): Promise<T> {
  return prisma().$transaction(async (tx) => {
    const job = await lockRow<Job>(tx, JOB_KIND, id);
    if (!job) throw new NotFoundError("Job", id);
    return change(tx, job);
  });
}

/** A job created with `start: false` starts: its steps are claimed from now on. Starting a RUNNING job changes nothing. */
export async function startJob(id: number): Promise<Job> {
  return withJob(id, async (tx, job) => {
    if (job.status === "RUNNING") return job;
    if (job.status !== "PENDING") throw new IllegalTransitionError(JOB_KIND.subject, id, job.status, "RUNNING");
    const started = await transition<Job>(tx, JOB_KIND, { id, from: "PENDING", to: "RUNNING", reason: "started on request" });
    await notifyWork(tx, { queue: job.kind });
    return started;
  });
}

/**
 * Cancels a job: it is CANCELLED, its PENDING and WAITING steps too, and its
 * RUNNING steps are told to stop. The notice reaches every worker process at
 * commit and each aborts its steps through their AbortSignal; a worker that
 * misses it sees the flag at its next lease renewal (a second), and a dead
 * worker's steps end CANCELLED at the crash sweep. The steps' ends are
 * written by their workers, so "none RUNNING" means no processor runs.
 */
export async function cancelJob(id: number): Promise<Job> {
  return withJob(id, async (tx, job) => {
    if (job.status === "CANCELLED") return job;
    if (FINISHED.includes(job.status)) throw new IllegalTransitionError(JOB_KIND.subject, id, job.status, "CANCELLED");
    const reason = "the job was cancelled";
    await moveWork(tx, JOB_STEP_KIND, {
      picked: Prisma.sql`SELECT id, status FROM "JobStep" WHERE "jobId" = ${id} AND status IN ('PENDING', 'WAITING', 'PAUSED') FOR UPDATE`,
      to: "CANCELLED",
      reason,
    });
    const running = await tx.$queryRaw<{ id: number }[]>`
      UPDATE "JobStep" SET "cancelRequested" = true WHERE "jobId" = ${id} AND status = 'RUNNING' RETURNING id`;
    for (let start = 0; start < running.length; start += IDS_PER_NOTICE) {
      await notifyWork(tx, { cancel: { kind: JOB_STEP_KIND.subject, ids: running.slice(start, start + IDS_PER_NOTICE).map((step) => step.id) } });
    }
    const why = running.length ? `cancelled on request; aborting ${running.length} running step${running.length === 1 ? "" : "s"}` : "cancelled on request";
    return transition<Job>(tx, JOB_KIND, { id, from: job.status, to: "CANCELLED", reason: why });
  });
}

/**
 * Runs a finished job's FAILED and CANCELLED steps again (attempts reset)
 * and reopens the job: PENDING, then RUNNING, as a new job would go. A job
 * with no such step is a CONFLICT, as is one not finished.
 */
export async function retryJob(id: number): Promise<Job> {
  return withJob(id, async (tx, job) => {
    if (!FINISHED.includes(job.status)) throw new IllegalTransitionError(JOB_KIND.subject, id, job.status, "PENDING");
    const retried = await moveWork(tx, JOB_STEP_KIND, {
      picked: Prisma.sql`SELECT id, status FROM "JobStep" WHERE "jobId" = ${id} AND status IN ('FAILED', 'CANCELLED') FOR UPDATE`,
      to: "PENDING",
      reason: "retried with its job",
      set: Prisma.sql`attempts = 0, error = NULL, result = NULL, "runAfter" = ${new Date()}`,
    });
    if (retried.length === 0) throw new ConflictError(`Job ${id} has no FAILED or CANCELLED step to retry`);
    await transition<Job>(tx, JOB_KIND, { id, from: job.status, to: "PENDING", reason: `retrying ${retried.length} step${retried.length === 1 ? "" : "s"}` });
    const reopened = await transition<Job>(tx, JOB_KIND, { id, from: "PENDING", to: "RUNNING", reason: "started again" });
    await notifyWork(tx, { queue: job.kind });
    return reopened;
  });
}

/**
 * Ends the RUNNING jobs among these whose steps have all ended: FAILED when
 * every step failed, COMPLETED otherwise (with the failures counted). Runs
 * in the transaction that ended the steps, so a job ends with its last step.
 */
export async function endFinishedJobs(tx: Db, ids: number[]): Promise<void> {
  const done = Prisma.sql`id = ANY(${ids}::int[]) AND status = 'RUNNING' AND "completedSteps" + "failedSteps" + "cancelledSteps" = "totalSteps"`;
  await moveWork(tx, JOB_KIND, {
    picked: Prisma.sql`SELECT id, status FROM "Job" WHERE ${done} AND "failedSteps" = "totalSteps" ORDER BY id FOR UPDATE`,
    to: "FAILED",
    reason: "every step failed",
  });
  await moveWork(tx, JOB_KIND, {
    picked: Prisma.sql`
      SELECT id, status, "completedSteps" || ' of ' || "totalSteps" || ' steps completed, ' || "failedSteps" || ' failed' AS reason
      FROM "Job" WHERE ${done} AND "failedSteps" < "totalSteps" ORDER BY id FOR UPDATE`,
    to: "COMPLETED",
    reason: Prisma.sql`picked.reason`,
  });
}

/** Takes the locks of these jobs in id order, before a transaction changes their steps (see withJob). */
export async function lockJobs(tx: Db, ids: number[]): Promise<void> {
  await tx.$queryRaw`SELECT 1 FROM "Job" WHERE id = ANY(${ids}::int[]) ORDER BY id FOR UPDATE`;
}
