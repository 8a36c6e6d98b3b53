import { Prisma } from "../../generated/prisma/client.js";
import type { Ending } from "../../engine/checkpointed/kind.js";
import { RateLimitedError, UpstreamError } from "../../engine/http-client.js";
import { MissingSecretError } from "../../secrets.js";

/** An import waits for its upstream: a rate limit until its end (`waitingOn` names the cooldown retryImportNow lifts), or a page that keeps failing. */
export function waiting(reason: string, resumeInMs: number, waitingOn: string | null): Ending {
  return { to: "WAITING", reason, resumeInMs, set: Prisma.sql`"waitingOn" = ${waitingOn}` };
}

/**
 * How a request that failed ends an import, FLAT or TREE: a rate limit is
 * waited out, an answer that says so fails or completes it, a missing
 * secret fails it; "skip" when the page or node is to be recorded as an
 * error and passed. Anything else is a bug, and is thrown. A page that ends
 * the import is not one of its errors: it is why it ended (and, resumed, it
 * is fetched again).
 */
export function endingOf(error: unknown): Ending | "skip" {
  if (error instanceof RateLimitedError) {
    return waiting(`Rate limited by the upstream until ${error.until.toISOString()}`, Math.max(0, error.until.getTime() - Date.now()), error.cooldownKey);
  }
  if (error instanceof MissingSecretError) return { to: "FAILED", reason: error.message };
  if (!(error instanceof UpstreamError)) throw error;
  if (error.action === "fail") return { to: "FAILED", reason: error.message };
  if (error.action === "stop") return { to: "COMPLETED", reason: `The upstream ended the import: ${error.message}` };
  return "skip";
}
