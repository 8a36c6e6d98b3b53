import { Prisma, type JobStep } from "../../generated/prisma/client.js";
import { prisma } from "../../db/client.js";
import { moveWork } from "../../engine/move.js";
import { isStale, staleRunning, type Recovery } from "../../engine/sweep.js";
import { notifyWork } from "../../engine/wake.js";
import { lockJobs } from "./commands.js";
import { JOB_STEP_KIND } from "./kind.js";

/**
 * Steps RUNNING on a worker that died go back to PENDING with their attempt
 * counts (the job's counters follow in the same statement), or end
 * CANCELLED when their job was cancelled meanwhile. Their jobs are locked
 * first, as every change of steps does (src/work/jobs/commands.ts).
 */
export const stepRecovery: Recovery = {
  kind: JOB_STEP_KIND,
  async recover(now) {
    return prisma().$transaction(async (tx) => {
      const jobs = await tx.$queryRaw<{ jobId: number }[]>`SELECT DISTINCT "jobId" FROM "JobStep" WHERE ${isStale(now)}`;
      if (jobs.length === 0) return 0;
      await lockJobs(tx, jobs.map((row) => row.jobId));
      const back = await moveWork<JobStep>(tx, JOB_STEP_KIND, {
        picked: staleRunning(JOB_STEP_KIND, now, Prisma.sql`NOT "cancelRequested"`),
        to: "PENDING",
        reason: "its worker stopped responding; to be run again",
      });
      const cancelled = await moveWork<JobStep>(tx, JOB_STEP_KIND, {
        picked: staleRunning(JOB_STEP_KIND, now, Prisma.sql`"cancelRequested"`),
        to: "CANCELLED",
        reason: "its worker stopped responding after the job was cancelled",
      });
      for (const kind of new Set(back.map((step) => step.kind))) await notifyWork(tx, { queue: kind });
      return back.length + cancelled.length;
    });
  },
};
