import { Prisma, type QueueItem, type Status } from "../../generated/prisma/client.js";
import { prisma } from "../../db/client.js";
import { listProcessors } from "../../registry.js";

export interface QueueStatus {
  queue: string | null;
  pending: number;
  running: number;
  waiting: number;
  completed: number;
  failed: number;
  cancelled: number;
  total: number;
  paused: boolean;
  current: QueueItem[];
}

/** Items RUNNING now, shown in a status: enough for a dashboard's table. */
const CURRENT_SHOWN = 100;

/**
 * Counts by status of one queue (or of all), whether it is paused (for all
 * queues: whether every known queue is), and the items running now.
 */
export async function queueStatus(queue: string | null): Promise<QueueStatus> {
  // One snapshot for all three reads: counts that say RUNNING and a `current` that already says otherwise would contradict each other.
  const [counts, current, paused] = await prisma().$transaction(
    async (tx) => [
      await tx.queueItem.groupBy({ by: ["status"], where: queue ? { queue } : {}, _count: { _all: true } }),
      await tx.queueItem.findMany({ where: { status: "RUNNING", ...(queue ? { queue } : {}) }, orderBy: { startedAt: "asc" }, take: CURRENT_SHOWN }),
      await tx.queueSetting.findMany({ where: { paused: true, ...(queue ? { queue } : {}) }, select: { queue: true } }),
    ] as const,
    { isolationLevel: "RepeatableRead" },
  );
  const count = (status: Status) => counts.find((row) => row.status === status)?._count._all ?? 0;
  const pausedQueues = new Set(paused.map((row) => row.queue));
  const queues = queue ? [queue] : listProcessors().map((processor) => processor.name);
  return {
    queue,
    pending: count("PENDING"),
    running: count("RUNNING"),
    waiting: count("WAITING"),
    completed: count("COMPLETED"),
    failed: count("FAILED"),
    cancelled: count("CANCELLED"),
    total: counts.reduce((sum, row) => sum + row._count._all, 0),
    paused: queues.length > 0 && queues.every((name) => pausedQueues.has(name)),
    current,
  };
}

export interface ItemFilter {
  queue?: string | null;
  status?: Status[] | null;
  /** Matches key, label and error text (a substring, case-insensitive). */
  search?: string | null;
  /** A JSON containment filter on the payload (`@>`). */
  payload?: unknown;
  /** Items carrying every one of these tags. */
  tags?: string[] | null;
  /** A JSON containment filter on the metadata. */
  meta?: unknown;
}

/** The WHERE clause of a filter; every condition is one an index of QueueItem answers. */
function itemWhere(filter: ItemFilter): Prisma.Sql {
  const conditions: Prisma.Sql[] = [Prisma.sql`true`];
  if (filter.queue) conditions.push(Prisma.sql`queue = ${filter.queue}`);
  if (filter.status?.length) conditions.push(Prisma.sql`status = ANY(${filter.status}::"Status"[])`);
  if (filter.payload !== undefined && filter.payload !== null) conditions.push(Prisma.sql`payload @> ${JSON.stringify(filter.payload)}::jsonb`);
  if (filter.tags?.length) conditions.push(Prisma.sql`tags @> ${filter.tags}::text[]`);
  if (filter.meta !== undefined && filter.meta !== null) conditions.push(Prisma.sql`meta @> ${JSON.stringify(filter.meta)}::jsonb`);
  if (filter.search) {
    const pattern = `%${filter.search.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;
    conditions.push(Prisma.sql`(key || ' ' || COALESCE(label, '') || ' ' || COALESCE(error, '')) ILIKE ${pattern}`);
  }
  return Prisma.join(conditions, " AND ");
}

/** One page of items, newest first, after the item `before` (keyset on id); and how many match in all. */
export async function findItems(filter: ItemFilter, first: number, before: number | null): Promise<{ items: QueueItem[]; hasNextPage: boolean; totalCount: () => Promise<number> }> {
  const where = itemWhere(filter);
  const page = await prisma().$queryRaw<QueueItem[]>`
    SELECT * FROM "QueueItem" WHERE ${where} AND (${before}::int IS NULL OR id < ${before}) ORDER BY id DESC LIMIT ${first + 1}`;
  return {
    items: page.slice(0, first),
    hasNextPage: page.length > first,
    totalCount: async () => (await prisma().$queryRaw<{ count: number }[]>(countQuery(filter)))[0].count,
  };
}

/** The count `findItems` runs for a filter, for a test to ask PostgreSQL how it answers it. */
export function countQuery(filter: ItemFilter): Prisma.Sql {
  return Prisma.sql`SELECT count(*)::int AS count FROM "QueueItem" WHERE ${itemWhere(filter)}`;
}
