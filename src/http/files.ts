import type { IncomingMessage, ServerResponse } from "node:http";
import { authenticate, secretFrom } from "../auth/tokens.js";
import { prisma } from "../db/client.js";

const FILE_PATH = /^\/files\/([0-9a-f]{32})\.[a-z0-9]+$/;

function refuse(response: ServerResponse, status: number, message: string): void {
  response.writeHead(status, { "content-type": "application/json" });
  response.end(JSON.stringify({ error: message }));
}

/**
 * Serves the files processors stored (image-normalize's WebP) at
 * /files/<id>.<extension>, to holders of a token (any role), as every API answer
 * is. Returns false for any other path.
 */
export function serveFile(request: IncomingMessage, response: ServerResponse, path: string, authOff: boolean): boolean {
  const match = FILE_PATH.exec(path);
  if (!match || (request.method !== "GET" && request.method !== "HEAD")) return false;
  void (async () => {
    const secret = secretFrom(request.headers.authorization);
    if (!authOff && !secret) return refuse(response, 401, 'Send a token: "Authorization: Bearer <token>"');
    if (!authOff && !(await authenticate(secret!))) return refuse(response, 401, "The token is unknown or revoked");
    const file = await prisma().storedFile.findUnique({ where: { id: match[1] } });
    if (!file) return refuse(response, 404, `No file ${match[1]}`);
    response.writeHead(200, { "content-type": file.contentType, "content-length": file.size, "cache-control": "private, max-age=86400", etag: `"${file.id}"` });
    response.end(request.method === "HEAD" ? undefined : Buffer.from(file.bytes));
  })().catch(() => {
    if (!response.headersSent) refuse(response, 503, "The file cannot be read now; try again shortly");
    else response.destroy();
  });
  return true;
}
