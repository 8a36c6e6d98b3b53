import type { Import } from "../../generated/prisma/client.js";
import { prisma } from "../../db/client.js";
import type { Checkpoint, CheckpointLevel } from "../../engine/events.js";
import { redactSecrets } from "../../secrets.js";
import { importMetrics } from "./metrics.js";

/** The import's last committed position, or null before its first checkpoint. */
export function checkpointOf(row: Import): Checkpoint | null {
  if (!row.checkpointAt) return null;
  return { path: (row.checkpointPath ?? []) as unknown as CheckpointLevel[], position: (row.cursor ?? { finished: true }) as Checkpoint["position"], at: row.checkpointAt.toISOString() };
}

/** The JSON export of an import: counters, timings, rates, redacted config, every error. */
export async function importReport(row: Import) {
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
