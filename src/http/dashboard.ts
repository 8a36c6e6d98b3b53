import { existsSync, readdirSync, readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { prepareFile, sendPrepared, type PreparedFile } from "./prepared-file.js";

/** Where `npm run dashboard:build` (run by npm ci) puts the compiled dashboard. */
const DIST = fileURLToPath(new URL("../../dashboard/dist/", import.meta.url));
/** The page's paths: the overview and the deep links to one thing, shared as URLs. */
const PAGE = /^\/(?:(?:imports|jobs|queues|collectors)\/[^/]+\/?)?$/;
const TYPES: Record<string, string> = { ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".html": "text/html; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png" };
/**
 * The page talks to this service only (its own origin, over HTTP and
 * WebSockets), runs only its own scripts, and is framed by no one.
 */
const PAGE_HEADERS = {
  "content-security-policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

interface Built {
  page: PreparedFile;
  assets: Map<string, PreparedFile>;
}
let built: Built | null | undefined;

/** The compiled files, read and compressed once; null when the dashboard was not built. */
function load(): Built | null {
  if (built !== undefined) return built;
  if (!existsSync(join(DIST, "index.html"))) return (built = null);
  const assets = new Map<string, PreparedFile>();
  for (const name of readdirSync(join(DIST, "assets"))) {
    assets.set(`/assets/${name}`, prepareFile(readFileSync(join(DIST, "assets", name)), TYPES[extname(name)] ?? "application/octet-stream"));
  }
  return (built = { page: prepareFile(readFileSync(join(DIST, "index.html")), TYPES[".html"]), assets });
}

/**
 * Serves the dashboard: its page at / and at every deep link, its assets
 * (named by their content, so cached for good) under /assets/. Returns
 * false for any other path. The page needs no token to load; everything it
 * shows is asked for with the token the user signs in with.
 */
export function serveDashboard(request: IncomingMessage, response: ServerResponse, path: string): boolean {
  if (request.method !== "GET" && request.method !== "HEAD") return false;
  const isPage = PAGE.test(path);
  if (!isPage && !path.startsWith("/assets/")) return false;
  const dashboard = load();
  if (!dashboard) {
    if (!isPage) return false;
    response.writeHead(503, { "content-type": "text/plain; charset=utf-8" });
    response.end("The dashboard is not built: run `npm run dashboard:build` (npm ci does it). GraphQL is at /graphql.\n");
    return true;
  }
  if (isPage) {
    sendPrepared(request, response, dashboard.page, { "cache-control": "no-cache", ...PAGE_HEADERS });
    return true;
  }
  const asset = dashboard.assets.get(path);
  if (!asset) return false;
  sendPrepared(request, response, asset, { "cache-control": "public, max-age=31536000, immutable", "x-content-type-options": "nosniff" });
  return true;
}
