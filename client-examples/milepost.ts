// What every client example shares: where the server is and the token, read
// once from the environment, a GraphQL call over HTTP, and a graphql-ws
// client that says "reconnecting…" and carries on when the server restarts.
//
//   MILEPOST_URL    the GraphQL endpoint (default http://127.0.0.1:4000/graphql)
//   MILEPOST_TOKEN  a token (the first start saves an ADMIN one in .data/admin-token)
import { readFileSync } from "node:fs";
import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";

export const url = process.env.MILEPOST_URL ?? "http://127.0.0.1:4000/graphql";

// An error nobody caught (a refused token, a server that cannot be reached) ends the example with one line, not a stack trace.
process.on("uncaughtException", (error) => {
  process.stderr.write(`\n${error.message || String(error)}\n`);
  process.exit(1);
});

function readToken(): string {
  if (process.env.MILEPOST_TOKEN) return process.env.MILEPOST_TOKEN;
  try {
    return readFileSync(".data/admin-token", "utf8").trim();
  } catch {
    console.error("Set MILEPOST_TOKEN to a token (after the first start, the ADMIN token is in .data/admin-token).");
    process.exit(2);
  }
}
export const token = readToken();

/** A GraphQL call over HTTP; GraphQL errors and an unreachable server become one-line errors. */
export async function gql<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
  } catch (error) {
    throw new Error(`cannot reach ${url}: ${((error as Error).cause as Error | undefined)?.message ?? (error as Error).message}`);
  }
  const body = (await response.json()) as { data?: T; errors?: { message: string; extensions?: { code?: string } }[] };
  if (body.errors?.length) throw new Error(body.errors.map((error) => `${error.extensions?.code ?? "ERROR"}: ${error.message}`).join("; "));
  return body.data!;
}

/** The close code of a socket the client closed itself (no subscription left, or disposed). */
const NORMAL_CLOSURE = 1000;
/** Close codes after which retrying cannot help: no token, a bad or revoked one. */
const FINAL_CLOSE_CODES = new Set([4401, 4403]);

/**
 * A graphql-ws client that reconnects for as long as it takes (with
 * backoff), resubscribing its live subscriptions (with the variables they
 * started with: `reconnected` lets a caller start them anew with newer
 * ones), and says so on stderr instead of dying with the socket's error
 * event. A refused token ends the process with one line.
 */
export function live(options: { reconnected?: () => void } = {}): Client {
  let connectedOnce = false;
  let reconnecting = false;
  return createClient({
    url: url.replace(/^http/, "ws"),
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: Number.POSITIVE_INFINITY,
    shouldRetry: (event) => !FINAL_CLOSE_CODES.has((event as { code?: number }).code ?? 0),
    on: {
      connected: () => {
        const again = reconnecting;
        connectedOnce = true;
        reconnecting = false;
        if (!again) return;
        process.stderr.write(`\nreconnected to ${url}\n`);
        options.reconnected?.();
      },
      closed: (event) => {
        const code = (event as { code?: number }).code ?? 0;
        if (code === NORMAL_CLOSURE) return; // this client closed it: its last subscription ended, or it was disposed
        if (FINAL_CLOSE_CODES.has(code)) {
          // Trying again cannot help: say why once, and stop.
          process.stderr.write(`\nthe server refused the token (${code}): check MILEPOST_TOKEN\n`);
          process.exit(1);
        }
        if (!reconnecting) process.stderr.write(`\n${connectedOnce ? "connection lost" : `cannot reach ${url}`}; reconnecting…\n`);
        reconnecting = true;
      },
    },
  });
}

/** The terminal's width, or 120 when the output is not a terminal. */
export const width = () => process.stdout.columns || 120;

/**
 * Redraws a status line in place on a terminal, cut to its width (a line
 * longer than the terminal would wrap and break the redraw); piped, each
 * state is a line of its own.
 */
export function redraw(line: string): void {
  process.stdout.write(process.stdout.isTTY ? `\r${line.slice(0, width() - 1)}\x1b[K` : `${line}\n`);
}
