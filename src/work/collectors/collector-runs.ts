import { z } from "zod";
import { Prisma, type CollectorRun } from "../../generated/prisma/client.js";
import { prisma } from "../../db/client.js";
import type { CheckpointedKind, Ending, RunContext } from "../../engine/checkpointed/kind.js";
import { RateLimitedError, UpstreamError } from "../../engine/http-client.js";
import type { JsonValue } from "../../engine/json.js";
import { createProgressReporter } from "../../engine/progress.js";
import { storableText } from "../../engine/storable.js";
import { logger } from "../../logger.js";
import { getCollector } from "../../registry.js";
import { MissingSecretError, redactText } from "../../secrets.js";
import type { CollectorContext, LastSuccess } from "../../collectors/types.js";
import { recordWrites } from "../records.js";
import { COLLECTOR_RUN_KIND, collectorRunQueue } from "./kind.js";
import { planYears } from "./plan.js";
import { COLLECTOR_SUCCESS, collectorUnitWrites, type CollectorUnit } from "./unit.js";

const datasetName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/, "letters, digits and . _ : - (at most 100), starting with a letter or digit");

/** A timestamp column read back from jsonb (UTC, written without a zone). */
const utc = (text: string) => new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(text) ? text : `${text}Z`);

/** What the collector's last successful run left, null before its first. */
async function lastSuccessOf(name: string): Promise<LastSuccess | null> {
  const state = await prisma().collector.findUnique({ where: { name } });
  if (!state?.lastSuccessAt) return null;
  const windows = Object.fromEntries(Object.entries((state.windows ?? {}) as Record<string, string>).map(([key, at]) => [key, utc(at)]));
  return { at: state.lastSuccessAt, watermark: (state.watermark ?? null) as JsonValue | null, windows };
}

/**
 * How a request that failed ends a run: it fails, and the next run (a
 * click, the schedule) plans from the last one that succeeded. A rate limit
 * longer than the client waits in line fails it too: a run cannot go on
 * from the middle, and a waiting run would hold the collector's one slot.
 */
function failureOf(error: unknown): Ending | null {
  if (error instanceof RateLimitedError) return { to: "FAILED", reason: `Rate limited by the upstream until ${error.until.toISOString()}; the next run fetches what this one did not` };
  if (error instanceof UpstreamError || error instanceof MissingSecretError) return { to: "FAILED", reason: error.message };
  return null;
}

/**
 * One run of a collector: its `collect` with a context whose `upsert` is a
 * checkpoint (the records and the run's counts commit together, and one
 * sent again after a lost answer counts once) and whose window and
 * watermark commit with the next upsert or the run's end.
 */
async function runCollect(row: CollectorRun, ctx: RunContext<CollectorRun, CollectorUnit>) {
  const collector = getCollector(row.collector);
  if (!collector) {
    return { ending: { to: "FAILED", reason: `The collector "${row.collector}" is not registered on this worker (is it in MILEPOST_PLUGINS or MILEPOST_COLLECTORS?)` } as const };
  }
  const lastSuccess = await lastSuccessOf(row.collector);
  const progress = createProgressReporter(logger);
  let window: Record<string, JsonValue> | undefined;
  let watermark: JsonValue | undefined;
  /** The window and watermark as they stand, and the records given, as one unit. */
  const unit = (records?: CollectorUnit["records"]): CollectorUnit => ({ records, window, watermark });
  const noted = (part: Record<string, JsonValue>) => {
    window = { ...window, ...part, fullRefresh: row.fullRefresh };
  };

  const context: CollectorContext<unknown> = {
    config: collector.config,
    lastSuccess,
    fullRefresh: row.fullRefresh,
    plan: {
      years(asked) {
        const plan = planYears(asked, row, lastSuccess?.windows ?? {});
        noted({ years: plan.years, why: plan.why, ...(row.maxAgeDays !== null || asked.maxAgeDays !== undefined ? { maxAgeDays: row.maxAgeDays ?? asked.maxAgeDays ?? null } : {}) });
        return plan;
      },
      since() {
        const since = row.fullRefresh ? null : (lastSuccess?.watermark ?? null);
        noted({ since });
        return since;
      },
    },
    async upsert(records, options = {}) {
      ctx.signal.throwIfAborted(); // a stopped run writes nothing more
      const dataset = datasetName.parse(options.dataset ?? collector.dataset);
      const writes = recordWrites(dataset, records, Prisma.sql`lease`);
      if (writes.replaced.length > 0) {
        await ctx.log("WARNING", storableText(redactText(`${writes.replaced.length} records held U+0000 or a lone surrogate, which PostgreSQL cannot store, and were stored with U+FFFD in their place: ${writes.replaced.slice(0, 20).join(", ")}`), 2000));
      }
      const before = ctx.row();
      await ctx.checkpoint(unit(writes));
      await ctx.settled();
      const after = ctx.row();
      progress.report({
        subjectKind: COLLECTOR_RUN_KIND.subject,
        subjectId: row.id,
        done: after.recordsProcessed,
        total: null,
        progress: null,
        ratePerSecond: null,
        etaSeconds: null,
        counters: { recordsProcessed: after.recordsProcessed, recordsInserted: after.recordsInserted, recordsUpdated: after.recordsUpdated },
      });
      const inserted = after.recordsInserted - before.recordsInserted;
      const updated = after.recordsUpdated - before.recordsUpdated;
      return { processed: writes.processed, inserted, updated, unchanged: writes.processed - inserted - updated };
    },
    setWatermark(value) {
      watermark = value;
    },
    http: ctx.http,
    signal: ctx.signal,
    log: ctx.log,
  };

  try {
    await collector.kind.collect(context);
    await ctx.settled();
    const done = ctx.row();
    return { ending: { to: "COMPLETED", reason: `${done.recordsProcessed} records: ${done.recordsInserted} new, ${done.recordsUpdated} updated` } as const, unit: unit() };
  } catch (error) {
    if (ctx.signal.aborted) return { unit: unit() };
    const ending = failureOf(error);
    if (!ending) throw error;
    return { ending, unit: unit() };
  } finally {
    await progress.flush();
  }
}

/**
 * Collector runs as the engine runs them (src/engine/checkpointed/): a run
 * cannot go on from the middle (`collect` starts from its window), so one
 * whose worker died, crashed or shut down fails ("worker lost") and the
 * next plans from the last that succeeded; a COMPLETED one leaves its
 * watermark and windows to its collector in the move that ends it.
 */
export const collectorRuns: CheckpointedKind<CollectorRun, CollectorUnit, { runId: number }> = {
  work: COLLECTOR_RUN_KIND,
  noun: "collector run",
  queue: collectorRunQueue,
  payload: (id) => ({ runId: id }),
  idOf: (payload) => payload.runId,
  // Runs are rare (a click, a schedule) and started with a wake-up in the process that creates them; another
  // process's idle workers need not ask four times a second each.
  pollSeconds: 2,
  lost: { to: "FAILED", reason: "worker lost" },
  crash: "fail",
  failed: (reason) => Prisma.sql`error = ${storableText(redactText(reason), 2000)}`,
  afterMove: COLLECTOR_SUCCESS,
  unit: collectorUnitWrites,
  run: runCollect,
};
