import { Prisma, type Import } from "../../generated/prisma/client.js";
import { prisma, type Tx } from "../../db/client.js";
import { eventCtes, NOTIFY_NOTICE, type CheckpointLevel } from "../../engine/events.js";
import type { JsonValue } from "../../engine/json.js";
import { recordWrites, type RecordWrites } from "../../engine/records.js";
import { redactDeep, redactText } from "../../secrets.js";
import { transition } from "../../engine/status.js";
import { columnsOf } from "../../engine/kind.js";
import { IMPORT_KIND } from "./kind.js";
import { sendJob } from "../../engine/queues.js";
import type { SourceRecord } from "../../sources/types.js";

/** A page (or its items) that could not be imported. */
export interface PageError {
  page: number;
  httpStatus: number | null;
  message: string;
  attempts: number;
}

/** What the pages since the last checkpoint brought. */
export interface Batch {
  pages: number;
  records: SourceRecord[];
  errors: PageError[];
  /** Where the next page starts; null when the source has no more. */
  cursor: JsonValue | null;
  path: CheckpointLevel[];
  totalPages: number | null;
  totalItems: number | null;
  /** Pages failed in a row at the end of this batch (0 after a page that worked). */
  failureStreak: number;
}

/** How a run ends at this checkpoint. RUNNING hands the import over: the lease is freed and a worker picks it up now. */
export type Ending =
  | { status: "COMPLETED" | "PAUSED" | "CANCELLED"; reason: string }
  | { status: "FAILED"; reason: string }
  | { status: "WAITING"; reason: string; resumeAt: Date; waitingOn: string | null }
  | { status: "RUNNING"; reason: string };

/** What an ending writes besides the status and its side effects. */
function endingFields(ending: Exclude<Ending, { status: "RUNNING" }>): Prisma.Sql | undefined {
  if (ending.status === "FAILED") return Prisma.sql`"lastError" = ${ending.reason}`;
  if (ending.status === "WAITING") return Prisma.sql`"resumeAt" = ${ending.resumeAt}, "waitingOn" = ${ending.waitingOn}`;
  return undefined;
}

/** The transaction lost the import: another worker took it over. */
export class LeaseLostError extends Error {
  override name = "LeaseLostError";
}

export function emptyBatch(failureStreak = 0): Omit<Batch, "cursor" | "path"> {
  return { pages: 0, records: [], errors: [], totalPages: null, totalItems: null, failureStreak };
}

/**
 * The checkpoint's one statement: takes the lease row, writes the records,
 * moves the counters by what the database says was written, stores the
 * CHECKPOINT event and NOTIFYs it. A statement is a transaction, so records,
 * counters and event commit together or not at all; when another worker holds
 * the lease, nothing is written and no row comes back.
 */
function advance(row: Import, owner: string, batch: Batch, records: RecordWrites, errors: PageError[], activeSeconds: number, now: Date): Prisma.Sql {
  const checkpoint = { path: batch.path, position: (batch.cursor ?? { finished: true }) as Prisma.InputJsonValue, at: now.toISOString() };
  return Prisma.sql`
    WITH lease AS (
      SELECT id FROM "Import" WHERE id = ${row.id} AND "leaseOwner" = ${owner} AND status = 'RUNNING' FOR UPDATE
    ), ${records.ctes}, advanced AS (
      UPDATE "Import" SET
        cursor = ${batch.cursor === null ? null : JSON.stringify(batch.cursor)}::jsonb,
        "checkpointPath" = ${JSON.stringify(batch.path)}::jsonb,
        "checkpointAt" = ${now},
        "pagesDone" = "pagesDone" + ${batch.pages}::int,
        "itemsProcessed" = "itemsProcessed" + ${records.processed}::int,
        "itemsNew" = "itemsNew" + counts.new,
        "itemsUpdated" = "itemsUpdated" + counts.updated,
        "itemsUnchanged" = "itemsUnchanged" + ${records.processed}::int - counts.new - counts.updated,
        "errorCount" = "errorCount" + ${errors.length}::int,
        "failureStreak" = ${batch.failureStreak}::int,
        "totalPages" = COALESCE(${batch.totalPages}::int, "totalPages"),
        "itemsTotal" = COALESCE(${batch.totalItems}::int, "itemsTotal"),
        "lastError" = COALESCE(${errors.at(-1)?.message ?? null}::text, "lastError"),
        "activeSeconds" = ${activeSeconds}::float8,
        "crashCount" = 0,
        "leaseAt" = ${now},
        "updatedAt" = ${now}
      FROM counts, lease
      WHERE "Import".id = lease.id
      RETURNING ${columnsOf(IMPORT_KIND, '"Import"')}
    ), ${eventCtes({ kind: "CHECKPOINT", subjectKind: IMPORT_KIND.subject, subjectId: row.id, checkpoint }, now, Prisma.sql`advanced`)}
    SELECT ${columnsOf(IMPORT_KIND, "advanced")}, (SELECT ${NOTIFY_NOTICE} FROM notice) AS sent FROM advanced`;
}

async function advanced(db: Pick<Tx, "$queryRaw">, statement: Prisma.Sql, id: number): Promise<Import> {
  const [found] = await db.$queryRaw<(Import & { sent: string })[]>(statement);
  if (!found) throw new LeaseLostError(`Import ${id} is no longer held by this worker`);
  const { sent: _sent, ...row } = found;
  return row;
}

/**
 * One checkpoint, one transaction (docs/architecture.md, rule 2): the records of the
 * pages since the last one, the new cursor, the counters, the errors, the
 * CHECKPOINT event and, when the run ends here, the status change and the
 * job that resumes it. Counters move only with the records they count, so a
 * crash before commit loses the pages and their counts together.
 *
 * Most checkpoints are the one statement of `advance`, a single round trip:
 * every Prisma call costs the worker about a millisecond of CPU, which at a
 * checkpoint per 1,000 items is much of what the import itself costs. Errors
 * and endings add their writes in a transaction around it.
 */
export async function commitCheckpoint(row: Import, owner: string, fetched: Batch, activeSeconds: number, given?: Ending): Promise<Import> {
  const now = new Date();
  // What is stored may be read by any VIEWER: a cursor (a next-page URL) or a message may quote a secret an upstream echoed.
  const batch = { ...fetched, cursor: redactDeep(fetched.cursor) };
  const ending = given && { ...given, reason: redactText(given.reason) };
  const records = recordWrites(row.dataset, batch.records, now, Prisma.sql`lease`);
  const lastPage = batch.path.at(-1)?.index ?? row.pagesDone + batch.pages;
  const errors = [
    ...batch.errors.map((error) => ({ ...error, message: redactText(error.message) })),
    ...records.unstorable.map((id) => ({
      page: lastPage,
      httpStatus: null,
      message: `Item "${id}" (pages up to ${lastPage}) holds the character U+0000, which PostgreSQL cannot store; it was skipped`,
      attempts: 1,
    })),
  ];
  const statement = advance(row, owner, batch, records, errors, activeSeconds, now);
  if (!ending && errors.length === 0) return advanced(prisma(), statement, row.id);
  return prisma().$transaction(async (tx) => {
    const next = await advanced(tx, statement, row.id);
    if (errors.length > 0) {
      await tx.importError.createMany({ data: errors.map((error) => ({ importId: row.id, path: [], ...error })) });
    }
    if (!ending) return next;
    if (ending.status === "RUNNING") {
      await sendJob("importRun", { importId: row.id }, { tx });
      return tx.import.update({ where: { id: row.id }, data: { leaseOwner: null } });
    }
    if (ending.status === "WAITING") await sendJob("importRun", { importId: row.id }, { tx, startAfter: ending.resumeAt });
    return transition<Import>(tx, IMPORT_KIND, { id: row.id, from: "RUNNING", to: ending.status, reason: ending.reason, set: endingFields(ending) });
  });
}
