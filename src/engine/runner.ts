import { databaseUp, isDatabaseUnavailable, reportDatabaseError, waitForDatabase } from "../db/availability.js";
import { prisma } from "../db/client.js";
import type { Logger } from "../logger.js";
import { recordEvent } from "./events.js";
import { storeFile } from "./files.js";
import { columnsOf, tableOf, type WorkKind } from "./kind.js";
import { newOwner, type LeaseFlags } from "./lease.js";
import type { Hold } from "./lease-keeper.js";
import { classify, completed, unwritable, type AttemptStop, type Outcome, type RunnableRow } from "./outcome.js";
import { endAndClaimStatement, type Runnable } from "./runnable.js";
import { PermanentError, type AnyProcessor } from "./processor.js";
import { createProgressReporter } from "./progress.js";
import { createWaker } from "./waker.js";
import { listenForWork, type WorkNotice } from "./wake.js";
import type { WorkerDeps } from "./worker-deps.js";

/** How long a stopped attempt's processor has to notice its signal before its row is ended without it. */
const STOP_GRACE_MS = 5000;
/** Without a notice, a worker looks for due work this often (items whose runAfter passed, work from another process). */
const POLL_MS = 1000;

/**
 * One claim of one row by this process: its own lease owner and signal. It
 * is its own lease hold (the keeper tells it when its lease is lost or a
 * cancel was flagged), so a row costs no closures of its own.
 */
class Attempt<Row extends RunnableRow> implements Hold {
  readonly controller = new AbortController();
  stopped?: AttemptStop;
  /** When it started (performance.now()): the runner's deadline sweep judges it by this. */
  readonly startedAt = performance.now();
  /** Ends the wait for the processor's result: set while it runs. */
  giveUp?: (error: Error) => void;
  constructor(
    readonly kind: WorkKind,
    readonly row: Row,
    readonly owner: string,
  ) {}
  /**
   * The processor's result, or the reason it was given up: STOP_GRACE_MS
   * after the attempt was stopped, a processor that ignores its signal does
   * not keep its row or its slot.
   */
  outcomeOf<T>(run: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.giveUp = reject;
      run.then(resolve, reject);
    });
  }
  get id(): number {
    return this.row.id;
  }
  abort(reason: AttemptStop): void {
    if (this.controller.signal.aborted) return;
    this.stopped = reason;
    this.controller.abort(new Error(`stopped: ${reason}`));
    setTimeout(() => this.giveUp?.(new Error(`stopped (${reason}); the processor did not stop within ${STOP_GRACE_MS} ms`)), STOP_GRACE_MS).unref();
  }
  lost(): void {
    this.abort("lost");
  }
  flags(flags: LeaseFlags): void {
    if (flags.cancelRequested) this.abort("cancel");
  }
  /** A shutdown of the process (an event listener: `this` is the attempt). */
  handleEvent(): void {
    this.abort("shutdown");
  }
}

/** How an attempt ended, waiting to be written, with the row it ended (what `afterEnd` is given). */
interface Ended<Row> {
  outcome: Outcome;
  row: Row;
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
class Runner<Row extends RunnableRow> {
  private readonly running = new Set<Attempt<Row>>();
  private readonly waker = createWaker();
  /** Ends not yet written; a batch is written while the next one gathers. */
  private pending: Ended<Row>[] = [];
  private flushing = Promise.resolve();
  /** Owners of claims whose answer was lost: their rows may be RUNNING under them, and are taken up before anything new. */
  private unconfirmed: string[] = [];
  /** Slots a claim in flight (the loop's, or a refill) may fill: not free for another. */
  private reserved = 0;
  /** Rows whose run returned and whose end is not written yet: for a freedByEnd kind they hold their slots until it is. */
  private unwritten = 0;
  /** The earliest retry or wait this process wrote: it looks for work then rather than at its next poll. */
  private nextDue = Number.POSITIVE_INFINITY;
  private stopping = false;
  private readonly log: Logger;
  private readonly concurrency: number;
  private readonly retry: { delayMs: number; factor: number; attemptMs: number };

  constructor(
    private readonly runnable: Runnable<Row>,
    private readonly deps: WorkerDeps,
  ) {
    this.log = deps.log;
    this.concurrency = deps.config.WORKER_CONCURRENCY;
    this.retry = { delayMs: deps.config.RETRY_DELAY_MS, factor: deps.config.BACKOFF_FACTOR, attemptMs: deps.config.ATTEMPT_TIMEOUT_MS };
  }

  private get free(): number {
    return this.concurrency - this.running.size - this.reserved - (this.runnable.freedByEnd ? this.unwritten : 0);
  }

  /** Stops the attempts that ran past ATTEMPT_TIMEOUT_MS: one sweep for all, not a timer per row. */
  stopLate(): void {
    const late = performance.now() - this.retry.attemptMs;
    for (const attempt of this.running) if (attempt.startedAt < late) attempt.abort("deadline");
  }

  onNotice(notice: WorkNotice): void {
    if ("queue" in notice) {
      if (this.deps.processors.get(notice.queue)) this.waker.wake();
    } else if (notice.stop.kind === this.runnable.kind.subject && notice.stop.flag === "cancel") {
      const ids = new Set(notice.stop.ids);
      for (const attempt of this.running) if (ids.has(attempt.id)) attempt.abort("cancel");
    }
  }

  /** Claims up to `count` rows under a new owner (in the statement that writes `ended`) and starts them. A claim whose answer is lost is taken up at the next look. */
  private async claim(count: number, ended: Ended<Row>[] = []): Promise<Row[]> {
    const owner = newOwner(this.deps.owner);
    try {
      const statement = endAndClaimStatement(
        this.runnable,
        ended.map((end) => end.outcome),
        { count, owner, processors: this.deps.processors.names() },
      );
      // Its moves skip refusals (a claim picks only rows that may start, an end only rows RUNNING under their attempt).
      const rows = await prisma().$queryRaw<Row[]>(statement);
      this.take(rows, owner);
      return rows;
    } catch (error) {
      if (count > 0 && isDatabaseUnavailable(error)) this.unconfirmed.push(owner);
      throw error;
    }
  }

  /** Starts the rows that claims whose answers were lost may have taken (they are RUNNING under those owners, their attempts counted). */
  private async reattach(): Promise<void> {
    const owners = this.unconfirmed;
    const { kind } = this.runnable;
    const rows = await prisma().$queryRaw<(Row & { leaseOwner: string })[]>`
      SELECT ${columnsOf(kind, "t")} FROM ${tableOf(kind)} t WHERE t.status = 'RUNNING' AND t."leaseOwner" = ANY(${owners}::text[])`;
    this.unconfirmed = this.unconfirmed.filter((owner) => !owners.includes(owner));
    for (const row of rows) this.take([row], row.leaseOwner);
    if (rows.length > 0) this.log.info({ kind: kind.subject, count: rows.length }, "took up rows a claim had taken before its answer was lost");
  }

  /** Runs claimed rows, each through its processor, each holding its lease through the process's keeper. */
  private take(rows: Row[], owner: string): void {
    for (const row of rows) {
      const processor = this.deps.processors.get(this.runnable.task(row).processor);
      if (!processor) continue; // claims take only this process's processors' rows
      const attempt = new Attempt(this.runnable.kind, row, owner);
      this.deps.leases.hold(attempt);
      this.running.add(attempt);
      void this.run(attempt, processor);
    }
  }

  private async run(attempt: Attempt<Row>, processor: AnyProcessor): Promise<void> {
    const { row, owner, controller } = attempt;
    const { kind } = this.runnable;
    const { input: payload, scope } = this.runnable.task(row);
    const progress = createProgressReporter(this.log);
    const { shutdown } = this.deps;
    // A shutdown aborts the attempt's own controller (not AbortSignal.any, which costs 13 µs a row here).
    shutdown.addEventListener("abort", attempt);
    if (shutdown.aborted) attempt.abort("shutdown");
    const base = { id: row.id, owner };
    let outcome: Outcome | null;
    try {
      const input = processor.input.safeParse(payload);
      if (!input.success) throw new PermanentError(`The input no longer fits the processor "${processor.name}": ${input.error.message}`);
      const run = processor.run(
        {
          http: this.deps.attemptHttp,
          signal: controller.signal,
          attempt: row.attempts,
          itemId: row.id,
          storeFile: (name, contentType, bytes) => storeFile({ kind: kind.subject, id: row.id }, name, contentType, bytes, this.deps.config.FILES_MAX_BYTES),
          log: async (level, message) => void (await recordEvent(prisma(), { kind: "LOG", subjectKind: kind.subject, subjectId: row.id, scope, level, message })),
          progress: (done, total) =>
            progress.report({ subjectKind: kind.subject, subjectId: row.id, scope, done, total, progress: total ? Math.min(1, done / total) : null, ratePerSecond: null, etaSeconds: null, counters: {} }),
        },
        input.data,
      );
      const result = await attempt.outcomeOf(run);
      outcome = attempt.stopped ? classify(row, base, null, attempt.stopped, this.retry) : completed(base, result);
    } catch (error) {
      outcome = classify(row, base, error, attempt.stopped, this.retry);
    }
    shutdown.removeEventListener("abort", attempt);
    this.deps.leases.release(attempt);
    this.running.delete(attempt);
    if (outcome) this.finish({ outcome, row });
    if (!this.runnable.freedByEnd) this.waker.wake();
    await progress.flush();
  }

  private finish(end: Ended<Row>): void {
    const first = this.pending.length === 0;
    this.unwritten += 1;
    this.pending.push(end);
    if (first) setImmediate(() => this.flush()); // every row that ends in this turn goes in the same statement
  }

  /** Writes the buffered ends; kept and retried while the database is away. */
  flush(): void {
    this.flushing = this.flushing.then(async () => {
      while (this.pending.length > 0) {
        const batch = this.pending;
        this.pending = [];
        // The batch's slots are free in the statement that writes it: they are refilled there. No claim while a lost
        // claim's rows are not taken up yet: the slots they hold would be counted twice.
        const refill = this.runnable.freedByEnd && !this.stopping && databaseUp() && this.unconfirmed.length === 0 ? Math.max(0, Math.min(batch.length, this.free + batch.length)) : 0;
        this.reserved += refill;
        try {
          await this.writeEnds(batch, refill);
        } catch (error) {
          if (reportDatabaseError(error, `${this.runnable.noun} end`)) {
            // Ends are guarded by their owners: written again after a lost answer, they change nothing.
            this.pending = [...batch, ...this.pending];
            if (!(await waitForDatabase(this.deps.shutdown))) return;
          } else {
            await this.writeApart(batch, error);
          }
        } finally {
          this.reserved -= refill;
        }
      }
    });
  }

  /**
   * Writes how some rows ended (claiming up to `refill` more for a
   * freedByEnd kind), starts what it claimed and calls the kind's
   * `afterEnd`. A claim that loses a race costs only the refill: the ends
   * are written again without it, and the loop looks for work.
   */
  private async writeEnds(batch: Ended<Row>[], refill: number): Promise<void> {
    let more: Row[];
    try {
      more = await this.claim(refill, batch);
    } catch (error) {
      if (!refill || !this.runnable.claimConflict?.(error)) throw error;
      more = await this.claim(0, batch);
    }
    this.unwritten -= batch.length;
    // A row to retry or that waits is claimable once it is written back and due: the loop looks again then, not at its next poll.
    let soonest = Number.POSITIVE_INFINITY;
    for (const end of batch) if (end.outcome.delayMs !== null && end.outcome.delayMs < soonest) soonest = end.outcome.delayMs;
    const due = Date.now() + soonest;
    if (due < this.nextDue) this.nextDue = due;
    if (due < Number.POSITIVE_INFINITY || (this.runnable.freedByEnd && (refill === 0 || more.length < refill))) this.waker.wake(); // or slots are left
    this.runnable
      .afterEnd?.(
        batch.map((end) => end.row),
        more,
      )
      .catch((error: unknown) => reportDatabaseError(error, `${this.runnable.noun} end`) || this.log.warn({ err: error }, `could not act on ${this.runnable.noun}s' ends; the crash sweep will`));
  }

  /**
   * A batch whose statement failed on its data (no row's text can, once
   * made storable; a value out of a column's range still could) is written
   * in halves, so one bad row never holds the others; the bad row ends
   * FAILED saying why. Should even that fail, its lease lapses and the
   * sweep takes it back.
   */
  private async writeApart(batch: Ended<Row>[], error: unknown): Promise<void> {
    if (batch.length === 1) {
      const [{ outcome, row }] = batch;
      if (outcome.reason.startsWith("its outcome could not be stored")) {
        this.log.error({ err: error, id: outcome.id }, `could not record how a ${this.runnable.noun} ended; its lease will lapse and the sweep takes it back`);
        this.unwritten -= 1;
        return;
      }
      this.log.warn({ err: error, id: outcome.id }, `a ${this.runnable.noun}'s outcome could not be stored; it ends FAILED`);
      return this.writeOne([{ outcome: unwritable(outcome, error), row }]);
    }
    const half = Math.ceil(batch.length / 2);
    for (const part of [batch.slice(0, half), batch.slice(half)]) await this.writeOne(part);
  }

  private async writeOne(batch: Ended<Row>[]): Promise<void> {
    try {
      await this.writeEnds(batch, 0);
    } catch (error) {
      if (reportDatabaseError(error, `${this.runnable.noun} end`)) this.pending.push(...batch);
      else await this.writeApart(batch, error);
    }
  }

  /** Claims and starts work until stopped. */
  async loop(): Promise<void> {
    while (!this.stopping) {
      if (!databaseUp()) {
        await waitForDatabase(this.deps.shutdown);
        continue;
      }
      let taken = 0;
      const free = this.free;
      if (this.unconfirmed.length > 0) {
        const failed = await this.reattach().then(
          () => false,
          (error: unknown) => !reportDatabaseError(error, `${this.runnable.noun} claim`) && (this.log.error({ err: error }, "could not take up lost claims; trying again"), true),
        );
        if (failed) await this.waker.wait(POLL_MS);
        continue;
      }
      if (free > 0 && this.deps.processors.names().length > 0) {
        this.reserved += free;
        try {
          taken = (await this.claim(free)).length;
        } catch (error) {
          if (this.runnable.claimConflict?.(error)) continue;
          if (!reportDatabaseError(error, `${this.runnable.noun} claim`)) this.log.error({ err: error }, `could not claim ${this.runnable.noun}s; trying again`);
        } finally {
          this.reserved -= free;
        }
      }
      if (taken > 0 && taken === free) continue; // there may be more
      const untilDue = this.nextDue - Date.now();
      if (untilDue <= 0) this.nextDue = Number.POSITIVE_INFINITY;
      await this.waker.wait(Math.max(0, Math.min(POLL_MS, untilDue)));
    }
  }

  /** Stops claiming; running rows are handed back (they run again elsewhere, the attempt not counted). */
  async stop(loop: Promise<void>): Promise<void> {
    this.stopping = true;
    for (const attempt of this.running) attempt.abort("shutdown");
    this.waker.wake();
    await loop;
    while (this.running.size > 0) await new Promise((resolve) => setTimeout(resolve, 10));
    this.flush();
    await this.flushing;
  }

}

/** Starts the runner of a runnable kind in this process; `stop` hands its running rows back. */
export async function startRunner<Row extends RunnableRow>(runnable: Runnable<Row>, deps: WorkerDeps): Promise<{ stop(): Promise<void> }> {
  const runner = new Runner(runnable, deps);
  const listener = await listenForWork(deps.databaseUrl, (notice) => runner.onNotice(notice), deps.log);
  const loop = runner.loop();
  // A quarter of the deadline, so an attempt is stopped at most 25 % late (and at least once a second).
  const deadlines = setInterval(() => runner.stopLate(), Math.min(1000, Math.max(20, deps.config.ATTEMPT_TIMEOUT_MS / 4)));
  deadlines.unref();
  return {
    async stop() {
      clearInterval(deadlines);
      await runner.stop(loop);
      await listener.stop();
    },
  };
}
