import { builder } from "./builder.js";
import { StatusEnum } from "./status.js";

export const JobStepRef = builder.prismaObject("JobStep", {
  description: "One step of a job, run through the job's processor with its own status, attempts, result and error.",
  fields: (t) => ({
    id: t.exposeID("id"),
    jobId: t.exposeID("jobId"),
    number: t.exposeInt("number", { description: "Its place in the job, from 1: steps are started in this order." }),
    name: t.exposeString("name"),
    input: t.expose("input", { type: "JSON" }),
    status: t.expose("status", { type: StatusEnum }),
    attempts: t.exposeInt("attempts"),
    maxAttempts: t.exposeInt("maxAttempts", { description: "The job's maxRetries + 1." }),
    runAfter: t.expose("runAfter", { type: "DateTime", description: "Not started before this time (a retry's backoff, a rate limit)." }),
    result: t.expose("result", { type: "JSON", nullable: true }),
    error: t.exposeString("error", { nullable: true }),
    startedAt: t.expose("startedAt", { type: "DateTime", nullable: true }),
    completedAt: t.expose("completedAt", { type: "DateTime", nullable: true }),
  }),
});
