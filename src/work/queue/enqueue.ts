import { z } from "zod";
import { Prisma, type QueueItem } from "../../generated/prisma/client.js";
import { prisma } from "../../db/client.js";
import { InputError, parseInput } from "../../engine/errors.js";
import { statusEventCtes } from "../../engine/move.js";
import { WORK_CHANNEL } from "../../engine/wake.js";
import { getProcessor, listProcessors } from "../../registry.js";
import { metaInput, tagsInput } from "../tags.js";
import { DEFAULT_MAX_ATTEMPTS, MAX_ENQUEUE, QUEUE_ITEM_KIND } from "./kind.js";

export const enqueueInput = z.object({
  queue: z.string().min(1).max(63),
  items: z
    .array(
      z.object({
        key: z.string().trim().min(1, "must not be empty").max(500),
        label: z.string().trim().max(500).nullish(),
        payload: z.unknown(),
        tags: tagsInput.nullish(),
        meta: metaInput.nullish(),
      }),
    )
    .min(1, "add at least one item")
    .max(MAX_ENQUEUE, `at most ${MAX_ENQUEUE} items in one call`),
  priority: z.number().int().min(-1_000_000).max(1_000_000).nullish(),
  maxAttempts: z.number().int().min(1).max(100).nullish(),
  runAfter: z.date().nullish(),
});

/**
 * After large enqueues the table's statistics are refreshed, in the
 * background: with stale ones (autovacuum may take a minute) PostgreSQL can
 * misjudge the claim and sort every pending item instead of reading the
 * claim index to the batch's end. It runs once a second has passed without
 * another large enqueue, so a client adding 100,000 items in batches is not
 * slowed by it.
 */
const ANALYZE_AFTER_ROWS = 1000;
const ANALYZE_QUIET_MS = 1000;
let analyzeTimer: NodeJS.Timeout | undefined;
function refreshStatistics(added: number): void {
  if (added < ANALYZE_AFTER_ROWS) return;
  clearTimeout(analyzeTimer);
  analyzeTimer = setTimeout(() => {
    prisma()
      .$executeRaw`ANALYZE "QueueItem"`
      .catch(() => undefined); // only an optimisation; autovacuum analyzes it too
  }, ANALYZE_QUIET_MS);
  analyzeTimer.unref();
}

export type SkipReason = "ALREADY_QUEUED" | "INVALID";

export interface EnqueueResult {
  added: QueueItem[];
  skipped: { key: string; reason: SkipReason; message: string | null }[];
}

/**
 * Adds items to a queue (the queue is the processor that runs them). Each
 * payload is checked against the processor's input and `accepts`; an
 * invalid one is skipped as INVALID with the reason. An item whose
 * (queue, key) is already PENDING, RUNNING or WAITING is skipped as
 * ALREADY_QUEUED: the partial unique index decides, so two concurrent calls
 * cannot both add it. The rows, their STATUS events and the workers'
 * wake-up commit in one statement.
 */
export async function enqueue(raw: unknown): Promise<EnqueueResult> {
  const input = parseInput(enqueueInput, raw, ["input"]);
  const processor = getProcessor(input.queue);
  if (!processor) {
    const known = listProcessors().map((candidate) => candidate.name).join(", ");
    throw new InputError(`Unknown queue "${input.queue}": a queue is named after the processor that runs it; known: ${known}`, ["input.queue"]);
  }
  const skipped: EnqueueResult["skipped"] = [];
  const seen = new Set<string>();
  const valid: { key: string; label: string | null; payload: unknown; tags: string[]; meta: unknown; ord: number }[] = [];
  input.items.forEach((item, index) => {
    if (seen.has(item.key)) return void skipped.push({ key: item.key, reason: "ALREADY_QUEUED", message: "the same key appears earlier in this call" });
    seen.add(item.key);
    const parsed = processor.input.safeParse(item.payload);
    if (!parsed.success) {
      const message = parsed.error.issues.map((issue) => `${["payload", ...issue.path].join(".")}: ${issue.message}`).join("; ");
      return void skipped.push({ key: item.key, reason: "INVALID", message });
    }
    const accepted = processor.accepts?.(parsed.data) ?? true;
    if (accepted !== true) return void skipped.push({ key: item.key, reason: "INVALID", message: accepted });
    valid.push({ key: item.key, label: item.label ?? null, payload: parsed.data, tags: item.tags ?? [], meta: item.meta ?? null, ord: index });
  });
  if (valid.length === 0) return { added: [], skipped };

  const now = new Date();
  const priority = input.priority ?? 0;
  const maxAttempts = input.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  const runAfter = input.runAfter ?? now;
  // Only ids come back: decoding 10,000 full rows would cost more than writing them. The rest is what was written.
  const rows = await prisma().$queryRaw<{ id: number; key: string; noticesSent: number }[]>`
    WITH incoming AS (
      SELECT key, label, payload, tags, meta, ord FROM jsonb_to_recordset(${JSON.stringify(valid)}::jsonb) AS i(key text, label text, payload jsonb, tags text[], meta jsonb, ord int)
    ), added AS (
      INSERT INTO "QueueItem" (queue, key, label, payload, tags, meta, priority, "maxAttempts", "runAfter", "createdAt", "updatedAt")
      SELECT ${input.queue}, key, label, payload, tags, NULLIF(meta, 'null'::jsonb), ${priority}::int, ${maxAttempts}::int, ${runAfter}, ${now}, ${now}
      FROM incoming ORDER BY ord
      ON CONFLICT (queue, key) WHERE status IN ('PENDING', 'RUNNING', 'WAITING') DO NOTHING
      RETURNING id, key, status, queue
    ), ${statusEventCtes(QUEUE_ITEM_KIND, "added", Prisma.sql`NULL::text`, Prisma.sql`'enqueued'::text`)},
    wake AS (SELECT pg_notify(${WORK_CHANNEL}, ${JSON.stringify({ queue: input.queue })}) FROM (SELECT 1 FROM added LIMIT 1) any_added)
    SELECT added.id, added.key, (SELECT count(*) FROM notices)::int + (SELECT count(*) FROM wake)::int AS "noticesSent" FROM added ORDER BY id`;
  const byKey = new Map(valid.map((item) => [item.key, item]));
  const added: QueueItem[] = rows.map(({ id, key }) => {
    const item = byKey.get(key)!;
    // prettier-ignore
    return {
      id, queue: input.queue, key, label: item.label, payload: item.payload as QueueItem["payload"], tags: item.tags, meta: item.meta as QueueItem["meta"], priority, maxAttempts, runAfter,
      status: "PENDING", attempts: 0, result: null, error: null, cancelRequested: false, leaseOwner: null, leaseAt: null,
      createdAt: now, startedAt: null, completedAt: null, updatedAt: now,
    };
  });
  refreshStatistics(added.length);
  const addedKeys = new Set(added.map((row) => row.key));
  for (const item of valid) {
    if (!addedKeys.has(item.key)) skipped.push({ key: item.key, reason: "ALREADY_QUEUED", message: "an item with this key is already PENDING, RUNNING or WAITING" });
  }
  return { added, skipped };
}
