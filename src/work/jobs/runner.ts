import { Prisma, type JobStep } from "../../generated/prisma/client.js";
import { prisma } from "../../db/client.js";
import { sqlStateOf } from "../../db/sql-state.js";
import { DB_NOW } from "../../engine/clock.js";
import type { Runnable } from "../../engine/runnable.js";
import { endFinishedJobs } from "./commands.js";
import { JOB_STEP_KIND } from "./kind.js";

/**
 * The SQLSTATEs the step counters' trigger raises for a claim that lost a
 * race (migration 20261201000000_engine_whole): more steps than the job's
 * concurrency, or a step of a job no longer RUNNING.
 */
const CLAIM_CONFLICTS = new Set(["MPJ01", "MPJ02"]);

/**
 * Job steps, to the runner. The claim takes the steps of RUNNING jobs in
 * order, the highest-priority job first, as many of a job as its
 * concurrency leaves free. It reads the count of running steps without
 * locking the job, so claims and ends of one job do not queue on its row;
 * the count is kept in the claim's own statement (the counters' trigger)
 * under a CHECK that it stays within the concurrency, so of two workers
 * racing for the same free slots one fails there and claims again. A claim
 * that read a job as RUNNING just before it was cancelled fails in the
 * trigger likewise, so no step starts after its job stopped. A worker
 * writing its steps' ends claims the next ones into the slots they free, in
 * the same statement (see src/engine/runner.ts, `freedByEnd`).
 */
export const stepRunnable: Runnable<JobStep> = {
  kind: JOB_STEP_KIND,
  noun: "job step",
  task: (step) => ({ processor: step.kind, input: step.input, scope: String(step.jobId) }),
  claim: (count, names, freeing) => {
    const freed = freeing
      ? Prisma.sql`(SELECT count(*) FROM ${freeing} f WHERE f.scope = j.id)::int`
      : Prisma.sql`0`;
    return {
      before: Prisma.sql`open AS (
        SELECT id, priority, free FROM (
          SELECT j.id, j.priority, j.concurrency - j."runningSteps" + ${freed} AS free FROM "Job" j
          WHERE j.status = 'RUNNING' AND j.kind = ANY(${names}::text[])
        ) jobs WHERE free > 0
      )`,
      picked: Prisma.sql`
        SELECT next.id, next.status FROM open
        CROSS JOIN LATERAL (
          SELECT id, status, number FROM "JobStep"
          WHERE "jobId" = open.id AND status IN ('PENDING', 'WAITING') AND "runAfter" <= ${DB_NOW} AND attempts < "maxAttempts"
          ORDER BY number
          LIMIT LEAST(open.free, ${count})
          FOR UPDATE SKIP LOCKED
        ) next
        ORDER BY open.priority DESC, open.id, next.number
        LIMIT ${count}`,
    };
  },
  claimConflict: (error) => CLAIM_CONFLICTS.has(sqlStateOf(error) ?? ""),
  freedByEnd: true,
  // A job that had steps claimed as others ended is not finished: only the others are looked at.
  afterEnd: (ended, claimed) => {
    const busy = new Set(claimed.map((step) => step.jobId));
    const jobs = [...new Set(ended.map((step) => step.jobId))].filter((job) => !busy.has(job));
    return jobs.length ? endFinishedJobs(prisma(), jobs) : Promise.resolve(0);
  },
};
