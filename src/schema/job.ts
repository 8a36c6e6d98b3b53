import type { Job, Prisma, Status } from "../generated/prisma/client.js";
import { prisma } from "../db/client.js";
import { parseId } from "../engine/errors.js";
import { redactSecrets } from "../secrets.js";
import { cancelJob, retryJob, startJob } from "../work/jobs/commands.js";
import { createJob } from "../work/jobs/create.js";
import { JOB_KIND, JOB_STEP_KIND } from "../work/jobs/kind.js";
import { builder } from "./builder.js";
import { pageSize } from "./forward-page.js";
import { CommentRef } from "./comment.js";
import type { Context } from "./context.js";
import "./job-step.js";
import { listen, liveState, liveValue, untilClosed } from "./live.js";
import { StatusEnum } from "./status.js";
import { filingFilter, MAX_META_BYTES, MAX_TAGS } from "../work/tags.js";

/** Steps ended COMPLETED or FAILED, of all, in percent. */
function progressPercentage(job: Job): number {
  return job.totalSteps === 0 ? 0 : (100 * (job.completedSteps + job.failedSteps)) / job.totalSteps;
}

export const JobRef = builder.prismaObject("Job", {
  description: "A named batch of steps, each run through the processor `kind`, `concurrency` at once across every worker.",
  fields: (t) => ({
    id: t.exposeID("id"),
    kind: t.exposeString("kind", { description: "The processor each step runs through." }),
    name: t.exposeString("name"),
    description: t.exposeString("description", { nullable: true }),
    status: t.expose("status", { type: StatusEnum }),
    config: t.field({ type: "JSON", description: "As given (secrets redacted); `concurrency` is the steps run at once (1 to 32).", resolve: (job) => redactSecrets(job.config) }),
    concurrency: t.exposeInt("concurrency"),
    maxRetries: t.exposeInt("maxRetries"),
    priority: t.exposeInt("priority"),
    totalSteps: t.exposeInt("totalSteps"),
    completedSteps: t.exposeInt("completedSteps"),
    failedSteps: t.exposeInt("failedSteps"),
    cancelledSteps: t.exposeInt("cancelledSteps"),
    runningSteps: t.exposeInt("runningSteps"),
    // No `select`: scalars are always loaded, and one would make plugin-prisma read the row again for a subscription's
    // value, which then disagrees with the counters beside it.
    progressPercentage: t.float({
      description: "Steps ended COMPLETED or FAILED, of all, in percent: exact, as the counters change in the statement that ends the steps.",
      resolve: (job) => progressPercentage(job),
    }),
    createdBy: t.exposeString("createdBy", { nullable: true, description: "The name of the token that created it." }),
    tags: t.exposeStringList("tags", { description: "What a team files the job under; not seen by the processor." }),
    meta: t.expose("meta", { type: "JSON", nullable: true, description: "Free metadata kept with the job; not seen by the processor." }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    startedAt: t.expose("startedAt", { type: "DateTime", nullable: true }),
    completedAt: t.expose("completedAt", { type: "DateTime", nullable: true }),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
    steps: t.relatedConnection(
      "steps",
      {
        cursor: "id",
        defaultSize: 100,
        maxSize: 500,
        totalCount: true,
        args: { status: t.arg({ type: [StatusEnum] }) },
        query: (args) => ({ where: args.status?.length ? { status: { in: args.status } } : {}, orderBy: { number: "asc" } }),
        description: "In step order; `status` filters.",
      },
      { name: "JobStepConnection" },
      { name: "JobStepEdge" },
    ),
    comments: t.relation("comments", {
      type: CommentRef,
      description: "Oldest first, a page at a time: at most 500, those after the comment id `after`.",
      args: { first: t.arg.int({ defaultValue: 100 }), after: t.arg.id() },
      query: (args) => ({
        orderBy: { id: "asc" },
        take: pageSize(args.first, { default: 100, max: 500 }),
        ...(args.after != null ? { where: { id: { gt: parseId(args.after, "after") } } } : {}),
      }),
    }),
  }),
});

const JobStepInput = builder.inputType("JobStepInput", {
  fields: (t) => ({
    name: t.string({ required: true }),
    input: t.field({ type: "JSON", required: true, description: "The processor's input (see `processors { inputSchema }`)." }),
  }),
});

const CreateJobInput = builder.inputType("CreateJobInput", {
  fields: (t) => ({
    kind: t.string({ required: true, description: "The processor each step runs through (see `processors`)." }),
    name: t.string({ required: true }),
    description: t.string(),
    tags: t.stringList({ description: `Up to ${MAX_TAGS} tags to file the job under (letters, digits, spaces and . _ : / = + @ -); the processor does not see them.` }),
    meta: t.field({ type: "JSON", description: `A JSON object of up to ${MAX_META_BYTES} bytes kept with the job; the processor does not see it.` }),
    steps: t.field({ type: [JobStepInput], required: true, description: "1 to 10,000 steps, run in this order." }),
    maxRetries: t.int({ defaultValue: 2, description: "Retries of a failing step (with backoff) before it is FAILED." }),
    priority: t.int({ defaultValue: 0, description: "Jobs of higher priority have their steps started first." }),
    config: t.field({ type: "JSON", description: "`{ concurrency }`: steps run at once across every worker, 1 (default) to 32." }),
    start: t.boolean({ defaultValue: true, description: "false: create PENDING and start later with startJob." }),
  }),
});

type JobsArgs = { status?: Status[] | null; kind?: string | null; tags?: string[] | null; meta?: unknown };

/**
 * What `jobs` filters by; the page and its totalCount read the same. Prisma
 * has no JSON containment filter, so a meta filter is the ids of the jobs
 * whose meta holds it (answered by the meta index), newest first, up to
 * MAX_META_MATCHES.
 */
async function jobsWhere(args: JobsArgs): Promise<Prisma.JobWhereInput> {
  const { tags, meta } = filingFilter(args);
  const ids = meta
    ? (await prisma().$queryRaw<{ id: number }[]>`SELECT id FROM "Job" WHERE meta @> ${JSON.stringify(meta)}::jsonb ORDER BY id DESC LIMIT ${MAX_META_MATCHES}`).map((row) => row.id)
    : null;
  return {
    ...(args.status?.length ? { status: { in: args.status } } : {}),
    ...(args.kind ? { kind: args.kind } : {}),
    ...(tags ? { tags: { hasEvery: tags } } : {}),
    ...(ids ? { id: { in: ids } } : {}),
  };
}
/** Jobs a meta filter matches at most (the newest): a filter, not an export. */
const MAX_META_MATCHES = 10_000;

builder.queryFields((t) => ({
  job: t.prismaField({
    type: "Job",
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, args) => prisma().job.findUnique({ ...query, where: { id: parseId(args.id) } }),
  }),
  jobs: t.prismaConnection(
    {
      type: "Job",
      cursor: "id",
      defaultSize: 20,
      maxSize: 200,
      description: "Newest first.",
      args: {
        status: t.arg({ type: [StatusEnum] }),
        kind: t.arg.string(),
        tags: t.arg.stringList({ description: "Jobs carrying every one of these tags." }),
        meta: t.arg({ type: "JSON", description: `Jobs whose meta holds this object (JSON containment; the newest ${MAX_META_MATCHES.toLocaleString("en")} that do).` }),
      },
      totalCount: async (_parent, args) => prisma().job.count({ where: await jobsWhere(args) }),
      resolve: async (query, _root, args) => prisma().job.findMany({ ...query, where: await jobsWhere(args), orderBy: { id: "desc" } }),
    },
    { name: "JobConnection" },
    { name: "JobEdge" },
  ),
}));

builder.mutationFields((t) => ({
  createJob: t.prismaField({
    type: "Job",
    description: "Creates a job of 1 to 10,000 steps (every step's input checked first); RUNNING at once unless `start: false`.",
    args: { input: t.arg({ type: CreateJobInput, required: true }) },
    resolve: async (query, _root, args, ctx) => {
      const created = await createJob(args.input, ctx.viewer.name);
      return prisma().job.findUniqueOrThrow({ ...query, where: { id: created.id } });
    },
  }),
  startJob: t.field({ type: JobRef, description: "Starts a job created with `start: false`.", args: { id: t.arg.id({ required: true }) }, resolve: (_root, args) => startJob(parseId(args.id)) }),
  cancelJob: t.field({ type: JobRef, description: "CANCELLED at once with its pending steps; running steps are aborted on every worker within a second.", args: { id: t.arg.id({ required: true }) }, resolve: (_root, args) => cancelJob(parseId(args.id)) }),
  retryJob: t.field({ type: JobRef, description: "Runs the FAILED and CANCELLED steps of a finished job again and reopens it.", args: { id: t.arg.id({ required: true }) }, resolve: (_root, args) => retryJob(parseId(args.id)) }),
}));

builder.subscriptionField("jobUpdated", (t) =>
  t.field({
    type: JobRef,
    description: "The job now, then again as it or its steps change (at most 4 times a second); its counters are always those of committed steps.",
    args: { id: t.arg.id({ required: true }) },
    subscribe: async (_root, args, ctx: Context) => {
      const id = parseId(args.id);
      const live = listen(ctx, { subject: { kind: JOB_KIND.subject, id }, scope: { kind: JOB_STEP_KIND.subject, scope: String(id) } });
      return untilClosed(live, liveState(live, `job:${id}`, () => prisma().job.findUnique({ where: { id } })));
    },
    resolve: liveValue,
  }),
);
