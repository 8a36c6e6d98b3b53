import type { Import } from "../../generated/prisma/client.js";

export interface ImportMetrics {
  /** The pages this import will fetch: the upstream's total, capped by maxPages. */
  targetPages: number | null;
  progress: number | null;
  pagesPerHour: number | null;
  itemsPerSecond: number | null;
  etaSeconds: number | null;
  estimatedCompletionAt: Date | null;
}

type Counters = Pick<Import, "status" | "pagesDone" | "totalPages" | "maxPages" | "itemsProcessed" | "activeSeconds">;

/**
 * Rates, progress and ETA, derived from the committed counters (never
 * stored, so never stale). Rates are over time spent RUNNING, so a pause or
 * a rate-limit wait does not drag them down.
 */
export function importMetrics(row: Counters, now = Date.now()): ImportMetrics {
  const caps = [row.totalPages, row.maxPages].filter((value): value is number => value !== null);
  const targetPages = caps.length ? Math.min(...caps) : null;
  const seconds = row.activeSeconds;
  const pagesPerSecond = seconds > 0 ? row.pagesDone / seconds : null;
  const progress = row.status === "COMPLETED" ? 1 : targetPages ? Math.min(1, row.pagesDone / targetPages) : null;
  const etaSeconds =
    targetPages !== null && pagesPerSecond ? Math.max(0, targetPages - row.pagesDone) / pagesPerSecond : null;
  return {
    targetPages,
    progress,
    pagesPerHour: pagesPerSecond === null ? null : pagesPerSecond * 3600,
    itemsPerSecond: seconds > 0 ? row.itemsProcessed / seconds : null,
    etaSeconds: row.status === "COMPLETED" ? 0 : etaSeconds,
    estimatedCompletionAt:
      etaSeconds !== null && ["RUNNING", "PENDING", "WAITING"].includes(row.status) ? new Date(now + etaSeconds * 1000) : null,
  };
}
