import { Prisma, type JobStep } from "../../generated/prisma/client.js";
import { prisma } from "../../db/client.js";
import type { Runnable } from "../../engine/runner.js";
import { endFinishedJobs } from "./commands.js";
import { JOB_STEP_KIND } from "./kind.js";

/**
 * Job steps, to the runner. The claim takes the steps of RUNNING jobs in
 * order, the highest-priority job first, never more of a job at once than
 * its concurrency across every worker: it locks each job it takes from and
 * reads how many of its steps run from the job's row as it is once any
 * claim or end before it committed, so two workers cannot both fill the
 * same free slot. Once steps' ends are written, a job whose steps have all
 * ended is ended.
 */
export const stepRunnable: Runnable<JobStep> = {
  kind: JOB_STEP_KIND,
  noun: "job step",
  task: (step) => ({ processor: step.kind, input: step.input, scope: String(step.jobId) }),
  claim: (count, names, now) => ({
    before: Prisma.sql`open AS (
      SELECT id, priority, concurrency - "runningSteps" AS free FROM "Job"
      WHERE status = 'RUNNING' AND kind = ANY(${names}::text[]) AND "runningSteps" < concurrency
      ORDER BY id
      FOR UPDATE
    )`,
    picked: Prisma.sql`
      SELECT next.id, next.status FROM open
      CROSS JOIN LATERAL (
        SELECT id, status, number FROM "JobStep"
        WHERE "jobId" = open.id AND status IN ('PENDING', 'WAITING') AND "runAfter" <= ${now}
        ORDER BY number
        LIMIT LEAST(open.free, ${count})
        FOR UPDATE SKIP LOCKED
      ) next
      ORDER BY open.priority DESC, open.id, next.number
      LIMIT ${count}`,
  }),
  afterEnd: (steps) => endFinishedJobs(prisma(), [...new Set(steps.map((step) => step.jobId))]),
};
