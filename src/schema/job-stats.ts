import { jobStats, type JobKindStats, type JobStats } from "../work/jobs/stats.js";
import { builder } from "./builder.js";

const JobKindStatsRef = builder.objectRef<JobKindStats>("JobKindStats").implement({
  description: "One processor's jobs and steps.",
  fields: (t) => ({
    kind: t.exposeString("kind"),
    jobs: t.exposeInt("jobs"),
    stepsCompleted: t.exposeInt("stepsCompleted"),
    stepsFailed: t.exposeInt("stepsFailed"),
    averageStepSeconds: t.exposeFloat("averageStepSeconds", { nullable: true, description: "From a step's first start to its end, over the steps that ended COMPLETED or FAILED." }),
    stepsLast24h: t.exposeInt("stepsLast24h", { description: "Steps ended (COMPLETED or FAILED) in the last 24 hours." }),
  }),
});

const JobStatsRef = builder.objectRef<JobStats>("JobStats").implement({
  description: "Jobs by status, and per processor kind.",
  fields: (t) => ({
    pending: t.exposeInt("pending"),
    running: t.exposeInt("running"),
    completed: t.exposeInt("completed"),
    failed: t.exposeInt("failed"),
    cancelled: t.exposeInt("cancelled"),
    total: t.exposeInt("total"),
    byKind: t.field({ type: [JobKindStatsRef], description: "Per processor kind.", resolve: (stats) => stats.byKind }),
  }),
});

builder.queryField("jobStats", (t) => t.field({ type: JobStatsRef, resolve: () => jobStats() }));
