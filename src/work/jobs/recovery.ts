import { prisma } from "../../db/client.js";
import { recoverRunnable, type Recovery } from "../../engine/sweep.js";
import { endFinishedJobs, stopSteps } from "./commands.js";
import { JOB_STEP_KIND } from "./kind.js";
import { stepRunnable } from "./runner.js";

/**
 * What a dead worker or an interrupted command leaves of jobs, set right:
 * steps RUNNING on a worker that died run again (see recoverRunnable; the
 * job's counters follow in the same statement), or end CANCELLED when their
 * job was cancelled meanwhile; a cancelled job's steps still waiting or
 * running unflagged are stopped; a job whose steps have all ended is ended.
 */
export const stepRecovery: Recovery = {
  kind: JOB_STEP_KIND,
  async recover() {
    // One statement: it locks its steps, then their jobs in id order (the trigger).
    const moved = await recoverRunnable(prisma(), stepRunnable);
    const unstopped = await prisma().$queryRaw<{ id: number }[]>`
      SELECT j.id FROM "Job" j WHERE j.status = 'CANCELLED' AND EXISTS (
        SELECT 1 FROM "JobStep" s WHERE s."jobId" = j.id AND (s.status IN ('PENDING', 'WAITING', 'PAUSED') OR (s.status = 'RUNNING' AND NOT s."cancelRequested")))`;
    for (const job of unstopped) await stopSteps(job.id);
    return moved.length + unstopped.length + (await endFinishedJobs(prisma(), null));
  },
};
