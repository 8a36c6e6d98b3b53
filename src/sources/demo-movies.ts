import { z } from "zod";
import { httpUrl, secretOr } from "../engine/config-schemas.js";
import { httpJson } from "./http-json.js";
import { defineSource } from "./types.js";

const config = z.object({
  baseUrl: httpUrl().optional().describe("Where the demo upstream is; by default the one this service serves under /demo."),
  apiKey: secretOr(z.string())
    .optional()
    .describe("Sent as api_key, like TMDB's; the demo asks for one only when told to."),
});

/**
 * The demo catalogue through http-json, configured like TMDB's
 * /movie/popular, so a new user can run an import in the first minute.
 */
/** `defaultBaseUrl` is asked at each fetch: the service knows its port only once it listens (PORT=0). */
export function demoMoviesSource(defaultBaseUrl: () => string) {
  const asHttpJson = (options: z.infer<typeof config>) =>
    httpJson.config.parse({
      url: `${options.baseUrl ?? defaultBaseUrl()}/3/movie/popular`,
      query: options.apiKey ? { api_key: options.apiKey } : {},
      pagination: { type: "page", param: "page", start: 1, totalPagesPath: "total_pages" },
      itemsPath: "results",
      idPath: "id",
      totalItemsPath: "total_results",
    });
  return defineSource({
    name: "demo-movies",
    description: "The built-in demo catalogue (TMDB's /movie/popular shape), served by this service under /demo.",
    shape: "FLAT",
    config,
    start: (options) => httpJson.start(asHttpJson(options)),
    fetchPage: (ctx, cursor) => httpJson.fetchPage({ ...ctx, config: asHttpJson(ctx.config) }, cursor),
    skip: (options, cursor) => httpJson.skip!(asHttpJson(options), cursor),
  });
}
