import type { IncomingMessage, ServerResponse } from "node:http";
import { isLoopbackHost } from "../egress/addresses.js";

/**
 * Who may call the API from a browser. A page on another origin can send a
 * "simple" request (a form's POST, urlencoded or multipart, or text/plain)
 * without asking first, and with cookies or an open server it would run a
 * mutation; CORS only stops it from reading the answer. So POSTs must be
 * JSON (which a browser sends cross-site only after a preflight), CORS is
 * answered only for the origins MILEPOST_CORS_ORIGINS lists, and a server
 * with MILEPOST_AUTH=off, which lets everyone in as ADMIN, takes requests
 * only from its own loopback origin (also against DNS rebinding, where a
 * foreign name resolves to 127.0.0.1: its Host and Origin say so).
 */
export interface OriginRules {
  authOff: boolean;
  /** Origins allowed cross-origin (MILEPOST_CORS_ORIGINS). */
  corsOrigins: readonly string[];
}

/** A POST body types GraphQL is sent in; anything else (forms, text/plain) is refused. */
const JSON_BODY = /^application\/(json|graphql-response\+json|graphql\+json)\s*(;|$)/i;

/** Why a request is refused before anything runs, or null. */
export function originRefusal(request: IncomingMessage, rules: OriginRules): { status: number; message: string } | null {
  const origin = request.headers.origin;
  if (rules.authOff) {
    if (!isLoopbackHost(request.headers.host ?? "")) return { status: 403, message: "MILEPOST_AUTH=off: this server answers requests to its loopback address only" };
    if (origin && !rules.corsOrigins.includes(origin)) {
      let host = "";
      try {
        host = new URL(origin).host;
      } catch {
        // "null" (a sandboxed page, a file) or garbage: not this server's own
      }
      if (host !== request.headers.host) return { status: 403, message: "MILEPOST_AUTH=off: requests from another origin are refused" };
    }
  }
  if (request.method === "POST" && !JSON_BODY.test(request.headers["content-type"] ?? "")) {
    return { status: 415, message: "POST bodies must be application/json (forms and text/plain, which browsers send cross-site without asking, are refused)" };
  }
  return null;
}

/** Answers a refused request as GraphQL would: one error with its code. */
export function refuse(response: ServerResponse, refusal: { status: number; message: string }): void {
  response.writeHead(refusal.status, { "content-type": "application/json" });
  response.end(JSON.stringify({ errors: [{ message: refusal.message, extensions: { code: refusal.status === 403 ? "FORBIDDEN" : "BAD_USER_INPUT" } }] }));
}
