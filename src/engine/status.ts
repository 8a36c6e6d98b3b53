import type { Status, SubjectKind } from "../generated/prisma/enums.js";
import type { Tx } from "../db/client.js";
import { recordEvent, type StatusEvent } from "./events.js";

export type { Status };

/**
 * The one lifecycle of every kind of work. PENDING work may start or be
 * cancelled; RUNNING work pauses, waits out a rate limit, finishes or fails;
 * PAUSED, WAITING and FAILED work resumes (back to RUNNING or, to be picked up
 * again by a worker, PENDING); COMPLETED and CANCELLED are final, except that
 * COMPLETED → PENDING re-runs finished work (a collector or a retried step)
 * under the same row.
 */
const allowed: Record<Status, readonly Status[]> = {
  PENDING: ["RUNNING", "CANCELLED", "PAUSED", "FAILED"],
  RUNNING: ["PAUSED", "WAITING", "COMPLETED", "FAILED", "CANCELLED", "PENDING"],
  PAUSED: ["PENDING", "RUNNING", "CANCELLED"],
  WAITING: ["PENDING", "RUNNING", "PAUSED", "CANCELLED", "FAILED"],
  COMPLETED: ["PENDING"],
  FAILED: ["PENDING", "RUNNING", "CANCELLED"],
  CANCELLED: [],
};

/** Work that will not change again unless someone restarts it. */
export const FINISHED: readonly Status[] = ["COMPLETED", "FAILED", "CANCELLED"];

export function canTransition(from: Status, to: Status): boolean {
  return allowed[from].includes(to);
}

/** An attempt to move work along a transition the lifecycle does not allow. */
export class IllegalTransitionError extends Error {
  override name = "IllegalTransitionError";
  constructor(
    readonly subjectKind: SubjectKind,
    readonly subjectId: number,
    readonly from: Status,
    readonly to: Status,
  ) {
    super(`${subjectKind} ${subjectId} is ${from} and cannot become ${to}`);
  }
}

export interface Transition {
  subjectKind: SubjectKind;
  subjectId: number;
  from: Status;
  to: Status;
  reason?: string;
}

/**
 * Checks a transition and records its STATUS event in the caller's
 * transaction, the one that also updates the row, so the event exists (and
 * is delivered, NOTIFY being sent at commit) exactly when the change does.
 */
export async function transition(tx: Tx, change: Transition): Promise<StatusEvent> {
  const { subjectKind, subjectId, from, to, reason } = change;
  if (!canTransition(from, to)) throw new IllegalTransitionError(subjectKind, subjectId, from, to);
  return recordEvent(tx, { kind: "STATUS", subjectKind, subjectId, from, to, reason: reason ?? null });
}
