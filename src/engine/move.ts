import { Prisma } from "../generated/prisma/client.js";
import type { Status } from "../generated/prisma/enums.js";
import { EVENTS_CHANNEL, MAX_NOTIFY_BYTES, type Db } from "./events.js";
import { column, columnsOf, tableOf, type WorkKind } from "./kind.js";
import { redactText } from "../secrets.js";

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
  /** CTEs `picked` may use, e.g. `open AS (…)`. */
  before?: Prisma.Sql;
  /** Which moved rows come back (all by default): a condition over `moved` (the rows as they are now, and `"fromStatus"`). */
  returning?: Prisma.Sql;
}

/**
 * What a status change does besides the status (rule 8 of
 * docs/architecture.md: the status module owns the side effects): running
 * work holds a lease and has started; work that stops gives its lease back
 * and its stop flags are cleared; finished work has its completion time,
 * and work that runs again (RUNNING, PENDING) has none. Written over the
 * target as an SQL value, so one statement may move rows to different
 * statuses (a literal target folds away).
 */
function sideEffects(kind: WorkKind, to: Prisma.Sql, owner: string | undefined, now: Date): Prisma.Sql[] {
  const running = Prisma.sql`(${to}) = 'RUNNING'`;
  const flags = kind.flags.map((flag) => Prisma.sql`${Prisma.raw(`"${flag}"`)} = CASE WHEN ${running} THEN t.${Prisma.raw(`"${flag}"`)} ELSE false END`);
  return [
    Prisma.sql`"leaseOwner" = CASE WHEN ${running} THEN ${owner ?? null}::text END`,
    Prisma.sql`"leaseAt" = CASE WHEN ${running} THEN ${now} ELSE t."leaseAt" END`,
    Prisma.sql`"startedAt" = CASE WHEN ${running} THEN COALESCE(t."startedAt", ${now}) ELSE t."startedAt" END`,
    Prisma.sql`"completedAt" = CASE WHEN (${to}) IN ('COMPLETED', 'FAILED', 'CANCELLED') THEN ${now} WHEN (${to}) IN ('RUNNING', 'PENDING') THEN NULL ELSE t."completedAt" END`,
    ...flags,
  ];
}

/**
 * The CTEs that store a STATUS event for every row of the CTE `rows` (which
 * has the kind's columns) and NOTIFY them, EVENTS_PER_NOTICE to a notice, or
 * by reference when a chunk is too large. The statement must select from
 * `notices` for the notifications to be sent.
 */
export function statusEventCtes(kind: WorkKind, rows: string, from: Prisma.Sql, reason: Prisma.Sql, now: Date): Prisma.Sql {
  const source = Prisma.raw(rows);
  const scope = kind.scope ? Prisma.sql`${column(rows, kind.scope)}::text` : Prisma.sql`NULL::text`;
  return Prisma.sql`stored AS (
      INSERT INTO "Event" (kind, "subjectKind", "subjectId", payload, at)
      SELECT 'STATUS', ${kind.subject}::"SubjectKind", ${source}.id,
        jsonb_build_object('from', ${from}, 'to', ${source}.status, 'reason', ${reason}, 'scope', ${scope}), ${now}
      FROM ${source} ORDER BY ${source}.id
      RETURNING id, "subjectId", payload
    ), numbered AS (
      SELECT id, "subjectId", payload, (row_number() OVER (ORDER BY id) - 1) / ${EVENTS_PER_NOTICE} AS chunk FROM stored
    ), notices AS (
      SELECT pg_notify(${EVENTS_CHANNEL}, CASE WHEN octet_length(events) > ${MAX_NOTIFY_BYTES} THEN refs ELSE events END) AS sent
      FROM (
        SELECT
          jsonb_build_object('statuses', jsonb_build_object('subjectKind', ${kind.subject}::text, 'at', ${now.toISOString()}::text,
            'events', jsonb_agg(jsonb_build_array(id::text, "subjectId", payload->'from', payload->'to', payload->'reason', payload->'scope') ORDER BY id)))::text AS events,
          jsonb_build_object('refs', jsonb_agg(id::text ORDER BY id))::text AS refs
        FROM numbered GROUP BY chunk
      ) chunks
    )`;
}

/**
 * The one statement that changes the status of work of any kind, one row or
 * a batch: it moves the picked rows, applies the side effects of the target
 * status, stores a STATUS event per row and NOTIFYs them in chunks, so the
 * change and its events commit together (and are heard of only then).
 * Returns the moved rows as they are now, each with `fromStatus`.
 */
export function moveStatement(kind: WorkKind, move: Move, now = new Date()): Prisma.Sql {
  const table = tableOf(kind);
  const to = typeof move.to === "string" ? Prisma.sql`${move.to}::text` : Prisma.sql`(${move.to})::text`;
  const assignments = Prisma.join([Prisma.sql`status = ${to}::"Status"`, Prisma.sql`"updatedAt" = ${now}`, ...sideEffects(kind, to, move.owner, now), ...(move.set ? [move.set] : [])], ", ");
  const reason = typeof move.reason === "string" ? Prisma.sql`${redactText(move.reason)}::text` : move.reason;
  return Prisma.sql`
    WITH ${move.before ? Prisma.sql`${move.before}, ` : Prisma.empty}picked AS (${move.picked}),
    moved AS (
      UPDATE ${table} t SET ${assignments}
      FROM picked WHERE t.id = picked.id
      RETURNING ${columnsOf(kind, "t")}, picked.status AS "fromStatus", ${reason} AS "moveReason"
    ), ${statusEventCtes(kind, "moved", Prisma.sql`moved."fromStatus"`, Prisma.sql`moved."moveReason"`, now)}
    SELECT ${columnsOf(kind, "moved")}, moved."fromStatus" FROM moved
    -- A condition on the notices alone is a one-time filter, checked before any row: they go out even when no row comes back.
    WHERE (SELECT count(*) FROM notices) >= 0${move.returning ? Prisma.sql` AND (${move.returning})` : Prisma.empty}`;
}

/** Runs a move; the moved rows (or those `returning` keeps) as they are now, each with the status it had. */
export async function moveWork<Row>(db: Db, kind: WorkKind, move: Move): Promise<(Row & { fromStatus: Status })[]> {
  return db.$queryRaw<(Row & { fromStatus: Status })[]>(moveStatement(kind, move));
}
