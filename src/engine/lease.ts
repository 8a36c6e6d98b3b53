import type { Import } from "../generated/prisma/client.js";
import { prisma, type Tx } from "../db/client.js";
import { recordEvent } from "./events.js";
import { transition } from "./status.js";

/**
 * A worker holds an import by its lease: `leaseOwner` and a `leaseAt` it
 * renews every second. A lease not renewed for 10 s is stale, so a crashed
 * worker's import is taken over within seconds of a sweep finding it.
 */
export const LEASE_RENEW_MS = 1000;
export const LEASE_STALE_MS = 10_000;

/** Locks the row for the rest of the transaction. */
export async function lockImport(tx: Tx, id: number): Promise<Import | null> {
  const [locked] = await tx.$queryRaw<{ id: number }[]>`SELECT id FROM "Import" WHERE id = ${id} FOR UPDATE`;
  return locked ? tx.import.findUnique({ where: { id } }) : null;
}

/** Applies a pause or cancel that was asked for while no worker held the import. */
async function applyPendingRequest(tx: Tx, row: Import): Promise<boolean> {
  const to = row.cancelRequested ? "CANCELLED" : row.pauseRequested ? "PAUSED" : null;
  if (!to) return false;
  await transition(tx, { subjectKind: "IMPORT", subjectId: row.id, from: row.status, to, reason: `${to === "CANCELLED" ? "cancel" : "pause"} requested` });
  await tx.import.update({
    where: { id: row.id },
    data: { status: to, leaseOwner: null, pauseRequested: false, cancelRequested: false, ...(to === "CANCELLED" ? { completedAt: new Date() } : {}) },
  });
  return true;
}

/**
 * Takes the import for `owner` if it is runnable and no live worker holds
 * it; null otherwise (finished, paused, or held: running the same job twice
 * is harmless). PENDING and due WAITING imports become RUNNING; a RUNNING
 * one whose lease is free or stale is taken over. Every claim after the
 * first start counts as a resume.
 */
export async function claimImport(id: number, owner: string): Promise<Import | null> {
  return prisma().$transaction(async (tx) => {
    const row = await lockImport(tx, id);
    if (!row || !["PENDING", "RUNNING", "WAITING"].includes(row.status)) return null;
    const now = Date.now();
    const heldByOther = row.leaseOwner !== null && row.leaseOwner !== owner;
    if (row.status === "RUNNING" && heldByOther && row.leaseAt && now - row.leaseAt.getTime() < LEASE_STALE_MS) return null;
    if (row.status === "WAITING" && row.resumeAt && row.resumeAt.getTime() > now + 1000) return null;
    if (await applyPendingRequest(tx, row)) return null;
    if (row.status !== "RUNNING") {
      await transition(tx, { subjectKind: "IMPORT", subjectId: id, from: row.status, to: "RUNNING", reason: row.startedAt ? "resumed" : "started" });
    } else {
      await recordEvent(tx, {
        kind: "LOG",
        subjectKind: "IMPORT",
        subjectId: id,
        level: "WARNING",
        message:
          row.leaseOwner === owner
            ? "Continuing after the database came back"
            : row.leaseOwner
              ? "Taken over from a worker that stopped responding; continuing from the last checkpoint"
              : "Continuing after a worker shut down",
      });
    }
    return tx.import.update({
      where: { id },
      data: {
        status: "RUNNING",
        leaseOwner: owner,
        leaseAt: new Date(now),
        resumeAt: null,
        waitingOn: null,
        startedAt: row.startedAt ?? new Date(now),
        resumeCount: row.startedAt ? { increment: 1 } : undefined,
      },
    });
  });
}

export interface LeaseState {
  held: boolean;
  pauseRequested: boolean;
  cancelRequested: boolean;
}

/** Renews the lease and reads the cooperative flags (docs/architecture.md, rule 5). */
export async function renewLease(id: number, owner: string): Promise<LeaseState> {
  const rows = await prisma().$queryRaw<{ pauseRequested: boolean; cancelRequested: boolean }[]>`
    UPDATE "Import" SET "leaseAt" = ${new Date()} WHERE id = ${id} AND "leaseOwner" = ${owner} AND status = 'RUNNING'
    RETURNING "pauseRequested", "cancelRequested"`;
  return rows[0] ? { held: true, ...rows[0] } : { held: false, pauseRequested: false, cancelRequested: false };
}
