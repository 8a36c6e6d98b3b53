import { Prisma } from "../generated/prisma/client.js";
import type { SubjectKind } from "../generated/prisma/enums.js";

/**
 * What the engine needs to know of a kind of work to run its lifecycle:
 * the subject kind its events carry, its table, which cooperative-stop
 * flags the table has, and what groups its rows (the `scope` of its events).
 * Every kind's table has `id`, `status`, `leaseOwner`, `leaseAt`,
 * `startedAt`, `completedAt` and `updatedAt`; the lifecycle statements
 * (src/engine/move.ts, lease.ts, sweep.ts) are written once against those.
 */
export interface WorkKind {
  subject: SubjectKind;
  /** The table, as it is named in SQL (a constant, never input). */
  table: string;
  /** Flags a running worker obeys; all are cleared when the work stops. */
  flags: readonly ("pauseRequested" | "cancelRequested")[];
  /** The column whose value is the `scope` of the kind's events, if any. */
  scope?: string;
  /**
   * The table's columns (its Prisma model's ScalarFieldEnum): what a move
   * returns, named one by one so a prepared move keeps its result when a
   * migration adds a column (src/db/prepared-statements.ts).
   */
  columns: readonly string[];
  /** Rows come by the thousand (queue items, job steps): their moves are logged at debug, not info. */
  many?: boolean;
}

/** The table, quoted for a statement. */
export function tableOf(kind: WorkKind): Prisma.Sql {
  return Prisma.raw(`"${kind.table}"`);
}

/** The kind's columns of `alias`, listed for a statement's result. */
export function columnsOf(kind: WorkKind, alias: string): Prisma.Sql {
  return Prisma.join(kind.columns.map((name) => column(alias, name)));
}

/** `alias."column"`, quoted for a statement (names are the kind's constants). */
export function column(alias: string, name: string): Prisma.Sql {
  return Prisma.raw(`${alias}."${name}"`);
}
