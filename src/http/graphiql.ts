import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { gzipSync } from "node:zlib";
import { renderGraphiQL } from "@graphql-yoga/render-graphiql";

/** The page's options: GraphiQL's assets come from this package, not a CDN, so it works offline and behind firewalls. */
const OPTIONS = {
  title: "Milepost",
  endpoint: "/graphql",
  defaultQuery: '# Add your token under Headers: {"Authorization": "Bearer <token>"}\n{\n  health { ok database workers version }\n}\n',
};

interface Page {
  identity: Buffer;
  gzip: Buffer;
  etag: string;
}

let page: Page | undefined;

/**
 * GraphiQL's page is about 9 MB of HTML and script and needs no token.
 * Rendered per request (as Yoga does), each client that asks and never
 * reads holds its own copy; here it is rendered and compressed once, and
 * every response sends the same two buffers.
 */
function built(): Page {
  if (!page) {
    const identity = Buffer.from(renderGraphiQL(OPTIONS));
    page = { identity, gzip: gzipSync(identity, { level: 9 }), etag: `"${createHash("sha256").update(identity).digest("base64url").slice(0, 27)}"` };
  }
  return page;
}

/** Whether a request is a browser opening the GraphQL endpoint. */
export function wantsGraphiQL(request: IncomingMessage, path: string): boolean {
  return (request.method === "GET" || request.method === "HEAD") && (path === "/graphql" || path === "/graphql/") && (request.headers.accept ?? "").includes("text/html");
}

/** Sends the page: compressed when the client takes gzip, cacheable by its ETag (revalidated each time, so an upgrade shows at once). */
export function serveGraphiQL(request: IncomingMessage, response: ServerResponse): void {
  const { identity, gzip, etag } = built();
  const headers: Record<string, string | number> = { "content-type": "text/html; charset=utf-8", etag, "cache-control": "no-cache", vary: "accept-encoding" };
  if (request.headers["if-none-match"] === etag) {
    response.writeHead(304, headers);
    return void response.end();
  }
  const compressed = /\bgzip\b/.test(String(request.headers["accept-encoding"] ?? ""));
  const body = compressed ? gzip : identity;
  response.writeHead(200, { ...headers, ...(compressed ? { "content-encoding": "gzip" } : {}), "content-length": body.length });
  response.end(request.method === "HEAD" ? undefined : body);
}
