import { Prisma, type Import } from "../generated/prisma/client.js";
import { prisma } from "../db/client.js";
import { recordEvent, type CheckpointLevel } from "../core/events.js";
import type { JsonValue } from "../core/json.js";
import { recordWrites } from "../core/records.js";
import { transition } from "../core/status.js";
import { sendJob } from "../jobs/queues.js";
import type { SourceRecord } from "../sources/types.js";

/** A page (or its items) that could not be imported. */
export interface PageError {
  page: number;
  httpStatus: number | null;
  message: string;
  attempts: number;
}

/** What the pages since the last checkpoint brought. */
export interface Batch {
  pages: number;
  records: SourceRecord[];
  errors: PageError[];
  /** Where the next page starts; null when the source has no more. */
  cursor: JsonValue | null;
  path: CheckpointLevel[];
  totalPages: number | null;
  totalItems: number | null;
}

/** How a run ends at this checkpoint. RUNNING hands the import over: the lease is freed and a worker picks it up now. */
export type Ending =
  | { status: "COMPLETED" | "PAUSED" | "CANCELLED"; reason: string }
  | { status: "FAILED"; reason: string }
  | { status: "WAITING"; reason: string; resumeAt: Date; waitingOn: string | null }
  | { status: "RUNNING"; reason: string };

/** The transaction lost the import: another worker took it over. */
export class LeaseLostError extends Error {
  override name = "LeaseLostError";
}

export function emptyBatch(): Omit<Batch, "cursor" | "path"> {
  return { pages: 0, records: [], errors: [], totalPages: null, totalItems: null };
}

/**
 * One checkpoint, one transaction (DESIGN.md rule 2): the records of the
 * pages since the last one, the new cursor, the counters, the errors, the
 * CHECKPOINT event and, when the run ends here, the status change and the
 * job that resumes it. Counters are incremented by what the database says
 * was written, in the statement that writes it and nowhere else, so a crash
 * before commit loses the pages and their counts together. The hot path is
 * that one statement and the event's: a Prisma call costs about a
 * millisecond of the worker's CPU, which at a checkpoint per 1,000 items is
 * most of what the import itself costs.
 */
export async function commitCheckpoint(row: Import, owner: string, batch: Batch, activeSeconds: number, ending?: Ending): Promise<Import> {
  return prisma().$transaction(async (tx) => {
    const now = new Date();
    const records = recordWrites(row.dataset, batch.records, now);
    const [advanced] = await tx.$queryRaw<Import[]>`
      WITH ${records.ctes}
      UPDATE "Import" SET
        cursor = ${batch.cursor === null ? null : JSON.stringify(batch.cursor)}::jsonb,
        "checkpointPath" = ${JSON.stringify(batch.path)}::jsonb,
        "checkpointAt" = ${now},
        "pagesDone" = "pagesDone" + ${batch.pages}::int,
        "itemsProcessed" = "itemsProcessed" + ${records.processed}::int,
        "itemsNew" = "itemsNew" + counts.new,
        "itemsUpdated" = "itemsUpdated" + counts.updated,
        "itemsUnchanged" = "itemsUnchanged" + ${records.processed}::int - counts.new - counts.updated,
        "errorCount" = "errorCount" + ${batch.errors.length}::int,
        "totalPages" = COALESCE(${batch.totalPages}::int, "totalPages"),
        "itemsTotal" = COALESCE(${batch.totalItems}::int, "itemsTotal"),
        "lastError" = COALESCE(${batch.errors.at(-1)?.message ?? null}::text, "lastError"),
        "activeSeconds" = ${activeSeconds}::float8,
        "crashCount" = 0,
        "leaseAt" = ${now},
        "updatedAt" = ${now}
      FROM counts
      WHERE id = ${row.id} AND "leaseOwner" = ${owner} AND status = 'RUNNING'
      RETURNING "Import".*`;
    if (!advanced) throw new LeaseLostError(`Import ${row.id} is no longer held by this worker`);
    if (batch.errors.length > 0) {
      await tx.importError.createMany({ data: batch.errors.map((error) => ({ importId: row.id, path: [], ...error })) });
    }
    await recordEvent(tx, {
      kind: "CHECKPOINT",
      subjectKind: "IMPORT",
      subjectId: row.id,
      checkpoint: { path: batch.path, position: (batch.cursor ?? { finished: true }) as Prisma.InputJsonValue, at: now.toISOString() },
    });
    if (!ending) return advanced;
    if (ending.status === "RUNNING") {
      await sendJob("importRun", { importId: row.id }, { tx });
      return tx.import.update({ where: { id: row.id }, data: { leaseOwner: null } });
    }
    await transition(tx, { subjectKind: "IMPORT", subjectId: row.id, from: "RUNNING", to: ending.status, reason: ending.reason });
    if (ending.status === "WAITING") await sendJob("importRun", { importId: row.id }, { tx, startAfter: ending.resumeAt });
    return tx.import.update({
      where: { id: row.id },
      data: {
        status: ending.status,
        leaseOwner: null,
        pauseRequested: false,
        cancelRequested: false,
        ...(ending.status === "FAILED" ? { lastError: ending.reason } : {}),
        ...(ending.status === "WAITING" ? { resumeAt: ending.resumeAt, waitingOn: ending.waitingOn } : {}),
        ...(ending.status === "COMPLETED" || ending.status === "CANCELLED" || ending.status === "FAILED" ? { completedAt: now } : {}),
      },
    });
  });
}
