import { z } from "zod";
import { prisma } from "../db/client.js";
import { NotFoundError, parseId, parseInput } from "../engine/errors.js";
import { runCollector, scheduleCollector } from "../work/collectors/commands.js";
import { COLLECTOR_RUN_KIND } from "../work/collectors/kind.js";
import { collectorStats, collectorView, collectorViews, findRuns, lastRun, type CollectorStats, type CollectorView } from "../work/collectors/read.js";
import { builder } from "./builder.js";
import { connectionOf, forwardPage, type PagingArgs } from "./forward-page.js";
import { listen, liveState, liveValue, untilClosed } from "./live.js";
import { StatusEnum } from "./status.js";
import { elapsedSeconds } from "./elapsed.js";
import type { Status } from "../generated/prisma/enums.js";

export const CollectorRunRef = builder.prismaObject("CollectorRun", {
  fields: (t) => ({
    id: t.exposeID("id"),
    collector: t.exposeString("collector"),
    status: t.expose("status", { type: StatusEnum }),
    trigger: t.exposeString("trigger", { description: "manual (runCollector) or schedule (a cron tick)." }),
    fullRefresh: t.exposeBoolean("fullRefresh"),
    maxAgeDays: t.exposeInt("maxAgeDays", { nullable: true }),
    window: t.field({ type: "JSON", nullable: true, description: "What this run chose to fetch, e.g. {years: [2025, 2026]}, and why (`why`, per year).", resolve: (run) => run.window }),
    watermark: t.field({ type: "JSON", nullable: true, description: "Where the run got to; the next run starts from the last successful watermark.", resolve: (run) => run.watermark }),
    recordsProcessed: t.exposeInt("recordsProcessed"),
    recordsInserted: t.exposeInt("recordsInserted"),
    recordsUpdated: t.exposeInt("recordsUpdated"),
    error: t.exposeString("error", { nullable: true }),
    startedAt: t.field({ type: "DateTime", description: "When it started (when it was created, while PENDING).", resolve: (run) => run.startedAt ?? run.createdAt }),
    completedAt: t.expose("completedAt", { type: "DateTime", nullable: true }),
    durationSeconds: t.float({ nullable: true, description: "From start to end; so far, while it runs.", resolve: elapsedSeconds }),
  }),
});

const CollectorRunConnection = builder.connectionObject({ type: CollectorRunRef, name: "CollectorRunConnection" }, { name: "CollectorRunEdge" });

/** A page of runs, newest first, as a connection. */
async function runsPage(args: PagingArgs & { after?: string | null }, filter: { collector?: string | null; status?: Status[] | null }) {
  const first = forwardPage(args, { default: 20, max: 200 });
  const before = args.after ? parseId(args.after, "after") : null;
  const page = await findRuns(filter, first, before);
  return connectionOf(page.runs, (run) => String(run.id), { hasNextPage: page.hasNextPage, hasPreviousPage: before !== null, totalCount: page.totalCount });
}

const CollectorStatsRef = builder.objectRef<CollectorStats>("CollectorStats").implement({
  description: "Over every run of the collector.",
  fields: (t) => ({
    successes: t.exposeInt("successes"),
    failures: t.exposeInt("failures"),
    avgRecordsProcessed: t.exposeFloat("avgRecordsProcessed", { nullable: true, description: "Per successful run." }),
    avgDurationSeconds: t.exposeFloat("avgDurationSeconds", { nullable: true, description: "Per successful run." }),
    recordsPerSecond: t.exposeFloat("recordsPerSecond", { nullable: true, description: "Records processed per second, over the successful runs." }),
    lastRunAt: t.expose("lastRunAt", { type: "DateTime", nullable: true }),
  }),
});

const CollectorRef = builder.objectRef<CollectorView>("Collector").implement({
  fields: (t) => ({
    name: t.exposeString("name"),
    description: t.exposeString("description"),
    schedule: t.exposeString("schedule", { nullable: true, description: "Cron expression (UTC) when scheduled." }),
    nextRunAt: t.expose("nextRunAt", { type: "DateTime", nullable: true, description: "Next fire time of the schedule." }),
    lastRun: t.field({ type: CollectorRunRef, nullable: true, resolve: (collector) => lastRun(collector.name) }),
    lastSuccessAt: t.expose("lastSuccessAt", { type: "DateTime", nullable: true }),
    runs: t.connection({ type: CollectorRunRef, description: "Newest first.", args: { status: t.arg({ type: [StatusEnum] }) }, resolve: (collector, args) => runsPage(args, { collector: collector.name, status: args.status }) }, CollectorRunConnection),
    stats: t.field({ type: CollectorStatsRef, resolve: (collector) => collectorStats(collector.name) }),
  }),
});

const RunCollectorInput = builder.inputType("RunCollectorInput", {
  fields: (t) => ({
    name: t.string({ required: true }),
    fullRefresh: t.boolean({ defaultValue: false, description: "Ignore the watermark and fetch everything." }),
    maxAgeDays: t.int({ description: "Refetch windows older than this many days (0: always refetch all)." }),
  }),
});

const collectorName = (name: string) => parseInput(z.string().max(63), name, ["name"]);

builder.queryFields((t) => ({
  collectors: t.field({ type: [CollectorRef], resolve: () => collectorViews() }),
  collector: t.field({ type: CollectorRef, nullable: true, args: { name: t.arg.string({ required: true }) }, resolve: (_root, args) => collectorView(collectorName(args.name)) }),
  collectorRuns: t.connection(
    {
      type: CollectorRunRef,
      description: "Newest first, of one collector or all.",
      args: { collector: t.arg.string(), status: t.arg({ type: [StatusEnum] }) },
      resolve: (_root, args) => runsPage(args, { collector: args.collector === null || args.collector === undefined ? null : collectorName(args.collector), status: args.status }),
    },
    CollectorRunConnection,
  ),
}));

builder.mutationFields((t) => ({
  runCollector: t.field({
    type: CollectorRunRef,
    description: "Starts a run now; CONFLICT while the collector has one going (one run at a time).",
    args: { input: t.arg({ type: RunCollectorInput, required: true }) },
    resolve: (_root, args) => runCollector(args.input),
  }),
  scheduleCollector: t.field({
    type: CollectorRef,
    description: "Sets or clears (null) a collector's cron schedule (five fields, UTC; fired at most once a minute).",
    args: { name: t.arg.string({ required: true }), cron: t.arg.string() },
    resolve: async (_root, args) => {
      const row = await scheduleCollector(collectorName(args.name), args.cron ?? null);
      return (await collectorView(row.name))!;
    },
  }),
}));

builder.subscriptionField("collectorRunUpdated", (t) =>
  t.field({
    type: CollectorRunRef,
    description: "The run itself: its current state first, then as it changes (at most 4 times a second).",
    args: { id: t.arg.id({ required: true }) },
    subscribe: async (_root, args, ctx) => {
      const id = parseId(args.id);
      const read = () => prisma().collectorRun.findUnique({ where: { id } });
      if (!(await read())) throw new NotFoundError("CollectorRun", id);
      const live = listen(ctx, { subject: { kind: COLLECTOR_RUN_KIND.subject, id } });
      return untilClosed(live, liveState(live, `collector-run:${id}`, read));
    },
    resolve: liveValue,
  }),
);
