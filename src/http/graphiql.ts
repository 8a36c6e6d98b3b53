import type { IncomingMessage, ServerResponse } from "node:http";
import { renderGraphiQL } from "@graphql-yoga/render-graphiql";
import { prepareFile, sendPrepared, type PreparedFile } from "./prepared-file.js";

/** The page's options: GraphiQL's assets come from this package, not a CDN, so it works offline and behind firewalls. */
const OPTIONS = {
  title: "Milepost",
  endpoint: "/graphql",
  defaultQuery: '# Add your token under Headers: {"Authorization": "Bearer <token>"}\n{\n  health { ok database workers version }\n}\n',
};

let page: PreparedFile | undefined;

/**
 * GraphiQL's page is about 9 MB of HTML and script and needs no token.
 * Rendered per request (as Yoga does), each client that asks and never
 * reads holds its own copy; here it is rendered and compressed once.
 */
function built(): PreparedFile {
  page ??= prepareFile(Buffer.from(renderGraphiQL(OPTIONS)), "text/html; charset=utf-8");
  return page;
}

/** Whether a request is a browser opening the GraphQL endpoint. */
export function wantsGraphiQL(request: IncomingMessage, path: string): boolean {
  return (request.method === "GET" || request.method === "HEAD") && (path === "/graphql" || path === "/graphql/") && (request.headers.accept ?? "").includes("text/html");
}

/** Sends the page, cacheable by its ETag (revalidated each time, so an upgrade shows at once). */
export function serveGraphiQL(request: IncomingMessage, response: ServerResponse): void {
  sendPrepared(request, response, built(), { "cache-control": "no-cache" });
}
