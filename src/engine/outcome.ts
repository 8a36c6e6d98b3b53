import type { Status } from "../generated/prisma/client.js";
import { describeError } from "./error-text.js";
import { RateLimitedError, UpstreamError } from "./http-client.js";
import { isPermanent, PermanentError } from "./processor.js";
import { storableJsonText, storableText } from "./storable.js";
import { redactText } from "../secrets.js";

// How one attempt at a row ended, and what that makes of the row: decided here, written by the runner.

/** Backoff never waits longer than this between two attempts of an item. */
const MAX_RETRY_DELAY_MS = 3600_000;
/** A result larger than this is refused: results are for answers, not payloads (store files, like image-normalize). */
const MAX_RESULT_BYTES = 256 * 1024;

/** Why a running attempt was told to stop: a cancel, the process shutting down, its lease lost to another worker, or its time (ATTEMPT_TIMEOUT_MS) up. */
export type AttemptStop = "cancel" | "shutdown" | "lost" | "deadline";

/** How an attempt ended, to be written in the next batch. */
export interface Outcome {
  id: number;
  /** The attempt's lease owner: only that attempt's row is ended. */
  owner: string;
  to: Extract<Status, "COMPLETED" | "FAILED" | "PENDING" | "WAITING" | "CANCELLED">;
  reason: string;
  result: unknown;
  error: string | null;
  /** Not to run again before this long from when the end is written (on the database's clock): a retry's backoff, a rate limit. */
  delayMs: number | null;
  /** 1 when the attempt does not count (a rate limit, a shutdown). */
  attemptsBack: number;
}

/** What the runner reads of a claimed row; every runnable kind's table has these columns. */
export interface RunnableRow {
  id: number;
  status: Status;
  attempts: number;
  maxAttempts: number;
}

type Base = Pick<Outcome, "id" | "owner">;

/** An outcome, built field by field: these are made per row, and an object spread costs microseconds where the service runs (tsx). */
function outcome(base: Base, to: Outcome["to"], reason: string, result: unknown, error: string | null, delayMs: number | null, attemptsBack: number): Outcome {
  return { id: base.id, owner: base.owner, to, reason, result, error, delayMs, attemptsBack };
}

/**
 * A finished run: its result, made storable (a result over MAX_RESULT_BYTES
 * is a PermanentError). Serialised once here; read back only when something
 * in it had to be replaced (the batch it is written in serialises it again).
 */
export function completed(base: Base, result: unknown): Outcome {
  const text = JSON.stringify(result ?? null);
  if (text.length > MAX_RESULT_BYTES / 3 && Buffer.byteLength(text) > MAX_RESULT_BYTES) throw new PermanentError(`The result is larger than ${MAX_RESULT_BYTES / 1024} kB`);
  const clean = storableJsonText(text);
  return outcome(base, "COMPLETED", "done", clean === text ? (result ?? null) : (JSON.parse(clean) as unknown), null, null, 0);
}

/** How an attempt that threw or was stopped ends; null when nothing of it may be written (its lease is lost). */
export function classify(item: RunnableRow, base: Base, error: unknown, stopped: AttemptStop | undefined, retry: { delayMs: number; factor: number; attemptMs: number }): Outcome | null {
  // An attempt past its time failed like any other: retried up to its maxAttempts.
  if (stopped === "deadline") error = new Error(`the attempt ran past ATTEMPT_TIMEOUT_MS (${retry.attemptMs} ms) and was stopped`);
  if (stopped === "lost") return null; // another worker has it now: nothing of ours may be written
  if (stopped === "cancel") return outcome(base, "CANCELLED", "cancelled on request", null, null, null, 0);
  if (stopped === "shutdown") return outcome(base, "PENDING", "worker shutting down; handed back", null, null, null, 1);
  if (error instanceof RateLimitedError) {
    const delayMs = Math.max(0, error.until.getTime() - Date.now());
    return outcome(base, "WAITING", `Rate limited by the upstream for ${delayMs} ms`, null, error.message, delayMs, 1);
  }
  const message = storableText(error instanceof UpstreamError || isPermanent(error) ? redactText((error as Error).message) : describeError(error), 2000);
  const permanent = isPermanent(error) || (error instanceof UpstreamError && !error.transient);
  if (permanent || item.attempts >= item.maxAttempts) {
    const why = permanent ? "" : ` (${item.attempts} of ${item.maxAttempts} attempts)`;
    return outcome(base, "FAILED", `${message}${why}`, null, message, null, 0);
  }
  const delayMs = Math.min(MAX_RETRY_DELAY_MS, retry.delayMs * retry.factor ** (item.attempts - 1));
  return outcome(base, "PENDING", `attempt ${item.attempts} of ${item.maxAttempts} failed: ${message}; retrying in ${delayMs} ms`, null, message, delayMs, 0);
}

/** The outcome of a row whose own outcome could not be written (its data broke the statement): FAILED, saying why. */
export function unwritable(ended: Outcome, error: unknown): Outcome {
  const message = `its outcome could not be stored: ${describeError(error)}`;
  return outcome(ended, "FAILED", message, null, storableText(message, 2000), null, 0);
}
