import { Prisma, type Import } from "../../generated/prisma/client.js";
import { prisma, type Tx } from "../../db/client.js";
import { recordEvent } from "../../engine/events.js";
import { LEASE_STALE_MS, lockRow } from "../../engine/lease.js";
import { transition } from "../../engine/status.js";
import { columnsOf } from "../../engine/kind.js";
import { IMPORT_KIND } from "./kind.js";

/** Applies a pause or cancel that was asked for while no worker held the import. */
async function applyPendingRequest(tx: Tx, row: Import): Promise<boolean> {
  const to = row.cancelRequested ? "CANCELLED" : row.pauseRequested ? "PAUSED" : null;
  if (!to) return false;
  await transition(tx, IMPORT_KIND, { id: row.id, from: row.status, to, reason: `${to === "CANCELLED" ? "cancel" : "pause"} requested` });
  return true;
}

/** Why a RUNNING import changes hands, in its LOG. */
function takeoverMessage(row: Import, owner: string): string {
  if (row.leaseOwner === owner) return "Continuing after the database came back";
  if (row.leaseOwner) return "Taken over from a worker that stopped responding; continuing from the last checkpoint";
  return "Continuing after a worker shut down";
}

/**
 * Takes the import for `owner` if it is runnable and no live worker holds
 * it; null otherwise (finished, paused, or held: running the same job twice
 * is harmless). PENDING and due WAITING imports become RUNNING; a RUNNING
 * one whose lease is free, stale or this run's own is taken over. Every
 * claim after the first start counts as a resume.
 */
export async function claimImport(id: number, owner: string): Promise<Import | null> {
  return prisma().$transaction(async (tx) => {
    const row = await lockRow<Import>(tx, IMPORT_KIND, id);
    if (!row || !["PENDING", "RUNNING", "WAITING"].includes(row.status)) return null;
    const now = Date.now();
    const heldByOther = row.leaseOwner !== null && row.leaseOwner !== owner;
    if (row.status === "RUNNING" && heldByOther && row.leaseAt && now - row.leaseAt.getTime() < LEASE_STALE_MS) return null;
    if (row.status === "WAITING" && row.resumeAt && row.resumeAt.getTime() > now + 1000) return null;
    if (await applyPendingRequest(tx, row)) return null;
    const resumed = Prisma.sql`"resumeAt" = NULL, "waitingOn" = NULL, "resumeCount" = t."resumeCount" + ${row.startedAt ? 1 : 0}::int`;
    if (row.status !== "RUNNING") {
      return transition<Import>(tx, IMPORT_KIND, { id, from: row.status, to: "RUNNING", owner, reason: row.startedAt ? "resumed" : "started", set: resumed });
    }
    await recordEvent(tx, { kind: "LOG", subjectKind: IMPORT_KIND.subject, subjectId: id, level: "WARNING", message: takeoverMessage(row, owner) });
    const [taken] = await tx.$queryRaw<Import[]>`
      UPDATE "Import" t SET "leaseOwner" = ${owner}, "leaseAt" = ${new Date(now)}, "updatedAt" = ${new Date(now)}, ${resumed}
      WHERE id = ${id} RETURNING ${columnsOf(IMPORT_KIND, "t")}`;
    return taken;
  });
}
