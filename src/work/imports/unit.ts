import { Prisma, type Import } from "../../generated/prisma/client.js";
import { DB_NOW } from "../../engine/clock.js";
import type { UnitWrites } from "../../engine/checkpointed/kind.js";
import type { CheckpointLevel } from "../../engine/events.js";
import type { JsonValue } from "../../engine/json.js";
import { storableJson, storableJsonText, storableText } from "../../engine/storable.js";
import { redactDeep, redactText } from "../../secrets.js";
import type { SourceRecord } from "../../sources/types.js";
import { recordWrites } from "../records.js";
import { treeStepCtes, type TreeStep } from "./nodes.js";

/** A page (or its items) that could not be imported. */
export interface PageError {
  page: number;
  httpStatus: number | null;
  message: string;
  attempts: number;
  /** In a TREE import, the keys of the node whose listing failed, outermost first. */
  path?: string[];
}

/** What the pages since the last checkpoint brought: one unit of an import's progress. */
export interface ImportUnit {
  pages: number;
  records: SourceRecord[];
  errors: PageError[];
  /** Where the next page starts; null when the source has no more. */
  cursor: JsonValue | null;
  path: CheckpointLevel[];
  totalPages: number | null;
  totalItems: number | null;
  /** Pages failed in a row at the end of this unit (0 after a page that worked). */
  failureStreak: number;
  /** Seconds spent RUNNING, over every run, as of this unit. */
  activeSeconds: number;
  /** In a TREE import, what this unit changes on its node. */
  tree?: TreeStep;
}

export function emptyUnit(row: Pick<Import, "failureStreak" | "activeSeconds">): Omit<ImportUnit, "cursor" | "path"> {
  return { pages: 0, records: [], errors: [], totalPages: null, totalItems: null, failureStreak: row.failureStreak, activeSeconds: row.activeSeconds };
}

/**
 * What one checkpoint of an import writes (the engine's checkpoint
 * statement commits it with the sequence's advance and the CHECKPOINT
 * event, or not at all): the records, the counters moved by what the
 * database says was written, the errors, the new cursor and path. What is
 * stored may be read by any VIEWER: a cursor (a next-page URL) or a message
 * may quote a secret an upstream echoed, so it is redacted, and made
 * storable.
 */
export function importUnitWrites(row: Import, unit: ImportUnit): UnitWrites {
  const cursor = storableJson(redactDeep(unit.cursor));
  const path = storableJson(redactDeep(unit.path));
  const records = recordWrites(row.dataset, unit.records, Prisma.sql`lease`);
  const lastPage = unit.path.at(-1)?.index ?? row.pagesDone + unit.pages;
  const errors = [
    ...unit.errors.map((error) => ({ ...error, message: storableText(redactText(error.message), 2000), path: error.path && redactDeep(error.path) })),
    ...records.replaced.map((id) => ({
      page: lastPage,
      httpStatus: null,
      message: storableText(`Item "${id}" (pages up to ${lastPage}) held U+0000 or a lone surrogate, which PostgreSQL cannot store; it was stored with U+FFFD in their place`, 2000),
      attempts: 1,
    })),
  ];
  return {
    ctes: Prisma.sql`${records.ctes}, import_errors AS (
      INSERT INTO "ImportError" ("importId", page, path, "httpStatus", message, attempts, at)
      SELECT ${row.id}, e.page, COALESCE(e.path, '{}'), e."httpStatus", e.message, e.attempts, ${DB_NOW}
      FROM jsonb_to_recordset(${storableJsonText(JSON.stringify(errors))}::jsonb) AS e(page int, path text[], "httpStatus" int, message text, attempts int)
      WHERE EXISTS (SELECT 1 FROM lease)
    )${unit.tree ? Prisma.sql`, ${treeStepCtes(row.id, unit.tree, records.processed)}` : Prisma.empty}`,
    from: Prisma.sql`counts`,
    set: Prisma.sql`
      cursor = ${cursor === null ? null : JSON.stringify(cursor)}::jsonb,
      "checkpointPath" = ${JSON.stringify(path)}::jsonb,
      "pagesDone" = t."pagesDone" + ${unit.pages}::int,
      "itemsProcessed" = t."itemsProcessed" + ${records.processed}::int,
      "itemsNew" = t."itemsNew" + counts.new,
      "itemsUpdated" = t."itemsUpdated" + counts.updated,
      "itemsUnchanged" = t."itemsUnchanged" + ${records.processed}::int - counts.new - counts.updated,
      "errorCount" = t."errorCount" + ${errors.length}::int,
      "failureStreak" = ${unit.failureStreak}::int,
      "totalPages" = COALESCE(${unit.totalPages}::int, t."totalPages"),
      "itemsTotal" = COALESCE(${unit.totalItems}::int, t."itemsTotal"),
      "lastError" = COALESCE(${errors.at(-1)?.message ?? null}::text, t."lastError"),
      "activeSeconds" = ${unit.activeSeconds}::float8`,
    checkpoint: { path, position: (cursor ?? { finished: true }) as Prisma.InputJsonValue, at: new Date().toISOString() },
  };
}
