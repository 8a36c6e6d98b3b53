import type { IncomingMessage, ServerResponse } from "node:http";
import { MAX_BODY_BYTES } from "./limits.js";

/**
 * Reads a request body up to MAX_BODY_BYTES, whether it announces its
 * length or comes chunked; null when it is larger (the rest is not read).
 */
export function readCappedBody(request: IncomingMessage): Promise<Buffer | null> {
  if (Number(request.headers["content-length"] ?? 0) > MAX_BODY_BYTES) return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        request.removeAllListeners("data");
        request.pause();
        resolve(null);
        return;
      }
      chunks.push(chunk);
    });
    request.once("end", () => resolve(Buffer.concat(chunks)));
    request.once("error", reject);
  });
}

/** The 413 answer, in the GraphQL error shape clients expect. */
export function refuseTooLarge(response: ServerResponse): void {
  const message = `The request body is larger than ${MAX_BODY_BYTES} bytes`;
  response.writeHead(413, { "content-type": "application/json", connection: "close" });
  response.end(JSON.stringify({ errors: [{ message, extensions: { code: "BAD_USER_INPUT" } }] }));
}
