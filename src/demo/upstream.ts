import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { catalogueSize, movieAt } from "./catalogue.js";
import { answerTree, DEFAULT_TREE, TREE_PATHS, type DemoTree } from "./backup-api.js";
import { answerPage, DEMO_PAGE_PATHS } from "./pages.js";
import { send } from "./send.js";
import { answerStats, DEFAULT_STATS, STATS_PATH, type DemoStats } from "./stats.js";

/**
 * Fault injection. Request counters are shared by every endpoint, so
 * "every N requests" counts all of them.
 */
export interface DemoFaults {
  /** Delay before every answer. */
  latencyMs: number;
  /** Every Nth request answers 503 (0: never). */
  errorEvery: number;
  /** Every Nth request answers 429 (420 on the nested API, as Podio does) with Retry-After (0: never). */
  rateLimitEvery: number;
  /** Sent as Retry-After; negative: none is sent. */
  retryAfterSeconds: number;
  /** Every Nth request never answers (a hang, for timeouts; 0: never). */
  hangEvery: number;
  /** When set, requests without `api_key=<this>` (or a Bearer of it) get 401. */
  apiKey: string | null;
  /** Page numbers that answer this status instead, e.g. {"7": 404}; "html" answers 200 with an HTML page (not JSON). */
  failPages: Record<string, number | "html">;
  /**
   * A careless upstream: every error body quotes the request (URL and
   * Authorization header), and Link headers carry the request's api_key on,
   * as some APIs do. For the tests that hunt leaked secrets.
   */
  echo: boolean;
  /** When set, every request is answered 302 to this origin, same path and query (a moved API). */
  redirectTo: string | null;
}

export interface DemoOptions {
  /** Movies in version 1 of the catalogue. */
  items: number;
  /** Items per page (TMDB: 20). */
  pageSize: number;
  version: number;
  /** The nested API's tree (the `demo-backup` source reads it). */
  tree: DemoTree;
  /** The yearly statistics (the `demo-stats` collector reads them). */
  stats: DemoStats;
  faults: DemoFaults;
}

export const NO_FAULTS: DemoFaults = {
  latencyMs: 0,
  errorEvery: 0,
  rateLimitEvery: 0,
  retryAfterSeconds: 1,
  hangEvery: 0,
  apiKey: null,
  failPages: {},
  echo: false,
  redirectTo: null,
};

export interface DemoUpstream {
  options: DemoOptions;
  /** Requests answered or refused so far. */
  readonly requests: number;
  /** The last 1,000 requests as they arrived (path with query, Authorization header), for tests to see what was sent. */
  readonly received: { url: string; authorization: string | null }[];
  /** Answers a request whose path is relative to the mount point; false when the path is not the demo's. */
  handle(request: IncomingMessage, response: ServerResponse, path: string): boolean;
}

/** What an echoing upstream quotes back of a request. */
function echoOf(request: IncomingMessage): Record<string, unknown> {
  return { request: { url: request.url, authorization: request.headers.authorization ?? null } };
}

/** The demo upstream API: one catalogue behind four pagination styles, with injectable faults. */
export function createDemoUpstream(options: Partial<Omit<DemoOptions, "faults" | "stats">> & { faults?: Partial<DemoFaults>; stats?: Partial<DemoStats> } = {}): DemoUpstream {
  const state: DemoOptions = {
    items: options.items ?? 10_000,
    pageSize: options.pageSize ?? 20,
    version: options.version ?? 1,
    tree: options.tree ?? DEFAULT_TREE,
    stats: { ...DEFAULT_STATS, ...options.stats },
    faults: { ...NO_FAULTS, ...options.faults },
  };
  let requests = 0;
  const received: DemoUpstream["received"] = [];

  const slice = (offset: number, limit: number) => {
    const total = catalogueSize(state.items, state.version);
    const movies = [];
    for (let index = offset; index < Math.min(total, offset + limit); index++) movies.push(movieAt(index, state.version));
    return { movies, total };
  };

  const answer = (url: URL, path: string, response: ServerResponse, base: string, echo: Record<string, unknown>) => {
    const number = (name: string, fallback: number) => {
      const value = Number(url.searchParams.get(name) ?? fallback);
      return Number.isInteger(value) && value >= 0 ? value : NaN;
    };
    if (path === "/3/movie/popular" || path === "/link/movies") {
      const page = number("page", 1);
      if (!(page >= 1)) return send(response, 400, { status_message: "page must be an integer >= 1" });
      const failure = state.faults.failPages[String(page)];
      if (failure === "html") {
        response.writeHead(200, { "content-type": "text/html" });
        return response.end(`<html><body>Maintenance (injected) ${JSON.stringify(echo)}</body></html>`);
      }
      if (failure) return send(response, failure, { status_message: `Page ${page} is unavailable (injected)`, ...echo });
      const { movies, total } = slice((page - 1) * state.pageSize, state.pageSize);
      const totalPages = Math.ceil(total / state.pageSize);
      if (path === "/link/movies") {
        const key = state.faults.echo && url.searchParams.get("api_key");
        const next = `${base}/link/movies?page=${page + 1}${key ? `&api_key=${encodeURIComponent(key)}` : ""}`;
        const link: Record<string, string> = page < totalPages ? { link: `<${next}>; rel="next"` } : {};
        return send(response, 200, movies, link);
      }
      return send(response, 200, { page, results: movies, total_pages: totalPages, total_results: total });
    }
    if (path === "/offset/movies") {
      const offset = number("offset", 0);
      const limit = number("limit", state.pageSize);
      if (Number.isNaN(offset) || !(limit >= 1)) return send(response, 400, { error: "offset and limit must be integers" });
      const { movies, total } = slice(offset, limit);
      return send(response, 200, { items: movies, total });
    }
    if (path === "/cursor/movies") {
      const after = url.searchParams.get("after");
      const offset = after ? Number(Buffer.from(after, "base64url").toString()) : 0;
      if (!Number.isInteger(offset)) return send(response, 400, { error: "bad cursor" });
      const { movies, total } = slice(offset, state.pageSize);
      const end = offset + movies.length;
      return send(response, 200, { data: movies, next_cursor: end < total ? Buffer.from(String(end)).toString("base64url") : null });
    }
    return send(response, 404, { error: `No demo endpoint ${path}` });
  };

  return {
    options: state,
    get requests() {
      return requests;
    },
    received,
    handle(request, response, path) {
      const isPage = DEMO_PAGE_PATHS.test(path);
      const isTree = TREE_PATHS.test(path);
      const isStats = STATS_PATH.test(path);
      if (!isPage && !isTree && !isStats && !/^\/(3\/movie\/popular|link\/movies|offset\/movies|cursor\/movies)$/.test(path)) return false;
      const n = ++requests;
      received.push({ url: request.url ?? "", authorization: request.headers.authorization ?? null });
      if (received.length > 1000) received.shift();
      const url = new URL(request.url ?? "/", "http://demo");
      const host = request.headers.host ?? "127.0.0.1";
      const base = `http://${host}${(request.url ?? "").split("?")[0].slice(0, -path.length)}`;
      const { faults } = state;
      const echo = faults.echo ? echoOf(request) : {};
      const respond = () => {
        if (faults.redirectTo) {
          response.writeHead(302, { location: `${faults.redirectTo}${path}${url.search}` });
          return response.end();
        }
        if (faults.hangEvery && n % faults.hangEvery === 0) return; // never answers; the client times out
        if (faults.rateLimitEvery && n % faults.rateLimitEvery === 0) {
          // A negative retryAfterSeconds sends no Retry-After: the client must know the upstream's own rule.
          const retryAfter: Record<string, string> = faults.retryAfterSeconds >= 0 ? { "retry-after": String(faults.retryAfterSeconds) } : {};
          return send(response, isTree ? 420 : 429, { status_message: "Too many requests (injected)", ...echo }, retryAfter);
        }
        if (faults.errorEvery && n % faults.errorEvery === 0) return send(response, 503, { status_message: "Unavailable (injected)", ...echo });
        const key = url.searchParams.get("api_key") ?? request.headers.authorization?.replace(/^Bearer /, "");
        if (faults.apiKey && key !== faults.apiKey) return send(response, 401, { status_message: "Invalid API key: you must be granted a valid key.", ...echo });
        if (isPage) return void answerPage(path, base, response).catch(() => response.destroy());
        if (isTree) return answerTree(state.tree, path, url, response);
        if (isStats) return answerStats(state.stats, path, url, response, echo);
        answer(url, path, response, base, echo);
      };
      // A page may ask for its own delay (?delayMs=, at most 10 s): a slow site among fast ones.
      const pageDelay = isPage ? Math.min(10_000, Math.max(0, Number(url.searchParams.get("delayMs")) || 0)) : 0;
      const delay = faults.latencyMs + pageDelay;
      if (delay > 0) setTimeout(respond, delay);
      else respond();
      return true;
    },
  };
}

/** Runs a demo upstream on its own port (tests, benches). */
export async function startDemoServer(
  options?: Parameters<typeof createDemoUpstream>[0],
  port = 0,
): Promise<{ url: string; upstream: DemoUpstream; close(): Promise<void> }> {
  const upstream = createDemoUpstream(options);
  const server = createServer((request, response) => {
    const path = (request.url ?? "/").split("?")[0];
    if (!upstream.handle(request, response, path)) send(response, 404, { error: "not found" });
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    upstream,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
