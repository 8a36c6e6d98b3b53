import { Prisma, type Import } from "../../generated/prisma/client.js";
import { prisma } from "../../db/client.js";
import { describeError } from "../../engine/error-text.js";
import { recordEvent } from "../../engine/events.js";
import { lockRow, LEASE_STALE_MS } from "../../engine/lease.js";
import { transition } from "../../engine/status.js";
import type { Recovery } from "../../engine/sweep.js";
import { sendJob, wakeWorkers } from "../../engine/queues.js";
import type { Logger } from "../../logger.js";
import { IMPORT_KIND } from "./kind.js";

/** Unexpected failures in a row (a bug) before an import is failed rather than retried. */
const MAX_CRASHES = 3;
/** The wait before a crashed import runs again, times the crashes in a row: five retry delays (5 s by default). */
const CRASH_BACKOFF_RETRY_DELAYS = 5;
const OVERDUE_WAIT_MS = 30_000;
/** A PENDING import untouched this long has probably lost its job; a second one is harmless (claims are idempotent). */
const LOST_PENDING_MS = 5 * 60_000;

/**
 * An unexpected error: the checkpoint in flight was rolled back
 * (docs/architecture.md, rule 7), so the import is retried from its last one
 * after a growing backoff, and failed after MAX_CRASHES in a row.
 */
export async function recordCrash(importId: number, owner: string, error: unknown, retryDelayMs: number, log: Logger): Promise<void> {
  log.error({ err: error, importId }, "import run failed unexpectedly");
  await prisma().$transaction(async (tx) => {
    const row = await lockRow<Import>(tx, IMPORT_KIND, importId);
    if (!row || row.status !== "RUNNING" || (row.leaseOwner !== null && row.leaseOwner !== owner)) return;
    const crashes = row.crashCount + 1;
    const message = describeError(error);
    if (crashes >= MAX_CRASHES) {
      await transition(tx, IMPORT_KIND, {
        id: importId,
        from: "RUNNING",
        to: "FAILED",
        reason: `${crashes} failures in a row; last: ${message}`,
        set: Prisma.sql`"crashCount" = ${crashes}, "lastError" = ${message}`,
      });
      return;
    }
    // A crash that is retried is not the import's error: it goes to the log, and lastError stays for what the import recorded.
    await tx.import.update({ where: { id: importId }, data: { crashCount: crashes, leaseOwner: null } });
    await recordEvent(tx, { kind: "LOG", subjectKind: IMPORT_KIND.subject, subjectId: importId, level: "WARNING", message: `${message}; retrying from the last checkpoint` });
    await sendJob("importRun", { importId }, { tx, startAfter: new Date(Date.now() + retryDelayMs * CRASH_BACKOFF_RETRY_DELAYS * crashes) });
  });
}

/**
 * Re-sends the job of every import no worker is running although it should
 * be: a RUNNING one whose lease went stale or that was handed over, a WAITING
 * one long past its time, a PENDING one whose job was lost (e.g. it failed
 * while the database was away). The claim decides; a job too many is harmless.
 */
export async function sweepStaleImports(now = Date.now()): Promise<number> {
  const stale = await prisma().import.findMany({
    where: {
      OR: [
        { status: "RUNNING", leaseAt: { lt: new Date(now - LEASE_STALE_MS) } },
        { status: "RUNNING", leaseOwner: null, updatedAt: { lt: new Date(now - LEASE_STALE_MS) } },
        { status: "WAITING", resumeAt: { lt: new Date(now - OVERDUE_WAIT_MS) } },
        { status: "PENDING", updatedAt: { lt: new Date(now - LOST_PENDING_MS) } },
      ],
    },
    select: { id: true, status: true },
  });
  for (const { id, status } of stale) {
    await sendJob("importRun", { importId: id });
    // Touched so a PENDING import behind a long queue gets one more job per LOST_PENDING_MS, not one per sweep.
    if (status === "PENDING") await prisma().import.update({ where: { id }, data: { updatedAt: new Date(now) } });
  }
  if (stale.length > 0) wakeWorkers("importRun");
  return stale.length;
}

export const importRecovery: Recovery = { kind: IMPORT_KIND, recover: sweepStaleImports };
