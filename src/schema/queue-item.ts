import { z } from "zod";
import { prisma } from "../db/client.js";
import { parseId, parseInput } from "../engine/errors.js";
import { cancelQueueItem, retryQueueItem } from "../work/queue/commands.js";
import { enqueue } from "../work/queue/enqueue.js";
import { findItems } from "../work/queue/read.js";
import { builder } from "./builder.js";
import { connectionOf, forwardPage } from "./forward-page.js";
import { StatusEnum } from "./status.js";
import { elapsedSeconds } from "./elapsed.js";
import { filingFilter, MAX_META_BYTES, MAX_TAGS } from "../work/tags.js";

export const QueueItemRef = builder.prismaObject("QueueItem", {
  description: "An item of a persistent priority queue, run through the processor its queue is named after.",
  fields: (t) => ({
    id: t.exposeID("id"),
    queue: t.exposeString("queue"),
    key: t.exposeString("key", { description: "Deduplication key: an item is not added while another with the same queue and key is PENDING or RUNNING." }),
    label: t.exposeString("label", { nullable: true }),
    payload: t.expose("payload", { type: "JSON" }),
    status: t.expose("status", { type: StatusEnum }),
    priority: t.exposeInt("priority"),
    attempts: t.exposeInt("attempts"),
    maxAttempts: t.exposeInt("maxAttempts"),
    runAfter: t.expose("runAfter", { type: "DateTime", description: "Not claimed before this time (enqueue's runAfter, a retry's backoff, a rate limit)." }),
    result: t.expose("result", { type: "JSON", nullable: true }),
    error: t.exposeString("error", { nullable: true }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    startedAt: t.expose("startedAt", { type: "DateTime", nullable: true }),
    completedAt: t.expose("completedAt", { type: "DateTime", nullable: true }),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
    durationSeconds: t.float({ nullable: true, description: "Run time so far (RUNNING) or in total (finished).", resolve: elapsedSeconds }),
    tags: t.exposeStringList("tags", { description: "What a team files the item under; not seen by the processor." }),
    meta: t.expose("meta", { type: "JSON", nullable: true, description: "Free metadata kept with the item; not seen by the processor." }),
  }),
});

const EnqueueItemInput = builder.inputType("EnqueueItemInput", {
  fields: (t) => ({
    key: t.string({ required: true }),
    label: t.string(),
    payload: t.field({ type: "JSON", required: true }),
    tags: t.stringList({ description: `Up to ${MAX_TAGS} tags to file the item under (letters, digits, spaces and . _ : / = + @ -); the processor does not see them.` }),
    meta: t.field({ type: "JSON", description: `A JSON object of up to ${MAX_META_BYTES} bytes kept with the item; the processor does not see it.` }),
  }),
});

const EnqueueInput = builder.inputType("EnqueueInput", {
  fields: (t) => ({
    queue: t.string({ required: true, description: "The queue, named after its processor (see `processors`)." }),
    items: t.field({ type: [EnqueueItemInput], required: true, description: "1 to 10,000 items." }),
    priority: t.int({ defaultValue: 0, description: "Higher runs first." }),
    maxAttempts: t.int({ description: "Attempts before an item is FAILED (default 3)." }),
    runAfter: t.field({ type: "DateTime", description: "Not claimed before this time." }),
  }),
});

const SkipReasonEnum = builder.enumType("SkipReason", {
  values: {
    ALREADY_QUEUED: { description: "An item with the same queue and key is PENDING, RUNNING or WAITING (or the key came twice in the call)." },
    INVALID: { description: "The payload does not fit the processor's input, or the processor does not accept it." },
  } as const,
});

const SkippedItemRef = builder.objectRef<{ key: string; reason: "ALREADY_QUEUED" | "INVALID"; message: string | null }>("SkippedItem").implement({
  fields: (t) => ({
    key: t.exposeString("key"),
    reason: t.expose("reason", { type: SkipReasonEnum }),
    message: t.exposeString("message", { nullable: true }),
  }),
});

const EnqueueResultRef = builder.objectRef<Awaited<ReturnType<typeof enqueue>>>("EnqueueResult").implement({
  fields: (t) => ({
    added: t.field({ type: [QueueItemRef], resolve: (result) => result.added }),
    skipped: t.field({ type: [SkippedItemRef], resolve: (result) => result.skipped }),
  }),
});

builder.queryFields((t) => ({
  queueItem: t.prismaField({
    type: "QueueItem",
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, args) => prisma().queueItem.findUnique({ ...query, where: { id: parseId(args.id) } }),
  }),
  queueItems: t.connection(
    {
      type: QueueItemRef,
      description: 'Newest first. search matches key, label and error text; payload and meta are JSON containment filters, e.g. {"domain": "example.com"}; tags keeps items carrying all of them; each is answered by an index.',
      args: {
        queue: t.arg.string(),
        status: t.arg({ type: [StatusEnum] }),
        search: t.arg.string(),
        payload: t.arg({ type: "JSON" }),
        tags: t.arg.stringList({ description: "Items carrying every one of these tags." }),
        meta: t.arg({ type: "JSON", description: "Items whose meta holds this object (JSON containment)." }),
      },
      resolve: async (_root, args) => {
        const first = forwardPage(args, { default: 50, max: 500 });
        const before = args.after ? parseId(args.after, "after") : null;
        const search = args.search ? parseInput(z.string().max(200), args.search, ["search"]) : null;
        const page = await findItems({ queue: args.queue, status: args.status, search, payload: args.payload, ...filingFilter(args) }, first, before);
        return connectionOf(page.items, (item) => String(item.id), { hasNextPage: page.hasNextPage, hasPreviousPage: before !== null, totalCount: page.totalCount });
      },
    },
    { name: "QueueItemConnection" },
    { name: "QueueItemEdge" },
  ),
}));

builder.mutationFields((t) => ({
  enqueue: t.field({
    type: EnqueueResultRef,
    description: "Adds up to 10,000 items to a queue; duplicates of queued keys and invalid payloads are skipped, each with its reason.",
    args: { input: t.arg({ type: EnqueueInput, required: true }) },
    resolve: (_root, args) => enqueue(args.input),
  }),
  retryQueueItem: t.field({ type: QueueItemRef, description: "A FAILED or CANCELLED item runs again, its attempts reset.", args: { id: t.arg.id({ required: true }) }, resolve: (_root, args) => retryQueueItem(parseId(args.id)) }),
  cancelQueueItem: t.field({ type: QueueItemRef, description: "A PENDING or WAITING item is cancelled now; a RUNNING one is aborted through its signal and ends CANCELLED.", args: { id: t.arg.id({ required: true }) }, resolve: (_root, args) => cancelQueueItem(parseId(args.id)) }),
}));
