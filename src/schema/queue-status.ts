import { z } from "zod";
import { parseInput } from "../engine/errors.js";
import { cleanQueue, retryFailedItems, setQueuePaused } from "../work/queue/commands.js";
import { QUEUE_ITEM_KIND } from "../work/queue/kind.js";
import { queueStatus, type QueueStatus } from "../work/queue/read.js";
import { requireRole } from "./authorize.js";
import { builder } from "./builder.js";
import { listen, liveState, liveValue, untilClosed } from "./live.js";
import { QueueItemRef } from "./queue-item.js";

const QueueStatusRef = builder.objectRef<QueueStatus>("QueueStatus").implement({
  description: "Counts by status of one queue, or of all when `queue` is null.",
  fields: (t) => ({
    queue: t.exposeString("queue", { nullable: true }),
    pending: t.exposeInt("pending"),
    running: t.exposeInt("running"),
    waiting: t.exposeInt("waiting"),
    completed: t.exposeInt("completed"),
    failed: t.exposeInt("failed"),
    cancelled: t.exposeInt("cancelled"),
    total: t.exposeInt("total"),
    paused: t.exposeBoolean("paused", { description: "A paused queue claims nothing new on any worker; running items finish and enqueue still works." }),
    current: t.field({
      type: [QueueItemRef],
      description: "Items RUNNING now (the first 100 started), with durationSeconds.",
      // Up to 100 items, each with what is selected of it: counted as 100 for the cost limit.
      complexity: { field: 1, multiplier: 100 },
      resolve: (status) => status.current,
    }),
  }),
});

const queueName = z.string().min(1).max(63);
const daysSchema = z.number().int().min(0).max(36500);

builder.queryField("queueStatus", (t) =>
  t.field({
    type: QueueStatusRef,
    args: { queue: t.arg.string() },
    resolve: (_root, args) => queueStatus(args.queue ? parseInput(queueName, args.queue, ["queue"]) : null),
  }),
);

builder.mutationFields((t) => ({
  cleanQueue: t.int({
    description: "Deletes COMPLETED, FAILED and CANCELLED items older than the given days (of one queue, or all); returns how many (ADMIN).",
    args: { queue: t.arg.string(), olderThanDays: t.arg.int({ defaultValue: 7 }) },
    resolve: (_root, args, ctx) => {
      requireRole(ctx, "ADMIN");
      return cleanQueue(args.queue ? parseInput(queueName, args.queue, ["queue"]) : null, parseInput(daysSchema, args.olderThanDays ?? 7, ["olderThanDays"]));
    },
  }),
  pauseQueue: t.field({
    type: QueueStatusRef,
    description: "No worker claims new items of this queue until resumeQueue, across restarts; running items finish, enqueue still works.",
    args: { queue: t.arg.string({ required: true }) },
    resolve: async (_root, args) => {
      const queue = parseInput(queueName, args.queue, ["queue"]);
      await setQueuePaused(queue, true);
      return queueStatus(queue);
    },
  }),
  retryFailedItems: t.int({
    description: "Every FAILED item of the queue runs again (the newest of each key not queued again meanwhile; up to 10,000 a call, so call again while it answers 10,000); returns how many.",
    args: { queue: t.arg.string({ required: true }) },
    resolve: (_root, args) => retryFailedItems(parseInput(queueName, args.queue, ["queue"])),
  }),
  resumeQueue: t.field({
    type: QueueStatusRef,
    args: { queue: t.arg.string({ required: true }) },
    resolve: async (_root, args) => {
      const queue = parseInput(queueName, args.queue, ["queue"]);
      await setQueuePaused(queue, false);
      return queueStatus(queue);
    },
  }),
}));

builder.subscriptionField("queueStatusUpdated", (t) =>
  t.field({
    type: QueueStatusRef,
    description: "The queue's status now, then again as its items change (at most 4 times a second).",
    args: { queue: t.arg.string() },
    subscribe: (_root, args, ctx) => {
      const queue = args.queue ? parseInput(queueName, args.queue, ["queue"]) : null;
      const live = queue ? listen(ctx, { scope: { kind: QUEUE_ITEM_KIND.subject, scope: queue } }) : listen(ctx);
      return untilClosed(live, liveState(live, `queue:${queue ?? "*"}`, () => queueStatus(queue)));
    },
    resolve: liveValue,
  }),
);
