import { Prisma } from "../generated/prisma/client.js";
import type { Status } from "../generated/prisma/enums.js";
import { DB_NOW, DB_NOW_ISO } from "./clock.js";
import { ConflictError } from "./errors.js";
import { EVENTS_CHANNEL, MAX_NOTIFY_BYTES, type Db } from "./events.js";
import { column, columnsOf, tableOf, type WorkKind } from "./kind.js";
import { canTransition, IllegalTransitionError, legalMove } from "./status.js";
import { redactText } from "../secrets.js";
import { logger } from "../logger.js";

/**
 * STATUS events per NOTIFY of a batch. A batch notice carries what the
 * events share once and each event as a short array (about 60 bytes), so 80
 * stay under PostgreSQL's 8,000-byte payload; a chunk that does not (long
 * reasons) goes by reference.
 */
const EVENTS_PER_NOTICE = 80;

export interface Move {
  /**
   * The rows to move, as a query that yields `id` and `status` (their
   * status before the move) and may yield more columns (`reason`, or values
   * `set` uses) for each: it should lock them (FOR UPDATE, or SKIP LOCKED
   * to claim).
   */
  picked: Prisma.Sql;
  /** The target status, or per row: an SQL expression over `picked`'s columns, e.g. Prisma.sql`picked."to"`. */
  to: Status | Prisma.Sql;
  /** Why, as one text for all, or an SQL expression over `picked`'s columns. */
  reason: string | Prisma.Sql;
  /** With `to: "RUNNING"`: the lease's owner. */
  owner?: string;
  /** More assignments, e.g. Prisma.sql`"lastError" = picked.error`. */
  set?: Prisma.Sql;
  /** The work runs anew (a retry of finished work): its start time is cleared, so its next run's duration counts from its next start. */
  restart?: boolean;
  /** CTEs `picked` may use, e.g. `open AS (…)`. */
  before?: Prisma.Sql;
  /** CTEs that write what follows from the move, over `moved` (the rows as they are now), e.g. a parent's state on success. */
  after?: Prisma.Sql;
  /** Which moved rows come back (all by default): a condition over `moved` (the rows as they are now, and `"fromStatus"`). */
  returning?: Prisma.Sql;
  /**
   * Picked rows the machine does not let go to their target are never
   * moved. By default the statement also returns them, marked `refusedTo`,
   * and moveWork throws IllegalTransitionError (rolling back the caller's
   * transaction). "skip" leaves them without a word, and spares the
   * statement the work of finding them: for a worker's claims and ends,
   * which pick only rows that may move (and must not fail the rest should a
   * bug pick one that may not: its lease lapses, the sweep takes it back).
   */
  onRefused?: "throw" | "skip";
}

/**
 * A pause or cancel that was asked for wins over a target that would let
 * the work run again (PENDING: a retry, a hand-over; WAITING: a rate limit):
 * the work stops as asked instead, so a request is never lost to a retry
 * or a wait that happened to be written after it.
 */
function effectiveTarget(kind: WorkKind, to: Prisma.Sql): Prisma.Sql {
  const arms = [
    kind.flags.includes("cancelRequested") ? Prisma.sql`WHEN t."cancelRequested" AND (${to}) IN ('PENDING', 'WAITING') THEN 'CANCELLED'` : null,
    kind.flags.includes("pauseRequested") ? Prisma.sql`WHEN t."pauseRequested" AND (${to}) IN ('PENDING', 'WAITING') THEN 'PAUSED'` : null,
  ].filter((arm): arm is Prisma.Sql => arm !== null);
  return arms.length ? Prisma.sql`(CASE ${Prisma.join(arms, " ")} ELSE (${to}) END)` : to;
}

/**
 * What a status change does besides the status (the status machine owns
 * the side effects): running work holds a lease and has started; work that
 * stops gives its lease back and its stop flags are cleared; finished work
 * has its completion time, and work that runs again (RUNNING, PENDING) has
 * none. Written over the target as an SQL value, so one statement may move
 * rows to different statuses (a literal target folds away). Times are the
 * database's (src/engine/clock.ts).
 */
function sideEffects(kind: WorkKind, to: Prisma.Sql, owner: string | undefined, restart = false): Prisma.Sql[] {
  const running = Prisma.sql`(${to}) = 'RUNNING'`;
  const flags = kind.flags.map((flag) => Prisma.sql`${Prisma.raw(`"${flag}"`)} = CASE WHEN ${running} THEN t.${Prisma.raw(`"${flag}"`)} ELSE false END`);
  return [
    Prisma.sql`"leaseOwner" = CASE WHEN ${running} THEN ${owner ?? null}::text END`,
    Prisma.sql`"leaseAt" = CASE WHEN ${running} THEN ${DB_NOW} ELSE t."leaseAt" END`,
    restart
      ? Prisma.sql`"startedAt" = CASE WHEN ${running} THEN ${DB_NOW} END`
      : Prisma.sql`"startedAt" = CASE WHEN ${running} THEN COALESCE(t."startedAt", ${DB_NOW}) ELSE t."startedAt" END`,
    Prisma.sql`"completedAt" = CASE WHEN (${to}) IN ('COMPLETED', 'FAILED', 'CANCELLED') THEN ${DB_NOW} WHEN (${to}) IN ('RUNNING', 'PENDING') THEN NULL ELSE t."completedAt" END`,
    ...flags,
  ];
}

/**
 * The CTEs that store a STATUS event for every row of the CTE `rows` (which
 * has the kind's columns) and NOTIFY them, EVENTS_PER_NOTICE to a notice, or
 * by reference when a chunk is too large. The statement must select from
 * `notices` for the notifications to be sent.
 */
export function statusEventCtes(kind: WorkKind, rows: string, from: Prisma.Sql, reason: Prisma.Sql): Prisma.Sql {
  const source = Prisma.raw(rows);
  const scope = kind.scope ? Prisma.sql`${column(rows, kind.scope)}::text` : Prisma.sql`NULL::text`;
  return Prisma.sql`stored AS (
      INSERT INTO "Event" (kind, "subjectKind", "subjectId", payload, at)
      SELECT 'STATUS', ${kind.subject}::"SubjectKind", ${source}.id,
        jsonb_build_object('from', ${from}, 'to', ${source}.status, 'reason', ${reason}, 'scope', ${scope}), ${DB_NOW}
      FROM ${source} ORDER BY ${source}.id
      RETURNING id, "subjectId", payload
    ), numbered AS (
      SELECT id, "subjectId", payload, (row_number() OVER (ORDER BY id) - 1) / ${EVENTS_PER_NOTICE} AS chunk FROM stored
    ), notices AS (
      SELECT pg_notify(${EVENTS_CHANNEL}, CASE WHEN octet_length(events) > ${MAX_NOTIFY_BYTES} THEN refs ELSE events END) AS sent
      FROM (
        SELECT
          jsonb_build_object('statuses', jsonb_build_object('subjectKind', ${kind.subject}::text, 'at', ${DB_NOW_ISO},
            'events', jsonb_agg(jsonb_build_array(id::text, "subjectId", payload->'from', payload->'to', payload->'reason', payload->'scope') ORDER BY id)))::text AS events,
          jsonb_build_object('refs', jsonb_agg(id::text ORDER BY id))::text AS refs
        FROM numbered GROUP BY chunk
      ) chunks
    )`;
}

/**
 * The one statement that changes the status of work of any kind, one row or
 * a batch: it moves the picked rows the status machine lets go to their
 * target (a requested stop winning over a retry or a wait), applies the
 * side effects of the target status, stores a STATUS event per row and
 * NOTIFYs them in chunks, so the change and its events commit together (and
 * are heard of only then). Returns the moved rows as they are now, each with
 * `fromStatus`, and after them (unless the move skips refusals) the picked
 * rows it refused, as they are, each with the `refusedTo` it was refused.
 */
export function moveStatement(kind: WorkKind, move: Move): Prisma.Sql {
  const table = tableOf(kind);
  const asked = typeof move.to === "string" ? Prisma.sql`${move.to}::text` : Prisma.sql`(${move.to})::text`;
  const to = effectiveTarget(kind, asked);
  const assignments = Prisma.join([Prisma.sql`status = (${to})::"Status"`, Prisma.sql`"updatedAt" = ${DB_NOW}`, ...sideEffects(kind, to, move.owner, move.restart), ...(move.set ? [move.set] : [])], ", ");
  const given = typeof move.reason === "string" ? Prisma.sql`${redactText(move.reason)}::text` : move.reason;
  // The reason says so when a requested stop took the place of the target (RETURNING sees the new row: its status, not the flags it cleared).
  const reason = Prisma.sql`CASE WHEN t.status::text <> (${asked}) THEN (CASE WHEN t.status = 'CANCELLED' THEN 'cancelled on request' ELSE 'paused on request' END) || ' (instead of: ' || (${given}) || ')' ELSE (${given}) END`;
  return Prisma.sql`
    WITH ${move.before ? Prisma.sql`${move.before}, ` : Prisma.empty}picked AS (${move.picked}),
    moved AS (
      UPDATE ${table} t SET ${assignments}
      FROM picked WHERE t.id = picked.id AND ${legalMove(Prisma.sql`t.status`, to)}
      RETURNING ${columnsOf(kind, "t")}, picked.status AS "fromStatus", ${reason} AS "moveReason"
    ), ${statusEventCtes(kind, "moved", Prisma.sql`moved."fromStatus"`, Prisma.sql`moved."moveReason"`)}${move.after ? Prisma.sql`, ${move.after}` : Prisma.empty}
    SELECT ${columnsOf(kind, "moved")}, moved."fromStatus", NULL::text AS "refusedTo", moved."moveReason" FROM moved
    -- A condition on the notices alone is a one-time filter, checked before any row: they go out even when no row comes back.
    WHERE (SELECT count(*) FROM notices) >= 0${move.returning ? Prisma.sql` AND (${move.returning})` : Prisma.empty}${
      move.onRefused === "skip"
        ? Prisma.empty
        : Prisma.sql`
    UNION ALL
    SELECT ${columnsOf(kind, "t")}, t.status, (${to}), NULL::text FROM picked JOIN ${table} t ON t.id = picked.id
    WHERE NOT EXISTS (SELECT 1 FROM moved WHERE moved.id = picked.id)`
    }`;
}

/** A row as a move returns it: as it is now, with the status it had (refused rows: with the target they were refused), and why it moved. */
export type Moved<Row> = Row & { fromStatus: Status; refusedTo: Status | null; moveReason: string | null };

/**
 * One log line per piece of work that starts, waits, stops or ends, where
 * it happens (a terminal shows them as they come): at info, or at debug for
 * kinds whose rows come by the thousand (queue items, job steps). Written
 * when the statement answered, so a move rolled back with its transaction
 * may have been logged: the events, not the log, are the record.
 */
function logMoves(kind: WorkKind, rows: { id: number; status: Status; fromStatus: Status; refusedTo: Status | null; moveReason: string | null }[]): void {
  const level = kind.many ? "debug" : "info";
  if (!logger.isLevelEnabled(level)) return;
  const noun = kind.subject.toLowerCase().replace("_", " ");
  for (const row of rows) {
    if (row.refusedTo !== null) continue;
    logger[level]({ move: { kind: kind.subject, id: row.id, from: row.fromStatus, to: row.status } }, `${noun} ${row.id}: ${row.fromStatus} → ${row.status}${row.moveReason ? ` (${row.moveReason})` : ""}`);
  }
}

/**
 * Runs a move; the moved rows (or those `returning` keeps) as they are now,
 * each with the status it had. Rows the machine refused throw
 * IllegalTransitionError unless the move says "skip".
 */
export async function moveWork<Row>(db: Db, kind: WorkKind, move: Move): Promise<Moved<Row>[]> {
  const rows = await db.$queryRaw<Moved<Row & { id: number; status: Status }>[]>(moveStatement(kind, move));
  logMoves(kind, rows);
  if (move.onRefused === "skip") return rows;
  const refused = rows.find((row) => row.refusedTo !== null);
  if (refused) throw new IllegalTransitionError(kind.subject, refused.id, (refused as unknown as { status: Status }).status, refused.refusedTo!);
  return rows;
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
  /** See Move.restart. */
  restart?: boolean;
}

/**
 * Moves one piece of work from the status the caller read to another, with
 * the target's side effects and its STATUS event, in one statement. An
 * illegal transition is refused before any write; a row whose status
 * changed meanwhile is a ConflictError.
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
    restart: change.restart,
  });
  if (!moved) throw new ConflictError(`${kind.subject} ${id} is no longer ${from}; nothing was changed`);
  const { fromStatus: _from, refusedTo: _refused, moveReason: _reason, ...row } = moved;
  return row as Row;
}
