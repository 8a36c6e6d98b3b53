import type { Import } from "../../generated/prisma/client.js";
import type { Ending, Finish, RunContext } from "../../engine/checkpointed/kind.js";
import type { CheckpointLevel } from "../../engine/events.js";
import type { UpstreamError } from "../../engine/http-client.js";
import type { JsonValue } from "../../engine/json.js";
import { createProgressReporter } from "../../engine/progress.js";
import { logger } from "../../logger.js";
import type { FlatSource, SourcePage } from "../../sources/types.js";
import { IMPORT_KIND } from "./kind.js";
import { importMetrics } from "./metrics.js";
import { endingOf, waiting } from "./endings.js";
import { emptyUnit, type ImportUnit, type PageError } from "./unit.js";

type Fetched = { ok: true; page: SourcePage<JsonValue> } | { ok: false; error: unknown };

function flatPath(page: number, totalPages: number | null): CheckpointLevel[] {
  return [{ level: "page", index: page, total: totalPages }];
}

/**
 * Runs the pages of a FLAT source from the committed cursor until the
 * source has no more, `maxPages` is reached, the import must fail or wait,
 * or the signal stops it (then what was fetched since the last checkpoint
 * is returned, for the engine to commit with the stop). The next page is
 * fetched while the last checkpoint commits.
 */
export async function runPages(source: FlatSource, config: unknown, ctx: RunContext<Import, ImportUnit>): Promise<Finish<ImportUnit>> {
  const start = ctx.row();
  const runStart = Date.now();
  const activeSeconds = () => start.activeSeconds + (Date.now() - runStart) / 1000;
  const { signal } = ctx;
  const maxFailures = ctx.config.MAX_CONSECUTIVE_PAGE_FAILURES;
  let cursor = (start.cursor ?? source.start(config)) as JsonValue;
  let page = start.pagesDone; // pages done, committed or in the unit
  let totalPages = start.totalPages;
  let unit = emptyUnit(start);
  const pageLimit = start.maxPages;
  const progress = createProgressReporter(logger);

  const fetchPage = (at: JsonValue): Promise<Fetched> =>
    source.fetchPage({ config, http: ctx.http, signal, log: ctx.log, firstPage: page === 0 }, at).then(
      (fetched) => ({ ok: true as const, page: fetched }),
      (error: unknown) => ({ ok: false as const, error }),
    );

  /** The unit fetched since the last checkpoint, to commit; a new one starts. */
  const take = (finished = false): ImportUnit => {
    const done: ImportUnit = { ...unit, activeSeconds: activeSeconds(), cursor: finished ? null : cursor, path: source.path?.(cursor, page, totalPages) ?? flatPath(page, totalPages) };
    unit = { ...emptyUnit(start), failureStreak: done.failureStreak };
    return done;
  };
  const end = (ending: Ending): Finish<ImportUnit> => ({ ending, unit: take(ending.to === "COMPLETED") });

  /** A page that could not be fetched is recorded and passed, where the source can go past it. */
  const skip = (error: UpstreamError): Ending | undefined => {
    unit.errors.push({ page: page + 1, httpStatus: error.httpStatus, message: error.message, attempts: error.attempts } satisfies PageError);
    // An import whose pages keep failing is misconfigured or its upstream is down: it must end, not page on forever.
    if (++unit.failureStreak >= maxFailures) {
      return { to: "FAILED", reason: `${unit.failureStreak} pages failed in a row (MAX_CONSECUTIVE_PAGE_FAILURES); last: ${error.message}` };
    }
    const next = source.skip?.(config, cursor) ?? null;
    if (next !== null) {
      page++;
      unit.pages++;
      cursor = next;
      return undefined;
    }
    if (error.transient) {
      // The source cannot go past this page: wait and try it again later. The page is not an error of the
      // import (it will be fetched again); the streak still counts it.
      unit.errors.pop();
      return waiting(`Page ${page + 1} keeps failing; trying again later: ${error.message}`, Math.max(ctx.config.RETRY_DELAY_MS, 1000) * 30, null);
    }
    return { to: "FAILED", reason: `Cannot continue past page ${page + 1}: ${error.message}` };
  };

  const reportProgress = () => {
    const row = ctx.row();
    const metrics = importMetrics({ ...row, activeSeconds: activeSeconds() });
    progress.report({
      subjectKind: IMPORT_KIND.subject,
      subjectId: row.id,
      done: page,
      total: metrics.targetPages,
      progress: metrics.targetPages ? Math.min(1, page / metrics.targetPages) : null,
      ratePerSecond: metrics.itemsPerSecond,
      etaSeconds: metrics.etaSeconds,
      counters: {
        pagesDone: row.pagesDone,
        itemsProcessed: row.itemsProcessed + unit.records.length,
        itemsNew: row.itemsNew,
        itemsUpdated: row.itemsUpdated,
        itemsUnchanged: row.itemsUnchanged,
        errorCount: row.errorCount,
      },
    });
  };

  try {
    let pending: Promise<Fetched> | null = pageLimit !== null && page >= pageLimit ? null : fetchPage(cursor);
    for (;;) {
      if (pending === null) return end({ to: "COMPLETED", reason: `maxPages (${pageLimit}) reached` });
      const fetched = await pending;
      pending = null;
      let ending: Ending | undefined;
      if (fetched.ok) {
        page++;
        unit.pages++;
        unit.failureStreak = 0;
        unit.records.push(...fetched.page.records);
        if (fetched.page.totalPages != null) totalPages = unit.totalPages = fetched.page.totalPages;
        if (fetched.page.totalItems != null) unit.totalItems = fetched.page.totalItems;
        if (fetched.page.next === null) ending = { to: "COMPLETED", reason: "all pages imported" };
        else cursor = fetched.page.next;
      } else if (signal.aborted) {
        return { unit: take() };
      } else {
        const ended = endingOf(fetched.error);
        ending = ended === "skip" ? skip(fetched.error as UpstreamError) : ended;
      }
      reportProgress();
      const limitReached = pageLimit !== null && page >= pageLimit;
      if (!ending && !limitReached && !signal.aborted) pending = fetchPage(cursor); // fetch on while the checkpoint commits
      if (ending) return end(ending);
      if (unit.pages >= start.checkpointEvery) await ctx.checkpoint(take());
      if (signal.aborted && pending === null) return { unit: take() };
    }
  } finally {
    await progress.flush();
  }
}
