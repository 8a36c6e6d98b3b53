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
    // One statement: it locks its steps, then their jobs in id order (the trigger).
    const moved = await moveWork<JobStep>(prisma(), JOB_STEP_KIND, {
      picked: Prisma.sql`
        SELECT s.id, s.status, CASE WHEN w."cancelRequested" THEN 'CANCELLED' ELSE 'PENDING' END AS "to"
        FROM (${staleRunning(JOB_STEP_KIND, now)}) s JOIN "JobStep" w ON w.id = s.id`,
      to: Prisma.sql`picked."to"`,
      reason: Prisma.sql`CASE WHEN picked."to" = 'CANCELLED' THEN 'its worker stopped responding after the job was cancelled' ELSE 'its worker stopped responding; to be run again' END`,
    });
    const back = moved.filter((step) => step.status === "PENDING");
    for (const kind of new Set(back.map((step) => step.kind))) await notifyWork(prisma(), { queue: kind });
    const unstopped = await prisma().$queryRaw<{ id: number }[]>`
      SELECT j.id FROM "Job" j WHERE j.status = 'CANCELLED' AND EXISTS (
        SELECT 1 FROM "JobStep" s WHERE s."jobId" = j.id AND (s.status IN ('PENDING', 'WAITING', 'PAUSED') OR (s.status = 'RUNNING' AND NOT s."cancelRequested")))`;
    for (const job of unstopped) await prisma().$transaction((tx) => stopSteps(tx, job.id));
    return moved.length + unstopped.length + (await endFinishedJobs(prisma(), null));
  },
};
