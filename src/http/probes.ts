import type { ServerResponse } from "node:http";
import { prisma } from "../db/client.js";

/** How long /readyz waits for the database before it answers 503. */
const READY_TIMEOUT_MS = 2000;

function send(response: ServerResponse, status: number, body: Record<string, unknown>): void {
  response.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
  response.end(JSON.stringify(body));
}

async function databaseAnswers(): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), READY_TIMEOUT_MS)));
  const query = prisma()
    .$queryRaw`SELECT 1`.then(() => true)
    .catch(() => false);
  try {
    return await Promise.race([query, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Probes for orchestrators, without a token: GET /healthz answers 200 while
 * the process runs; GET /readyz answers 200 when the database answers too,
 * 503 otherwise. Returns false for any other path.
 */
export function answerProbe(path: string, method: string | undefined, response: ServerResponse): boolean {
  if ((path !== "/healthz" && path !== "/readyz") || (method !== "GET" && method !== "HEAD")) return false;
  if (path === "/healthz") {
    send(response, 200, { ok: true });
    return true;
  }
  void databaseAnswers().then((ready) => send(response, ready ? 200 : 503, { ready, database: ready }));
  return true;
}
