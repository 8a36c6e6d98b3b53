import type { ServerResponse } from "node:http";
import { send } from "./send.js";

/** The demo's yearly statistics: how many countries a year has, and which revision of the recent figures is out. */
export interface DemoStats {
  countries: number;
  /** Items per page. */
  pageSize: number;
  /** The revision of this year's and last year's figures; null: a new one every minute, as live figures would. */
  revision: number | null;
}

export const DEFAULT_STATS: DemoStats = { countries: 30, pageSize: 20, revision: null };

const CODES = ["AR", "AT", "AU", "BE", "BR", "CA", "CH", "CL", "CN", "CZ", "DE", "DK", "ES", "FI", "FR", "GB", "GR", "IE", "IN", "IT", "JP", "KR", "MX", "NL", "NO", "NZ", "PL", "PT", "SE", "US"];

export const STATS_PATH = /^\/stats\/(\d{1,4})$/;

/**
 * The revision out now, and when it came out (its figures' updated_at):
 * the minute itself when they change every minute, else that many minutes
 * into February of last year; either way after every final figure's.
 */
function revisionOf(stats: DemoStats, current: number, now = Date.now()): { revision: number; at: string } {
  if (stats.revision === null) return { revision: Math.floor(now / 60_000), at: new Date(Math.floor(now / 60_000) * 60_000).toISOString() };
  return { revision: stats.revision, at: new Date(Date.UTC(current - 1, 1, 1) + stats.revision * 60_000).toISOString() };
}

/**
 * `/stats/{year}?page=N&since=ISO` → `{ year, page, total_pages, results:
 * [{ id, year, country, value, updated_at }] }`, 20 to a page. Years before
 * last year are final (their figures and updated_at never change); this
 * year's and last year's change with every revision, half the countries
 * at a time. `since` keeps only figures updated after it. A careless
 * upstream (`echo`) quotes the request in every figure.
 */
export function answerStats(stats: DemoStats, path: string, url: URL, response: ServerResponse, echo: Record<string, unknown>): void {
  const year = Number(STATS_PATH.exec(path)?.[1]);
  const page = Number(url.searchParams.get("page") ?? 1);
  const since = url.searchParams.get("since") ?? "";
  if (!(year >= 1) || !Number.isInteger(page) || page < 1) return send(response, 400, { error: "year and page must be positive integers" });
  if (since !== "" && Number.isNaN(Date.parse(since))) return send(response, 400, { error: "since must be an ISO date" });
  const current = new Date().getUTCFullYear();
  if (year > current) return send(response, 404, { error: `No statistics for ${year} yet` });
  const { revision, at } = revisionOf(stats, current);
  const recent = year >= current - 1;
  const all = CODES.slice(0, Math.min(stats.countries, CODES.length)).map((country, index) => {
    const changes = recent && index % 2 === 0;
    return {
      id: `${year}-${country}`,
      year,
      country,
      value: ((year * 31 + index * 17) % 1000) + (changes ? revision : 0),
      updated_at: changes ? at : `${Math.min(year + 1, current - 1)}-01-15T00:00:00.000Z`,
      ...echo,
    };
  });
  const matching = since === "" ? all : all.filter((item) => item.updated_at > new Date(since).toISOString());
  const totalPages = Math.max(1, Math.ceil(matching.length / stats.pageSize));
  send(response, 200, { year, page, total_pages: totalPages, results: matching.slice((page - 1) * stats.pageSize, page * stats.pageSize) });
}
