import { Prisma, type CollectorRun } from "../../generated/prisma/client.js";
import { DB_NOW } from "../../engine/clock.js";
import type { UnitWrites } from "../../engine/checkpointed/kind.js";
import type { JsonValue } from "../../engine/json.js";
import { storableJson } from "../../engine/storable.js";
import { redactDeep } from "../../secrets.js";
import type { RecordWrites } from "../records.js";

/** One unit of a collector run: a batch of records (one upsert), and the window and watermark as they stand. */
export interface CollectorUnit {
  records?: RecordWrites;
  window?: JsonValue;
  watermark?: JsonValue;
}

/** A JSON value as stored where any VIEWER reads it: secrets an upstream echoed redacted, unstorable text replaced. */
const stored = (value: JsonValue | undefined) => (value === undefined ? null : storableJson(redactDeep(value)));
const asText = (value: JsonValue | null) => (value === null ? null : JSON.stringify(value));

/**
 * What one unit of a collector run writes (committed by the engine's
 * checkpoint statement with the sequence's advance, or not at all): its
 * records, the run's counters moved by what the database says it wrote,
 * and the window and watermark as they stand.
 */
export function collectorUnitWrites(_row: CollectorRun, unit: CollectorUnit): UnitWrites {
  const window = stored(unit.window);
  const watermark = stored(unit.watermark);
  return {
    ctes: unit.records?.ctes ?? Prisma.sql`counts AS (SELECT 0 AS new, 0 AS updated)`,
    from: Prisma.sql`counts`,
    set: Prisma.sql`
      "recordsProcessed" = t."recordsProcessed" + ${unit.records?.processed ?? 0}::int,
      "recordsInserted" = t."recordsInserted" + counts.new,
      "recordsUpdated" = t."recordsUpdated" + counts.updated,
      "window" = COALESCE(${asText(window)}::jsonb, t."window"),
      watermark = COALESCE(${asText(watermark)}::jsonb, t.watermark)`,
    checkpoint: { path: [], position: { watermark, window } as Prisma.InputJsonValue, at: new Date().toISOString() },
  };
}

/**
 * What a run that COMPLETED leaves its collector, in the statement of that
 * move: its watermark (the last one kept if it set none), when it ended, and
 * when each year of its window was fetched (as of its start, the older of
 * the two). A run that failed leaves nothing: the next plans from the last
 * that succeeded.
 */
export const COLLECTOR_SUCCESS = Prisma.sql`collector_success AS (
  UPDATE "Collector" c SET
    watermark = COALESCE(moved.watermark, c.watermark),
    "lastSuccessAt" = moved."completedAt",
    windows = c.windows || COALESCE((
      SELECT jsonb_object_agg(year, to_jsonb(moved."startedAt"))
      FROM jsonb_array_elements_text(CASE WHEN jsonb_typeof(moved."window"->'years') = 'array' THEN moved."window"->'years' ELSE '[]' END) AS year
    ), '{}'),
    "updatedAt" = ${DB_NOW}
  FROM moved WHERE c.name = moved.collector AND moved.status = 'COMPLETED'
)`;
