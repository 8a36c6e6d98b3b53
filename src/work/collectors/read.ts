import { Prisma, type Collector, type CollectorRun, type Status } from "../../generated/prisma/client.js";
import { prisma } from "../../db/client.js";
import { getCollector, listCollectors, type RunnableCollector } from "../../registry.js";
import { nextFireAt } from "../../collectors/cron.js";

/** A collector as clients see it: its definition and its row (created at start; absent only before that). */
export interface CollectorView {
  name: string;
  description: string;
  schedule: string | null;
  nextRunAt: Date | null;
  lastSuccessAt: Date | null;
}

function viewOf(collector: RunnableCollector, row: Collector | undefined): CollectorView {
  const schedule = row ? row.schedule : collector.schedule;
  return { name: collector.name, description: collector.description, schedule, nextRunAt: schedule ? nextFireAt(schedule) : null, lastSuccessAt: row?.lastSuccessAt ?? null };
}

/** Every collector this process runs, by name. */
export async function collectorViews(): Promise<CollectorView[]> {
  const collectors = listCollectors();
  const rows = await prisma().collector.findMany({ where: { name: { in: collectors.map((c) => c.name) } } });
  const byName = new Map(rows.map((row) => [row.name, row]));
  return collectors.map((collector) => viewOf(collector, byName.get(collector.name)));
}

export async function collectorView(name: string): Promise<CollectorView | null> {
  const collector = getCollector(name);
  if (!collector) return null;
  return viewOf(collector, (await prisma().collector.findUnique({ where: { name } })) ?? undefined);
}

/** The runs of one collector (or all), newest first, `first` of them before the run `before`, and how many match. */
export async function findRuns(filter: { collector?: string | null; status?: Status[] | null }, first: number, before: number | null) {
  const where: Prisma.CollectorRunWhereInput = {
    ...(filter.collector ? { collector: filter.collector } : {}),
    ...(filter.status?.length ? { status: { in: filter.status } } : {}),
  };
  const [runs, totalCount] = await Promise.all([
    prisma().collectorRun.findMany({ where: { ...where, ...(before !== null ? { id: { lt: before } } : {}) }, orderBy: { id: "desc" }, take: first + 1 }),
    prisma().collectorRun.count({ where }),
  ]);
  return { runs: runs.slice(0, first), hasNextPage: runs.length > first, totalCount };
}

export async function lastRun(name: string): Promise<CollectorRun | null> {
  return prisma().collectorRun.findFirst({ where: { collector: name }, orderBy: { id: "desc" } });
}

export interface CollectorStats {
  successes: number;
  failures: number;
  avgRecordsProcessed: number | null;
  avgDurationSeconds: number | null;
  recordsPerSecond: number | null;
  lastRunAt: Date | null;
}

/** Summed at read over the collector's runs (a few a day; the (collector, id) index finds them). */
export async function collectorStats(name: string): Promise<CollectorStats> {
  const [stats] = await prisma().$queryRaw<CollectorStats[]>`
    SELECT count(*) FILTER (WHERE status = 'COMPLETED')::int AS successes,
      count(*) FILTER (WHERE status = 'FAILED')::int AS failures,
      (avg("recordsProcessed") FILTER (WHERE status = 'COMPLETED'))::float8 AS "avgRecordsProcessed",
      (avg(extract(epoch FROM "completedAt" - "startedAt")) FILTER (WHERE status = 'COMPLETED'))::float8 AS "avgDurationSeconds",
      ((sum("recordsProcessed") FILTER (WHERE status = 'COMPLETED'))
        / NULLIF(sum(extract(epoch FROM "completedAt" - "startedAt")) FILTER (WHERE status = 'COMPLETED'), 0))::float8 AS "recordsPerSecond",
      max(COALESCE("startedAt", "createdAt")) AS "lastRunAt"
    FROM "CollectorRun" WHERE collector = ${name}`;
  return stats;
}
