import { Prisma, type ImportNode } from "../../generated/prisma/client.js";
import { prisma } from "../../db/client.js";
import type { JsonValue } from "../../engine/json.js";
import { storableJson, storableJsonText } from "../../engine/storable.js";
import { redactDeep } from "../../secrets.js";

/**
 * What one step of a tree walk changes on one node, committed in the
 * import's checkpoint statement: the children a page found, where the
 * listing goes on, whether it is listed or done, what entering it made.
 */
export interface TreeStep {
  node: Pick<ImportNode, "id" | "level" | "childrenFound">;
  children: { key: string; label: string | null }[];
  /** The listing's next cursor, when this step listed a page. */
  cursor?: { value: JsonValue | null };
  listed: boolean;
  done: boolean;
  total: number | null;
  effects?: JsonValue;
}

/** The import's root node (level -1, the parent of the first level), made on the first run. */
export async function rootOf(importId: number): Promise<ImportNode> {
  await prisma().$executeRaw`INSERT INTO "ImportNode" ("importId", "parentId", level, key, ord) VALUES (${importId}, NULL, -1, '', 0) ON CONFLICT DO NOTHING`;
  return prisma().importNode.findFirstOrThrow({ where: { importId, parentId: null } });
}

export function readNode(id: bigint): Promise<ImportNode> {
  return prisma().importNode.findUniqueOrThrow({ where: { id } });
}

/** The first child, in the order found, that is not done: where a depth-first walk goes next (a partial index answers it). */
export async function firstOpenChild(parentId: bigint): Promise<ImportNode | null> {
  const [child] = await prisma().$queryRaw<ImportNode[]>`
    SELECT id, "importId", "parentId", level, key, label, ord, cursor, listed, done, "childrenTotal", "childrenFound", effects
    FROM "ImportNode" WHERE "parentId" = ${parentId} AND NOT done ORDER BY ord LIMIT 1`;
  return child ?? null;
}

/**
 * The CTEs a tree step adds to the checkpoint statement (after `lease`):
 * children inserted once (found again, a node is not added again), the
 * node's cursor and states, and the per-level counts moved by what this
 * statement inserted, finished and wrote (`records_written`: the records'
 * distinct ids), so a step counts once and a level listed again never adds.
 */
export function treeStepCtes(importId: number, step: TreeStep, recordsProcessed: number): Prisma.Sql {
  const { node } = step;
  const children = step.children.map((child, index) => ({ key: child.key, label: child.label, i: node.childrenFound + index }));
  const cursor = step.cursor === undefined ? null : JSON.stringify(storableJson(redactDeep(step.cursor.value)));
  const effects = step.effects === undefined ? null : JSON.stringify(storableJson(step.effects));
  return Prisma.sql`tree_before AS (
      SELECT done FROM "ImportNode" WHERE id = ${node.id}
    ), tree_children AS (
      INSERT INTO "ImportNode" ("importId", "parentId", level, key, label, ord)
      SELECT ${importId}, ${node.id}, ${node.level + 1}::int, c.key, c.label, c.i
      FROM jsonb_to_recordset(${storableJsonText(JSON.stringify(children))}::jsonb) AS c(key text, label text, i int)
      WHERE EXISTS (SELECT 1 FROM lease)
      ON CONFLICT ("importId", "parentId", key) DO NOTHING
      RETURNING 1
    ), tree_node AS (
      UPDATE "ImportNode" n SET
        cursor = CASE WHEN ${step.cursor !== undefined} THEN ${cursor}::jsonb ELSE n.cursor END,
        listed = n.listed OR ${step.listed},
        done = n.done OR ${step.done},
        "childrenTotal" = COALESCE(${step.total}::int, n."childrenTotal"),
        "childrenFound" = n."childrenFound" + (SELECT count(*)::int FROM tree_children),
        effects = COALESCE(${effects}::jsonb, n.effects)
      WHERE n.id = ${node.id} AND EXISTS (SELECT 1 FROM lease)
      RETURNING n.id
    ), tree_levels AS (
      INSERT INTO "ImportLevel" ("importId", level, discovered, done)
      SELECT ${importId}, d.level, d.discovered, d.done FROM (VALUES
        (${node.level + 1}::int, (SELECT count(*)::int FROM tree_children) + ${recordsProcessed}::int, ${recordsProcessed}::int),
        (${node.level}::int, 0, CASE WHEN ${step.done} AND NOT (SELECT done FROM tree_before) THEN 1 ELSE 0 END)
      ) AS d(level, discovered, done)
      WHERE EXISTS (SELECT 1 FROM lease) AND d.level >= 0 AND (d.discovered > 0 OR d.done > 0)
      ON CONFLICT ("importId", level) DO UPDATE SET discovered = "ImportLevel".discovered + EXCLUDED.discovered, done = "ImportLevel".done + EXCLUDED.done
    )`;
}
