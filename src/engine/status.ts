import { Prisma } from "../generated/prisma/client.js";
import type { Status, SubjectKind } from "../generated/prisma/enums.js";
import { ConflictError } from "./errors.js";
import type { Db } from "./events.js";
import { tableOf, type WorkKind } from "./kind.js";
import { moveWork } from "./move.js";

export type { Status };

/**
 * The one lifecycle of every kind of work. PENDING work may start or be
 * cancelled; RUNNING work pauses, waits out a rate limit, finishes or fails;
 * PAUSED, WAITING and FAILED work resumes (back to RUNNING or, to be picked up
 * again, PENDING); finished work goes back to PENDING only when retried on
 * request (a queue item, a job and its failed or cancelled steps, a
 * collector), under the same row. Each kind's commands decide which of
 * these they offer: an import is never resumed once cancelled.
 */
const allowed: Record<Status, readonly Status[]> = {
  PENDING: ["RUNNING", "CANCELLED", "PAUSED", "FAILED"],
  RUNNING: ["PAUSED", "WAITING", "COMPLETED", "FAILED", "CANCELLED", "PENDING"],
  PAUSED: ["PENDING", "RUNNING", "CANCELLED"],
  WAITING: ["PENDING", "RUNNING", "PAUSED", "CANCELLED", "FAILED"],
  COMPLETED: ["PENDING"],
  FAILED: ["PENDING", "RUNNING", "CANCELLED"],
  CANCELLED: ["PENDING"],
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
  id: number;
  /** The status the caller read (under a lock) and moves the work from. */
  from: Status;
  to: Status;
  reason: string;
  /** With `to: "RUNNING"`: the lease's owner. */
  owner?: string;
  /** More assignments of the same statement (see Move.set). */
  set?: Prisma.Sql;
}

/**
 * Moves one piece of work from the status the caller read to another, with
 * the target's side effects and its STATUS event, in one statement (see
 * src/engine/move.ts). An illegal transition is refused before any write;
 * a row whose status changed meanwhile is a ConflictError.
 */
export async function transition<Row>(db: Db, kind: WorkKind, change: Transition): Promise<Row> {
  const { id, from, to } = change;
  if (!canTransition(from, to)) throw new IllegalTransitionError(kind.subject, id, from, to);
  const [moved] = await moveWork<Row>(db, kind, {
    picked: Prisma.sql`SELECT id, status FROM ${tableOf(kind)} WHERE id = ${id} AND status = ${from}::"Status" FOR UPDATE`,
    to,
    reason: change.reason,
    owner: change.owner,
    set: change.set,
  });
  if (!moved) throw new ConflictError(`${kind.subject} ${id} is no longer ${from}; nothing was changed`);
  const { fromStatus: _from, ...row } = moved;
  return row as Row;
}
