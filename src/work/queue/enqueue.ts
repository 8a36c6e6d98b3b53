import { z } from "zod";
import { Prisma, type QueueItem } from "../../generated/prisma/client.js";
import { prisma } from "../../db/client.js";
import { InputError, parseInput } from "../../engine/errors.js";
import { statusEventCtes } from "../../engine/move.js";
import { WORK_CHANNEL } from "../../engine/wake.js";
import { getProcessor, listProcessors } from "../../registry.js";
import { DEFAULT_MAX_ATTEMPTS, MAX_ENQUEUE, QUEUE_ITEM_KIND } from "./kind.js";

export const enqueueInput = z.object({
  queue: z.string().min(1).max(63),
  items: z
    .array(
      z.object({
        key: z.string().trim().min(1, "must not be empty").max(500),
        label: z.string().trim().max(500).nullish(),
        payload: z.unknown(),
      }),
    )
    .min(1, "add at least one item")
    .max(MAX_ENQUEUE, `at most ${MAX_ENQUEUE} items in one call`),
  priority: z.number().int().min(-1_000_000).max(1_000_000).nullish(),
  maxAttempts: z.number().int().min(1).max(100).nullish(),
  runAfter: z.date().nullish(),
});

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
  const valid: { key: string; label: string | null; payload: unknown; ord: number }[] = [];
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
    valid.push({ key: item.key, label: item.label ?? null, payload: parsed.data, ord: index });
  });
  if (valid.length === 0) return { added: [], skipped };

  const now = new Date();
  const rows = await prisma().$queryRaw<(QueueItem & { noticesSent: number })[]>`
    WITH incoming AS (
      SELECT * FROM jsonb_to_recordset(${JSON.stringify(valid)}::jsonb) AS i(key text, label text, payload jsonb, ord int)
    ), added AS (
      INSERT INTO "QueueItem" (queue, key, label, payload, priority, "maxAttempts", "runAfter", "createdAt", "updatedAt")
      SELECT ${input.queue}, key, label, payload, ${input.priority ?? 0}::int, ${input.maxAttempts ?? DEFAULT_MAX_ATTEMPTS}::int, ${input.runAfter ?? now}, ${now}, ${now}
      FROM incoming ORDER BY ord
      ON CONFLICT (queue, key) WHERE status IN ('PENDING', 'RUNNING', 'WAITING') DO NOTHING
      RETURNING *
    ), ${statusEventCtes(QUEUE_ITEM_KIND, "added", Prisma.sql`NULL::text`, Prisma.sql`'enqueued'::text`, now)},
    wake AS (SELECT pg_notify(${WORK_CHANNEL}, ${JSON.stringify({ queue: input.queue })}) FROM (SELECT 1 FROM added LIMIT 1) any_added)
    SELECT added.*, (SELECT count(*) FROM notices)::int + (SELECT count(*) FROM wake)::int AS "noticesSent" FROM added ORDER BY id`;
  const added = rows.map(({ noticesSent: _sent, ...row }) => row as QueueItem);
  const addedKeys = new Set(added.map((row) => row.key));
  for (const item of valid) {
    if (!addedKeys.has(item.key)) skipped.push({ key: item.key, reason: "ALREADY_QUEUED", message: "an item with this key is already PENDING, RUNNING or WAITING" });
  }
  return { added, skipped };
}
