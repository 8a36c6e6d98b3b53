import { z } from "zod";
import type { Collector, CollectorRun } from "../../generated/prisma/client.js";
import { prisma } from "../../db/client.js";
import { recordEvent } from "../../engine/events.js";
import { ConflictError, InputError, parseInput } from "../../engine/errors.js";
import { columnsOf } from "../../engine/kind.js";
import { currentBoss } from "../../engine/queues.js";
import { getCollector, listCollectors, type RunnableCollector } from "../../registry.js";
import { cronRefusal } from "../../collectors/cron.js";
import { COLLECTOR_RUN_KIND, collectorRunQueue, tickQueue } from "./kind.js";

export const runCollectorInput = z.object({
  name: z.string().min(1).max(63),
  fullRefresh: z.boolean().nullish(),
  maxAgeDays: z.number().int().min(0).max(36_500).nullish(),
});

/** The registered collector of that name, or an InputError naming the ones there are. */
function collectorNamed(name: string, field: string): RunnableCollector {
  const collector = getCollector(name);
  if (collector) return collector;
  const known = listCollectors().map((c) => c.name).join(", ") || "none";
  throw new InputError(`Unknown collector "${name.slice(0, 100)}"; known: ${known}`, [field]);
}

type Started = { run: CollectorRun } | { active: CollectorRun };

/**
 * Creates a run and its job in one transaction (the collector's row is
 * there: every process makes the rows of its collectors at start), unless the collector has a
 * run PENDING, RUNNING or WAITING: the partial unique index decides, so two
 * starts that race (a click and a cron tick, two processes) make one run.
 */
async function startRun(name: string, trigger: "manual" | "schedule", options: { fullRefresh?: boolean; maxAgeDays?: number | null } = {}): Promise<Started> {
  for (;;) {
    const started = await prisma().$transaction(async (tx): Promise<Started | null> => {
      const [run] = await tx.$queryRaw<CollectorRun[]>`
        INSERT INTO "CollectorRun" AS t (collector, trigger, "fullRefresh", "maxAgeDays", "updatedAt")
        VALUES (${name}, ${trigger}, ${options.fullRefresh ?? false}, ${options.maxAgeDays ?? null}::int, now())
        ON CONFLICT (collector) WHERE status IN ('PENDING', 'RUNNING', 'WAITING') DO NOTHING
        RETURNING ${columnsOf(COLLECTOR_RUN_KIND, "t")}`;
      if (!run) {
        const active = await tx.collectorRun.findFirst({ where: { collector: name, status: { in: ["PENDING", "RUNNING", "WAITING"] } } });
        return active ? { active } : null; // it ended meanwhile: try again
      }
      await recordEvent(tx, { kind: "STATUS", subjectKind: COLLECTOR_RUN_KIND.subject, subjectId: run.id, scope: name, from: null, to: "PENDING", reason: trigger === "manual" ? "started by runCollector" : "started by its schedule" });
      await collectorRunQueue.send({ runId: run.id }, { tx });
      return { run };
    });
    if (started) {
      if ("run" in started) collectorRunQueue.wake();
      return started;
    }
  }
}

/** runCollector: a new run now, or CONFLICT naming the run that is going. */
export async function runCollector(raw: unknown): Promise<CollectorRun> {
  const input = parseInput(runCollectorInput, raw, ["input"]);
  const collector = collectorNamed(input.name, "input.name");
  const started = await startRun(collector.name, "manual", { fullRefresh: input.fullRefresh ?? false, maxAgeDays: input.maxAgeDays });
  if ("active" in started) {
    throw new ConflictError(`The collector "${collector.name}" is already running: run ${started.active.id} is ${started.active.status}. One run at a time; follow it with collectorRunUpdated(id: ${started.active.id}).`);
  }
  return started.run;
}

/** A cron tick: a run, or, while one is going, a LOG event on it saying the tick was skipped. */
export async function tick(name: string): Promise<CollectorRun | null> {
  const started = await startRun(name, "schedule");
  if ("run" in started) return started.run;
  await recordEvent(prisma(), { kind: "LOG", subjectKind: COLLECTOR_RUN_KIND.subject, subjectId: started.active.id, scope: name, level: "INFO", message: "a scheduled tick was skipped: this run was still going (one run at a time)" });
  return null;
}

/** Makes pg-boss's schedule of a collector's queue match its row (the row is the truth). */
async function applySchedule(name: string, cron: string | null): Promise<void> {
  const queue = tickQueue(name).name;
  if (cron) await currentBoss().schedule(queue, cron, {}, { tz: "UTC" });
  else await currentBoss().unschedule(queue);
}

/**
 * Sets (or, with null, clears) a collector's cron schedule: the row and
 * pg-boss's schedule change together (pg-boss's write is the transaction's
 * last step, so a failure there leaves the row as it was).
 */
export async function scheduleCollector(name: string, cron: string | null): Promise<Collector> {
  const collector = collectorNamed(name, "name");
  const refusal = cron === null ? null : cronRefusal(cron);
  if (refusal) throw new InputError(refusal, ["cron"]);
  const schedule = cron?.trim().replace(/\s+/g, " ") ?? null;
  return prisma().$transaction(async (tx) => {
    const row = await tx.collector.upsert({ where: { name: collector.name }, create: { name: collector.name, schedule }, update: { schedule } });
    await applySchedule(collector.name, schedule);
    return row;
  });
}

/**
 * At start, in every process: each registered collector gets its row (its
 * definition's schedule the first time) and its queue's pg-boss schedule is
 * made to match the row, so schedules survive restarts and a change made
 * while this process was down is taken.
 */
export async function syncCollectors(): Promise<void> {
  const collectors = listCollectors().map(({ name, schedule }) => ({ name, schedule }));
  await prisma().$executeRaw`
    INSERT INTO "Collector" (name, schedule)
    SELECT name, schedule FROM jsonb_to_recordset(${JSON.stringify(collectors)}::jsonb) AS c(name text, schedule text)
    ON CONFLICT DO NOTHING`;
  const rows = await prisma().collector.findMany({ where: { name: { in: collectors.map((collector) => collector.name) } } });
  for (const row of rows) await applySchedule(row.name, row.schedule);
}

/** This process works every collector's ticks: one worker a queue, polling slowly (a schedule fires at most once a minute). */
export async function workTicks(pollSeconds: number, shutdown: AbortSignal): Promise<void> {
  for (const collector of listCollectors()) {
    const queue = tickQueue(collector.name);
    await queue.work(1, async (payload) => (shutdown.aborted ? queue.send(payload) : void (await tick(collector.name))), { pollSeconds });
  }
}

/** Declares every registered collector's queue, before the service creates the declared queues. */
export function declareCollectorQueues(): void {
  for (const collector of listCollectors()) tickQueue(collector.name);
}
