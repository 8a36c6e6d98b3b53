import { Prisma, type Job } from "../../generated/prisma/client.js";
import { prisma } from "../../db/client.js";
import { ConflictError, NotFoundError } from "../../engine/errors.js";
import type { Db } from "../../engine/events.js";
import { moveWork, transition } from "../../engine/move.js";
import { FINISHED, IllegalTransitionError } from "../../engine/status.js";
import { requestStop } from "../../engine/stop.js";
import { DB_NOW } from "../../engine/clock.js";
import { notifyWork } from "../../engine/wake.js";
import { JOB_KIND, JOB_STEP_KIND } from "./kind.js";

/*
 * Lock order. A statement that changes steps' statuses locks the steps, then
 * (in the step counters' trigger, in id order) their jobs; so does every
 * transaction here: steps first, the job after. The claim too: it reads the
 * job unlocked and its trigger takes the job's row last. Nothing waits in a
 * circle, and claims and ends hold a job's row only from their trigger to
 * their commit, so the workers of one job overlap instead of queuing on it.
 */

async function readJob(db: Db, id: number): Promise<Job> {
  const [job] = await db.$queryRaw<Job[]>`SELECT * FROM "Job" WHERE id = ${id}`;
  if (!job) throw new NotFoundError("Job", id);
  return job;
}

/** A job created with `start: false` starts: its steps are claimed from now on. Starting a RUNNING job changes nothing. */
export async function startJob(id: number): Promise<Job> {
  return prisma().$transaction(async (tx) => {
    const job = await readJob(tx, id);
    if (job.status === "RUNNING") return job;
    if (job.status !== "PENDING") throw new IllegalTransitionError(JOB_KIND.subject, id, job.status, "RUNNING");
    const started = await transition<Job>(tx, JOB_KIND, { id, from: "PENDING", to: "RUNNING", reason: "started on request" });
    await notifyWork(tx, { queue: job.kind });
    return started;
  });
}

/**
 * The commands that change a whole job (cancel, retry) take this lock
 * first, so each sees the job as the other left it: a cancel never answers
 * CANCELLED from a read that a retry has made stale. Workers never take it,
 * so it adds nothing to the row lock order.
 */
async function commandLock(tx: Db, jobId: number): Promise<void> {
  await tx.$queryRaw`SELECT pg_advisory_xact_lock(${JOB_COMMAND_LOCK}::int, ${jobId}::int)::text`;
}
/** The first key of the job-command advisory locks (the second is the job's id). */
const JOB_COMMAND_LOCK = 72707371;

/**
 * Cancels a job, in two transactions. The first makes the job CANCELLED,
 * after which no worker claims another of its steps. The second stops its
 * steps: the RUNNING ones are flagged and a notice reaches every worker
 * process at commit, each aborting its steps through their AbortSignal (a
 * worker that misses the notice sees the flag at its next lease renewal, a
 * second later); the PENDING and WAITING ones are CANCELLED. The running
 * steps' ends are written by their workers, so "none RUNNING" means no
 * processor runs. A retry that comes between the two wins (it came
 * later), and the second then leaves the job's steps alone. Should the
 * second transaction not happen (a crash), the crash sweep does it.
 */
export async function cancelJob(id: number): Promise<Job> {
  const cancelled = await prisma().$transaction(async (tx) => {
    await commandLock(tx, id);
    const current = await readJob(tx, id);
    if (current.status === "CANCELLED") return false;
    if (FINISHED.includes(current.status)) throw new IllegalTransitionError(JOB_KIND.subject, id, current.status, "CANCELLED");
    // The job's own counter (kept with its steps) says how many run.
    const running = current.runningSteps;
    const why = running ? `cancelled on request; aborting ${running} running step${running === 1 ? "" : "s"}` : "cancelled on request";
    await transition<Job>(tx, JOB_KIND, { id, from: current.status, to: "CANCELLED", reason: why });
    return true;
  });
  if (cancelled) await stopSteps(id);
  return readJob(prisma(), id);
}

/**
 * Stops the steps of a job that is still CANCELLED (see cancelJob): the
 * running ones flagged and told at once, the waiting ones CANCELLED. The
 * crash sweep calls it too, for a cancel whose second half a crash cut off.
 */
export async function stopSteps(jobId: number): Promise<void> {
  await prisma().$transaction(async (tx) => {
    await commandLock(tx, jobId);
    if ((await readJob(tx, jobId)).status !== "CANCELLED") return; // retried meanwhile
    const open = Prisma.sql`"jobId" = ${jobId} AND status IN ('RUNNING', 'PENDING', 'WAITING', 'PAUSED')`;
    await requestStop(tx, JOB_STEP_KIND, open, "cancel", "the job was cancelled", "skip");
  });
}

/**
 * Runs a finished job's FAILED and CANCELLED steps again (attempts reset)
 * and reopens the job: PENDING, then RUNNING, as a new job would go. A job
 * with no such step is a CONFLICT, as is one not finished.
 */
export async function retryJob(id: number): Promise<Job> {
  return prisma().$transaction(async (tx) => {
    await commandLock(tx, id);
    const job = await readJob(tx, id);
    if (!FINISHED.includes(job.status)) throw new IllegalTransitionError(JOB_KIND.subject, id, job.status, "PENDING");
    const retried = await moveWork(tx, JOB_STEP_KIND, {
      picked: Prisma.sql`SELECT id, status FROM "JobStep" WHERE "jobId" = ${id} AND status IN ('FAILED', 'CANCELLED') FOR UPDATE`,
      to: "PENDING",
      reason: "retried with its job",
      set: Prisma.sql`attempts = 0, error = NULL, result = NULL, "runAfter" = ${DB_NOW}`,
      restart: true,
      onRefused: "skip", // FAILED and CANCELLED steps may always be retried
    });
    if (retried.length === 0) throw new ConflictError(`Job ${id} has no FAILED or CANCELLED step to retry`);
    await transition<Job>(tx, JOB_KIND, { id, from: job.status, to: "PENDING", reason: `retrying ${retried.length} step${retried.length === 1 ? "" : "s"}` });
    const reopened = await transition<Job>(tx, JOB_KIND, { id, from: "PENDING", to: "RUNNING", reason: "started again" });
    await notifyWork(tx, { queue: job.kind });
    return reopened;
  });
}

/** RUNNING jobs (of these, or any) whose steps have all ended. */
const allEnded = (ids: number[] | null) =>
  Prisma.sql`status = 'RUNNING' AND "completedSteps" + "failedSteps" + "cancelledSteps" = "totalSteps" AND (${ids}::int[] IS NULL OR id = ANY(${ids}::int[]))`;

/**
 * Ends the RUNNING jobs among these (or all) whose steps have all ended:
 * FAILED when every step failed, COMPLETED otherwise (with the failures
 * counted). Called once a worker's step ends are written; one look at the
 * jobs' counters when none has ended. The crash sweep calls it too, for a
 * worker that died between the two.
 */
export async function endFinishedJobs(db: Db, ids: number[] | null): Promise<number> {
  const ended = await db.$queryRaw<{ id: number }[]>`SELECT id FROM "Job" WHERE ${allEnded(ids)}`;
  if (ended.length === 0) return 0;
  const moved = await moveWork(db, JOB_KIND, {
    picked: Prisma.sql`
      SELECT id, status, CASE WHEN "failedSteps" = "totalSteps" THEN 'FAILED' ELSE 'COMPLETED' END AS "to",
        CASE WHEN "failedSteps" = "totalSteps" THEN 'every step failed'
          ELSE "completedSteps" || ' of ' || "totalSteps" || ' steps completed, ' || "failedSteps" || ' failed' END AS reason
      FROM "Job" WHERE ${allEnded(ended.map((job) => job.id))} ORDER BY id FOR UPDATE`,
    to: Prisma.sql`picked."to"`,
    reason: Prisma.sql`picked.reason`,
    onRefused: "skip", // RUNNING jobs may always end
  });
  return moved.length;
}
