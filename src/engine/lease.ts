import { Prisma } from "../generated/prisma/client.js";
import type { Db } from "./events.js";
import { columnsOf, tableOf, type WorkKind } from "./kind.js";

/**
 * A worker holds running work by its lease: `leaseOwner` and a `leaseAt` it
 * renews every second. A lease not renewed for 10 s is stale, so a crashed
 * worker's work is taken over within seconds of a sweep finding it.
 */
export const LEASE_RENEW_MS = 1000;
export const LEASE_STALE_MS = 10_000;

/** Locks one row of a kind for the rest of the transaction; null when there is none. */
export async function lockRow<Row>(db: Db, kind: WorkKind, id: number): Promise<Row | null> {
  const [row] = await db.$queryRaw<Row[]>`SELECT ${columnsOf(kind, "t")} FROM ${tableOf(kind)} t WHERE id = ${id} FOR UPDATE`;
  return row ?? null;
}

/** A held lease's cooperative flags (docs/architecture.md, rule 5), false where the kind has none. */
export interface LeaseState {
  held: boolean;
  pauseRequested: boolean;
  cancelRequested: boolean;
}

/**
 * Renews the leases `owner` holds on these rows, in one statement, and reads
 * their stop flags. A row missing from the answer is no longer held (taken
 * over, or no longer RUNNING).
 */
export async function renewLeases(db: Db, kind: WorkKind, owner: string, ids: number[]): Promise<Map<number, LeaseState>> {
  if (ids.length === 0) return new Map();
  const flags = kind.flags.length ? Prisma.raw(kind.flags.map((flag) => `"${flag}"`).join(", ")) : Prisma.raw("id");
  const rows = await db.$queryRaw<({ id: number } & Partial<LeaseState>)[]>`
    UPDATE ${tableOf(kind)} SET "leaseAt" = ${new Date()}
    WHERE id = ANY(${ids}::int[]) AND "leaseOwner" = ${owner} AND status = 'RUNNING'
    RETURNING id, ${flags}`;
  return new Map(rows.map((row) => [row.id, { held: true, pauseRequested: row.pauseRequested === true, cancelRequested: row.cancelRequested === true }]));
}

/** Renews one lease (see renewLeases). */
export async function renewLease(db: Db, kind: WorkKind, owner: string, id: number): Promise<LeaseState> {
  return (await renewLeases(db, kind, owner, [id])).get(id) ?? { held: false, pauseRequested: false, cancelRequested: false };
}
