import { Prisma } from "../../generated/prisma/client.js";
import type { WorkKind } from "../../engine/kind.js";

/**
 * Queue items, to the engine: their rows are in "QueueItem", a running one
 * obeys cancel, and their events are scoped by queue (queueStatusUpdated
 * listens to one queue's items).
 */
export const QUEUE_ITEM_KIND = {
  subject: "QUEUE_ITEM",
  table: "QueueItem",
  flags: ["cancelRequested"],
  scope: "queue",
  columns: Object.values(Prisma.QueueItemScalarFieldEnum),
  many: true,
} as const satisfies WorkKind;

/** At most this many items in one enqueue call. */
export const MAX_ENQUEUE = 10_000;
export const DEFAULT_MAX_ATTEMPTS = 3;
