import type { Tx } from "../db/client.js";
import { canonicalJson, sha256 } from "./json.js";
import type { SourceRecord } from "../sources/types.js";

export interface RecordCounts {
  processed: number;
  new: number;
  updated: number;
  unchanged: number;
}

/**
 * Writes records under (dataset, externalId) and lets the database say what
 * each one was (DESIGN.md rule 4). Hashes are compared first so unchanged
 * rows are not written at all (an `ON CONFLICT … WHERE hash <>` alone still
 * locks and logs every one); the upsert's `WHERE` and `xmax = 0` then decide
 * new against updated even if another import writes the same dataset at once.
 * An id seen twice in one batch counts once, with its last data.
 */
export async function upsertRecords(tx: Tx, dataset: string, records: SourceRecord[]): Promise<RecordCounts> {
  const byId = new Map<string, string>();
  for (const record of records) byId.set(record.externalId, canonicalJson(record.data));
  const ids = [...byId.keys()];
  if (ids.length === 0) return { processed: 0, new: 0, updated: 0, unchanged: 0 };
  const hashes = new Map(ids.map((id) => [id, sha256(byId.get(id)!)]));
  const existing = await tx.$queryRaw<{ externalId: string; hash: string }[]>`
    SELECT "externalId", hash FROM "ImportedRecord" WHERE dataset = ${dataset} AND "externalId" = ANY(${ids}::text[])`;
  const known = new Map(existing.map((row) => [row.externalId, row.hash]));
  const changed = ids.filter((id) => known.get(id) !== hashes.get(id));
  let inserted = 0;
  let updated = 0;
  if (changed.length > 0) {
    // Timestamps come from here, not now(): the columns have no time zone and sessions may not be in UTC.
    const now = new Date();
    const written = await tx.$queryRaw<{ inserted: boolean }[]>`
      INSERT INTO "ImportedRecord" (dataset, "externalId", data, hash, "createdAt", "updatedAt")
      SELECT ${dataset}, id, data::jsonb, hash, ${now}, ${now}
      FROM unnest(${changed}::text[], ${changed.map((id) => byId.get(id)!)}::text[], ${changed.map((id) => hashes.get(id)!)}::text[]) AS t(id, data, hash)
      ON CONFLICT (dataset, "externalId") DO UPDATE
        SET data = EXCLUDED.data, hash = EXCLUDED.hash, "updatedAt" = EXCLUDED."updatedAt"
        WHERE "ImportedRecord".hash <> EXCLUDED.hash
      RETURNING (xmax = 0) AS inserted`;
    for (const row of written) {
      if (row.inserted) inserted++;
      else updated++;
    }
  }
  return { processed: ids.length, new: inserted, updated, unchanged: ids.length - inserted - updated };
}
