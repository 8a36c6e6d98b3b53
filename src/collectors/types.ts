import type { z } from "zod";
import type { LogLevel } from "../engine/events.js";
import type { HttpClient } from "../engine/http-client.js";
import type { JsonValue } from "../engine/json.js";
import type { SourceRecord } from "../sources/types.js";

/** What the last successful run of a collector left: the next run plans from it. */
export interface LastSuccess {
  at: Date;
  watermark: JsonValue | null;
  /** When each window (a year) was last fetched by a successful run. */
  windows: Record<string, Date>;
}

/** The years a run is to fetch, with why each was chosen or left out. */
export interface YearPlan {
  years: number[];
  why: Record<string, string>;
}

/** What `upsert` wrote, as the database decided it: new, changed, or the same as stored. */
export interface UpsertCounts {
  processed: number;
  inserted: number;
  updated: number;
  unchanged: number;
}

/** What a collector's `collect` gets from the engine. */
export interface CollectorContext<Config> {
  /** The collector's validated config, `{ "$env": NAME }` references still in place (the HTTP client resolves them). */
  config: Config;
  /** The last COMPLETED run of this collector, null before the first (or on a full refresh). */
  lastSuccess: LastSuccess | null;
  /** Whether this run was asked to fetch everything again. */
  fullRefresh: boolean;
  plan: {
    /**
     * The years from `start` to `end` (this year by default) to fetch: this
     * year and the last always; an older one only if no successful run
     * fetched it, or one did more than `maxAgeDays` ago (0: every year; the
     * run's own maxAgeDays wins over the one given here); every year on a
     * full refresh. Recorded as the run's window, with the reasons.
     */
    years(options: { start: number; end?: number; maxAgeDays?: number }): YearPlan;
    /** The watermark to fetch changes since (null: fetch everything), recorded in the run's window. */
    since(): JsonValue | null;
  };
  /**
   * Writes records under (dataset, externalId), the collector's name as the
   * dataset unless it says otherwise, and counts them on the run in the same
   * commit; resolves once committed, with what the database decided.
   */
  upsert(records: SourceRecord[], options?: { dataset?: string }): Promise<UpsertCounts>;
  /** Where this run got to; committed with the next upsert or the run's end, and the collector's once the run succeeds. */
  setWatermark(value: JsonValue): void;
  /** Timeouts, retries with backoff, rate limits, secrets, egress: the import rules. */
  http: HttpClient;
  /** Aborted when the run must stop (shutdown, a lost lease): pass it to every request. */
  signal: AbortSignal;
  /** A LOG event on the run. */
  log(level: LogLevel, message: string): Promise<void>;
}

/**
 * A collector: fetches the same data set again and again, only what
 * changed, and writes it with `upsert`. Registered by plugins
 * (MILEPOST_PLUGINS) like sources and processors; its runs are tracked.
 */
export interface CollectorDefinition<Config = unknown> {
  name: string;
  description: string;
  /** Its config; the value is what this schema makes of `{}` unless MILEPOST_COLLECTORS gives one. */
  config: z.ZodType<Config>;
  /** A cron expression (UTC) the collector is scheduled with when it is first registered; scheduleCollector changes it. */
  schedule?: string;
  /** Where its records go (the collector's name by default). */
  dataset?: string;
  collect(ctx: CollectorContext<Config>): Promise<void>;
}

/* eslint-disable-next-line @typescript-eslint/no-explicit-any */
export type AnyCollector = CollectorDefinition<any>;

/** Typed helper for plugins: `export default defineCollector({ … })`. */
export function defineCollector<Config>(definition: CollectorDefinition<Config>): CollectorDefinition<Config> {
  return definition;
}
