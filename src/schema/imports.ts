import { z } from "zod";
import type { Import } from "../generated/prisma/client.js";
import { prisma } from "../db/client.js";
import type { Checkpoint, CheckpointLevel } from "../engine/events.js";
import { redactSecrets } from "../engine/secrets.js";
import { cancelImport, cleanupFailedImports, pauseImport, resumeImport, retryImportNow, startImport } from "../work/imports/commands.js";
import { importMetrics } from "../work/imports/metrics.js";
import { importAfterEvent } from "../engine/shared-read.js";
import { listSources } from "../sources/registry.js";
import type { AnySource } from "../sources/types.js";
import { requireRole } from "./authorize.js";
import { builder } from "./builder.js";
import { CheckpointRef } from "./checkpoint.js";
import { NotFoundError, parseId, parseInput } from "../engine/errors.js";
import type { Context } from "../http/context.js";
import { listen, liveValue, untilClosed } from "./live.js";
import { StatusEnum } from "./status.js";

const SourceShapeEnum = builder.enumType("SourceShape", { values: ["FLAT", "TREE"] as const });

const SourceRef = builder.objectRef<AnySource>("Source").implement({
  description: "A registered kind of import source (built in or from a plugin).",
  fields: (t) => ({
    name: t.exposeString("name"),
    description: t.exposeString("description"),
    shape: t.field({ type: SourceShapeEnum, resolve: (source) => source.shape ?? "FLAT" }),
    configSchema: t.field({
      type: "JSON",
      description: "JSON Schema of the config that startImport accepts for this source.",
      resolve: (source) => z.toJSONSchema(source.config, { io: "input", unrepresentable: "any" }),
    }),
    levels: t.stringList({ resolve: (source) => source.levels ?? [] }),
  }),
});

const ImportErrorRef = builder.prismaObject("ImportError", {
  fields: (t) => ({
    id: t.exposeID("id"),
    page: t.exposeInt("page", { nullable: true }),
    path: t.exposeStringList("path", { nullable: true }),
    httpStatus: t.exposeInt("httpStatus", { nullable: true }),
    message: t.exposeString("message"),
    attempts: t.exposeInt("attempts"),
    at: t.expose("at", { type: "DateTime" }),
  }),
});

const LevelProgressRef = builder.objectRef<{ level: string; discovered: number; done: number }>("LevelProgress").implement({
  fields: (t) => ({
    level: t.exposeString("level"),
    discovered: t.exposeInt("discovered"),
    done: t.exposeInt("done"),
  }),
});

function checkpointOf(row: Import): Checkpoint | null {
  if (!row.checkpointAt) return null;
  return { path: (row.checkpointPath ?? []) as unknown as CheckpointLevel[], position: (row.cursor ?? { finished: true }) as Checkpoint["position"], at: row.checkpointAt.toISOString() };
}

export const ImportRef = builder.prismaObject("Import", {
  fields: (t) => ({
    id: t.exposeID("id"),
    name: t.exposeString("name"),
    source: t.exposeString("source"),
    dataset: t.exposeString("dataset", { description: "Where its records go: records are keyed by (dataset, externalId)." }),
    config: t.field({ type: "JSON", description: "The config as given, with secrets redacted.", select: { config: true }, resolve: (row) => redactSecrets(row.config) }),
    status: t.expose("status", { type: StatusEnum }),
    checkpointEvery: t.exposeInt("checkpointEvery"),
    maxPages: t.exposeInt("maxPages", { nullable: true }),
    pagesDone: t.exposeInt("pagesDone"),
    totalPages: t.exposeInt("totalPages", { nullable: true }),
    itemsTotal: t.exposeInt("itemsTotal", { nullable: true }),
    itemsProcessed: t.exposeInt("itemsProcessed"),
    itemsNew: t.exposeInt("itemsNew"),
    itemsUpdated: t.exposeInt("itemsUpdated"),
    itemsUnchanged: t.exposeInt("itemsUnchanged"),
    errorCount: t.exposeInt("errorCount"),
    lastError: t.exposeString("lastError", { nullable: true }),
    progress: t.float({ nullable: true, description: "0..1, null while the total is unknown.", resolve: (row) => importMetrics(row).progress }),
    pagesPerHour: t.float({ nullable: true, resolve: (row) => importMetrics(row).pagesPerHour }),
    itemsPerSecond: t.float({ nullable: true, resolve: (row) => importMetrics(row).itemsPerSecond }),
    estimatedCompletionAt: t.field({ type: "DateTime", nullable: true, resolve: (row) => importMetrics(row).estimatedCompletionAt }),
    resumeAt: t.expose("resumeAt", { type: "DateTime", nullable: true, description: "When a WAITING import resumes by itself." }),
    resumeCount: t.exposeInt("resumeCount"),
    checkpoint: t.field({ type: CheckpointRef, nullable: true, resolve: checkpointOf }),
    levels: t.field({ type: [LevelProgressRef], description: "Per-level counts of a TREE import; [] for FLAT.", resolve: () => [] }),
    errors: t.relatedConnection("errors", { cursor: "id", totalCount: true, defaultSize: 50, maxSize: 500 }, { name: "ImportErrorConnection" }, { name: "ImportErrorEdge" }),
    report: t.field({
      type: "JSON",
      description: "Everything above plus errors and timings, as one JSON document (the export).",
      resolve: (row) => importReport(row),
    }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    startedAt: t.expose("startedAt", { type: "DateTime", nullable: true }),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
    completedAt: t.expose("completedAt", { type: "DateTime", nullable: true }),
  }),
});
void ImportErrorRef;

/** The JSON export of an import: counters, timings, rates, redacted config, every error. */
async function importReport(row: Import) {
  const errors = await prisma().importError.findMany({ where: { importId: row.id }, orderBy: { id: "asc" } });
  const metrics = importMetrics(row);
  return {
    id: row.id,
    name: row.name,
    source: row.source,
    dataset: row.dataset,
    status: row.status,
    config: redactSecrets(row.config),
    counters: {
      pagesDone: row.pagesDone,
      totalPages: row.totalPages,
      itemsTotal: row.itemsTotal,
      itemsProcessed: row.itemsProcessed,
      itemsNew: row.itemsNew,
      itemsUpdated: row.itemsUpdated,
      itemsUnchanged: row.itemsUnchanged,
      errorCount: row.errorCount,
      resumeCount: row.resumeCount,
    },
    timings: {
      createdAt: row.createdAt,
      startedAt: row.startedAt,
      completedAt: row.completedAt,
      activeSeconds: row.activeSeconds,
      pagesPerHour: metrics.pagesPerHour,
      itemsPerSecond: metrics.itemsPerSecond,
      etaSeconds: metrics.etaSeconds,
      estimatedCompletionAt: metrics.estimatedCompletionAt,
    },
    checkpoint: checkpointOf(row),
    lastError: row.lastError,
    errors: errors.map(({ page, path, httpStatus, message, attempts, at }) => ({ page, path, httpStatus, message, attempts, at })),
  };
}

interface Summary {
  total: number;
  byStatus: { status: Import["status"]; count: number }[];
  successRate: number | null;
  itemsNew: number;
  itemsUpdated: number;
}

const StatusCountRef = builder.objectRef<Summary["byStatus"][number]>("StatusCount").implement({
  fields: (t) => ({ status: t.expose("status", { type: StatusEnum }), count: t.exposeInt("count") }),
});

const ImportSummaryRef = builder.objectRef<Summary>("ImportSummary").implement({
  fields: (t) => ({
    total: t.exposeInt("total"),
    byStatus: t.field({ type: [StatusCountRef], resolve: (summary) => summary.byStatus }),
    successRate: t.exposeFloat("successRate", { nullable: true, description: "completed / (completed + failed), null when neither." }),
    itemsNew: t.exposeInt("itemsNew"),
    itemsUpdated: t.exposeInt("itemsUpdated"),
    recent: t.prismaField({
      type: ["Import"],
      args: { first: t.arg.int({ defaultValue: 10 }) },
      resolve: (query, _summary, args) =>
        prisma().import.findMany({ ...query, orderBy: { id: "desc" }, take: parseInput(z.number().int().min(0).max(100), args.first ?? 10, ["first"]) }),
    }),
  }),
});

const StartImportInput = builder.inputType("StartImportInput", {
  fields: (t) => ({
    source: t.string({ required: true }),
    name: t.string(),
    config: t.field({ type: "JSON", required: true }),
    dataset: t.string({ description: "Records are keyed by (dataset, externalId); defaults to the source's name." }),
    maxPages: t.int(),
    checkpointEvery: t.int(),
    resumeExisting: t.boolean({
      defaultValue: true,
      description: "When an unfinished import of the same source, dataset and config exists, return it (resumed) instead of starting anew.",
    }),
  }),
});

builder.queryFields((t) => ({
  importSummary: t.field({
    type: ImportSummaryRef,
    resolve: async () => {
      const groups = await prisma().import.groupBy({ by: ["status"], _count: { _all: true }, _sum: { itemsNew: true, itemsUpdated: true } });
      const count = (status: string) => groups.find((group) => group.status === status)?._count._all ?? 0;
      const finished = count("COMPLETED") + count("FAILED");
      return {
        total: groups.reduce((sum, group) => sum + group._count._all, 0),
        byStatus: groups.map((group) => ({ status: group.status, count: group._count._all })),
        successRate: finished ? count("COMPLETED") / finished : null,
        itemsNew: groups.reduce((sum, group) => sum + (group._sum.itemsNew ?? 0), 0),
        itemsUpdated: groups.reduce((sum, group) => sum + (group._sum.itemsUpdated ?? 0), 0),
      };
    },
  }),
  sources: t.field({ type: [SourceRef], resolve: () => listSources() }),
  import: t.prismaField({
    type: "Import",
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, args) => prisma().import.findUnique({ ...query, where: { id: parseId(args.id) } }),
  }),
  imports: t.prismaConnection(
    {
      type: "Import",
      cursor: "id",
      defaultSize: 20,
      maxSize: 200,
      totalCount: (_parent, args) => prisma().import.count({ where: { ...(args.status?.length ? { status: { in: args.status } } : {}), ...(args.source ? { source: args.source } : {}) } }),
      args: { status: t.arg({ type: [StatusEnum] }), source: t.arg.string() },
      resolve: (query, _root, args) =>
        prisma().import.findMany({
          ...query,
          where: { ...(args.status?.length ? { status: { in: args.status } } : {}), ...(args.source ? { source: args.source } : {}) },
          orderBy: { id: "desc" },
        }),
    },
    { name: "ImportConnection" },
    { name: "ImportEdge" },
  ),
}));

builder.mutationFields((t) => ({
  startImport: t.prismaField({
    type: "Import",
    args: { input: t.arg({ type: StartImportInput, required: true }) },
    resolve: async (query, _root, args, ctx) => {
      const created = await startImport(args.input, ctx.defaults.checkpointEvery);
      return prisma().import.findUniqueOrThrow({ ...query, where: { id: created.id } });
    },
  }),
  pauseImport: importCommand(t, pauseImport, "Stops at the next checkpoint (the request in flight is aborted); resumes from there."),
  resumeImport: importCommand(t, resumeImport, "Runs a PAUSED, FAILED or WAITING import again from its last checkpoint."),
  retryImportNow: importCommand(t, retryImportNow, "Resume now, ignoring a pending rate-limit wait."),
  cancelImport: importCommand(t, cancelImport, "Stops for good at the next checkpoint; committed records stay."),
  cleanupFailedImports: t.int({
    description: "Deletes FAILED and CANCELLED imports older than the given days; returns how many.",
    args: { olderThanDays: t.arg.int({ defaultValue: 7 }) },
    resolve: (_root, args, ctx) => {
      requireRole(ctx, "ADMIN");
      return cleanupFailedImports(parseInput(z.number().int().min(0).max(36500), args.olderThanDays ?? 7, ["olderThanDays"]));
    },
  }),
}));

function importCommand(t: Parameters<Parameters<typeof builder.mutationFields>[0]>[0], command: (id: number) => Promise<Import>, description: string) {
  return t.prismaField({
    type: "Import",
    description,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _root, args) => {
      const row = await command(parseId(args.id));
      return prisma().import.findUniqueOrThrow({ ...query, where: { id: row.id } });
    },
  });
}

/** The import's current state, then again after every event of it (PROGRESS is already coalesced to 4 a second; subscribers share each read). */
async function* importStream(ctx: Context, id: number): AsyncGenerator<Import> {
  const live = listen(ctx, { kind: "IMPORT", id });
  try {
    const snapshot = await prisma().import.findUnique({ where: { id } });
    if (!snapshot) throw new NotFoundError("Import", id);
    yield snapshot;
    for await (const event of live) {
      const row = await importAfterEvent(id, event.id);
      if (!row) return;
      yield row;
    }
  } finally {
    live.close();
  }
}

builder.subscriptionField("importUpdated", (t) =>
  t.field({
    type: ImportRef,
    description: "The import itself: its current state first, then on every change.",
    args: { id: t.arg.id({ required: true }) },
    subscribe: (_root, args, ctx) => untilClosed(importStream(ctx, parseId(args.id))),
    resolve: liveValue,
  }),
);
