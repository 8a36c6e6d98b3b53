import type { Status } from "../generated/prisma/enums.js";
import { prisma } from "../db/client.js";
import { dateTime, table } from "./table.js";

export const STATUS_USAGE = `milepost status              work of every kind by status, queues (paused or not), live processes`;

const STATUSES: Status[] = ["PENDING", "RUNNING", "WAITING", "PAUSED", "COMPLETED", "FAILED", "CANCELLED"];
/** Processes seen this recently are alive (their heartbeat is every 10 s). */
const ALIVE_MS = 30_000;

type Counted = { group: string; status: Status; count: number }[];

/** One row per group (a kind, a queue), one column per status. */
function byStatus(rows: Counted, out: (line: string) => void, first: string, groups = [...new Set(rows.map((row) => row.group))].sort()): void {
  const count = (group: string, status: Status) => rows.find((row) => row.group === group && row.status === status)?.count ?? 0;
  table([first, ...STATUSES.map((status) => status.toLowerCase())], groups.map((group) => [group, ...STATUSES.map((status) => String(count(group, status)))]), out);
}

/** `status`: what the database holds now, as an operator's overview. */
export async function statusCommand(out: (line: string) => void): Promise<void> {
  const kinds = await prisma().$queryRaw<Counted>`
    SELECT 'imports' AS "group", status, count(*)::int AS count FROM "Import" GROUP BY status
    UNION ALL SELECT 'queue items', status, count(*)::int FROM "QueueItem" GROUP BY status
    UNION ALL SELECT 'jobs', status, count(*)::int FROM "Job" GROUP BY status
    UNION ALL SELECT 'job steps', status, count(*)::int FROM "JobStep" GROUP BY status
    UNION ALL SELECT 'collector runs', status, count(*)::int FROM "CollectorRun" GROUP BY status`;
  out("work");
  byStatus(kinds, out, "kind", ["imports", "queue items", "jobs", "job steps", "collector runs"]);

  const queues = await prisma().$queryRaw<Counted>`SELECT queue AS "group", status, count(*)::int AS count FROM "QueueItem" GROUP BY queue, status`;
  const paused = new Set((await prisma().queueSetting.findMany({ where: { paused: true } })).map((setting) => setting.queue));
  out("");
  out(`queues${paused.size ? ` (paused: ${[...paused].sort().join(", ")})` : " (none paused)"}`);
  if (queues.length) byStatus(queues, out, "queue");
  else out("no queue items");

  const processes = await prisma().processHeartbeat.findMany({ where: { lastSeenAt: { gt: new Date(Date.now() - ALIVE_MS) } }, orderBy: { startedAt: "asc" } });
  out("");
  out(`processes alive (seen in the last ${ALIVE_MS / 1000} s): ${processes.length}`);
  if (processes.length) {
    table(
      ["role", "host", "pid", "version", "up since"],
      processes.map((process) => [process.role, process.host, String(process.pid), process.version, dateTime(process.startedAt)]),
      out,
    );
  }
}
