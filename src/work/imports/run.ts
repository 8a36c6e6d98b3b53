import type { Import } from "../../generated/prisma/client.js";
import { reportDatabaseError, waitForDatabase } from "../../db/availability.js";
import { prisma } from "../../db/client.js";
import { recordEvent, type CheckpointLevel } from "../../engine/events.js";
import { RateLimitedError, UpstreamError, type HttpClient } from "../../engine/http-client.js";
import type { JsonValue } from "../../engine/json.js";
import { createProgressReporter } from "../../engine/progress.js";
import { MissingSecretError } from "../../secrets.js";
import type { Logger } from "../../logger.js";
import { getSource } from "../../registry.js";
import type { AnySource, SourcePage } from "../../sources/types.js";
import { commitCheckpoint, emptyBatch, type Batch, type Ending, type PageError } from "./checkpoint.js";
import { LEASE_RENEW_MS, renewLease, type LeaseState } from "../../engine/lease.js";
import { claimImport } from "./claim.js";
import { IMPORT_KIND } from "./kind.js";
import { importMetrics } from "./metrics.js";

export interface RunnerDeps {
  http: HttpClient;
  log: Logger;
  /** This worker's identity in leases. */
  owner: string;
  /** Aborted when the process shuts down: running imports checkpoint and hand over. */
  shutdown: AbortSignal;
  retryDelayMs: number;
  /** MAX_CONSECUTIVE_PAGE_FAILURES: pages failing in a row that end the import. */
  maxConsecutiveFailures: number;
}

type StopReason = "pause" | "cancel" | "shutdown" | "lease-lost";

class StopSignal extends Error {
  constructor(readonly reason: StopReason) {
    super(`stopped: ${reason}`);
  }
}

type Fetched = { ok: true; page: SourcePage<JsonValue> } | { ok: false; error: unknown };

function flatPath(page: number, totalPages: number | null): CheckpointLevel[] {
  return [{ level: "page", index: page, total: totalPages }];
}

/** Ends a run that was never really started (unknown source, bad config). */
async function failAtOnce(row: Import, owner: string, reason: string): Promise<void> {
  await commitCheckpoint(row, owner, { ...emptyBatch(row.failureStreak), cursor: (row.cursor ?? null) as JsonValue | null, path: [] }, row.activeSeconds, { status: "FAILED", reason });
}

/**
 * Runs an import from its committed cursor until it ends, is paused,
 * cancelled, rate limited, or the worker shuts down. The next page is
 * fetched while the last checkpoint commits. Returns without doing
 * anything if the import is not runnable or another worker holds it.
 */
export async function runImport(importId: number, deps: RunnerDeps): Promise<void> {
  const claimed = await claimImport(importId, deps.owner);
  if (!claimed) return;
  let row = claimed;
  const source = getSource(row.source);
  if (!source) return failAtOnce(row, deps.owner, `The source "${row.source}" is not registered on this worker (is it in MILEPOST_PLUGINS?)`);
  const parsed = source.config.safeParse(row.config);
  if (!parsed.success) return failAtOnce(row, deps.owner, `The config no longer fits the source "${row.source}": ${parsed.error.message}`);
  const config = parsed.data;

  const controller = new AbortController();
  const stop = (reason: StopReason) => {
    if (!controller.signal.aborted) controller.abort(new StopSignal(reason));
  };
  const onShutdown = () => stop("shutdown");
  deps.shutdown.addEventListener("abort", onShutdown);
  if (deps.shutdown.aborted) onShutdown();
  // A pause or cancel is noticed when the lease is renewed (every second, so a slow page does not look
  // like a dead worker) and at every checkpoint: the request in flight is aborted and the run stops there.
  const obey = (state: LeaseState) => {
    if (!state.held) stop("lease-lost");
    else if (state.cancelRequested) stop("cancel");
    else if (state.pauseRequested) stop("pause");
  };
  const lease = setInterval(
    () =>
      renewLease(prisma(), IMPORT_KIND, deps.owner, row.id).then(obey, (error) => {
        // While the database is away nobody can take the lease either: keep going, and renew once it is back.
        if (!reportDatabaseError(error, "lease")) deps.log.warn({ err: error, importId: row.id }, "could not renew the lease; trying again");
      }),
    LEASE_RENEW_MS,
  );

  const progress = createProgressReporter(deps.log);
  const runStart = Date.now();
  const activeSeconds = () => claimed.activeSeconds + (Date.now() - runStart) / 1000;
  const log = async (level: "INFO" | "WARNING" | "ERROR" | "DEBUG" | "SUCCESS", message: string) => {
    await recordEvent(prisma(), { kind: "LOG", subjectKind: IMPORT_KIND.subject, subjectId: row.id, level, message });
  };

  try {
    await runPages(source, config, row, deps, controller.signal, {
      log,
      activeSeconds,
      onCommitted: (next) => {
        row = next;
        obey({ held: true, pauseRequested: next.pauseRequested, cancelRequested: next.cancelRequested });
      },
      onPage: (pagesFetched, batchItems) => {
        const metrics = importMetrics({ ...row, activeSeconds: activeSeconds() });
        progress.report({
          subjectKind: IMPORT_KIND.subject,
          subjectId: row.id,
          done: pagesFetched,
          total: metrics.targetPages,
          progress: metrics.targetPages ? Math.min(1, pagesFetched / metrics.targetPages) : null,
          ratePerSecond: metrics.itemsPerSecond,
          etaSeconds: metrics.etaSeconds,
          counters: {
            pagesDone: row.pagesDone,
            itemsProcessed: row.itemsProcessed + batchItems,
            itemsNew: row.itemsNew,
            itemsUpdated: row.itemsUpdated,
            itemsUnchanged: row.itemsUnchanged,
            errorCount: row.errorCount,
          },
        });
      },
    });
  } finally {
    clearInterval(lease);
    deps.shutdown.removeEventListener("abort", onShutdown);
    await progress.flush();
  }
}

/**
 * A checkpoint that fails because the database is away is committed again
 * once it is back (docs/architecture.md, rule 7): the statement rolled back whole, and
 * its lease guard makes the retry write nothing if another worker took the
 * import meanwhile. Meanwhile no page is fetched beyond the one in flight.
 */
async function commitThroughOutages(commit: () => Promise<Import>, shutdown: AbortSignal): Promise<Import> {
  for (;;) {
    try {
      return await commit();
    } catch (error) {
      if (!reportDatabaseError(error, "checkpoint") || !(await waitForDatabase(shutdown))) throw error;
    }
  }
}

interface Hooks {
  log(level: "INFO" | "WARNING" | "ERROR", message: string): Promise<void>;
  activeSeconds(): number;
  onCommitted(row: Import): void;
  onPage(pagesFetched: number, batchItems: number): void;
}

async function runPages(source: AnySource, config: unknown, start: Import, deps: RunnerDeps, signal: AbortSignal, hooks: Hooks): Promise<void> {
  let row = start;
  let cursor = (row.cursor ?? source.start(config)) as JsonValue;
  let page = row.pagesDone; // pages done, committed or in the batch
  let totalPages = row.totalPages;
  let batch = emptyBatch(row.failureStreak);
  let committing: Promise<void> = Promise.resolve();
  // A checkpoint commits in the background; its failure surfaces at the next await of `committing`.
  let commitFailure: unknown;
  const pageLimit = row.maxPages;

  const fetchPage = (at: JsonValue): Promise<Fetched> =>
    source.fetchPage({ config, http: deps.http, signal, log: hooks.log, firstPage: page === 0 }, at).then(
      (fetched) => ({ ok: true as const, page: fetched }),
      (error: unknown) => ({ ok: false as const, error }),
    );

  const settled = async () => {
    await committing;
    if (commitFailure !== undefined) throw commitFailure;
  };
  const checkpoint = async (ending?: Ending) => {
    await settled(); // one checkpoint transaction at a time, in order
    const done: Batch = { ...batch, cursor: ending?.status === "COMPLETED" ? null : cursor, path: source.path?.(cursor, page, totalPages) ?? flatPath(page, totalPages) };
    batch = emptyBatch(done.failureStreak);
    committing = commitThroughOutages(() => commitCheckpoint(row, deps.owner, done, hooks.activeSeconds(), ending), deps.shutdown).then(
      (next) => {
        row = next;
        hooks.onCommitted(next);
      },
      (error: unknown) => {
        commitFailure = error;
      },
    );
    if (ending) await settled();
  };

  const skipOrEnd = (error: UpstreamError): Ending | undefined => {
    // A page that ends the import is not one of its errors: it is why it ended (and, resumed, it is fetched again).
    if (error.action === "fail") return { status: "FAILED", reason: error.message };
    if (error.action === "stop") return { status: "COMPLETED", reason: `The upstream ended the import: ${error.message}` };
    batch.errors.push({ page: page + 1, httpStatus: error.httpStatus, message: error.message, attempts: error.attempts } satisfies PageError);
    // An import whose pages keep failing is misconfigured or its upstream is down: it must end, not page on forever.
    if (++batch.failureStreak >= deps.maxConsecutiveFailures) {
      return { status: "FAILED", reason: `${batch.failureStreak} pages failed in a row (MAX_CONSECUTIVE_PAGE_FAILURES); last: ${error.message}` };
    }
    const next = source.skip?.(config, cursor) ?? null;
    if (next !== null) {
      page++;
      batch.pages++;
      cursor = next;
      return undefined;
    }
    if (error.transient) {
      // The source cannot go past this page: wait and try it again later (docs/architecture.md, rule 6). The page
      // is not an error of the import (it will be fetched again); the streak still counts it.
      batch.errors.pop();
      return { status: "WAITING", reason: `Page ${page + 1} keeps failing; trying again later: ${error.message}`, resumeAt: new Date(Date.now() + Math.max(deps.retryDelayMs, 1000) * 30), waitingOn: null };
    }
    return { status: "FAILED", reason: `Cannot continue past page ${page + 1}: ${error.message}` };
  };

  const stopEnding = (reason: StopReason): Ending | null => {
    if (reason === "pause") return { status: "PAUSED", reason: "paused on request" };
    if (reason === "cancel") return { status: "CANCELLED", reason: "cancelled on request" };
    if (reason === "shutdown") return { status: "RUNNING", reason: "worker shutting down; handed over" };
    return null; // lease lost: another worker has it, nothing of ours may be written
  };

  /** Pause, cancel or shutdown: commit what was fetched and end there; a lost lease writes nothing. */
  const stopHere = async () => {
    const ending = stopEnding((signal.reason as StopSignal).reason);
    if (ending) await checkpoint(ending);
    else await committing;
  };

  let pending: Promise<Fetched> | null = pageLimit !== null && page >= pageLimit ? null : fetchPage(cursor);
  for (;;) {
    if (pending === null) return checkpoint({ status: "COMPLETED", reason: `maxPages (${pageLimit}) reached` });
    const fetched = await pending;
    pending = null;
    let ending: Ending | undefined;
    if (fetched.ok) {
      page++;
      batch.pages++;
      batch.failureStreak = 0;
      batch.records.push(...fetched.page.records);
      if (fetched.page.totalPages != null) totalPages = batch.totalPages = fetched.page.totalPages;
      if (fetched.page.totalItems != null) batch.totalItems = fetched.page.totalItems;
      if (fetched.page.next === null) ending = { status: "COMPLETED", reason: "all pages imported" };
      else cursor = fetched.page.next;
    } else if (signal.aborted) {
      return stopHere();
    } else if (fetched.error instanceof RateLimitedError) {
      const { until, cooldownKey } = fetched.error;
      ending = { status: "WAITING", reason: `Rate limited by the upstream until ${until.toISOString()}`, resumeAt: until, waitingOn: cooldownKey };
    } else if (fetched.error instanceof UpstreamError) {
      ending = skipOrEnd(fetched.error);
    } else if (fetched.error instanceof MissingSecretError) {
      ending = { status: "FAILED", reason: fetched.error.message };
    } else {
      throw fetched.error;
    }
    hooks.onPage(page, batch.records.length);
    const limitReached = pageLimit !== null && page >= pageLimit;
    if (!ending && !limitReached && !signal.aborted) pending = fetchPage(cursor); // fetch on while the checkpoint commits
    if (ending) return checkpoint(ending);
    if (batch.pages >= row.checkpointEvery) await checkpoint();
    if (signal.aborted && pending === null) return stopHere();
  }
}
