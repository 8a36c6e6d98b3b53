import { reportDatabaseError, waitForDatabase } from "../../db/availability.js";
import { prisma } from "../../db/client.js";
import { recordEvent } from "../events.js";
import type { LeaseFlags } from "../lease.js";
import { applyCheckpoint, checkpointStatement, commitEnding, LeaseLostError, readRow, type FinalMove } from "./checkpoint.js";
import { claimRun } from "./claim.js";
import type { CheckpointedKind, CheckpointedRow, RunContext } from "./kind.js";
import type { WorkerDeps } from "../worker-deps.js";

/** Why the engine stopped a run: a requested pause or cancel, the process shutting down, or its lease lost to another worker. */
export type RunStop = "pause" | "cancel" | "shutdown" | "lost";

/** The reason of an aborted run's signal. */
export class RunStopped extends Error {
  override name = "RunStopped";
  constructor(readonly reason: RunStop) {
    super(`stopped: ${reason}`);
  }
}

/**
 * What the engine makes of a stop: where the row goes (nothing at all when
 * its lease is lost). At shutdown a row is handed on to run again from its
 * last checkpoint, unless its kind fails rows it loses (a run that cannot
 * go on from the middle): then it fails as a lost one would, only sooner.
 */
function stopMove(reason: RunStop, lost: CheckpointedKind<CheckpointedRow, unknown>["lost"]): FinalMove | null {
  if (reason === "pause") return { to: "PAUSED", reason: "paused on request" };
  if (reason === "cancel") return { to: "CANCELLED", reason: "cancelled on request" };
  if (reason === "shutdown") return lost.to === "FAILED" ? { to: "FAILED", reason: "its worker shut down during the run" } : { to: "PENDING", reason: "worker shutting down; handed over" };
  return null;
}

/**
 * Runs a write until it commits, waiting out database outages: it rolled
 * back whole, or it committed and only its answer was lost, in which case
 * sending it again changes nothing (its sequence, or its lease guard). No
 * more work is done meanwhile. A shutdown during the outage gives up: the
 * row keeps its lease until the sweep hands it on.
 */
export async function throughOutages<T>(write: () => Promise<T>, shutdown: AbortSignal, part: string): Promise<T> {
  for (;;) {
    try {
      return await write();
    } catch (error) {
      if (!reportDatabaseError(error, part) || !(await waitForDatabase(shutdown))) throw error;
    }
  }
}

export interface AttemptDeps extends WorkerDeps {
  /** How this process's running attempts are stopped at once by a notice: by row id. */
  attempts: Map<number, (reason: RunStop) => void>;
}

/**
 * One attempt at a checkpointed row: claims it, holds its lease, runs the
 * kind from the committed state with ordered, idempotent checkpoints, and
 * ends it where the run (or a stop) says. Returns without doing anything if
 * the row is not runnable now. Throws LeaseLostError when the row was lost
 * to another worker, a database error when the database stayed away through
 * a shutdown, and whatever the run threw unexpectedly (the caller records
 * the crash).
 */
export async function runAttempt<Row extends CheckpointedRow, Unit>(kind: CheckpointedKind<Row, Unit>, id: number, attempt: string, deps: AttemptDeps): Promise<void> {
  const some = kind as CheckpointedKind<Row, unknown>;
  const claimed = await claimRun(some, id, attempt);
  if (!claimed) return;
  let row = claimed;
  const controller = new AbortController();
  const stop = (reason: RunStop) => {
    if (!controller.signal.aborted) controller.abort(new RunStopped(reason));
  };
  const obey = (flags: LeaseFlags) => {
    if (flags.cancelRequested) stop("cancel");
    else if (flags.pauseRequested) stop("pause");
  };
  const hold = { kind: kind.work, id, owner: attempt, lost: () => stop("lost"), flags: obey };
  deps.leases.hold(hold);
  deps.attempts.set(id, stop);
  const onShutdown = () => stop("shutdown");
  deps.shutdown.addEventListener("abort", onShutdown);
  if (deps.shutdown.aborted) onShutdown();

  let committing: Promise<void> = Promise.resolve();
  let failure: unknown;
  const settled = async () => {
    await committing;
    if (failure !== undefined) throw failure;
  };
  const ctx: RunContext<Row, Unit> = {
    signal: controller.signal,
    http: deps.http,
    config: deps.config,
    row: () => row,
    log: async (level, message) => void (await recordEvent(prisma(), { kind: "LOG", subjectKind: kind.work.subject, subjectId: id, level, message })),
    settled,
    async checkpoint(unit) {
      await settled(); // one in flight, in order: the next unit is made from the row the last one left
      const statement = checkpointStatement(some, row, attempt, kind.unit(row, unit));
      committing = throughOutages(
        async () => {
          const applied = await applyCheckpoint<Row>(prisma(), statement);
          if (applied.outcome === "lost") throw new LeaseLostError(`${kind.noun} ${id} is no longer held by this attempt`);
          if (applied.outcome === "applied") return applied.row;
          deps.log.info({ id, kind: kind.noun }, "a checkpoint's answer was lost after it committed; it was not applied again");
          return readRow(some, id);
        },
        deps.shutdown,
        `${kind.noun} checkpoint`,
      ).then(
        (next) => {
          row = next;
          obey(next);
        },
        (error: unknown) => {
          failure = error;
          if (error instanceof LeaseLostError) stop("lost");
        },
      );
    },
  };

  try {
    const finish = await kind.run(row, ctx);
    await settled();
    const final = finish.ending ?? stopMove((controller.signal.reason as RunStopped | undefined)?.reason ?? "lost", kind.lost);
    if (!final) return;
    await throughOutages(() => commitEnding(kind, row, attempt, final, finish.unit), deps.shutdown, `${kind.noun} end`);
  } finally {
    await committing;
    deps.leases.release(hold);
    if (deps.attempts.get(id) === stop) deps.attempts.delete(id);
    deps.shutdown.removeEventListener("abort", onShutdown);
  }
}
