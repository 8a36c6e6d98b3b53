import { Prisma, type Import } from "../generated/prisma/client.js";
import { prisma } from "../db/client.js";
import { recordEvent, type CheckpointLevel } from "../core/events.js";
import type { JsonValue } from "../core/json.js";
import { upsertRecords } from "../core/records.js";
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
 * was written, here and nowhere else, so a crash before commit loses the
 * pages and their counts together.
 */
export async function commitCheckpoint(row: Import, owner: string, batch: Batch, activeSeconds: number, ending?: Ending): Promise<Import> {
  return prisma().$transaction(async (tx) => {
    const counts = await upsertRecords(tx, row.dataset, batch.records);
    const now = new Date();
    const lastError = batch.errors.at(-1)?.message;
    const ends = ending && ending.status !== "RUNNING";
    const held = await tx.import.updateMany({
      where: { id: row.id, leaseOwner: owner, status: "RUNNING" },
      data: {
        cursor: batch.cursor === null ? Prisma.DbNull : (batch.cursor as Prisma.InputJsonValue),
        checkpointPath: batch.path as unknown as Prisma.InputJsonValue,
        checkpointAt: now,
        pagesDone: { increment: batch.pages },
        itemsProcessed: { increment: counts.processed },
        itemsNew: { increment: counts.new },
        itemsUpdated: { increment: counts.updated },
        itemsUnchanged: { increment: counts.unchanged },
        errorCount: { increment: batch.errors.length },
        ...(batch.totalPages !== null ? { totalPages: batch.totalPages } : {}),
        ...(batch.totalItems !== null ? { itemsTotal: batch.totalItems } : {}),
        ...(lastError ? { lastError } : {}),
        activeSeconds,
        crashCount: 0,
        leaseAt: now,
        ...(ending
          ? {
              status: ending.status,
              leaseOwner: null,
              ...(ending.status === "FAILED" ? { lastError: ending.reason } : {}),
              ...(ending.status === "WAITING" ? { resumeAt: ending.resumeAt, waitingOn: ending.waitingOn } : {}),
              ...(ends ? { pauseRequested: false, cancelRequested: false } : {}),
              ...(ending.status === "COMPLETED" || ending.status === "CANCELLED" || ending.status === "FAILED" ? { completedAt: now } : {}),
            }
          : {}),
      },
    });
    if (held.count === 0) throw new LeaseLostError(`Import ${row.id} is no longer held by this worker`);
    if (batch.errors.length > 0) {
      await tx.importError.createMany({ data: batch.errors.map((error) => ({ importId: row.id, path: [], ...error })) });
    }
    await recordEvent(tx, {
      kind: "CHECKPOINT",
      subjectKind: "IMPORT",
      subjectId: row.id,
      checkpoint: { path: batch.path, position: (batch.cursor ?? { finished: true }) as Prisma.InputJsonValue, at: now.toISOString() },
    });
    if (ending && ending.status !== "RUNNING") {
      await transition(tx, { subjectKind: "IMPORT", subjectId: row.id, from: "RUNNING", to: ending.status, reason: ending.reason });
    }
    if (ending?.status === "WAITING") await sendJob("importRun", { importId: row.id }, { tx, startAfter: ending.resumeAt });
    if (ending?.status === "RUNNING") await sendJob("importRun", { importId: row.id }, { tx });
    return tx.import.findUniqueOrThrow({ where: { id: row.id } });
  });
}
