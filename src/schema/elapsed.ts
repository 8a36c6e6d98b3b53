import type { Status } from "../generated/prisma/enums.js";

/**
 * Seconds a piece of work has run: from its start to now while it runs (or
 * has not ended), to its end once ended; null before it started. Never
 * below 0, though the start is the database's clock and now this process's.
 */
export function elapsedSeconds(row: { status: Status; startedAt: Date | null; completedAt: Date | null }): number | null {
  if (!row.startedAt) return null;
  const end = row.status === "RUNNING" || !row.completedAt ? Date.now() : row.completedAt.getTime();
  return Math.max(0, (end - row.startedAt.getTime()) / 1000);
}
