import { builder } from "./builder.js";

export const StatusEnum = builder.enumType("Status", {
  description: "One lifecycle for every kind of work: imports, queue items, jobs, steps, collector runs.",
  values: {
    PENDING: {},
    RUNNING: {},
    PAUSED: { description: "Stopped on request; resumes from its last checkpoint." },
    WAITING: { description: "Backing off after a rate limit or transient failure; resumes by itself at resumeAt." },
    COMPLETED: {},
    FAILED: {},
    CANCELLED: {},
  } as const,
});
