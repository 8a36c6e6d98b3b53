import { z } from "zod";
import { httpUrl } from "../engine/config-schemas.js";
import { httpJsonCollector, httpJsonCollectorConfig } from "./http-json-collector.js";
import { defineCollector } from "./types.js";

const config = z.object({
  baseUrl: httpUrl().optional().describe("Where the demo upstream is; by default the one this service serves under /demo."),
  years: z.number().int().min(2).max(200).default(26).describe("How many years back from this one to collect."),
  maxAgeDays: z.number().int().min(0).max(36_500).default(30),
});

/**
 * The demo's yearly statistics through http-json-collector: 26 years, of
 * which only this one and the last change between runs, so a second run
 * fetches 2 years of 26. `defaultBaseUrl` is asked at each run: the service
 * knows its port only once it listens (PORT=0).
 */
export function demoStatsCollector(defaultBaseUrl: () => string) {
  return defineCollector({
    name: "demo-stats",
    description: "The demo upstream's yearly statistics (26 years; only this year's and last year's figures change), served by this service under /demo.",
    config,
    collect(ctx) {
      const thisYear = new Date().getUTCFullYear();
      const asHttpJson = httpJsonCollectorConfig.parse({
        url: `${ctx.config.baseUrl ?? defaultBaseUrl()}/stats/{year}`,
        pagination: { type: "page", param: "page", start: 1, totalPagesPath: "total_pages" },
        itemsPath: "results",
        idPath: "id",
        watermarkPath: "updated_at",
        startYear: thisYear - ctx.config.years + 1,
        maxAgeDays: ctx.config.maxAgeDays,
      });
      return httpJsonCollector.collect({ ...ctx, config: asHttpJson });
    },
  });
}
