import { randomUUID } from "node:crypto";
import { Prisma } from "../generated/prisma/client.js";
import { DB_NOW } from "./clock.js";
import type { Db } from "./events.js";
import { columnsOf, tableOf, type WorkKind } from "./kind.js";

/**
 * A worker holds running work by its lease: `leaseOwner` and a `leaseAt` it
 * renews every second, both on the database's clock. A lease not renewed for
 * 10 s is stale, so a crashed worker's work runs again within seconds of a
 * sweep finding it.
 */
export const LEASE_RENEW_MS = 1000;
export const LEASE_STALE_MS = 10_000;

/**
 * A new lease owner: the process (its heartbeat id) and one claim or
 * attempt of it. An owner is never reused, so what an old attempt still
 * has buffered (an end, a checkpoint) can never be taken for a newer
 * attempt at the same row, even in the same process.
 */
export function newOwner(processId: string): string {
  return `${processId}/${randomUUID().slice(0, 8)}`;
}

/** Locks one row of a kind for the rest of the transaction; null when there is none. */
export async function lockRow<Row>(db: Db, kind: WorkKind, id: number): Promise<Row | null> {
  const [row] = await db.$queryRaw<Row[]>`SELECT ${columnsOf(kind, "t")} FROM ${tableOf(kind)} t WHERE id = ${id} FOR UPDATE`;
  return row ?? null;
}

/** A held lease's cooperative flags (false where the kind has none). */
export interface LeaseFlags {
  pauseRequested: boolean;
  cancelRequested: boolean;
}

/**
 * Renews, in one statement, the leases of these (id, owner) pairs that are
 * still RUNNING under that owner, and reads their stop flags. A pair missing
 * from the answer is no longer held (taken over, or no longer RUNNING).
 */
export async function renewLeases(db: Db, kind: WorkKind, held: { id: number; owner: string }[]): Promise<Map<string, LeaseFlags>> {
  if (held.length === 0) return new Map();
  const flag = (name: keyof LeaseFlags) => (kind.flags.includes(name) ? Prisma.raw(`t."${name}"`) : Prisma.raw("false"));
  const rows = await db.$queryRaw<({ id: number; owner: string } & LeaseFlags)[]>`
    UPDATE ${tableOf(kind)} t SET "leaseAt" = ${DB_NOW}
    FROM unnest(${held.map((pair) => pair.id)}::int[], ${held.map((pair) => pair.owner)}::text[]) AS h(id, owner)
    WHERE t.id = h.id AND t."leaseOwner" = h.owner AND t.status = 'RUNNING'
    RETURNING t.id, h.owner, ${flag("pauseRequested")} AS "pauseRequested", ${flag("cancelRequested")} AS "cancelRequested"`;
  return new Map(rows.map((row) => [leaseKey(row.id, row.owner), { pauseRequested: row.pauseRequested, cancelRequested: row.cancelRequested }]));
}

export const leaseKey = (id: number, owner: string) => `${id}/${owner}`;
