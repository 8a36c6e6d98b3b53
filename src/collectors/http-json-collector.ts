import { z } from "zod";
import { getPath, type JsonValue } from "../engine/json.js";
import { httpJson, httpJsonConfig, type HttpJsonConfig } from "../sources/http-json.js";
import { defineCollector } from "./types.js";

const PLACEHOLDER = /\{(year|since)\}/g;

export const httpJsonCollectorConfig = httpJsonConfig
  .extend({
    url: z
      .string()
      .describe("The URL; {year} is replaced by each year the run fetches, {since} by the last successful run's watermark (empty on the first run)."),
    pagination: httpJsonConfig.shape.pagination.default({ type: "none" }),
    startYear: z.number().int().min(1).max(9999).optional().describe("The first year {year} takes."),
    endYear: z.number().int().min(1).max(9999).optional().describe("The last year {year} takes; this year by default."),
    maxAgeDays: z.number().int().min(0).max(36_500).optional().describe("A year older than last year is fetched again once its last fetch is this old (0: every run)."),
    watermarkPath: z.string().min(1).optional().describe("Dot path of an item's change time or sequence: the run's watermark is the greatest, and {since} the last successful run's."),
  })
  .superRefine((config, ctx) => {
    // The URL is checked as http-json checks it (scheme, egress) with its placeholders filled in; they may stand only in the path and query.
    const sample = config.url.replace(PLACEHOLDER, (_, name: string) => (name === "year" ? "2000" : "since"));
    const checked = httpJsonConfig.shape.url.safeParse(sample);
    if (!checked.success) for (const issue of checked.error.issues) ctx.addIssue({ code: "custom", path: ["url"], message: issue.message });
    else if (!config.url.startsWith(new URL(sample).origin)) ctx.addIssue({ code: "custom", path: ["url"], message: "{year} and {since} may stand only in the path or the query" });
    if (config.url.includes("{year}") && config.startYear === undefined) ctx.addIssue({ code: "custom", path: ["startYear"], message: "a URL with {year} needs startYear" });
  });
export type HttpJsonCollectorConfig = z.infer<typeof httpJsonCollectorConfig>;

/** Which of two watermarks is further on: numbers by value, anything else as text (ISO times sort as text). */
function later(a: JsonValue | null, b: JsonValue): JsonValue {
  if (a === null) return b;
  if (typeof a === "number" && typeof b === "number") return b > a ? b : a;
  return String(b) > String(a) ? b : a;
}

/** A watermark as it goes into a URL. */
const asParameter = (value: JsonValue | null) => encodeURIComponent(value === null ? "" : typeof value === "string" || typeof value === "number" ? String(value) : JSON.stringify(value));

/**
 * Any JSON API by config alone, fetched incrementally: once per year of the
 * run's planned window ({year}), or for what changed since the last
 * successful run ({since}), or both, each with http-json's pagination (none
 * by default) and rules (retries, rate limits, secrets, egress).
 */
export const httpJsonCollector = defineCollector<HttpJsonCollectorConfig>({
  name: "http-json-collector",
  description: "Any JSON API by config alone, incrementally: a URL with {year} (only the years that may have changed) and/or {since} (only what changed since the last successful run).",
  config: httpJsonCollectorConfig,
  async collect(ctx) {
    const { config } = ctx;
    const years = config.url.includes("{year}") ? ctx.plan.years({ start: config.startYear!, end: config.endYear, maxAgeDays: config.maxAgeDays }).years : [null];
    const since = config.url.includes("{since}") ? ctx.plan.since() : null;
    // The watermark never goes back: a run that fetched only recent years starts from the last one.
    let watermark = since ?? (ctx.fullRefresh ? null : (ctx.lastSuccess?.watermark ?? null));
    for (const year of years) {
      const url = config.url.replace(PLACEHOLDER, (_, name: string) => (name === "year" ? String(year) : asParameter(since)));
      const page: HttpJsonConfig = { ...config, url };
      let cursor: ReturnType<typeof httpJson.start> | null = httpJson.start(page);
      for (let first = true; cursor !== null; first = false) {
        const fetched = await httpJson.fetchPage({ config: page, http: ctx.http, signal: ctx.signal, log: ctx.log, firstPage: first }, cursor);
        if (fetched.records.length > 0) await ctx.upsert(fetched.records);
        if (config.watermarkPath) {
          for (const record of fetched.records) {
            const mark = getPath(record.data, config.watermarkPath) as JsonValue | undefined;
            if (mark !== undefined && mark !== null && typeof mark !== "object") watermark = later(watermark, mark);
          }
        }
        cursor = fetched.next;
      }
    }
    if (watermark !== null) ctx.setWatermark(watermark);
  },
});
