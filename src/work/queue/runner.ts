import { Prisma, type QueueItem, type Status } from "../../generated/prisma/client.js";
import { databaseUp, reportDatabaseError, waitForDatabase } from "../../db/availability.js";
import { prisma } from "../../db/client.js";
import { describeError } from "../../engine/error-text.js";
import { recordEvent } from "../../engine/events.js";
import { RateLimitedError, UpstreamError } from "../../engine/http-client.js";
import { LEASE_RENEW_MS, renewLeases } from "../../engine/lease.js";
import { moveWork } from "../../engine/move.js";
import { createProgressReporter } from "../../engine/progress.js";
import { redactText } from "../../secrets.js";
import { listenForWork } from "../../engine/wake.js";
import type { WorkerDeps } from "../../engine/worker-deps.js";
import { getProcessor, listProcessors } from "../../registry.js";
import { isPermanent, PermanentError, type AnyProcessor } from "../../processors/types.js";
import { QUEUE_ITEM_KIND } from "./kind.js";

/** Without a notice, a worker looks for due work this often (items whose runAfter passed, work from another process). */
const POLL_MS = 1000;
/** Backoff never waits longer than this between two attempts of an item. */
const MAX_RETRY_DELAY_MS = 3600_000;
/** A result larger than this is refused: results are for answers, not payloads (store files, like image-normalize). */
const MAX_RESULT_BYTES = 256 * 1024;

type StopReason = "cancel" | "shutdown" | "lost";

/** How an attempt ended, to be written in the next batch. */
interface Outcome {
  id: number;
  to: Extract<Status, "COMPLETED" | "FAILED" | "PENDING" | "WAITING" | "CANCELLED">;
  reason: string;
  result: unknown;
  error: string | null;
  runAfter: Date | null;
  /** 1 when the attempt does not count (a rate limit, a shutdown). */
  attemptsBack: number;
}

interface Running {
  item: QueueItem;
  controller: AbortController;
}

/** Resolves `wait` early when `wake` is called. */
function createWaker() {
  let wake: (() => void) | undefined;
  return {
    wait(ms: number) {
      return new Promise<void>((resolve) => {
        const timer = setTimeout(done, ms);
        function done() {
          clearTimeout(timer);
          wake = undefined;
          resolve();
        }
        wake = done;
      });
    },
    wake: () => wake?.(),
  };
}

function classify(item: QueueItem, error: unknown, stopped: StopReason | undefined, retry: { delayMs: number; factor: number }): Outcome | null {
  const base = { id: item.id, result: null, runAfter: null, attemptsBack: 0 };
  if (stopped === "lost") return null; // another worker has it now: nothing of ours may be written
  if (stopped === "cancel") return { ...base, to: "CANCELLED", reason: "cancelled on request", error: null };
  if (stopped === "shutdown") return { ...base, to: "PENDING", reason: "worker shutting down; handed back", error: null, attemptsBack: 1 };
  if (error instanceof RateLimitedError) {
    return { ...base, to: "WAITING", reason: `Rate limited by the upstream until ${error.until.toISOString()}`, error: error.message, runAfter: error.until, attemptsBack: 1 };
  }
  const message = error instanceof UpstreamError || isPermanent(error) ? redactText((error as Error).message) : describeError(error);
  const permanent = isPermanent(error) || (error instanceof UpstreamError && !error.transient);
  if (permanent || item.attempts >= item.maxAttempts) {
    const why = permanent ? "" : ` (${item.attempts} of ${item.maxAttempts} attempts)`;
    return { ...base, to: "FAILED", reason: `${message}${why}`, error: message };
  }
  const delay = Math.min(MAX_RETRY_DELAY_MS, retry.delayMs * retry.factor ** (item.attempts - 1));
  const runAfter = new Date(Date.now() + delay);
  return { ...base, to: "PENDING", reason: `attempt ${item.attempts} of ${item.maxAttempts} failed: ${message}; retrying at ${runAfter.toISOString()}`, error: message, runAfter };
}

/** A result as it may be stored: JSON within MAX_RESULT_BYTES, without U+0000 (which jsonb cannot hold). */
function storable(result: unknown): { ok: true; value: unknown } | { ok: false; message: string } {
  const text = JSON.stringify(result ?? null);
  if (text.includes("\\u0000")) return { ok: false, message: "The result holds the character U+0000, which PostgreSQL cannot store" };
  if (Buffer.byteLength(text) > MAX_RESULT_BYTES) return { ok: false, message: `The result is larger than ${MAX_RESULT_BYTES / 1024} kB` };
  return { ok: true, value: JSON.parse(text) };
}

/**
 * The queue workers of one process: claims due items of the queues whose
 * processors it has, in priority order, up to WORKER_CONCURRENCY at once,
 * straight from the QueueItem table (FOR UPDATE SKIP LOCKED, a batch per
 * statement); runs them; and writes how they ended in batches too, each
 * with its STATUS events. It wakes on NOTIFY (new work, a cancel) and polls
 * every second for the rest. pg-boss is not on this path: its fetch sleeps
 * after every poll and slows as a backlog grows.
 */
export async function startQueueRunner(deps: WorkerDeps): Promise<{ stop(): Promise<void> }> {
  const { config, log, http, shutdown } = deps;
  const owner = `${deps.owner}/queue`;
  const concurrency = config.WORKER_CONCURRENCY;
  const retry = { delayMs: config.RETRY_DELAY_MS, factor: config.BACKOFF_FACTOR };
  const running = new Map<number, Running>();
  const stopReasons = new Map<number, StopReason>();
  const waker = createWaker();
  let pending: Outcome[] = [];
  let flushing: Promise<void> = Promise.resolve();
  let stopping = false;

  const queues = () => listProcessors().map((processor) => processor.name);
  const stop = (id: number, reason: StopReason) => {
    const entry = running.get(id);
    if (!entry || entry.controller.signal.aborted) return;
    stopReasons.set(id, reason);
    entry.controller.abort(new Error(`stopped: ${reason}`));
  };

  const listener = await listenForWork(
    deps.databaseUrl,
    (notice) => {
      if ("queue" in notice) return void (queues().includes(notice.queue) && waker.wake());
      if (notice.cancel.kind === QUEUE_ITEM_KIND.subject) for (const id of notice.cancel.ids) stop(id, "cancel");
    },
    log,
  );

  /** Writes the buffered outcomes, one statement per target status; kept and retried while the database is away. */
  const flush = () => {
    flushing = flushing.then(async () => {
      while (pending.length > 0) {
        const batch = pending;
        pending = [];
        try {
          for (const to of new Set(batch.map((outcome) => outcome.to))) {
            const outcomes = batch.filter((outcome) => outcome.to === to);
            await moveWork<QueueItem>(prisma(), QUEUE_ITEM_KIND, {
              picked: Prisma.sql`
                SELECT q.id, q.status, o.reason, o.result, o.error, o."runAfter", o."attemptsBack"
                FROM "QueueItem" q
                JOIN jsonb_to_recordset(${JSON.stringify(outcomes)}::jsonb) AS o(id int, reason text, result jsonb, error text, "runAfter" timestamptz, "attemptsBack" int) ON o.id = q.id
                WHERE q.status = 'RUNNING' AND q."leaseOwner" = ${owner}
                FOR UPDATE OF q`,
              to,
              reason: Prisma.sql`picked.reason`,
              set: Prisma.sql`result = picked.result, error = picked.error, "runAfter" = COALESCE(picked."runAfter" AT TIME ZONE 'UTC', t."runAfter"), attempts = t.attempts - picked."attemptsBack"`,
            });
            batch.splice(0, batch.length, ...batch.filter((outcome) => outcome.to !== to));
          }
        } catch (error) {
          pending = [...batch, ...pending];
          if (!reportDatabaseError(error, "queue item end")) {
            log.error({ err: error }, "could not record how queue items ended; trying again");
            await new Promise((resolve) => setTimeout(resolve, POLL_MS));
          } else if (!(await waitForDatabase(shutdown))) return;
        }
      }
    });
  };

  // The earliest retry or wait this process scheduled: it looks for work then rather than at its next poll.
  let nextDue = Number.POSITIVE_INFINITY;
  const finish = (outcome: Outcome | null) => {
    if (outcome?.runAfter) nextDue = Math.min(nextDue, outcome.runAfter.getTime());
    if (outcome) {
      const first = pending.length === 0;
      pending.push(outcome);
      if (first) setImmediate(flush); // every item that ends in this turn goes in the same statement
    }
  };

  const run = async (item: QueueItem, processor: AnyProcessor) => {
    const controller = new AbortController();
    running.set(item.id, { item, controller });
    const progress = createProgressReporter(log);
    const signal = AbortSignal.any([controller.signal, shutdown]);
    const onShutdown = () => stop(item.id, "shutdown");
    shutdown.addEventListener("abort", onShutdown);
    try {
      const input = processor.input.safeParse(item.payload);
      if (!input.success) throw new PermanentError(`The payload no longer fits the processor "${processor.name}": ${input.error.message}`);
      const result = await processor.run(
        {
          http,
          signal,
          attempt: item.attempts,
          itemId: item.id,
          log: async (level, message) => void (await recordEvent(prisma(), { kind: "LOG", subjectKind: QUEUE_ITEM_KIND.subject, subjectId: item.id, scope: item.queue, level, message })),
          progress: (done, total) =>
            progress.report({ subjectKind: QUEUE_ITEM_KIND.subject, subjectId: item.id, scope: item.queue, done, total, progress: total ? Math.min(1, done / total) : null, ratePerSecond: null, etaSeconds: null, counters: {} }),
        },
        input.data,
      );
      const stored = storable(result);
      if (!stored.ok) throw new PermanentError(stored.message);
      const stopped = stopReasons.get(item.id);
      finish(stopped ? classify(item, null, stopped, retry) : { id: item.id, to: "COMPLETED", reason: "done", result: stored.value, error: null, runAfter: null, attemptsBack: 0 });
    } catch (error) {
      finish(classify(item, error, stopReasons.get(item.id), retry));
    } finally {
      shutdown.removeEventListener("abort", onShutdown);
      running.delete(item.id);
      stopReasons.delete(item.id);
      await progress.flush();
      waker.wake();
    }
  };

  /** Takes up to `count` due items of these queues, highest priority first, skipping paused queues and rows another worker is taking. */
  const claim = (count: number, names: string[]) =>
    moveWork<QueueItem>(prisma(), QUEUE_ITEM_KIND, {
      // Each open queue's best items come from its own range of the claim index, merged by priority;
      // a paused queue's backlog is never read. Rows locked but not taken are free again at commit.
      picked: Prisma.sql`
        SELECT best.id, best.status FROM unnest(${names}::text[]) AS served(name)
        CROSS JOIN LATERAL (
          SELECT id, status, priority FROM "QueueItem"
          WHERE queue = served.name AND status IN ('PENDING', 'WAITING') AND "runAfter" <= ${new Date()}
          ORDER BY priority DESC, id
          LIMIT ${count}
          FOR UPDATE SKIP LOCKED
        ) best
        WHERE NOT EXISTS (SELECT 1 FROM "QueueSetting" s WHERE s.queue = served.name AND s.paused)
        ORDER BY best.priority DESC, best.id
        LIMIT ${count}`,
      to: "RUNNING",
      owner,
      reason: Prisma.sql`'attempt ' || t.attempts || ' of ' || t."maxAttempts"`,
      set: Prisma.sql`attempts = t.attempts + 1, error = NULL`,
    });

  const renew = setInterval(() => {
    if (running.size === 0 || !databaseUp()) return;
    renewLeases(prisma(), QUEUE_ITEM_KIND, owner, [...running.keys()]).then(
      (held) => {
        for (const id of running.keys()) {
          const state = held.get(id);
          if (!state) stop(id, "lost");
          else if (state.cancelRequested) stop(id, "cancel");
        }
      },
      (error) => reportDatabaseError(error, "queue lease") || log.warn({ err: error }, "could not renew the queue items' leases; trying again"),
    );
  }, LEASE_RENEW_MS);

  const loop = (async () => {
    while (!stopping) {
      if (!databaseUp()) {
        await waitForDatabase(shutdown);
        continue;
      }
      const free = concurrency - running.size;
      const names = queues();
      let claimed: QueueItem[] = [];
      if (free > 0 && names.length > 0) {
        try {
          claimed = await claim(free, names);
        } catch (error) {
          if (!reportDatabaseError(error, "queue claim")) log.error({ err: error }, "could not claim queue items; trying again");
        }
        for (const item of claimed) {
          const processor = getProcessor(item.queue);
          if (processor) void run(item, processor);
        }
      }
      if (claimed.length > 0 && claimed.length === free) continue; // there may be more
      const untilDue = nextDue - Date.now();
      if (untilDue <= 0) nextDue = Number.POSITIVE_INFINITY;
      await waker.wait(Math.max(0, Math.min(POLL_MS, untilDue)));
    }
  })();

  return {
    /** Stops claiming; running items are handed back (they run again elsewhere, the attempt not counted). */
    async stop() {
      stopping = true;
      clearInterval(renew);
      for (const id of running.keys()) stop(id, "shutdown");
      waker.wake();
      await loop;
      while (running.size > 0) await new Promise((resolve) => setTimeout(resolve, 10));
      flush();
      await flushing;
      await listener.stop();
    },
  };
}
