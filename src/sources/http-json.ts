import { z } from "zod";
import { UpstreamError } from "../engine/http-client.js";
import { getPath, type JsonValue } from "../engine/json.js";
import { httpUrl, secretOr } from "../engine/config-schemas.js";
import { defineSource } from "./types.js";

export const queryValue = secretOr(z.union([z.string(), z.number(), z.boolean()]));

export const pagination = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("page"),
    param: z.string().min(1).default("page"),
    start: z.number().int().min(0).default(1),
    pageSize: z.number().int().positive().optional(),
    sizeParam: z.string().min(1).optional(),
    totalPagesPath: z.string().optional(),
  }),
  z.object({
    type: z.literal("offset"),
    param: z.string().min(1).default("offset"),
    sizeParam: z.string().min(1).default("limit"),
    pageSize: z.number().int().positive(),
  }),
  z.object({
    type: z.literal("cursor"),
    param: z.string().min(1),
    nextPath: z.string().min(1).describe("Dot path of the next page's token in the answer; empty or missing ends the import."),
  }),
  z.object({ type: z.literal("link").describe("RFC 8288 `Link: <…>; rel=\"next\"` headers.") }),
  z.object({ type: z.literal("none").describe("One request: its answer holds every item.") }),
]);

/** How long a 429/420 that does not say closes the upstream: its documented rule. */
export const rateLimitWaitSeconds = z
  .number()
  .int()
  .min(1)
  .max(86_400)
  .optional()
  .describe("How long a 429/420 without Retry-After closes the upstream: its documented rule (e.g. Podio's 3600); 60 by default.");

export const httpJsonConfig = z.object({
  url: httpUrl(),
  query: z.record(z.string(), queryValue).default({}),
  headers: z.record(z.string(), secretOr(z.string())).default({}),
  method: z.enum(["GET", "POST"]).default("GET"),
  itemsPath: z.string().default("").describe('Dot path of the array of items; "" for a bare array.'),
  idPath: z.string().min(1).default("id").describe("Dot path of an item's id."),
  totalPagesPath: z.string().optional(),
  totalItemsPath: z.string().optional(),
  pagination,
  rateLimitWaitSeconds,
  responses: z
    .record(z.string().regex(/^[1-5]\d\d$/, "must be an HTTP status code"), z.enum(["retry", "skip", "stop", "fail"]))
    .optional()
    .describe("What a status code means: retry, skip (record and go on), stop (end as COMPLETED) or fail."),
});
export type HttpJsonConfig = z.infer<typeof httpJsonConfig>;

/** page: {page}, offset: {offset}, cursor: {token}, link: {url} (the next URL itself). */
type Cursor = { page: number } | { offset: number } | { token: string | null } | { url: string };

/**
 * The URL of a page, without `config.query`: the HTTP client adds those
 * parameters at each request, resolving secret references only for hosts
 * MILEPOST_SECRETS allows, so no cursor ever holds a secret's value.
 */
function requestUrl(config: HttpJsonConfig, cursor: Cursor): string {
  if ("url" in cursor) return cursor.url;
  const url = new URL(config.url);
  const p = config.pagination;
  if (p.type === "page" && "page" in cursor) {
    url.searchParams.set(p.param, String(cursor.page));
    if (p.sizeParam && p.pageSize) url.searchParams.set(p.sizeParam, String(p.pageSize));
  } else if (p.type === "offset" && "offset" in cursor) {
    url.searchParams.set(p.param, String(cursor.offset));
    url.searchParams.set(p.sizeParam, String(p.pageSize));
  } else if (p.type === "cursor" && "token" in cursor && cursor.token !== null) {
    url.searchParams.set(p.param, cursor.token);
  }
  return url.toString();
}

/** A next-page URL from the upstream with `config.query`'s parameters taken out (the client adds them again). */
function withoutConfigQuery(config: HttpJsonConfig, link: string): string {
  const url = new URL(link);
  for (const name of Object.keys(config.query)) url.searchParams.delete(name);
  return url.toString();
}

/** The `rel="next"` target of a Link header, resolved against the request URL. */
export function nextLink(header: string | null, base: string): string | null {
  for (const part of header?.split(/,(?=\s*<)/) ?? []) {
    const match = /<([^>]*)>(.*)/.exec(part.trim());
    const rel = match && /;\s*rel\s*=\s*(?:"([^"]*)"|([^;\s]*))/i.exec(match[2]);
    const values = rel ? (rel[1] ?? rel[2]).toLowerCase().split(/\s+/) : [];
    if (match && values.includes("next")) return new URL(match[1], base).toString();
  }
  return null;
}

function count(body: unknown, path: string | undefined): number | null {
  if (!path) return null;
  const value = Number(getPath(body, path));
  return Number.isFinite(value) ? value : null;
}

export const httpJson = defineSource<HttpJsonConfig, Cursor>({
  name: "http-json",
  description: "Any paginated JSON API, by config alone: page, offset, cursor or Link-header pagination (e.g. TMDB's /movie/popular).",
  shape: "FLAT",
  config: httpJsonConfig,
  start(config) {
    const p = config.pagination;
    if (p.type === "page") return { page: p.start };
    if (p.type === "offset") return { offset: 0 };
    if (p.type === "cursor") return { token: null };
    return { url: requestUrl(config, { token: null }) }; // link and none: the URL itself
  },
  async fetchPage(ctx, cursor) {
    const { config } = ctx;
    const url = requestUrl(config, cursor);
    // An answer of the wrong shape on the very first page is a configuration error, not a bad page: fail at once.
    const shapeError = (message: string, status: number | null) =>
      new UpstreamError(ctx.firstPage ? `Configuration error: ${message}` : message, ctx.firstPage ? "fail" : "skip", status, 1);
    const response = await ctx.http
      .json(url, {
        method: config.method,
        query: config.query,
        headers: config.headers,
        signal: ctx.signal,
        responses: config.responses,
        clientErrorIsFatal: ctx.firstPage,
        rateLimitMs: config.rateLimitWaitSeconds === undefined ? undefined : config.rateLimitWaitSeconds * 1000,
      })
      .catch((error: unknown) => {
        if (error instanceof UpstreamError && error.action === "skip" && !error.transient && error.httpStatus !== null && error.httpStatus < 300) {
          throw shapeError(error.message, error.httpStatus);
        }
        throw error;
      });
    const where = new URL(response.url).pathname;
    const items = getPath(response.body, config.itemsPath);
    if (!Array.isArray(items)) {
      throw shapeError(`No array at itemsPath "${config.itemsPath}" in the answer of ${where}`, response.status);
    }
    const records = items.map((item, index) => {
      const id = getPath(item, config.idPath);
      if (id === undefined || id === null || id === "" || typeof id === "object") {
        throw shapeError(`Item ${index} of ${where} has no id at idPath "${config.idPath}"`, response.status);
      }
      return { externalId: String(id), data: item as JsonValue };
    });
    const p = config.pagination;
    const totalItems = count(response.body, config.totalItemsPath);
    let totalPages = count(response.body, config.totalPagesPath ?? (p.type === "page" ? p.totalPagesPath : undefined));
    let next: Cursor | null = null;
    if (p.type === "page" && "page" in cursor) {
      if (totalPages === null && totalItems !== null && p.pageSize) totalPages = Math.ceil(totalItems / p.pageSize);
      const last = totalPages !== null ? cursor.page - p.start + 1 >= totalPages : records.length === 0;
      next = last || records.length === 0 ? null : { page: cursor.page + 1 };
    } else if (p.type === "offset" && "offset" in cursor) {
      if (totalItems !== null) totalPages = Math.ceil(totalItems / p.pageSize);
      const end = cursor.offset + records.length;
      next = records.length < p.pageSize || (totalItems !== null && end >= totalItems) ? null : { offset: end };
    } else if (p.type === "cursor") {
      const token = getPath(response.body, p.nextPath);
      next = typeof token === "string" && token !== "" ? { token } : typeof token === "number" ? { token: String(token) } : null;
    } else if (p.type === "link") {
      const link = nextLink(response.headers.get("link"), response.url);
      next = link ? { url: withoutConfigQuery(config, link) } : null;
    }
    return { records, next, totalPages, totalItems };
  },
  skip(config, cursor) {
    const p = config.pagination;
    if (p.type === "page" && "page" in cursor) return { page: cursor.page + 1 };
    if (p.type === "offset" && "offset" in cursor) return { offset: cursor.offset + p.pageSize };
    return null;
  },
});
