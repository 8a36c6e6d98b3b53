import { Prisma } from "../generated/prisma/client.js";
import { databaseUp, reportDatabaseError, waitForDatabase } from "../db/availability.js";
import { prisma } from "../db/client.js";
import { recordEvent } from "./events.js";
import { column, tableOf, type WorkKind } from "./kind.js";
import { LEASE_RENEW_MS, renewLeases } from "./lease.js";
import { moveWork, type Move } from "./move.js";
import { classify, storable, type Outcome, type RunnableRow, type StopReason } from "./outcome.js";
import { createProgressReporter } from "./progress.js";
import { createWaker } from "./waker.js";
import { listenForWork } from "./wake.js";
import type { WorkerDeps } from "./worker-deps.js";
import { PermanentError, type AnyProcessor } from "./processor.js";

export type { RunnableRow };

/** Without a notice, a worker looks for due work this often (items whose runAfter passed, work from another process). */
const POLL_MS = 1000;

/** What endAndClaim's `picked` has of each row, an end or a claim, named (src/db/prepared-statements.ts names no statement with a `*`). */
const END_COLUMNS = Prisma.raw(`id, status, "to", reason, result, error, "runAfter", "attemptsDelta"`);

interface Running {
  controller: AbortController;
}

/**
 * A kind of work the runner runs through processors, one row at a time
 * (queue items, job steps). Its table has, besides the lifecycle columns of
 * WorkKind, `attempts`, `maxAttempts`, `runAfter`, `result`, `error` and
 * `cancelRequested`.
 */
export interface Runnable<Row extends RunnableRow> {
  kind: WorkKind & { flags: readonly ["cancelRequested"] };
  /** How logs name one row, e.g. "queue item". */
  noun: string;
  /** The processor a claimed row runs through, its input, and the scope of its events. */
  task(row: Row): { processor: string; input: unknown; scope: string };
  /**
   * Up to `count` due rows of these processors, in the order they should
   * run, each locked FOR UPDATE SKIP LOCKED: the claim's `picked` (and the
   * CTEs it needs). `freeing`, for a freedByEnd kind, names a relation of
   * the rows the same statement ends (`id`, and `scope`: the value of the
   * kind's scope column): their slots count as free.
   */
  claim(count: number, processors: string[], now: Date, freeing?: Prisma.Sql): Pick<Move, "picked" | "before">;
  /**
   * Its rows free what the claim counts only once their ends are written
   * (a job's concurrency counts RUNNING rows), not as their runs return. The
   * runner then claims into the slots a batch's ends free in the statement
   * that writes them (one statement per batch, with no second one racing it
   * for the job's row), and looks for other work after writing ends rather
   * than claiming in vain while they are written.
   */
  freedByEnd?: boolean;
  /** What a claim that lost a race fails with (a constraint, a trigger's exception): it is tried again at once. */
  claimConflict?: RegExp;
  /**
   * Called with the rows whose ends were just written (committed), and the
   * rows claimed in the same statement, to act on what they add up to, e.g.
   * end a job whose steps have all ended. A failure is logged; the kind's
   * crash sweep must make up for it.
   */
  afterEnd?(rows: Row[], claimed: Row[]): Promise<unknown>;
}

/**
 * The workers of one process for a runnable kind: claims due rows of the
 * processors it has, in the kind's order, up to WORKER_CONCURRENCY at once,
 * straight from the kind's table (FOR UPDATE SKIP LOCKED, a batch per
 * statement); runs them; and writes how they ended in batches too, each
 * with its STATUS events. It wakes on NOTIFY (new work, a cancel) and polls
 * every second for the rest. pg-boss is not on this path: its fetch sleeps
 * after every poll and slows as a backlog grows.
 */
export async function startRunner<Row extends RunnableRow>(runnable: Runnable<Row>, deps: WorkerDeps): Promise<{ stop(): Promise<void> }> {
  const { config, log, http, shutdown } = deps;
  const { kind, noun } = runnable;
  const owner = `${deps.owner}/${kind.table}`;
  const concurrency = config.WORKER_CONCURRENCY;
  const retry = { delayMs: config.RETRY_DELAY_MS, factor: config.BACKOFF_FACTOR };
  const running = new Map<number, Running>();
  const stopReasons = new Map<number, StopReason>();
  const waker = createWaker();
  /** Ends not yet written; a batch is written while the next one gathers. */
  let pending: Outcome[] = [];
  let flushing = Promise.resolve();
  /** Rows claimed and not yet recorded as ended (what `afterEnd` is given). */
  const claimed = new Map<number, Row>();
  /** Slots a claim in flight (the loop's, or a refill) may fill: not free for another. */
  let reserved = 0;
  let stopping = false;

  const { processors } = deps;
  const stop = (id: number, reason: StopReason) => {
    const entry = running.get(id);
    if (!entry || entry.controller.signal.aborted) return;
    stopReasons.set(id, reason);
    entry.controller.abort(new Error(`stopped: ${reason}`));
  };

  const listener = await listenForWork(
    deps.databaseUrl,
    (notice) => {
      if ("queue" in notice) return void (processors.get(notice.queue) && waker.wake());
      if (notice.cancel.kind === kind.subject) for (const id of notice.cancel.ids) stop(id, "cancel");
    },
    log,
  );

  /**
   * Records how some rows ended, in one statement whatever their statuses,
   * and claims up to `count` due rows in the same statement: the loop's
   * claims (no ends), a batch's ends (no claim), or for a freedByEnd kind
   * both, the claim filling the slots the ends free, so a job's count of
   * running steps never passes through a state in which they are free but
   * unclaimed. Returns the rows it claimed.
   */
  const endAndClaim = async (outcomes: Outcome[], count: number): Promise<Row[]> => {
    const scope = kind.scope ? column("w", kind.scope) : Prisma.sql`NULL`;
    const ended = Prisma.sql`
      SELECT w.id, w.status, o."to", o.reason, o.result, o.error, o."runAfter", -o."attemptsBack" AS "attemptsDelta", ${scope} AS scope
      FROM ${tableOf(kind)} w
      JOIN jsonb_to_recordset(${JSON.stringify(outcomes)}::jsonb)
        AS o(id int, "to" text, reason text, result jsonb, error text, "runAfter" timestamptz, "attemptsBack" int) ON o.id = w.id
      WHERE w.status = 'RUNNING' AND w."leaseOwner" = ${owner}
      FOR UPDATE OF w`;
    const more = count > 0 ? runnable.claim(count, processors.names(), new Date(), Prisma.sql`ended`) : null;
    return moveWork<Row>(prisma(), kind, {
      before: Prisma.sql`ended AS (${ended})${more?.before ? Prisma.sql`, ${more.before}` : Prisma.empty}`,
      picked: more
        ? Prisma.sql`SELECT ${END_COLUMNS} FROM ended UNION ALL
            SELECT c.id, c.status, 'RUNNING', NULL, NULL::jsonb, NULL, NULL::timestamptz, 1 FROM (${more.picked}) c`
        : Prisma.sql`SELECT ${END_COLUMNS} FROM ended`,
      to: Prisma.sql`picked."to"`,
      owner,
      reason: Prisma.sql`COALESCE(picked.reason, 'attempt ' || t.attempts || ' of ' || t."maxAttempts")`,
      set: Prisma.sql`
        result = CASE WHEN picked."to" = 'RUNNING' THEN t.result ELSE picked.result END, error = picked.error,
        "runAfter" = COALESCE(picked."runAfter" AT TIME ZONE 'UTC', t."runAfter"), attempts = t.attempts + picked."attemptsDelta"`,
      // Only the claimed rows come back: the ended ones are done with, and decoding them would cost the worker for nothing.
      returning: Prisma.sql`moved."fromStatus" <> 'RUNNING'`,
    });
  };

  /** The earliest retry or wait this process wrote: it looks for work then rather than at its next poll. */
  let nextDue = Number.POSITIVE_INFINITY;

  /**
   * Writes how some rows ended (claiming up to `refill` more for a
   * freedByEnd kind), starts what it claimed and calls the kind's
   * `afterEnd`. A claim that loses a race costs only the refill: the ends
   * are written again without it, and the loop looks for work.
   */
  const writeEnds = async (outcomes: Outcome[], refill: number): Promise<void> => {
    let more: Row[];
    try {
      more = await endAndClaim(outcomes, refill);
    } catch (error) {
      if (!refill || !runnable.claimConflict?.test(String((error as Error).message))) throw error;
      more = await endAndClaim(outcomes, 0);
    }
    take(more);
    // A row to retry or that waits is claimable once it is written back and due: the loop looks again then, not at its next poll.
    const due = Math.min(...outcomes.map((outcome) => outcome.runAfter?.getTime() ?? Number.POSITIVE_INFINITY));
    if (due < nextDue) nextDue = due;
    if (due < Number.POSITIVE_INFINITY || (runnable.freedByEnd && (refill === 0 || more.length < refill))) waker.wake(); // or slots are left
    const rows = outcomes.map((outcome) => claimed.get(outcome.id)!);
    runnable.afterEnd?.(rows, more).catch((error: unknown) => reportDatabaseError(error, `${noun} end`) || log.warn({ err: error }, `could not act on ${noun}s' ends; the crash sweep will`));
    for (const outcome of outcomes) claimed.delete(outcome.id);
  };

  /** Writes the buffered outcomes; kept and retried while the database is away. */
  const flush = () => {
    flushing = flushing.then(async () => {
      while (pending.length > 0) {
        const batch = pending;
        pending = [];
        const refill = runnable.freedByEnd && !stopping && databaseUp() ? Math.max(0, Math.min(batch.length, concurrency - running.size - reserved)) : 0;
        reserved += refill;
        try {
          await writeEnds(batch, refill);
        } catch (error) {
          pending = [...batch, ...pending];
          if (!reportDatabaseError(error, `${noun} end`)) {
            log.error({ err: error }, `could not record how ${noun}s ended; trying again`);
            await new Promise((resolve) => setTimeout(resolve, POLL_MS));
          } else if (!(await waitForDatabase(shutdown))) return;
        } finally {
          reserved -= refill;
        }
      }
    });
  };

  const finish = (id: number, outcome: Outcome | null) => {
    if (!outcome) {
      claimed.delete(id); // lost: another worker has it, and nothing of ours is written
    } else {
      const first = pending.length === 0;
      pending.push(outcome);
      if (first) setImmediate(flush); // every row that ends in this turn goes in the same statement
    }
  };

  const run = async (item: Row, processor: AnyProcessor) => {
    const { input: payload, scope } = runnable.task(item);
    const controller = new AbortController();
    running.set(item.id, { controller });
    const progress = createProgressReporter(log);
    // A shutdown aborts the row's own controller (not AbortSignal.any, which costs 13 µs a row here).
    const { signal } = controller;
    const onShutdown = () => stop(item.id, "shutdown");
    shutdown.addEventListener("abort", onShutdown);
    if (shutdown.aborted) onShutdown();
    try {
      const input = processor.input.safeParse(payload);
      if (!input.success) throw new PermanentError(`The input no longer fits the processor "${processor.name}": ${input.error.message}`);
      const result = await processor.run(
        {
          http,
          signal,
          attempt: item.attempts,
          itemId: item.id,
          log: async (level, message) => void (await recordEvent(prisma(), { kind: "LOG", subjectKind: kind.subject, subjectId: item.id, scope, level, message })),
          progress: (done, total) =>
            progress.report({ subjectKind: kind.subject, subjectId: item.id, scope, done, total, progress: total ? Math.min(1, done / total) : null, ratePerSecond: null, etaSeconds: null, counters: {} }),
        },
        input.data,
      );
      const stored = storable(result);
      if (!stored.ok) throw new PermanentError(stored.message);
      const stopped = stopReasons.get(item.id);
      finish(item.id, stopped ? classify(item, null, stopped, retry) : { id: item.id, to: "COMPLETED", reason: "done", result: stored.value, error: null, runAfter: null, attemptsBack: 0 });
    } catch (error) {
      finish(item.id, classify(item, error, stopReasons.get(item.id), retry));
    } finally {
      shutdown.removeEventListener("abort", onShutdown);
      running.delete(item.id);
      stopReasons.delete(item.id);
      await progress.flush();
      if (!runnable.freedByEnd) waker.wake();
    }
  };

  /** Runs claimed rows, each through its processor. */
  function take(rows: Row[]): void {
    for (const item of rows) {
      claimed.set(item.id, item);
      const processor = processors.get(runnable.task(item).processor);
      if (processor) void run(item, processor);
    }
  }

  const renew = setInterval(() => {
    if (running.size === 0 || !databaseUp()) return;
    renewLeases(prisma(), kind, owner, [...running.keys()]).then(
      (held) => {
        for (const id of running.keys()) {
          const state = held.get(id);
          if (!state) stop(id, "lost");
          else if (state.cancelRequested) stop(id, "cancel");
        }
      },
      (error) => reportDatabaseError(error, `${noun} lease`) || log.warn({ err: error }, `could not renew the ${noun}s' leases; trying again`),
    );
  }, LEASE_RENEW_MS);

  const loop = (async () => {
    while (!stopping) {
      if (!databaseUp()) {
        await waitForDatabase(shutdown);
        continue;
      }
      const free = concurrency - running.size - reserved;
      const names = processors.names();
      let taken: Row[] = [];
      if (free > 0 && names.length > 0) {
        reserved += free;
        try {
          taken = await endAndClaim([], free);
        } catch (error) {
          if (runnable.claimConflict?.test(String((error as Error).message))) continue;
          if (!reportDatabaseError(error, `${noun} claim`)) log.error({ err: error }, `could not claim ${noun}s; trying again`);
        } finally {
          reserved -= free;
        }
        take(taken);
      }
      if (taken.length > 0 && taken.length === free) continue; // there may be more
      const untilDue = nextDue - Date.now();
      if (untilDue <= 0) nextDue = Number.POSITIVE_INFINITY;
      await waker.wait(Math.max(0, Math.min(POLL_MS, untilDue)));
    }
  })();

  return {
    /** Stops claiming; running rows are handed back (they run again elsewhere, the attempt not counted). */
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
