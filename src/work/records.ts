import { Prisma } from "../generated/prisma/client.js";
import { DB_NOW } from "../engine/clock.js";
import { storableJsonText } from "../engine/storable.js";
import type { SourceRecord } from "../sources/types.js";

/** Whether a JSON text holds what PostgreSQL cannot store (storableJsonText would replace it). */
const isReplaced = (json: string) => storableJsonText(json) !== json;

/** The common table expressions that write a batch, and how many distinct records it holds. */
export interface RecordWrites {
  /** Defines `written` (one row per record written) and `counts` (one row: `new`, `updated`), to follow a WITH. */
  ctes: Prisma.Sql;
  processed: number;
  /** Ids of records that held U+0000 or a lone surrogate, which PostgreSQL's jsonb cannot store: they were written with U+FFFD in their place. */
  replaced: string[];
}

/**
 * Writes records under (dataset, externalId) and lets the database say what
 * each one was, inside the statement that moves the counters (an import's
 * checkpoint, a collector run's), so records and counts commit together or
 * not at all. Nothing is written unless `guard` (a CTE of that statement,
 * e.g. the held lease) holds a row.
 *
 * The batch travels as one JSON document, so the worker does no per-row
 * escaping, and each record is compared with the stored one as `jsonb`:
 * exact, blind to key order and whitespace, and cheaper than hashing every
 * record. Unchanged records are filtered out before the INSERT, so they are
 * not locked or written at all (an `ON CONFLICT … WHERE` alone still locks
 * and logs every one); the upsert's `WHERE` and `xmax = 0` then decide new
 * against updated even if another import writes the same dataset at once.
 * An id seen twice in one batch counts once, with its last data. A record
 * PostgreSQL cannot store would fail the whole checkpoint and every retry of
 * it: it is written with U+FFFD in place of what could not be stored, and
 * named, so its owner can say so.
 */
export function recordWrites(dataset: string, records: SourceRecord[], guard: Prisma.Sql): RecordWrites {
  const byId = new Map<string, unknown>();
  for (const record of records) byId.set(record.externalId, record.data);
  const entries = Array.from(byId, ([id, data]) => ({ id, data }));
  const text = JSON.stringify(entries);
  const batch = storableJsonText(text);
  // Rare, so only then is each record looked at.
  const replaced = batch === text ? [] : entries.filter((entry) => isReplaced(JSON.stringify(entry))).map((entry) => entry.id);
  return {
    processed: entries.length,
    replaced,
    ctes: Prisma.sql`written AS (
      INSERT INTO "ImportedRecord" (dataset, "externalId", data, "createdAt", "updatedAt")
      SELECT ${dataset}, incoming.id, incoming.data, ${DB_NOW}, ${DB_NOW}
      FROM jsonb_to_recordset(${batch}::jsonb) AS incoming(id text, data jsonb)
      WHERE EXISTS (SELECT 1 FROM ${guard})
        AND incoming.data IS DISTINCT FROM (SELECT stored.data FROM "ImportedRecord" stored WHERE stored.dataset = ${dataset} AND stored."externalId" = incoming.id)
      ON CONFLICT (dataset, "externalId") DO UPDATE
        SET data = EXCLUDED.data, "updatedAt" = EXCLUDED."updatedAt"
        WHERE "ImportedRecord".data IS DISTINCT FROM EXCLUDED.data
      RETURNING (xmax = 0) AS inserted
    ), counts AS (
      SELECT (count(*) FILTER (WHERE inserted))::int AS new, (count(*) FILTER (WHERE NOT inserted))::int AS updated FROM written
    )`,
  };
}
