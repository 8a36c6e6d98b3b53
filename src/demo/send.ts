import type { ServerResponse } from "node:http";

/** Answers with a JSON body, as every endpoint of the demo upstream does. */
export function send(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  response.writeHead(status, { "content-type": "application/json", ...headers });
  response.end(JSON.stringify(body));
}
