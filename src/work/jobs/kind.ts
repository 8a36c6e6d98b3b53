import { Prisma } from "../../generated/prisma/client.js";
import type { WorkKind } from "../../engine/kind.js";

/** Jobs, to the engine: a job holds no lease of its own (its steps do) and obeys no flags. */
export const JOB_KIND = { subject: "JOB", table: "Job", flags: [], columns: Object.values(Prisma.JobScalarFieldEnum) } as const satisfies WorkKind;

/**
 * Job steps, to the engine: a running step obeys cancel, and its events are
 * scoped by its job, so jobUpdated hears every step of one job.
 */
export const JOB_STEP_KIND = {
  subject: "JOB_STEP",
  table: "JobStep",
  flags: ["cancelRequested"],
  scope: "jobId",
  columns: Object.values(Prisma.JobStepScalarFieldEnum),
  many: true,
} as const satisfies WorkKind;

export const MAX_STEPS = 10_000;
export const MAX_CONCURRENCY = 32;
export const DEFAULT_MAX_RETRIES = 2;
