import { Prisma, type JobStep } from "../../generated/prisma/client.js";
import { prisma } from "../../db/client.js";
import { moveWork } from "../../engine/move.js";
import { staleRunning, type Recovery } from "../../engine/sweep.js";
import { notifyWork } from "../../engine/wake.js";
import { endFinishedJobs, stopSteps } from "./commands.js";
import { JOB_STEP_KIND } from "./kind.js";

/**
 * What a dead worker or an interrupted command leaves of jobs, set right:
 * steps RUNNING on a worker that died go back to PENDING with their
 * attempt counts (the job's counters follow in the same statement), or end
 * CANCELLED when their job was cancelled meanwhile; a cancelled job's steps
 * still waiting or running unflagged are stopped; a job whose steps have
 * all ended is ended.
 */
export const stepRecovery: Recovery = {
  kind: JOB_STEP_KIND,
  async recover(now) {
    // One statement each, no transaction around them: each locks its steps, then their jobs in id order (the trigger).
    const back = await moveWork<JobStep>(prisma(), JOB_STEP_KIND, {
      picked: staleRunning(JOB_STEP_KIND, now, Prisma.sql`NOT "cancelRequested"`),
      to: "PENDING",
      reason: "its worker stopped responding; to be run again",
    });
    const cancelled = await moveWork<JobStep>(prisma(), JOB_STEP_KIND, {
      picked: staleRunning(JOB_STEP_KIND, now, Prisma.sql`"cancelRequested"`),
      to: "CANCELLED",
      reason: "its worker stopped responding after the job was cancelled",
    });
    for (const kind of new Set(back.map((step) => step.kind))) await notifyWork(prisma(), { queue: kind });
    const unstopped = await prisma().$queryRaw<{ id: number }[]>`
      SELECT j.id FROM "Job" j WHERE j.status = 'CANCELLED' AND EXISTS (
        SELECT 1 FROM "JobStep" s WHERE s."jobId" = j.id AND (s.status IN ('PENDING', 'WAITING', 'PAUSED') OR (s.status = 'RUNNING' AND NOT s."cancelRequested")))`;
    for (const job of unstopped) await prisma().$transaction((tx) => stopSteps(tx, job.id));
    return back.length + cancelled.length + unstopped.length + (await endFinishedJobs(prisma(), null));
  },
};
