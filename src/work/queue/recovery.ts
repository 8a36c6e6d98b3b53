import type { QueueItem } from "../../generated/prisma/client.js";
import { prisma } from "../../db/client.js";
import { moveWork } from "../../engine/move.js";
import { staleRunning, type Recovery } from "../../engine/sweep.js";
import { notifyWork } from "../../engine/wake.js";
import { QUEUE_ITEM_KIND } from "./kind.js";

/**
 * Items RUNNING on a worker that died go back to PENDING, keeping their
 * attempt count (the attempt was made), and the queues' workers are woken.
 */
export const queueRecovery: Recovery = {
  kind: QUEUE_ITEM_KIND,
  async recover(now) {
    return prisma().$transaction(async (tx) => {
      const moved = await moveWork<QueueItem>(tx, QUEUE_ITEM_KIND, {
        picked: staleRunning(QUEUE_ITEM_KIND, now),
        to: "PENDING",
        reason: "its worker stopped responding; back in the queue",
      });
      for (const queue of new Set(moved.map((item) => item.queue))) await notifyWork(tx, { queue });
      return moved.length;
    });
  },
};
