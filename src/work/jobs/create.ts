import { z } from "zod";
import { Prisma, type Job } from "../../generated/prisma/client.js";
import { prisma } from "../../db/client.js";
import { InputError, parseInput } from "../../engine/errors.js";
import { statusEventCtes } from "../../engine/move.js";
import { WORK_CHANNEL } from "../../engine/wake.js";
import { getProcessor, listProcessors } from "../../registry.js";
import { metaInput, tagsInput } from "../tags.js";
import { DEFAULT_MAX_RETRIES, JOB_KIND, MAX_CONCURRENCY, MAX_STEPS } from "./kind.js";

const text = (max: number) => z.string().trim().min(1, "must not be empty").max(max);

export const createJobInput = z.object({
  kind: z.string().min(1).max(63),
  name: text(200),
  description: z.string().trim().max(10_000).nullish(),
  tags: tagsInput.nullish(),
  meta: metaInput.nullish(),
  steps: z
    .array(z.object({ name: text(500), input: z.unknown() }))
    .min(1, "a job needs at least one step")
    .max(MAX_STEPS, `at most ${MAX_STEPS} steps in one job`),
  maxRetries: z.number().int().min(0).max(100).nullish(),
  priority: z.number().int().min(-1_000_000).max(1_000_000).nullish(),
  config: z
    .object({ concurrency: z.number().int().min(1).max(MAX_CONCURRENCY).optional() })
    .catchall(z.unknown())
    .nullish(),
  start: z.boolean().nullish(),
});

export type CreateJobInput = z.input<typeof createJobInput>;

/**
 * Creates a job and its steps, RUNNING (workers are woken when it commits)
 * or, with `start: false`, PENDING until startJob. The whole input is
 * checked first: the processor, and every step's input against it (and its
 * `accepts`); one bad step refuses the job, naming each step at fault.
 * The job, its steps and its STATUS event commit in one statement.
 */
export async function createJob(raw: unknown, createdBy: string | null): Promise<Job> {
  const input = parseInput(createJobInput, raw, ["input"]);
  const processor = getProcessor(input.kind);
  if (!processor) {
    const known = listProcessors().map((candidate) => candidate.name).join(", ");
    throw new InputError(`Unknown kind "${input.kind}": a job's kind is the processor its steps run through; known: ${known}`, ["input.kind"]);
  }
  const problems: { field: string; message: string }[] = [];
  const steps = input.steps.map((step, index) => {
    const parsed = processor.input.safeParse(step.input);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) problems.push({ field: ["input", "steps", index, "input", ...issue.path].join("."), message: issue.message });
      return null;
    }
    const accepted = processor.accepts?.(parsed.data) ?? true;
    if (accepted !== true) problems.push({ field: `input.steps.${index}.input`, message: accepted });
    return { name: step.name, input: parsed.data, number: index + 1 };
  });
  if (problems.length > 0) {
    const shown = problems.slice(0, 20).map((problem) => `${problem.field}: ${problem.message}`);
    const more = problems.length > shown.length ? `; and ${problems.length - shown.length} more` : "";
    throw new InputError(`Invalid steps: ${shown.join("; ")}${more}`, [...new Set(problems.map((problem) => problem.field))].slice(0, 100));
  }
  const config = input.config ?? {};
  const concurrency = input.config?.concurrency ?? 1;
  const maxRetries = input.maxRetries ?? DEFAULT_MAX_RETRIES;
  const status = input.start === false ? "PENDING" : "RUNNING";
  const now = new Date();
  const [job] = await prisma().$queryRaw<(Job & { noticesSent: number })[]>`
    WITH job AS (
      INSERT INTO "Job" (kind, name, description, tags, meta, status, config, concurrency, "maxRetries", priority, "totalSteps", "createdBy", "createdAt", "updatedAt", "startedAt")
      VALUES (${input.kind}, ${input.name}, ${input.description ?? null}, ${input.tags ?? []}::text[], ${input.meta ? JSON.stringify(input.meta) : null}::jsonb,
        ${status}::"Status", ${JSON.stringify(config)}::jsonb, ${concurrency}, ${maxRetries},
        ${input.priority ?? 0}, ${steps.length}, ${createdBy}, ${now}, ${now}, ${status === "RUNNING" ? now : null})
      RETURNING *
    ), steps AS (
      INSERT INTO "JobStep" ("jobId", kind, number, name, input, "maxAttempts", "runAfter", "createdAt", "updatedAt")
      SELECT job.id, job.kind, s.number, s.name, s.input, ${maxRetries + 1}, ${now}, ${now}, ${now}
      FROM job, jsonb_to_recordset(${JSON.stringify(steps)}::jsonb) AS s(number int, name text, input jsonb)
      RETURNING 1
    ), ${statusEventCtes(JOB_KIND, "job", Prisma.sql`NULL::text`, Prisma.sql`${`created with ${steps.length} steps${status === "PENDING" ? "; starts with startJob" : ""}`}::text`)},
    wake AS (SELECT pg_notify(${WORK_CHANNEL}, ${JSON.stringify({ queue: input.kind })}) FROM job WHERE job.status = 'RUNNING')
    SELECT job.*, (SELECT count(*) FROM steps)::int + (SELECT count(*) FROM notices)::int + (SELECT count(*) FROM wake)::int AS "noticesSent" FROM job`;
  const { noticesSent: _sent, ...created } = job;
  return created;
}
