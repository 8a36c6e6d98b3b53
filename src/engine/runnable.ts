import { Prisma } from "../generated/prisma/client.js";
import { dbNowPlus } from "./clock.js";
import { column, tableOf, type WorkKind } from "./kind.js";
import { moveStatement, type Move } from "./move.js";
import { StatementTemplate } from "./statement-template.js";
import type { Outcome, RunnableRow } from "./outcome.js";
import { storableJsonText } from "./storable.js";

export type { RunnableRow };

/** What endAndClaim's `picked` has of each row, an end or a claim, named (src/db/prepared-statements.ts names no statement with a `*`). */
const END_COLUMNS = Prisma.raw(`id, status, "to", reason, result, error, "delayMs", "attemptsDelta"`);

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
   * run, each locked FOR UPDATE SKIP LOCKED, none whose attempts are spent:
   * the claim's `picked` (and the CTEs it needs). `freeing`, for a
   * freedByEnd kind, names a relation of the rows the same statement ends
   * (`id`, and `scope`: the value of the kind's scope column): their slots
   * count as free.
   */
  claim(count: number, processors: string[], freeing?: Prisma.Sql): Pick<Move, "picked" | "before">;
  /**
   * Its rows free what the claim counts only once their ends are written
   * (a job's concurrency counts RUNNING rows), not as their runs return. The
   * runner then claims into the slots a batch's ends free in the statement
   * that writes them (one statement per batch, with no second one racing it
   * for the job's row), and looks for other work after writing ends rather
   * than claiming in vain while they are written.
   */
  freedByEnd?: boolean;
  /** Whether an error is a claim that lost a race (known by its SQLSTATE): it is tried again at once. */
  claimConflict?(error: unknown): boolean;
  /**
   * Called with the rows whose ends were just written (committed), and the
   * rows claimed in the same statement, to act on what they add up to, e.g.
   * end a job whose steps have all ended. A failure is logged; the kind's
   * crash sweep must make up for it.
   */
  afterEnd?(rows: Row[], claimed: Row[]): Promise<unknown>;
}

/**
 * The statement that writes how some attempts ended (each guarded by its
 * own lease owner, so an end of an old attempt never ends a newer one) and
 * claims up to `claim.count` due rows under the claim's owner, whatever
 * their statuses: the loop's claims (no ends), a batch's ends (no claim),
 * or for a freedByEnd kind both, the claim filling the slots the ends free,
 * so a job's count of running steps never passes through a state in which
 * they are free but unclaimed. Only the claimed rows come back; rows the
 * status machine would refuse are skipped (the claim picks only rows that
 * may start, the ends only rows RUNNING under their attempt). Text in the
 * outcomes is made storable here, so no row's data can fail the batch.
 */
export function endAndClaim<Row extends RunnableRow>(runnable: Runnable<Row>, outcomes: Outcome[], claim: { count: number; owner: string; processors: string[] } | null): Move {
  return endAndClaimMove(runnable, storableJsonText(JSON.stringify(outcomes)), claim && claim.count > 0 ? claim : null, claim?.owner);
}

/** The move of endAndClaim, its outcomes given as the JSON text bound to the statement (or a Slot for it). */
function endAndClaimMove<Row extends RunnableRow>(runnable: Runnable<Row>, outcomes: unknown, claim: { count: unknown; processors: unknown } | null, owner: unknown): Move {
  const { kind } = runnable;
  const scope = kind.scope ? column("w", kind.scope) : Prisma.sql`NULL`;
  const ended = Prisma.sql`
    SELECT w.id, w.status, o."to", o.reason, o.result, o.error, o."delayMs", -o."attemptsBack" AS "attemptsDelta", ${scope} AS scope
    FROM ${tableOf(kind)} w
    JOIN jsonb_to_recordset(${outcomes}::jsonb)
      AS o(id int, owner text, "to" text, reason text, result jsonb, error text, "delayMs" float8, "attemptsBack" int) ON o.id = w.id AND w."leaseOwner" = o.owner
    WHERE w.status = 'RUNNING'
    FOR UPDATE OF w`;
  const more = claim ? runnable.claim(claim.count as number, claim.processors as string[], Prisma.sql`ended`) : null;
  return {
    before: Prisma.sql`ended AS (${ended})${more?.before ? Prisma.sql`, ${more.before}` : Prisma.empty}`,
    picked: more
      ? Prisma.sql`SELECT ${END_COLUMNS} FROM ended UNION ALL
          SELECT c.id, c.status, 'RUNNING', NULL, NULL::jsonb, NULL, NULL::float8, 1 FROM (${more.picked}) c`
      : Prisma.sql`SELECT ${END_COLUMNS} FROM ended`,
    to: Prisma.sql`picked."to"`,
    owner: owner as string | undefined,
    reason: Prisma.sql`COALESCE(picked.reason, 'attempt ' || t.attempts || ' of ' || t."maxAttempts")`,
    set: Prisma.sql`
      result = CASE WHEN picked."to" = 'RUNNING' THEN t.result ELSE picked.result END, error = picked.error,
      "runAfter" = CASE WHEN picked."delayMs" IS NULL THEN t."runAfter" ELSE ${dbNowPlus(Prisma.sql`picked."delayMs"`)} END,
      attempts = t.attempts + picked."attemptsDelta"`,
    // Only the claimed rows come back: the ended ones are done with, and decoding them would cost the worker for nothing.
    returning: Prisma.sql`moved.status = 'RUNNING'`,
    onRefused: "skip",
  };
}

type EndAndClaimSlot = "outcomes" | "count" | "processors" | "owner";
const templates = new WeakMap<Runnable<RunnableRow>, { claiming: StatementTemplate<EndAndClaimSlot>; ending: StatementTemplate<EndAndClaimSlot> }>();

/**
 * endAndClaim's statement, as the runner sends it at every batch: built once
 * per kind and shape (with a claim, or ends only), then filled.
 */
export function endAndClaimStatement<Row extends RunnableRow>(runnable: Runnable<Row>, outcomes: Outcome[], claim: { count: number; owner: string; processors: string[] }): Prisma.Sql {
  const some = runnable as unknown as Runnable<RunnableRow>;
  let shapes = templates.get(some);
  if (!shapes) {
    const names = ["outcomes", "count", "processors", "owner"] as const;
    const build = (claiming: boolean) =>
      new StatementTemplate(names, (slot) => moveStatement(runnable.kind, endAndClaimMove(runnable, slot.outcomes, claiming ? { count: slot.count, processors: slot.processors } : null, slot.owner)));
    shapes = { claiming: build(true), ending: build(false) };
    templates.set(some, shapes);
  }
  const shape = claim.count > 0 ? shapes.claiming : shapes.ending;
  return shape.fill({ outcomes: storableJsonText(JSON.stringify(outcomes)), count: claim.count, processors: claim.processors, owner: claim.owner });
}
