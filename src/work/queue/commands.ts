import { Prisma, type QueueItem } from "../../generated/prisma/client.js";
import { prisma } from "../../db/client.js";
import { ConflictError, NotFoundError } from "../../engine/errors.js";
import { recordEvent } from "../../engine/events.js";
import { lockRow } from "../../engine/lease.js";
import { moveWork, transition } from "../../engine/move.js";
import { IllegalTransitionError } from "../../engine/status.js";
import { isUniqueViolation } from "../../db/sql-state.js";
import { DB_NOW } from "../../engine/clock.js";
import { requestStop } from "../../engine/stop.js";
import { notifyWork } from "../../engine/wake.js";
import { getProcessor } from "../../registry.js";
import { QUEUE_ITEM_KIND } from "./kind.js";

async function withItem<T>(id: number, change: (tx: Prisma.TransactionClient, row: QueueItem) => Promise<T>): Promise<T> {
  return prisma().$transaction(async (tx) => {
    const row = await lockRow<QueueItem>(tx, QUEUE_ITEM_KIND, id);
    if (!row) throw new NotFoundError("QueueItem", id);
    return change(tx, row);
  });
}

/**
 * A FAILED or CANCELLED item runs again: PENDING now, its attempts reset.
 * CONFLICT when another item with the same key is queued meanwhile.
 */
export async function retryQueueItem(id: number): Promise<QueueItem> {
  try {
    return await withItem(id, async (tx, row) => {
      if (row.status !== "FAILED" && row.status !== "CANCELLED") throw new IllegalTransitionError(QUEUE_ITEM_KIND.subject, id, row.status, "PENDING");
      const retried = await transition<QueueItem>(tx, QUEUE_ITEM_KIND, {
        id,
        from: row.status,
        to: "PENDING",
        reason: "retried on request",
        set: Prisma.sql`attempts = 0, "runAfter" = ${DB_NOW}, result = NULL, error = NULL`,
        restart: true,
      });
      await notifyWork(tx, { queue: row.queue });
      return retried;
    });
  } catch (error) {
    if (isUniqueViolation(error, "QueueItem_queue_key_active_key")) throw new ConflictError(`Another item with the key of QueueItem ${id} is already queued`);
    throw error;
  }
}

/**
 * A PENDING or WAITING item is CANCELLED now; a RUNNING one is asked to stop
 * (its worker aborts it through its AbortSignal at once, or at its next
 * lease renewal, within a second) and ends CANCELLED, whatever its
 * processor's attempt ends with. Cancelling a CANCELLED item changes
 * nothing; a COMPLETED one is a CONFLICT.
 */
export async function cancelQueueItem(id: number): Promise<QueueItem> {
  return withItem(id, async (tx, row) => {
    if (row.status === "CANCELLED") return row;
    const { flagged, moved } = await requestStop<QueueItem>(tx, QUEUE_ITEM_KIND, Prisma.sql`id = ${id}`, "cancel", "cancelled on request");
    if (flagged.length > 0) {
      await recordEvent(tx, { kind: "LOG", subjectKind: QUEUE_ITEM_KIND.subject, subjectId: id, scope: row.queue, level: "INFO", message: "cancel requested; aborting" });
    }
    return moved[0] ?? (await lockRow<QueueItem>(tx, QUEUE_ITEM_KIND, id))!;
  });
}

/** Deletes COMPLETED, FAILED and CANCELLED items (and their events) that ended more than `days` ago, of one queue or all. */
export async function cleanQueue(queue: string | null, days: number): Promise<number> {
  const before = new Date(Date.now() - days * 86_400_000);
  return prisma().$transaction(async (tx) => {
    const doomed = await tx.$queryRaw<{ id: number }[]>`
      DELETE FROM "QueueItem" WHERE status IN ('COMPLETED', 'FAILED', 'CANCELLED') AND "completedAt" < ${before}
        AND (${queue}::text IS NULL OR queue = ${queue}) RETURNING id`;
    if (doomed.length === 0) return 0;
    await tx.$executeRaw`DELETE FROM "Event" WHERE "subjectKind" = 'QUEUE_ITEM' AND "subjectId" = ANY(${doomed.map((row) => row.id)}::int[])`;
    return doomed.length;
  });
}

/**
 * Pauses or resumes a queue. The switch is a row, so it holds on every
 * worker process and across restarts; a paused queue claims nothing new,
 * its running items finish, and enqueue still works.
 */
export async function setQueuePaused(queue: string, paused: boolean): Promise<void> {
  if (!getProcessor(queue)) throw new NotFoundError("Queue", queue);
  await prisma().$transaction(async (tx) => {
    await tx.queueSetting.upsert({ where: { queue }, create: { queue, paused }, update: { paused, updatedAt: new Date() } });
    if (!paused) await notifyWork(tx, { queue });
  });
}

/** Items one retryFailedItems call moves at most: a large backlog is retried in several calls, each short. */
export const RETRY_FAILED_BATCH = 10_000;

/**
 * Every FAILED item of a queue runs again, as retryQueueItem would run it:
 * the newest of each key, and none whose key is queued again meanwhile,
 * up to RETRY_FAILED_BATCH in one statement. Returns how many.
 */
export async function retryFailedItems(queue: string): Promise<number> {
  if (!getProcessor(queue)) throw new NotFoundError("Queue", queue);
  return prisma().$transaction(async (tx) => {
    const moved = await moveWork<QueueItem>(tx, QUEUE_ITEM_KIND, {
      picked: Prisma.sql`
        SELECT id, status FROM "QueueItem" WHERE id IN (
          SELECT DISTINCT ON (key) id FROM "QueueItem" failed
          WHERE queue = ${queue} AND status = 'FAILED'
            AND NOT EXISTS (SELECT 1 FROM "QueueItem" active WHERE active.queue = failed.queue AND active.key = failed.key AND active.status IN ('PENDING', 'RUNNING', 'WAITING'))
          ORDER BY key, id DESC
        ) AND status = 'FAILED'
        ORDER BY id LIMIT ${RETRY_FAILED_BATCH} FOR UPDATE SKIP LOCKED`,
      to: "PENDING",
      reason: "retried on request (with every failed item of its queue)",
      set: Prisma.sql`attempts = 0, "runAfter" = ${DB_NOW}, result = NULL, error = NULL`,
      restart: true,
    });
    if (moved.length > 0) await notifyWork(tx, { queue });
    return moved.length;
  });
}
