import type { Status } from "../generated/prisma/client.js";
import { describeError } from "./error-text.js";
import { RateLimitedError, UpstreamError } from "./http-client.js";
import { isPermanent } from "./processor.js";
import { redactText } from "../secrets.js";

// How one attempt at a row ended, and what that makes of the row: decided here, written by the runner.

/** Backoff never waits longer than this between two attempts of an item. */
const MAX_RETRY_DELAY_MS = 3600_000;
/** A result larger than this is refused: results are for answers, not payloads (store files, like image-normalize). */
const MAX_RESULT_BYTES = 256 * 1024;

export type StopReason = "cancel" | "shutdown" | "lost";

/** How an attempt ended, to be written in the next batch. */
export interface Outcome {
  id: number;
  to: Extract<Status, "COMPLETED" | "FAILED" | "PENDING" | "WAITING" | "CANCELLED">;
  reason: string;
  result: unknown;
  error: string | null;
  runAfter: Date | null;
  /** 1 when the attempt does not count (a rate limit, a shutdown). */
  attemptsBack: number;
}

/** What the runner reads of a claimed row; every runnable kind's table has these columns. */
export interface RunnableRow {
  id: number;
  attempts: number;
  maxAttempts: number;
}

export function classify(item: RunnableRow, error: unknown, stopped: StopReason | undefined, retry: { delayMs: number; factor: number }): Outcome | null {
  const base = { id: item.id, result: null, runAfter: null, attemptsBack: 0 };
  if (stopped === "lost") return null; // another worker has it now: nothing of ours may be written
  if (stopped === "cancel") return { ...base, to: "CANCELLED", reason: "cancelled on request", error: null };
  if (stopped === "shutdown") return { ...base, to: "PENDING", reason: "worker shutting down; handed back", error: null, attemptsBack: 1 };
  if (error instanceof RateLimitedError) {
    return { ...base, to: "WAITING", reason: `Rate limited by the upstream until ${error.until.toISOString()}`, error: error.message, runAfter: error.until, attemptsBack: 1 };
  }
  const message = error instanceof UpstreamError || isPermanent(error) ? redactText((error as Error).message) : describeError(error);
  const permanent = isPermanent(error) || (error instanceof UpstreamError && !error.transient);
  if (permanent || item.attempts >= item.maxAttempts) {
    const why = permanent ? "" : ` (${item.attempts} of ${item.maxAttempts} attempts)`;
    return { ...base, to: "FAILED", reason: `${message}${why}`, error: message };
  }
  const delay = Math.min(MAX_RETRY_DELAY_MS, retry.delayMs * retry.factor ** (item.attempts - 1));
  const runAfter = new Date(Date.now() + delay);
  return { ...base, to: "PENDING", reason: `attempt ${item.attempts} of ${item.maxAttempts} failed: ${message}; retrying in ${delay} ms, at ${runAfter.toISOString()}`, error: message, runAfter };
}

/** A result as it may be stored: JSON within MAX_RESULT_BYTES, without U+0000 (which jsonb cannot hold). */
export function storable(result: unknown): { ok: true; value: unknown } | { ok: false; message: string } {
  const text = JSON.stringify(result ?? null);
  if (text.includes("\\u0000")) return { ok: false, message: "The result holds the character U+0000, which PostgreSQL cannot store" };
  if (Buffer.byteLength(text) > MAX_RESULT_BYTES) return { ok: false, message: `The result is larger than ${MAX_RESULT_BYTES / 1024} kB` };
  return { ok: true, value: JSON.parse(text) };
}
