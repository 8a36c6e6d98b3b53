import { Prisma, type QueueItem } from "../../generated/prisma/client.js";
import { DB_NOW } from "../../engine/clock.js";
import type { Runnable } from "../../engine/runnable.js";
import { QUEUE_ITEM_KIND } from "./kind.js";

/**
 * Queue items, to the runner: an item runs through the processor its queue
 * is named after; the claim takes the highest priority first, ties in
 * enqueue order, and never a paused queue's.
 */
export const queueRunnable: Runnable<QueueItem> = {
  kind: QUEUE_ITEM_KIND,
  noun: "queue item",
  task: (item) => ({ processor: item.queue, input: item.payload, scope: item.queue }),
  claim: (count, names) => ({
    // Each open queue's best items come from its own range of the claim index, merged by priority;
    // a paused queue's backlog is never read. Rows locked but not taken are free again at commit.
    picked: Prisma.sql`
      SELECT best.id, best.status FROM unnest(${names}::text[]) AS served(name)
      CROSS JOIN LATERAL (
        SELECT id, status, priority FROM "QueueItem"
        WHERE queue = served.name AND status IN ('PENDING', 'WAITING') AND "runAfter" <= ${DB_NOW} AND attempts < "maxAttempts"
        ORDER BY priority DESC, id
        LIMIT ${count}
        FOR UPDATE SKIP LOCKED
      ) best
      WHERE NOT EXISTS (SELECT 1 FROM "QueueSetting" s WHERE s.queue = served.name AND s.paused)
      ORDER BY best.priority DESC, best.id
      LIMIT ${count}`,
  }),
};
