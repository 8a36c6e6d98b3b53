import type { Status } from "../../generated/prisma/client.js";
import { prisma } from "../../db/client.js";

export interface JobKindStats {
  kind: string;
  jobs: number;
  stepsCompleted: number;
  stepsFailed: number;
  averageStepSeconds: number | null;
  stepsLast24h: number;
}

export interface JobStats {
  pending: number;
  running: number;
  completed: number;
  failed: number;
  cancelled: number;
  total: number;
  byKind: JobKindStats[];
}

/**
 * Jobs by status, and per kind (processor) the jobs, their steps done and
 * failed, the average step's seconds and the steps that ended in the last
 * 24 hours: read from the jobs' counters (kept with the steps) and the
 * steps' end-time index, in one snapshot.
 */
export async function jobStats(): Promise<JobStats> {
  const since = new Date(Date.now() - 86_400_000);
  const [byStatus, byKind, recent] = await prisma().$transaction(
    async (tx) => [
      await tx.job.groupBy({ by: ["status"], _count: { _all: true } }),
      await tx.job.groupBy({ by: ["kind"], _count: { _all: true }, _sum: { completedSteps: true, failedSteps: true, stepSeconds: true }, orderBy: { kind: "asc" } }),
      await tx.$queryRaw<{ kind: string; count: number }[]>`
        SELECT kind, count(*)::int AS count FROM "JobStep"
        WHERE "completedAt" >= ${since} AND status IN ('COMPLETED', 'FAILED') GROUP BY kind`,
    ] as const,
    { isolationLevel: "RepeatableRead" },
  );
  const count = (status: Status) => byStatus.find((row) => row.status === status)?._count._all ?? 0;
  return {
    pending: count("PENDING"),
    running: count("RUNNING"),
    completed: count("COMPLETED"),
    failed: count("FAILED"),
    cancelled: count("CANCELLED"),
    total: byStatus.reduce((sum, row) => sum + row._count._all, 0),
    byKind: byKind.map((row) => {
      const ended = (row._sum.completedSteps ?? 0) + (row._sum.failedSteps ?? 0);
      return {
        kind: row.kind,
        jobs: row._count._all,
        stepsCompleted: row._sum.completedSteps ?? 0,
        stepsFailed: row._sum.failedSteps ?? 0,
        averageStepSeconds: ended > 0 ? (row._sum.stepSeconds ?? 0) / ended : null,
        stepsLast24h: recent.find((entry) => entry.kind === row.kind)?.count ?? 0,
      };
    }),
  };
}
