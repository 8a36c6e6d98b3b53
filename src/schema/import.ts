import type { Listener } from "../engine/event-hub.js";
import type { Import, Prisma, Status } from "../generated/prisma/client.js";
import { prisma } from "../db/client.js";
import { NotFoundError, parseId, parseInput } from "../engine/errors.js";
import { redactSecrets } from "../secrets.js";
import { sharedRead } from "../engine/shared-read.js";
import { cancelImport, cleanupFailedImports, pauseImport, resumeImport, retryImportNow, startImport } from "../work/imports/commands.js";
import { IMPORT_KIND } from "../work/imports/kind.js";
import { importMetrics } from "../work/imports/metrics.js";
import { checkpointOf, importReport } from "../work/imports/report.js";
import { requireRole } from "./authorize.js";
import { builder } from "./builder.js";
import { importLevels, type LevelProgress } from "../work/imports/levels.js";
import { CheckpointRef } from "./checkpoint.js";
import { ImportErrorRef } from "./import-error.js";
import { listen, liveValue, untilClosed } from "./live.js";
import { StatusEnum } from "./status.js";
import { z } from "zod";

const LevelProgressRef = builder.objectRef<LevelProgress>("LevelProgress").implement({
  fields: (t) => ({
    level: t.exposeString("level"),
    discovered: t.exposeInt("discovered"),
    done: t.exposeInt("done"),
  }),
});

export const ImportRef = builder.prismaObject("Import", {
  fields: (t) => ({
    id: t.exposeID("id"),
    name: t.exposeString("name"),
    source: t.exposeString("source"),
    dataset: t.exposeString("dataset", { description: "Where its records go: records are keyed by (dataset, externalId)." }),
    config: t.field({ type: "JSON", description: "The config as given, with secrets redacted.", resolve: (row) => redactSecrets(row.config) }),
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
    levels: t.field({ type: [LevelProgressRef], description: "Per-level counts of a TREE import; [] for FLAT.", resolve: (row) => importLevels(row) }),
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

/** What `imports` filters by; the page and its totalCount read the same. */
const importsWhere = (args: { status?: Status[] | null; source?: string | null }): Prisma.ImportWhereInput => ({
  ...(args.status?.length ? { status: { in: args.status } } : {}),
  ...(args.source ? { source: args.source } : {}),
});

builder.queryFields((t) => ({
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
      totalCount: (_parent, args) => prisma().import.count({ where: importsWhere(args) }),
      args: { status: t.arg({ type: [StatusEnum] }), source: t.arg.string() },
      resolve: (query, _root, args) => prisma().import.findMany({ ...query, where: importsWhere(args), orderBy: { id: "desc" } }),
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
  pauseImport: t.field({ type: ImportRef, description: "Stops at the next checkpoint (the request in flight is aborted); resumes from there.", args: { id: t.arg.id({ required: true }) }, resolve: (_root, args) => pauseImport(parseId(args.id)) }),
  resumeImport: t.field({ type: ImportRef, description: "Runs a PAUSED, FAILED or WAITING import again from its last checkpoint.", args: { id: t.arg.id({ required: true }) }, resolve: (_root, args) => resumeImport(parseId(args.id)) }),
  retryImportNow: t.field({ type: ImportRef, description: "Resume now, ignoring a pending rate-limit wait.", args: { id: t.arg.id({ required: true }) }, resolve: (_root, args) => retryImportNow(parseId(args.id)) }),
  cancelImport: t.field({ type: ImportRef, description: "Stops for good at the next checkpoint; committed records stay.", args: { id: t.arg.id({ required: true }) }, resolve: (_root, args) => cancelImport(parseId(args.id)) }),
  cleanupFailedImports: t.int({
    description: "Deletes FAILED and CANCELLED imports older than the given days; returns how many.",
    args: { olderThanDays: t.arg.int({ defaultValue: 7 }) },
    resolve: (_root, args, ctx) => {
      requireRole(ctx, "ADMIN");
      return cleanupFailedImports(parseInput(z.number().int().min(0).max(36500), args.olderThanDays ?? 7, ["olderThanDays"]));
    },
  }),
}));

/** Reads of an import for importUpdated, shared by every subscriber of one event. */
export const importAfterEvent = sharedRead((id: number) => prisma().import.findUnique({ where: { id } }));

/** The import's current state, then again after every event of it (PROGRESS is already coalesced to 4 a second; subscribers share each read). */

async function* importStream(live: Listener, id: number): AsyncGenerator<Import> {
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
    subscribe: (_root, args, ctx) => {
      const id = parseId(args.id);
      const live = listen(ctx, { subject: { kind: IMPORT_KIND.subject, id } });
      return untilClosed(live, importStream(live, id));
    },
    resolve: liveValue,
  }),
);
