import { Prisma } from "../../generated/prisma/client.js";
import { reportDatabaseError, waitForDatabase } from "../../db/availability.js";
import { prisma } from "../../db/client.js";
import { describeError } from "../error-text.js";
import { tableOf } from "../kind.js";
import { newOwner } from "../lease.js";
import type { Recovery } from "../sweep.js";
import { listenForWork } from "../wake.js";
import type { WorkerDeps } from "../worker-deps.js";
import { LeaseLostError, moveRun } from "./checkpoint.js";
import type { CheckpointedKind, CheckpointedRow } from "./kind.js";
import { checkpointedRecovery } from "./recovery.js";
import { runAttempt, throughOutages, type RunStop } from "./run.js";

/**
 * An unexpected error (a bug, in the kind or a plugin): the checkpoint in
 * flight rolled back, so the row runs again from its last one after a
 * growing wait, and fails once the kind's retries are spent in a row (a
 * committed checkpoint resets the count); a kind without retries fails at
 * once. Written only while this attempt holds the row.
 */
async function recordCrash<Row extends CheckpointedRow>(kind: CheckpointedKind<Row, unknown>, id: number, attempt: string, error: unknown, deps: WorkerDeps): Promise<void> {
  deps.log.error({ err: error, id, kind: kind.noun }, `${kind.noun} run failed unexpectedly`);
  const message = describeError(error);
  await prisma().$transaction(async (tx) => {
    const [held] = await tx.$queryRaw<{ crashCount: number }[]>`
      SELECT "crashCount" FROM ${tableOf(kind.work)} WHERE id = ${id} AND status = 'RUNNING' AND "leaseOwner" = ${attempt} FOR UPDATE`;
    if (!held) return;
    const crashes = held.crashCount + 1;
    const set = Prisma.sql`"crashCount" = ${crashes}::int`;
    if (kind.crash === "fail") return moveRun(tx, kind, id, attempt, { to: "FAILED", reason: message, set });
    if (crashes > kind.crash.retries) return moveRun(tx, kind, id, attempt, { to: "FAILED", reason: `${crashes} failures in a row; last: ${message}`, set });
    const delayMs = kind.crash.backoffMs(deps.config) * crashes;
    await moveRun(tx, kind, id, attempt, { to: "PENDING", reason: `${message}; retrying from the last checkpoint in ${delayMs} ms`, set, delayMs });
  });
}

/**
 * The workers of one process for a checkpointed kind: WORKER_CONCURRENCY
 * handlers of its pg-boss queue, each job an attempt with an owner of its
 * own, kept through database outages (the claim and every write sent again
 * after an outage are recognised as this attempt's); a notice stops a
 * running attempt at once. Returns the kind's recovery, for the sweep.
 */
export async function startCheckpointedWorkers<Row extends CheckpointedRow, Unit, P>(kind: CheckpointedKind<Row, Unit, P>, deps: WorkerDeps): Promise<{ recovery: Recovery; stop(): Promise<void> }> {
  const some = kind as unknown as CheckpointedKind<Row, unknown>;
  const attempts = new Map<number, (reason: RunStop) => void>();
  const listener = await listenForWork(
    deps.databaseUrl,
    (notice) => {
      if (!("stop" in notice) || notice.stop.kind !== kind.work.subject) return;
      for (const id of notice.stop.ids) attempts.get(id)?.(notice.stop.flag);
    },
    deps.log,
  );
  // A process shutting down stops asking for jobs at once: its running attempts hand their rows on, and it must not
  // take them back. A job fetched in the meantime is passed on untouched.
  deps.shutdown.addEventListener("abort", () => void kind.queue.stopWorking().catch((error: unknown) => deps.log.warn({ err: error }, "could not stop fetching jobs")), { once: true });
  await kind.queue.work(deps.config.WORKER_CONCURRENCY, async (payload) => {
    if (deps.shutdown.aborted) return kind.queue.send(payload);
    const id = kind.idOf(payload);
    const attempt = newOwner(deps.owner);
    for (;;) {
      try {
        await runAttempt(kind, id, attempt, { ...deps, attempts });
      } catch (error) {
        if (error instanceof LeaseLostError) deps.log.info({ id, kind: kind.noun }, `the ${kind.noun} was lost to another worker; this attempt wrote nothing more`);
        else if (reportDatabaseError(error, `${kind.noun} run`)) {
          if (await waitForDatabase(deps.shutdown)) continue; // the same attempt: its claim finds the row still its own
        } else {
          await throughOutages(() => recordCrash(some, id, attempt, error, deps), deps.shutdown, `${kind.noun} crash`).catch((failure: unknown) =>
            deps.log.error({ err: failure, id }, `could not record a ${kind.noun}'s crash; the sweep will hand it on`),
          );
        }
      }
      break;
    }
  }, { pollSeconds: kind.pollSeconds });
  return { recovery: checkpointedRecovery(some), stop: () => listener.stop() };
}
