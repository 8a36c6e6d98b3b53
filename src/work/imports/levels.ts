import type { Import } from "../../generated/prisma/client.js";
import { prisma } from "../../db/client.js";
import { getSource } from "../../registry.js";
import { treeLevels } from "../../sources/types.js";

export interface LevelProgress {
  level: string;
  /** Distinct nodes found at this level (records, at the last). */
  discovered: number;
  done: number;
}

/** The per-level counts of a TREE import, every level named (0 where nothing was found yet); [] for FLAT. */
export async function importLevels(row: Pick<Import, "id" | "source" | "config">): Promise<LevelProgress[]> {
  const source = getSource(row.source);
  if (source?.shape !== "TREE") return [];
  // Only a source whose config names its levels needs the config parsed (this runs at every importUpdated value).
  const parsed = source.levelsOf ? source.config.safeParse(row.config) : null;
  const names = parsed === null ? source.levels : treeLevels(source, parsed.success ? parsed.data : row.config);
  const counted = await prisma().importLevel.findMany({ where: { importId: row.id } });
  const byLevel = new Map(counted.map((level) => [level.level, level]));
  return names.map((name, index) => ({ level: name, discovered: byLevel.get(index)?.discovered ?? 0, done: byLevel.get(index)?.done ?? 0 }));
}
