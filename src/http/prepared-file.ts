import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { gzipSync } from "node:zlib";

/** A file served from memory: as it is and gzipped, each made once, and its ETag. */
export interface PreparedFile {
  type: string;
  identity: Buffer;
  gzip: Buffer;
  etag: string;
}

export function prepareFile(body: Buffer, type: string): PreparedFile {
  return { type, identity: body, gzip: gzipSync(body, { level: 9 }), etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"` };
}

/**
 * Sends a prepared file: gzipped when the client takes it, 304 when its
 * ETag matches. Every response of every client sends the same buffers, so a
 * client that asks and never reads holds no copy of its own.
 */
export function sendPrepared(request: IncomingMessage, response: ServerResponse, file: PreparedFile, headers: Record<string, string> = {}): void {
  const common = { "content-type": file.type, etag: file.etag, vary: "accept-encoding", ...headers };
  if (request.headers["if-none-match"] === file.etag) {
    response.writeHead(304, common);
    return void response.end();
  }
  const compressed = /\bgzip\b/.test(String(request.headers["accept-encoding"] ?? ""));
  const body = compressed ? file.gzip : file.identity;
  response.writeHead(200, { ...common, ...(compressed ? { "content-encoding": "gzip" } : {}), "content-length": body.length });
  response.end(request.method === "HEAD" ? undefined : body);
}
