import { Prisma } from "../generated/prisma/client.js";
import { DB_NOW } from "./clock.js";
import type { Db } from "./events.js";
import { tableOf, type WorkKind } from "./kind.js";
import { moveWork, type Move, type Moved } from "./move.js";
import { notifyWork } from "./wake.js";

/** Stop notices carry at most this many ids each (a NOTIFY payload holds 8,000 bytes). */
const IDS_PER_NOTICE = 500;

export type StopFlag = "pause" | "cancel";
const FLAG_COLUMN = { pause: Prisma.raw(`"pauseRequested"`), cancel: Prisma.raw(`"cancelRequested"`) } as const;

/**
 * The one writer of stop flags. Of the rows `which` selects (a condition on
 * the kind's table), the RUNNING ones are flagged, and a notice reaches
 * every worker process when the transaction commits, each aborting that
 * work through its signal at once (a worker that misses the notice reads
 * the flag at its next lease renewal, within a second); its worker then
 * ends it PAUSED or CANCELLED at a safe point, and the flag wins over any
 * retry or wait written meanwhile (src/engine/move.ts). The others move
 * there now, with `reason`; a row the machine does not let stop (a
 * COMPLETED one) throws, unless `onRefused` says "skip". Returns the ids
 * flagged and the rows moved.
 */
export async function requestStop<Row>(db: Db, kind: WorkKind, which: Prisma.Sql, flag: StopFlag, reason: string, onRefused: Move["onRefused"] = "throw"): Promise<{ flagged: number[]; moved: Moved<Row>[] }> {
  const column = FLAG_COLUMN[flag];
  const table = tableOf(kind);
  const flagged = (
    await db.$queryRaw<{ id: number }[]>`
      UPDATE ${table} SET ${column} = true, "updatedAt" = ${DB_NOW} WHERE (${which}) AND status = 'RUNNING' AND NOT ${column} RETURNING id`
  ).map((row) => row.id);
  for (let start = 0; start < flagged.length; start += IDS_PER_NOTICE) {
    await notifyWork(db, { stop: { kind: kind.subject, ids: flagged.slice(start, start + IDS_PER_NOTICE), flag } });
  }
  const moved = await moveWork<Row>(db, kind, {
    picked: Prisma.sql`SELECT id, status FROM ${table} WHERE (${which}) AND status <> 'RUNNING' FOR UPDATE`,
    to: flag === "pause" ? "PAUSED" : "CANCELLED",
    reason,
    onRefused,
  });
  return { flagged, moved };
}

/** A pause asked for and not yet obeyed is taken back (a resume before the worker stopped): the row goes on running. */
export async function withdrawPause(db: Db, kind: WorkKind, id: number): Promise<boolean> {
  const rows = await db.$queryRaw<{ id: number }[]>`
    UPDATE ${tableOf(kind)} SET "pauseRequested" = false, "updatedAt" = ${DB_NOW} WHERE id = ${id} AND "pauseRequested" RETURNING id`;
  return rows.length > 0;
}
