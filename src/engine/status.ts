import { Prisma } from "../generated/prisma/client.js";
import type { Status, SubjectKind } from "../generated/prisma/enums.js";

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

/** For each status, the statuses it may go to: the arms of one SQL CASE, built once, so statements using it keep one text and stay prepared. */
const NEXT_ARMS = Prisma.raw(
  (Object.keys(allowed) as Status[]).map((from) => `WHEN '${from}' THEN ARRAY[${allowed[from].map((to) => `'${to}'`).join(", ")}]`).join(" "),
);

/**
 * Whether the machine lets a row go from `from` to `to`, in SQL: the
 * condition every move puts in its UPDATE's WHERE, so no statement can
 * move work along an edge the machine does not have, whoever wrote it.
 */
export function legalMove(from: Prisma.Sql, to: Prisma.Sql): Prisma.Sql {
  return Prisma.sql`COALESCE((${to})::text = ANY(CASE (${from})::text ${NEXT_ARMS} END), false)`;
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
